#include "run/progress_line.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dmm::sim {

std::string format_eta(double seconds) {
  char buf[32];
  const long s = std::lround(std::max(seconds, 0.0));
  if (s < 60) std::snprintf(buf, sizeof buf, "%ld s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  return buf;
}

namespace {

std::string per_second(double rate) {
  char buf[32];
  if (rate >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", rate / 1e6);
  else if (rate >= 1e3) std::snprintf(buf, sizeof buf, "%.0fk", rate / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", rate);
  return buf;
}

}  // namespace

std::string ProgressLine::update(double wall_s, double sim_s, std::uint64_t events) {
  window_.push_back({wall_s, sim_s, events});
  while (window_.size() > 2 && wall_s - window_[1].wall_s >= kWindowS) window_.pop_front();
  const Look& first = window_.front();
  const double span = wall_s - first.wall_s;
  char head[128];
  std::snprintf(head, sizeof head, "%6.1f / %.1f s simulated (%3.0f%%), %.1f s wall", sim_s, duration_s_,
                duration_s_ > 0 ? 100.0 * sim_s / duration_s_ : 0.0, wall_s);
  std::string line = head;
  if (span <= 0) return line + ", ETA --";
  line += ", " + per_second(double(events - first.events) / span) + " events/s";
  const double sim_rate = (sim_s - first.sim_s) / span;  // simulated seconds per wall second, lately
  // Stalled: no simulated time for a whole second of wall time (one event can take long; many events can
  // share one instant). Say it rather than print an ETA of days.
  if (sim_rate <= 0 && span >= 1) return line + ", simulated time stalled";
  if (sim_rate <= 0) return line + ", ETA --";
  return line + ", ETA " + format_eta((duration_s_ - sim_s) / sim_rate);
}

}  // namespace dmm::sim
