#pragma once
// CPU time (user + system) this process has used so far, in microseconds. On a shared machine wall-clock figures
// swing with whatever else runs; the CPU a client spends per operation barely does.
//
// A client whose sessions are carried by another process (dmm-stackd runs the user-space stack and pumps the
// bytes) must count that process's CPU too, or its figures would hide the stack's cost: with
// DMM_BENCH_ADD_CPU_OF=PID in the environment, the CPU of every thread of PID is added (from schedstat, in ns).
namespace dmm::bench {

double process_cpu_us();

}  // namespace dmm::bench
