#pragma once
// CPU time (user + system) this process has used so far, in microseconds. On a shared machine wall-clock figures
// swing with whatever else runs; the CPU a client spends per operation barely does.
namespace dmm::bench {

double process_cpu_us();

}  // namespace dmm::bench
