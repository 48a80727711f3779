// Orchestrator::select against a plain linear first-match scan, on the same rule sets and request stream;
// select while another thread keeps publishing versions; and the cost of apply(). Ends with a table of
// indexed vs linear medians.
//
//   build/bin/dmm-core-bench                       # everything, 5 repetitions, medians
//   build/bin/dmm-core-bench --benchmark_filter=Select/100000
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "dmm/orchestrator.hpp"
#include "rule_sets.hpp"

namespace dmm::bench {
namespace {

constexpr std::size_t kRuleCounts[] = {10, 1'000, 100'000};
constexpr std::size_t kHotStream = 4096;       // requests cycled through: a working set of known services
constexpr std::size_t kColdStream = 1u << 20;  // so many distinct requests that caches do not help
constexpr int kRepetitions = 5;

struct Fixture {
  Policy policy;
  std::vector<SessionRequest> hot;
  std::vector<SessionRequest> cold;
  std::unique_ptr<Orchestrator> orchestrator;
};

std::shared_ptr<Fixture> make_fixture(std::size_t rules, bool with_cold_stream) {
  RuleSetBuilder builder(static_cast<std::uint32_t>(rules) * 7919u + 1);
  auto f = std::make_shared<Fixture>();
  f->policy = builder.build(rules);
  f->hot = builder.requests(f->policy, kHotStream);
  if (with_cold_stream) f->cold = builder.requests(f->policy, kColdStream);
  f->orchestrator = std::make_unique<Orchestrator>(bench_stacks(), f->policy);
  return f;
}

void select_loop(benchmark::State& state, const Orchestrator& o, const std::vector<SessionRequest>& stream) {
  const std::size_t mask = stream.size() - 1;  // streams are powers of two
  std::size_t i = 0;
  for (auto _ : state) {
    auto c = o.select(stream[i++ & mask]);
    benchmark::DoNotOptimize(c);
  }
}

void BM_Select(benchmark::State& state, const Fixture& f) { select_loop(state, *f.orchestrator, f.hot); }

void BM_SelectColdStream(benchmark::State& state, const Fixture& f) { select_loop(state, *f.orchestrator, f.cold); }

// The baseline: what select would cost without the compiled table.
void BM_LinearScan(benchmark::State& state, const Fixture& f) {
  const std::size_t mask = f.hot.size() - 1;
  const std::vector<Rule>& rules = f.policy.rules;
  std::size_t i = 0;
  for (auto _ : state) {
    const SessionRequest& r = f.hot[i++ & mask];
    std::int32_t found = -1;
    for (std::size_t k = 0; k < rules.size(); ++k) {
      if (rules[k].match.matches(r)) {
        found = static_cast<std::int32_t>(k);
        break;
      }
    }
    benchmark::DoNotOptimize(found);
  }
}

// A writer publishing new versions back to back (as fast as apply() can validate and compile them) while
// this thread selects: the readers' cost under a constantly moving epoch.
void BM_SelectWithWriter(benchmark::State& state, Fixture& f) {
  std::atomic<bool> stop{false};
  std::uint64_t applied = 0;
  std::thread writer([&] {
    Policy p = f.policy;
    p.version = f.orchestrator->version();
    while (!stop.load(std::memory_order_relaxed)) {
      ++p.version;
      p.rules.back().use = {p.version % 2 == 0 ? "kernel-a" : "kernel-b"};  // every version is a real change
      if (f.orchestrator->apply(p)) ++applied;
    }
  });
  select_loop(state, *f.orchestrator, f.hot);
  stop.store(true);
  writer.join();
  state.counters["versions_applied"] = static_cast<double>(applied);
}

// Installing a new version of the same size: validation, compilation and the grace period.
void BM_Apply(benchmark::State& state, Fixture& f) {
  Policy p = f.policy;
  p.version = f.orchestrator->version();
  for (auto _ : state) {
    ++p.version;
    if (!f.orchestrator->apply(p)) state.SkipWithError("apply failed");
  }
}

struct Median {
  double real_ns = 0;
  double cpu_ns = 0;
};

// Keeps each benchmark's median times per iteration for the ratio table, and hands every report to the display
// reporter `--benchmark_format` asks for (console, json or csv): a custom reporter replaces the library's choice,
// so it must make the same choice itself or the flag would be ignored.
class MedianCapture : public benchmark::BenchmarkReporter {
public:
  MedianCapture() : display_(benchmark::CreateDefaultDisplayReporter()) {}  // owned by the library
  bool console() const { return dynamic_cast<benchmark::ConsoleReporter*>(display_) != nullptr; }

  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      // function_name is the registered name (`BM_Select/1000`), without the `/repeats:5` decoration.
      const std::string& name = run.run_name.function_name;
      if (run.aggregate_name == "median" || (run.aggregate_name.empty() && !medians_.contains(name)))
        medians_[name] = Median{run.GetAdjustedRealTime(), run.GetAdjustedCPUTime()};
    }
    display_->ReportRuns(runs);
  }
  void Finalize() override { display_->Finalize(); }
  const std::map<std::string, Median>& medians() const { return medians_; }

private:
  benchmark::BenchmarkReporter* display_;
  std::map<std::string, Median> medians_;
};

// `BM_Select/1000`. (Appending also avoids GCC 12's false -Wrestrict on `"literal" + std::string&&`.)
std::string bench_name(std::string_view base, std::size_t rules) {
  return std::string(base).append("/").append(std::to_string(rules));
}

// To `out`: stdout next to the console table, stderr when stdout carries JSON or CSV (which it must keep clean).
void print_ratios(const std::map<std::string, Median>& medians, std::FILE* out) {
  auto find = [&](const std::string& name) -> const Median* {
    const auto it = medians.find(name);
    return it == medians.end() ? nullptr : &it->second;
  };
  // Real time is what a caller waits; CPU time leaves out preemption by other processes on a busy machine.
  std::fprintf(out, "\nmedians per operation, indexed select vs linear first-match scan (real time / CPU time):\n");
  for (std::size_t n : kRuleCounts) {
    const Median* indexed = find(bench_name("BM_Select", n));
    const Median* linear = find(bench_name("BM_LinearScan", n));
    if (indexed == nullptr || linear == nullptr) continue;
    std::fprintf(out, "select@%zu: %.1f / %.1f ns, linear %.0f / %.0f ns, speed-up %.0fx / %.0fx", n, indexed->real_ns,
                indexed->cpu_ns, linear->real_ns, linear->cpu_ns, linear->real_ns / indexed->real_ns,
                linear->cpu_ns / indexed->cpu_ns);
    if (const Median* w = find(bench_name("BM_SelectWithWriter", n)))
      std::fprintf(out, ", with writer %.1f / %.1f ns", w->real_ns, w->cpu_ns);
    if (const Median* c = find(bench_name("BM_SelectColdStream", n)))
      std::fprintf(out, ", cold stream %.1f / %.1f ns", c->real_ns, c->cpu_ns);
    if (const Median* a = find(bench_name("BM_Apply", n))) std::fprintf(out, ", apply %.3f ms", a->real_ns / 1e6);
    std::fprintf(out, "\n");
  }
}

}  // namespace
}  // namespace dmm::bench

int main(int argc, char** argv) {
  using namespace dmm::bench;
  benchmark::Initialize(&argc, argv);  // takes the --benchmark_* flags it knows (and --help)
  // Anything left is not ours either: a usage error (exit 2, as every DMM tool), after the library's own message.
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    std::fprintf(stderr, "Usage: dmm-core-bench [--benchmark_filter=REGEX] [--benchmark_format=console|json|csv] "
                         "[--benchmark_*...]\n(see dmm-core-bench --help)\n");
    return 2;
  }

  std::vector<std::shared_ptr<Fixture>> keep;  // fixtures outlive the run; benchmarks borrow them
  auto configure = [](benchmark::internal::Benchmark* b) {
    b->Unit(benchmark::kNanosecond)->Repetitions(kRepetitions)->ReportAggregatesOnly(true);
  };
  for (std::size_t n : kRuleCounts) {
    const bool largest = n == kRuleCounts[std::size(kRuleCounts) - 1];
    auto f = make_fixture(n, largest);
    auto w = make_fixture(n, false);  // its own orchestrator: the writer's versions must not leak into others
    configure(benchmark::RegisterBenchmark(bench_name("BM_Select", n).c_str(), [f](benchmark::State& s) { BM_Select(s, *f); }));
    configure(benchmark::RegisterBenchmark(bench_name("BM_LinearScan", n).c_str(), [f](benchmark::State& s) { BM_LinearScan(s, *f); }));
    configure(benchmark::RegisterBenchmark(bench_name("BM_SelectWithWriter", n).c_str(),
                                           [w](benchmark::State& s) { BM_SelectWithWriter(s, *w); }));
    if (largest)
      configure(benchmark::RegisterBenchmark(bench_name("BM_SelectColdStream", n).c_str(),
                                             [f](benchmark::State& s) { BM_SelectColdStream(s, *f); }));
    auto a = make_fixture(n, false);
    configure(benchmark::RegisterBenchmark(bench_name("BM_Apply", n).c_str(), [a](benchmark::State& s) { BM_Apply(s, *a); }));
    keep.insert(keep.end(), {f, w, a});
  }

  MedianCapture reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_ratios(reporter.medians(), reporter.console() ? stdout : stderr);
  benchmark::Shutdown();
  return 0;
}
