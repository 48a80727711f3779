#pragma once
// The line dmm-sim keeps on a terminal while a run goes: how far simulated time got, wall time, simulator events per
// second and an estimate of the time left. Rates come from the last few seconds, not from the start, so the ETA
// follows a run whose busy part comes late; when simulated time stops moving the line says so instead of guessing.
// Pure arithmetic on looks the caller takes (dmm-sim reads the wall clock; the simulation never does).
#include <cstdint>
#include <deque>
#include <string>

namespace dmm::sim {

class ProgressLine {
public:
  explicit ProgressLine(double duration_s) : duration_s_(duration_s) {}

  // One look at the run, `wall_s` seconds after it started: the text to show (no line ending).
  std::string update(double wall_s, double sim_s, std::uint64_t events);

private:
  struct Look {
    double wall_s;
    double sim_s;
    std::uint64_t events;
  };
  static constexpr double kWindowS = 5;  // rates over about this much wall time
  double duration_s_;
  std::deque<Look> window_;
};

// `42 s`, `3m05s`, `2h10m`.
std::string format_eta(double seconds);

}  // namespace dmm::sim
