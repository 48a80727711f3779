#include "command_workloads.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "command.hpp"
#include "dmm/policy_json.hpp"

namespace dmm::emu {
namespace {

// A program still running this long after SIGTERM is killed.
constexpr Duration kStopGrace = std::chrono::seconds(1);
// How long a server may take to listen on its port before the run gives up on it.
constexpr Duration kServerStartLimit = std::chrono::seconds(10);
// Runs of one workload at once: beyond this a launch is recorded as failed instead of forking without end.
constexpr std::size_t kMaxLiveRuns = 256;

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// What a message quotes of a server's stderr.
std::string stderr_text(const std::string& path) {
  const std::string tail = file_tail(path, 300);
  return tail.empty() ? "(empty)" : tail;
}

// Where a server listens, as the namespace `pid` is in shows its sockets (/proc/PID/net/tcp{,6}; state 0A is
// LISTEN, addresses in the kernel's hex: 127.0.0.1 is 0100007F).
enum class Listening { no, elsewhere, reachable };

std::string proc_hex(const IpAddress& v4) {
  const auto& b = v4.bytes;  // a.b.c.d in b[0..3]; the kernel prints the 32-bit word little-endian
  char text[9];
  std::snprintf(text, sizeof text, "%02X%02X%02X%02X", b[3], b[2], b[1], b[0]);
  return text;
}

Listening listening_on(pid_t pid, std::uint16_t port, const IpAddress& destination) {
  // Reachable from the clients: on any address, or on the node's identity address they connect to.
  const std::string to = proc_hex(destination);
  const std::set<std::string> reachable{"00000000", to, std::string(32, '0'), "0000000000000000FFFF0000" + to};
  Listening found = Listening::no;
  for (const char* file : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const auto colon = local.rfind(':');
      if (state != "0A" || colon == std::string::npos || std::strtoul(local.c_str() + colon + 1, nullptr, 16) != port)
        continue;
      if (reachable.count(local.substr(0, colon))) return Listening::reachable;
      found = Listening::elsewhere;
    }
  }
  return found;
}

}  // namespace

struct CommandWorkloads::Run {
  scenario::SessionRecord record;
  std::unique_ptr<ChildProcess> process;
  std::string decisions;  // its decision log
  TimerId timeout = 0;
  bool timed_out = false;
};

struct CommandWorkloads::Workload {
  const scenario::WorkloadSpec& spec;
  std::string program_namespace, server_namespace, host_config, dir, destination;
  std::uint64_t seed;
  std::optional<sim::PoissonArrivals> arrivals;  // with a rate
  TimePoint stop{0};
  TimerId arrival = 0;
  std::uint32_t started = 0;
  std::map<std::uint64_t, std::unique_ptr<Run>> live;
  std::unique_ptr<ChildProcess> server;
  std::optional<ExitStatus> server_ended;
  TimePoint server_ended_at{0};  // on the run's clock (0: before time zero)
  std::map<std::string, std::uint64_t> endings;  // `exit status 0`, `unfinished at end of run`, ... -> runs
};

CommandWorkloads::CommandWorkloads(const scenario::Scenario& sc, const EmuPlan& plan, kernel::EpollExecutor& loop,
                                   Executor& clock, sim::Recorder& recorder, sim::ScenarioRun& run,
                                   CommandSetup setup)
    : sc_(sc), plan_(plan), loop_(loop), clock_(clock), recorder_(recorder), run_(run), setup_(std::move(setup)) {}

CommandWorkloads::~CommandWorkloads() {
  for (auto& w : workloads_) {
    clock_.cancel(w->arrival);
    for (auto& [id, r] : w->live) clock_.cancel(r->timeout);
  }
}

Result<std::unique_ptr<CommandWorkloads>> CommandWorkloads::create(const scenario::Scenario& sc, const EmuPlan& plan,
                                                                   kernel::EpollExecutor& loop, Executor& clock,
                                                                   sim::Recorder& recorder, sim::ScenarioRun& run,
                                                                   CommandSetup setup) {
  std::unique_ptr<CommandWorkloads> c(new CommandWorkloads(sc, plan, loop, clock, recorder, run, std::move(setup)));
  for (std::size_t i = 0; i < sc.workloads.size(); ++i) {
    const auto& spec = sc.workloads[i];
    if (spec.kind != scenario::WorkloadKind::command) continue;
    const auto from = static_cast<std::size_t>(sc.node_index(spec.from));
    const auto to = static_cast<std::size_t>(sc.node_index(spec.to));
    // The same seed as dmm-sim's generator of this workload: the same launch times.
    const std::filesystem::path commands = c->setup_.out_dir / "commands";
    auto w = std::unique_ptr<Workload>(new Workload{spec, *plan.program_namespaces[from], *plan.node_namespaces[to],
                                                    (commands / (spec.from + ".dmm.yaml")).string(),
                                                    (commands / spec.name).string(),
                                                    scenario::node_address(static_cast<int>(to)).to_string(),
                                                    sim::workload_seed(sc.seed, i)});
    std::error_code ec;
    std::filesystem::create_directories(w->dir, ec);
    if (ec) return make_error(EIO, "cannot create " + w->dir + ": " + ec.message());
    c->workloads_.push_back(std::move(w));
  }
  if (auto st = c->write_host_configs(); !st) return st.error();
  return c;
}

Status CommandWorkloads::write_host_configs() {
  std::set<std::string> written;
  const nlohmann::json rules = policy_to_json(run_.initial_policy())["rules"];
  for (const auto& w : workloads_) {
    const std::string& node = w->spec.from;
    if (!written.insert(node).second) continue;
    std::ofstream out(w->host_config);
    out << "# dmm-emu wrote this for the programs of node '" << node << "' (kind: command workloads): its stack\n"
        << "# instances, the scenario's policy (version 1) and the run's nRD. Read by dmm-run.\nstacks:\n";
    for (std::size_t j = 0; j < sc_.stacks.size(); ++j) {
      const auto& s = sc_.stacks[j];
      if (s.node != node) continue;
      // The scenario's TCP variant on the programs' sockets too, as on the run's own.
      out << "  - {name: " << s.name << ", kind: kernel, netns: " << plan_.stacks[j].namespace_name
          << ", congestion: " << plan_.stacks[j].congestion << "}\n";
    }
    out << "policy:\n";
    for (const auto& rule : rules) out << "  - " << rule.dump() << "\n";  // JSON is YAML's flow style
    out << "nrd: {socket: " << setup_.nrd_socket << "}\n";
    if (!out) return make_error(EIO, "cannot write " + w->host_config);
  }
  return {};
}

Status CommandWorkloads::start_servers() {
  for (auto& w : workloads_) {
    if (!w->spec.command->serve) continue;
    const std::string cwd = (setup_.scratch_dir / w->spec.name).string();
    std::error_code ec;
    std::filesystem::create_directories(cwd, ec);
    if (ec) return make_error(EIO, "cannot create " + cwd + ": " + ec.message());
    const std::string line = fill_in(*w->spec.command->serve, *w);
    const std::string err = w->dir + "/serve.err";
    Workload* wp = w.get();
    auto server = ChildProcess::spawn(loop_, w->server_namespace, {"/bin/sh", "-c", line}, cwd, w->dir + "/serve.out",
                                      err, [this, wp](ExitStatus s) {
                                        if (finishing_) return;  // our own stop at the end
                                        wp->server_ended = s;
                                        wp->server_ended_at = started_ ? clock_.now() : TimePoint{0};
                                      });
    if (!server)
      return make_error(server.error().code, "workload '" + w->spec.name + "': serve: " + server.error().message);
    w->server = std::move(*server);
    if (w->spec.port == 0) continue;
    const TimePoint limit = loop_.now() + kServerStartLimit;
    const IpAddress to = scenario::node_address(sc_.node_index(w->spec.to));
    Listening listening = Listening::no;
    while ((listening = listening_on(w->server->pid(), w->spec.port, to)) != Listening::reachable) {
      loop_.run_until([&] { return false; }, std::chrono::milliseconds(20));  // lets the pidfd report an exit
      const std::string port = std::to_string(w->spec.port);
      const std::string why =
          w->server_ended ? "ended (" + w->server_ended->to_string() + ")" +
                                (w->server_ended->success() ? ": a server must stay in the foreground (e.g. nginx's "
                                                              "`daemon off;`)"
                                                            : "")
          : loop_.now() < limit ? ""
          : listening == Listening::elsewhere
              ? "listens on port " + port + ", but neither on " + w->destination + " ({to}) nor on every address, " +
                    "so the clients cannot reach it"
              : "did not listen on port " + port + " within " + format_duration(kServerStartLimit);
      if (!why.empty())
        return make_error(EIO, sc_.file + ":" + std::to_string(w->spec.mark.line) + ":" +
                                   std::to_string(w->spec.mark.column) + ": workload '" + w->spec.name +
                                   "': its server `" + line + "` " + why + "; its stderr: " + stderr_text(err));
    }
  }
  return {};
}

void CommandWorkloads::start(Duration run_end) {
  started_ = true;
  for (auto& w : workloads_) {
    w->stop = TimePoint{w->spec.stop.value_or(run_end)};
    if (w->spec.rate) w->arrivals.emplace(*w->spec.rate, w->seed, TimePoint{w->spec.start});
    Workload* wp = w.get();
    w->arrival = clock_.schedule(TimePoint{w->spec.start} - clock_.now(), [this, wp] {
      wp->arrival = 0;
      launch(*wp);
      if (wp->spec.rate) schedule_next(*wp);
    });
  }
}

void CommandWorkloads::schedule_next(Workload& w) {
  const TimePoint at = w.arrivals->next();
  if (at >= w.stop) return;
  w.arrival = clock_.schedule(std::max(Duration::zero(), at - clock_.now()), [this, &w] {
    w.arrival = 0;
    launch(w);
    schedule_next(w);
  });
}

std::string CommandWorkloads::fill_in(const std::string& line, const Workload& w) {
  const std::string with_address = replace_all(line, "{to}", w.destination);
  return w.spec.port == 0 ? with_address : replace_all(with_address, "{port}", std::to_string(w.spec.port));
}

void CommandWorkloads::launch(Workload& w) {
  ended_.clear();  // a timer's turn: no exit callback of theirs is running
  if (finishing_ || clock_.now() >= w.stop) return;
  ++w.started;
  auto r = std::make_unique<Run>();
  auto& rec = r->record;
  rec.session = run_.next_session_id();
  rec.workload = w.spec.name;
  rec.node = w.spec.from;
  rec.dst = w.spec.to;
  rec.port = w.spec.port;
  rec.intent = w.spec.intent;
  rec.start = clock_.now();
  rec.bytes_unknown = true;
  const std::string stem = w.dir + "/" + std::to_string(w.started);
  r->decisions = stem + ".decisions.jsonl";
  const std::uint64_t id = rec.session;
  Run* rp = r.get();
  w.live.emplace(id, std::move(r));
  if (w.live.size() > kMaxLiveRuns) {
    record(w, *rp, false, "not started: " + std::to_string(kMaxLiveRuns) + " runs of this workload still going");
    return;
  }
  const std::string line = fill_in(w.spec.command->run, w);
  auto process = ChildProcess::spawn(
      loop_, w.program_namespace,
      {setup_.dmm_run, "--config", w.host_config, "--intent", std::string(to_string(w.spec.intent)), "--log",
       rp->decisions, "--", "/bin/sh", "-c", line},
      (setup_.scratch_dir).string(), stem + ".out", stem + ".err",
      [this, &w, id](ExitStatus s) { ended(w, id, s); });
  if (!process) return record(w, *rp, false, "not started: " + process.error().message);
  rp->process = std::move(*process);
  if (w.spec.command->timeout) {
    rp->timeout = clock_.schedule(*w.spec.command->timeout, [rp] {
      rp->timeout = 0;
      rp->timed_out = true;
      rp->process->stop(kStopGrace);
    });
  }
}

void CommandWorkloads::ended(Workload& w, std::uint64_t session, ExitStatus status) {
  auto it = w.live.find(session);
  if (it == w.live.end()) return;
  Run& r = *it->second;
  if (r.timed_out) {
    record(w, r, false, "timed out after " + format_duration(*w.spec.command->timeout) + " (stopped; " +
                            status.to_string() + ")");
  } else {
    record(w, r, status.success(), status.success() ? "" : status.to_string());
  }
  // Without a rate, runs go back to back: the next starts when this one has ended.
  if (!finishing_ && !w.spec.rate && w.started < w.spec.count)
    w.arrival = clock_.schedule(Duration::zero(), [this, &w] {
      w.arrival = 0;
      launch(w);
    });
}

void CommandWorkloads::record(Workload& w, Run& r, bool completed, std::string error) {
  clock_.cancel(r.timeout);
  r.timeout = 0;
  const std::uint64_t id = r.record.session;
  auto& rec = r.record;
  rec.end = clock_.now();
  rec.completed = completed;
  rec.error = std::move(error);
  // The stack of the run's first session, as its shim decided it (one JSON line per decision).
  std::ifstream in(r.decisions);
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("stack") || !j["stack"].is_string()) continue;
    rec.stack = j["stack"].get<std::string>();
    rec.rule = j.value("rule", -1);
    rec.policy_version = j.value("policy_version", 0ull);
    // As nSocket's `attempts`: the stack that failed before it, if any, then this one.
    rec.attempts = rec.stack + ":ok";
    if (j.contains("fallback_from") && j["fallback_from"].is_string())
      rec.attempts = j["fallback_from"].get<std::string>() + ":failed;" + rec.attempts;
    break;
  }
  // Counted as sessions.csv says them, a timeout without how the program then ended.
  ++w.endings[rec.error.empty() ? "exit status 0" : rec.error.substr(0, rec.error.find(" (stopped"))];
  recorder_.session(rec);
  auto it = w.live.find(id);
  if (it == w.live.end()) return;
  // Usually called from inside the process's exit callback: kept until outside it (the next launch or the end).
  ended_.push_back(std::move(it->second));
  w.live.erase(it);
}

void CommandWorkloads::finish() {
  finishing_ = true;
  for (auto& w : workloads_) {
    clock_.cancel(w->arrival);
    w->arrival = 0;
    std::vector<Run*> open;
    for (auto& [id, r] : w->live) open.push_back(r.get());
    for (Run* r : open) {
      if (r->process) r->process->stop(kStopGrace);
      record(*w, *r, false, scenario::kUnfinished);
    }
    if (w->server) w->server->stop(kStopGrace);
  }
  // Give the programs their grace (their SIGKILL timers run here), then whatever still runs is killed by
  // ~ChildProcess.
  const auto still_running = [&] {
    return std::any_of(workloads_.begin(), workloads_.end(),
                        [](const auto& w) { return w->server && w->server->running(); }) ||
           std::any_of(ended_.begin(), ended_.end(), [](const auto& r) { return r->process && r->process->running(); });
  };
  loop_.run_until([&] { return !still_running(); }, kStopGrace + std::chrono::milliseconds(200));
  ended_.clear();
}

std::vector<std::string> CommandWorkloads::warnings() const {
  std::vector<std::string> out;
  for (const auto& w : workloads_) {
    if (!w->server_ended) continue;
    const double at = to_seconds(w->server_ended_at);
    char when[64];
    std::snprintf(when, sizeof when, at > 0 ? "%.3f s into the run" : "before time zero", at);
    out.push_back("workload '" + w->spec.name + "': its server ended " + when + " (" +
                  w->server_ended->to_string() + "); a server must stay in the foreground until the end");
  }
  return out;
}

nlohmann::json CommandWorkloads::report() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& w : workloads_) {
    nlohmann::json j{{"runs", w->started}, {"endings", w->endings}, {"program_namespace", w->program_namespace}};
    if (w->spec.command->serve)
      j["server"] = w->server_ended ? nlohmann::json{{"ended_at_s", to_seconds(w->server_ended_at)},
                                                     {"how", w->server_ended->to_string()}}
                                    : nlohmann::json("ran to the end");
    out[w->spec.name] = j;
  }
  return out;
}

}  // namespace dmm::emu
