#pragma once
// How a run was made, for its results directory (DESIGN.md §2.2). Two parts, kept apart on purpose:
// - what determines the results (the scenario as run, the overrides, the seed, the software): summary.json's
//   `provenance`, the same for every run of the same inputs and build (runs stay byte-identical);
// - where and when it ran (command line, working directory, host, start time): summary.json's `invocation`,
//   which differs from run to run like `timing`.
// No ns-3 here.
#include <string>
#include <vector>

namespace dmm::sim {

struct HostFacts {
  std::string hostname;
  std::string kernel;    // uname: sysname release version
  std::string machine;   // uname: e.g. x86_64
  unsigned cpus = 0;     // online CPUs
};

HostFacts host_facts();

struct Invocation {
  std::string tool;                       // "dmm-sim", "python dmm"
  std::vector<std::string> command_line;  // as the process was started
  std::string working_directory;
  std::string started_utc;                // ISO 8601; read by the caller (a tool), never by the simulation
  HostFacts host;
};

// The invocation of this process: its command line from /proc/self/cmdline, its working directory and the host.
// `started_utc` is the caller's wall-clock reading (DESIGN.md §3: the simulation never reads the clock).
Invocation this_invocation(std::string tool, std::string started_utc);

// A system_clock reading as `2024-05-01T12:34:56Z`.
std::string utc_timestamp(long long seconds_since_epoch);

}  // namespace dmm::sim
