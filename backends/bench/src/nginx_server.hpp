#pragma once
// nginx for the suites that measure HTTP programs (ab, wrk): one process, a 100-byte file, no logs, its files in
// the work directory.
#include <string>

#include "bench_process.hpp"
#include "bench_runner.hpp"

namespace dmm::bench {

// Serves on `listen` (nginx's syntax: "10.233.2.1:80", or "8080" for every address) in namespace `netns`.
Result<BackgroundProcess> start_nginx(const BenchOptions& options, const std::string& netns, const std::string& listen);

}  // namespace dmm::bench
