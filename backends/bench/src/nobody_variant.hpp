#pragma once
// The unprivileged variant of a suite: the client runs as uid nobody, which may not enter the instance's
// namespace (setns needs CAP_SYS_ADMIN), so the preload shim gets its sockets from dmm-stackd (and pools them).
// What it costs against a root client placing the same sessions is the price of issue 11's point 2.
#include <filesystem>
#include <string>
#include <vector>

#include "bench_process.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

struct NobodyPlacement {
  std::filesystem::path config;  // host config: stack `blue` in the namespace, open to nobody, `service:` set
  BackgroundProcess stackd;      // dmm-stackd serving it, running until this goes away
};

// Writes `name` (a host config placing every session on kernel instance `blue` in namespace `netns` — for nobody
// through dmm-stackd) into the work directory, makes that directory reachable by nobody, and starts dmm-stackd
// (next to dmm-bench) on it.
Result<NobodyPlacement> start_nobody_placement(const BenchOptions& options, const std::string& name,
                                               const std::string& netns);

// The command prefix that runs a client as nobody (util-linux setpriv).
std::vector<std::string> as_nobody();

}  // namespace dmm::bench
