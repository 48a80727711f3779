// dmm-nrd-bench: what the sync protocol costs on this machine, with the real daemon and real clients.
//  1. Policy propagation latency, dmm-nrd -> N subscribers (N = 1, 10, 100): the time from publish_now() on the
//     daemon's thread until every subscriber's orchestrator has installed that version (and the median
//     subscriber). Daemon and subscribers run on two threads (two EpollExecutors) over a Unix socket; times are
//     CLOCK_MONOTONIC from both executors (monotonic_origin() + now()), so no other clock is read.
//     Baseline: the same bytes written once over a plain socketpair between the same two threads.
//  2. Sample ingest rate: reporters on a third thread stream samples messages (1 and 64 samples per message) as
//     fast as the daemon takes them; the rate is what the daemon ingested per second of its own time.
//     Baseline: decoding the same frames and feeding nRD without sockets, on one thread.
// Prints a table and, with --json FILE, the figures as JSON. Exit codes: 0, 2 usage, 3 runtime failure.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <atomic>
#include <boost/program_options.hpp>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <sstream>
#include <thread>

#include "dmm/algorithms.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "dmm/nrd/nrd_client.hpp"
#include "dmm/nrd/nrd_daemon.hpp"

namespace po = boost::program_options;
using namespace dmm;
using namespace dmm::nrd;

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitRuntime = 3;

// An EpollExecutor running on its own thread; work gets there with run_on().
class LoopThread {
public:
  LoopThread() {
    auto loop = kernel::EpollExecutor::create();
    if (!loop) throw std::runtime_error(loop.error().message);
    loop_ = std::move(*loop);
    thread_ = std::thread([this] { (void)loop_->run(); });
  }
  ~LoopThread() {
    loop_->stop();
    thread_.join();
  }
  kernel::EpollExecutor& loop() { return *loop_; }
  // Runs `fn` on the loop's thread and waits for it.
  template <typename Fn>
  auto run_on(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    loop_->post([&task] { task(); });
    return result.get();
  }
  double monotonic_s() const { return to_seconds(loop_->monotonic_origin() + loop_->now()); }

private:
  std::unique_ptr<kernel::EpollExecutor> loop_;
  std::thread thread_;
};

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
};

Percentiles percentiles(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size())))]; };
  return {at(0.5), at(0.9), at(0.99), v.back()};
}

Policy bench_policy(int variant) {
  // Ten rules, the size of a real host's policy; the variant flips the ranking so every version differs.
  Policy p;
  for (int i = 0; i < 10; ++i) {
    Rule r;
    r.match.dst = *IpPrefix::parse("10." + std::to_string(i) + ".0.0/16");
    r.match.ports = PortRange{static_cast<std::uint16_t>(8000 + i), static_cast<std::uint16_t>(8000 + i)};
    r.use = variant % 2 ? std::vector<StackId>{"b", "a"} : std::vector<StackId>{"a", "b"};
    p.rules.push_back(r);
  }
  p.rules.push_back(Rule{Match{}, {"a", "b"}});
  return p;
}

// A temp dir with dmm.yaml and nrd.yaml for a quiet daemon: static algorithm, an hour-long period (nothing but
// the benchmark publishes), room for many peers.
struct BenchConfig {
  std::string dir;
  NrdDaemonConfig config;
};

BenchConfig make_config() {
  char tmpl[] = "/tmp/dmm-nrd-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  BenchConfig b{tmpl, {}};
  std::ofstream(b.dir + "/dmm.yaml") << "stacks: [{name: a, kind: kernel}, {name: b, kind: kernel}]\n"
                                        "policy: [{match: {}, use: [a, b]}]\n";
  std::ofstream(b.dir + "/nrd.yaml") << "host: dmm.yaml\nlisten: {unix: nrd.sock}\nalgorithm: static\nperiod: 1h\n"
                                        "limits: {max_peers: 10000, send_queue: 16MiB, heartbeat: 1s, peer_timeout: 60s}\n";
  auto c = load_nrd_config_file(b.dir + "/nrd.yaml", ::getuid());
  if (!c) throw std::runtime_error(c.error().message);
  b.config = std::move(*c);
  return b;
}

struct Daemon {
  explicit Daemon(BenchConfig& b) {
    auto log = std::make_shared<spdlog::logger>("bench", std::make_shared<spdlog::sinks::null_sink_mt>());
    daemon = loop.run_on([&] {
      auto d = NrdDaemon::create(b.config, loop.loop(), log);
      if (!d) throw std::runtime_error(d.error().message);
      (*d)->start();
      return std::move(*d);
    });
    socket = b.config.listen.unix_path;
  }
  ~Daemon() {
    loop.run_on([&] { daemon.reset(); });
  }
  LoopThread loop;
  std::unique_ptr<NrdDaemon> daemon;
  std::string socket;
};

struct PropagationResult {
  int subscribers = 0;
  int rounds = 0;
  Percentiles all_applied_ms;      // per round: until the last subscriber installed the version
  Percentiles median_subscriber_ms;  // per round: the median subscriber
};

PropagationResult propagation(BenchConfig& b, int n, int rounds) {
  Daemon d(b);
  LoopThread clients;
  std::vector<std::unique_ptr<Orchestrator>> orchestrators;
  std::vector<std::unique_ptr<NrdClient>> subscribers;
  std::mutex m;
  std::condition_variable cv;
  PolicyVersion target = 0;
  std::vector<double> applied_at;  // monotonic seconds, this round
  clients.run_on([&] {
    for (int i = 0; i < n; ++i) {
      orchestrators.push_back(std::make_unique<Orchestrator>(std::vector<StackId>{"a", "b"}, b.config.host.policy));
      NrdClientConfig cfg;
      cfg.address = NrdAddress::unix_socket(d.socket);
      cfg.name = "bench-" + std::to_string(i);
      cfg.jitter_seed = static_cast<std::uint32_t>(i + 1);
      auto c = std::make_unique<NrdClient>(clients.loop(), cfg, orchestrators.back().get());
      c->on_policy = [&](const Policy& p, const Status& s) {
        if (!s) return;
        const double t = clients.monotonic_s();
        std::lock_guard lock(m);
        if (p.version != target) return;
        applied_at.push_back(t);
        if (static_cast<int>(applied_at.size()) == n) cv.notify_one();
      };
      c->start();
      subscribers.push_back(std::move(c));
    }
    return 0;
  });
  for (int i = 0; i < 500 && d.loop.run_on([&] { return d.daemon->subscribers(); }) < std::size_t(n); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (d.loop.run_on([&] { return d.daemon->subscribers(); }) < std::size_t(n))
    throw std::runtime_error("only some of " + std::to_string(n) + " subscribers connected");

  std::vector<double> all, median;
  for (int r = 0; r < rounds; ++r) {
    {
      std::lock_guard lock(m);
      applied_at.clear();
    }
    // The version is known only once published; the clients' hook compares against `target`, set under the lock
    // before the policy can reach them (publish_now runs after the assignment, on the daemon's thread).
    double published_at = 0;
    d.loop.run_on([&] {
      {
        std::lock_guard lock(m);
        target = d.daemon->nrd().current().version + 1;
      }
      published_at = d.loop.monotonic_s();
      d.daemon->nrd().publish_now(bench_policy(r));
      return 0;
    });
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return static_cast<int>(applied_at.size()) == n; }))
      throw std::runtime_error("round " + std::to_string(r) + ": not every subscriber got the version");
    std::vector<double> latencies;
    for (double t : applied_at) latencies.push_back((t - published_at) * 1e3);
    std::sort(latencies.begin(), latencies.end());
    all.push_back(latencies.back());
    median.push_back(latencies[latencies.size() / 2]);
  }
  clients.run_on([&] {
    subscribers.clear();
    return 0;
  });
  return {n, rounds, percentiles(all), percentiles(median)};
}

// The transport alone: the policy frame's bytes over a socketpair from one loop thread to another.
Percentiles socketpair_baseline(int rounds) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    throw std::runtime_error("socketpair failed");
  kernel::UniqueFd a(fds[0]), b(fds[1]);
  const std::string frame = encode(PolicyMessage{bench_policy(1)});
  LoopThread sender, receiver;
  std::mutex m;
  std::condition_variable cv;
  std::size_t got = 0;
  double received_at = 0;
  std::vector<char> buf(1 << 16);
  receiver.run_on([&] {
    return receiver.loop().watch(b.get(), EPOLLIN, [&](std::uint32_t) {
      const ssize_t n = ::read(b.get(), buf.data(), buf.size());
      if (n <= 0) return;
      std::lock_guard lock(m);
      got += static_cast<std::size_t>(n);
      if (got == frame.size()) {
        received_at = receiver.monotonic_s();
        cv.notify_one();
      }
    }).ok();
  });
  std::vector<double> latencies;
  for (int r = 0; r < rounds; ++r) {
    {
      std::lock_guard lock(m);
      got = 0;
    }
    const double sent_at = sender.run_on([&] {
      const double t = sender.monotonic_s();
      [[maybe_unused]] const ssize_t n = ::write(a.get(), frame.data(), frame.size());
      return t;
    });
    std::unique_lock lock(m);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return got == frame.size(); });
    latencies.push_back((received_at - sent_at) * 1e3);
  }
  receiver.run_on([&] {
    receiver.loop().unwatch(b.get());
    return 0;
  });
  return percentiles(latencies);
}

struct IngestResult {
  std::size_t per_message = 0;
  std::uint64_t samples = 0;
  double samples_per_s = 0;
  double messages_per_s = 0;
  double baseline_samples_per_s = 0;  // decode + nRD without sockets
};

std::string samples_frame(std::size_t per_message);

// Whole frames up to 64 KiB: how reporters write, and how the baseline feeds its reader.
std::string samples_burst(std::size_t per_message) {
  const std::string frame = samples_frame(per_message);
  std::string burst;
  while (burst.size() + frame.size() <= (64u << 10) || burst.empty()) burst += frame;
  return burst;
}

std::string samples_frame(std::size_t per_message) {
  Samples s;
  for (std::size_t i = 0; i < per_message; ++i)
    s.samples.push_back({.stack = i % 2 ? "a" : "b", .rtt = std::chrono::microseconds(150 + i), .delivered = 70000,
                         .interval = std::chrono::milliseconds(250), .segments_sent = 50, .retransmits = 1});
  return encode(s);
}

// The same frames, in the same 64 KiB bursts the daemon reads, decoded and fed to nRD on one thread: what ingest
// would cost without sockets, peers and an event loop.
double baseline_ingest(std::size_t per_message, std::uint64_t total) {
  auto loop = kernel::EpollExecutor::create();
  if (!loop) throw std::runtime_error(loop.error().message);
  const std::string burst = samples_burst(per_message);
  struct Nothing final : PolicyChannel {
    void publish(std::shared_ptr<const Policy>) override {}
  } channel;
  Nrd nrd(**loop, {"a", "b"}, make_static_algorithm({}), NrdConfig{}, channel, bench_policy(0));
  nrd.start();
  const TimePoint start = (*loop)->now();
  std::uint64_t done = 0;
  FrameReader reader;
  while (done < total) {
    reader.feed(burst);
    for (auto f = reader.next(); f.ok() && *f; f = reader.next()) {
      auto m = decode(**f);
      const TimePoint now = (*loop)->now();
      for (PathSample& s : std::get<Samples>(*m).samples) {
        s.at = now;
        nrd.on_sample(s);
      }
      done += per_message;
    }
  }
  return double(done) / to_seconds((*loop)->now() - start);
}

IngestResult ingest(BenchConfig& b, std::size_t per_message, std::uint64_t total, int reporters) {
  Daemon d(b);
  const std::string frame = samples_frame(per_message);
  const std::uint64_t messages = (total + per_message - 1) / per_message;
  // The daemon's own clock marks the first and the last sample in.
  std::atomic<double> first_in{0}, all_in{0};
  std::function<void()> watch;
  const std::uint64_t before = d.loop.run_on([&] { return d.daemon->counters().samples.count("orchestrator") ? d.daemon->counters().samples.at("orchestrator") : 0; });
  watch = [&] {
    const auto& c = d.daemon->counters().samples;
    const std::uint64_t n = c.count("orchestrator") ? c.at("orchestrator") - before : 0;
    if (n > 0 && first_in.load() == 0) first_in = d.loop.monotonic_s();
    if (n >= messages * per_message) {
      all_in = d.loop.monotonic_s();
      return;
    }
    d.loop.loop().schedule(std::chrono::milliseconds(1), watch);
  };
  d.loop.run_on([&] {
    watch();
    return 0;
  });
  // Reporters: plain blocking sockets on this thread, each a hello then a stream of samples frames.
  std::vector<kernel::UniqueFd> fds;
  for (int i = 0; i < reporters; ++i) {
    kernel::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    d.socket.copy(sun.sun_path, sizeof sun.sun_path - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0)
      throw std::runtime_error("reporter cannot connect");
    Hello h;
    h.role = PeerRole::reporter;
    h.name = "bench-reporter";
    const std::string hello = encode(h);
    if (::write(fd.get(), hello.data(), hello.size()) != static_cast<ssize_t>(hello.size()))
      throw std::runtime_error("hello failed");
    fds.push_back(std::move(fd));
  }
  // Frames are batched per write (up to 64 KiB) so the sender is not what is measured.
  const std::string burst = samples_burst(per_message);
  const std::uint64_t frames_per_burst = burst.size() / frame.size();
  std::uint64_t sent = 0;
  for (std::size_t i = 0; sent < messages; i = (i + 1) % fds.size()) {
    const std::uint64_t n = std::min<std::uint64_t>(frames_per_burst, messages - sent);
    const std::size_t bytes = n * frame.size();
    for (std::size_t off = 0; off < bytes;) {
      const ssize_t w = ::write(fds[i].get(), burst.data() + off, bytes - off);
      if (w <= 0) throw std::runtime_error("reporter write failed");
      off += static_cast<std::size_t>(w);
    }
    sent += n;
  }
  for (int i = 0; i < 1000 && all_in.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (all_in.load() == 0) throw std::runtime_error("the daemon did not ingest every sample within 10 s");
  IngestResult r;
  r.per_message = per_message;
  r.samples = messages * per_message;
  const double seconds = all_in.load() - first_in.load();
  r.samples_per_s = double(r.samples) / seconds;
  r.messages_per_s = double(messages) / seconds;
  r.baseline_samples_per_s = baseline_ingest(per_message, r.samples);
  return r;
}

// `1,10,100`: each a whole number from 1 to 1000. The message names the option and what it takes (std::stoi's own
// was "stoi", and it read "10x" as 10).
std::vector<int> parse_list(const std::string& text) {
  const std::string usage =
      "--subscribers '" + text + "': expected subscriber counts from 1 to 1000, comma-separated (e.g. 1,10,100)";
  std::vector<int> out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = text.find(',', begin);
    const std::string item = text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
    int n = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
    if (item.empty() || ec != std::errc{} || end != item.data() + item.size() || n < 1 || n > 1000)
      throw std::invalid_argument(usage);
    out.push_back(n);
    if (comma == std::string::npos) return out;
    begin = comma + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description desc(
      "Usage: dmm-nrd-bench [--subscribers 1,10,100] [--rounds N] [--samples N] [--json FILE]\n\n"
      "Measures dmm-nrd's policy propagation latency to N subscribers and its sample ingest rate, with the real\n"
      "daemon and clients on this machine (a Unix socket in a temporary directory; no network).\n\n"
      "Options");
  std::string subscribers_text = "1,10,100";
  int rounds = 200;
  std::uint64_t samples = 2'000'000;
  std::string json_path;
  desc.add_options()
      ("help,h", "print this help and exit")
      ("subscribers", po::value(&subscribers_text), "comma-separated subscriber counts (1..1000)")
      ("rounds", po::value(&rounds), "policy versions published per subscriber count")
      ("samples", po::value(&samples), "samples streamed per ingest measurement")
      ("json", po::value(&json_path), "also write the figures to FILE as JSON");
  po::variables_map vm;
  std::vector<int> counts;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
    counts = parse_list(subscribers_text);
    if (rounds < 1 || samples < 1000) throw std::invalid_argument("--rounds >= 1, --samples >= 1000");
  } catch (const std::exception& e) {
    std::cerr << "dmm-nrd-bench: " << e.what() << "\nTry 'dmm-nrd-bench --help'.\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << desc;
    return 0;
  }
  try {
    BenchConfig b = make_config();
    nlohmann::json out = {{"propagation", nlohmann::json::array()}, {"ingest", nlohmann::json::array()}};
    const Percentiles base = socketpair_baseline(rounds);
    std::printf("policy propagation, dmm-nrd -> N subscribers (%d versions each; ms; Unix socket, 2 threads)\n", rounds);
    std::printf("  %-26s %9s %9s %9s %9s %12s\n", "", "p50", "p90", "p99", "max", "p50/baseline");
    std::printf("  %-26s %9.3f %9.3f %9.3f %9.3f %12s\n", "baseline: socketpair bytes", base.p50, base.p90, base.p99,
                base.max, "1.0");
    for (int n : counts) {
      const PropagationResult r = propagation(b, n, n >= 100 ? std::max(1, rounds / 2) : rounds);
      std::printf("  %-26s %9.3f %9.3f %9.3f %9.3f %12.1f\n", ("N=" + std::to_string(n) + " all applied").c_str(),
                  r.all_applied_ms.p50, r.all_applied_ms.p90, r.all_applied_ms.p99, r.all_applied_ms.max,
                  r.all_applied_ms.p50 / base.p50);
      std::printf("  %-26s %9.3f %9.3f %9.3f %9.3f %12.1f\n", ("N=" + std::to_string(n) + " median subscriber").c_str(),
                  r.median_subscriber_ms.p50, r.median_subscriber_ms.p90, r.median_subscriber_ms.p99,
                  r.median_subscriber_ms.max, r.median_subscriber_ms.p50 / base.p50);
      out["propagation"].push_back({{"subscribers", n},
                                    {"rounds", r.rounds},
                                    {"all_applied_ms", {{"p50", r.all_applied_ms.p50}, {"p90", r.all_applied_ms.p90},
                                                        {"p99", r.all_applied_ms.p99}, {"max", r.all_applied_ms.max}}},
                                    {"median_subscriber_ms", {{"p50", r.median_subscriber_ms.p50},
                                                              {"p99", r.median_subscriber_ms.p99}}},
                                    {"baseline_socketpair_p50_ms", base.p50}});
    }
    std::printf("\nsample ingest (%llu samples, 4 reporters streaming over Unix sockets)\n",
                static_cast<unsigned long long>(samples));
    std::printf("  %-26s %14s %14s %22s %8s\n", "", "samples/s", "messages/s", "baseline (no sockets)", "ratio");
    for (std::size_t per : {std::size_t{1}, std::size_t{64}}) {
      const std::uint64_t total = per == 1 ? std::max<std::uint64_t>(samples / 10, 1000) : samples;
      const IngestResult r = ingest(b, per, total, 4);
      std::printf("  %-26s %14.0f %14.0f %22.0f %8.2f\n", (std::to_string(per) + " sample(s)/message").c_str(),
                  r.samples_per_s, r.messages_per_s, r.baseline_samples_per_s, r.samples_per_s / r.baseline_samples_per_s);
      out["ingest"].push_back({{"samples_per_message", per},
                               {"samples", r.samples},
                               {"samples_per_s", r.samples_per_s},
                               {"messages_per_s", r.messages_per_s},
                               {"baseline_samples_per_s", r.baseline_samples_per_s}});
    }
    std::filesystem::remove_all(b.dir);
    if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "dmm-nrd-bench: " << e.what() << "\n";
    return kExitRuntime;
  }
  return 0;
}
