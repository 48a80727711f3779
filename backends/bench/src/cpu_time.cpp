#include "cpu_time.hpp"

#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace dmm::bench {
namespace {

// CPU time of every thread of `pid` so far (the first field of each thread's schedstat: ns on a CPU).
double threads_cpu_us(const std::string& pid) {
  double total_ns = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + pid + "/task", ec)) {
    std::ifstream in(task.path() / "schedstat");
    double ns = 0;
    if (in >> ns) total_ns += ns;
  }
  return total_ns / 1e3;
}

}  // namespace

double process_cpu_us() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec); };
  double total = us(usage.ru_utime) + us(usage.ru_stime);
  if (const char* other = std::getenv("DMM_BENCH_ADD_CPU_OF"); other && *other) total += threads_cpu_us(other);
  return total;
}

}  // namespace dmm::bench
