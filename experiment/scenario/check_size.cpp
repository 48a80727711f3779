// A run that would never finish is refused before it starts, and one that will take long is announced: a typo in a
// rate (`50000/s` for `50/s`) or a duration (`10h` for `10s`) must not cost a day of CPU and all the memory.
//
// The rule, from what the workloads ask for (not what the paths will carry):
//   sessions  = per workload: rate x active time (Poisson arrivals), or `count`, or for a back-to-back on-off
//               workload one session per on+off cycle;
//   packets   = bytes offered / 1448 (one full segment): bulk size, request + response, or on-off send_rate x on
//               time, per session.
// More than 10 million sessions or 1 billion packets is refused; more than 1 million sessions or 100 million
// packets gets a warning (about 2 KB of memory and 100 simulator events per session, 10-20 events per packet,
// ~150k events per wall-clock second: a billion packets is a day).
#include <algorithm>
#include <cstdio>

#include "scenario/loader_sections.hpp"

namespace dmm::scenario::detail {
namespace {

constexpr double kRefuseSessions = 1e7, kWarnSessions = 1e6;
constexpr double kRefusePackets = 1e9, kWarnPackets = 1e8;
constexpr double kSegmentBytes = 1448;

struct Load {
  double sessions = 0;
  double bytes = 0;
};

Load offered(const WorkloadSpec& spec, Duration run) {
  // A command's own traffic is unknown; what dmm-sim runs in its place is not.
  const WorkloadSpec& w = spec.simulate_as ? *spec.simulate_as : spec;
  const double active = to_seconds(w.stop.value_or(run) - w.start);
  Load load;
  if (w.rate) {
    load.sessions = *w.rate * active;
  } else if (w.kind == WorkloadKind::on_off) {
    load.sessions = active / std::max(to_seconds(w.on + w.off), 1e-9) + 1;
  } else {
    load.sessions = w.count;
  }
  double per_session = 0;
  switch (w.kind) {
    case WorkloadKind::bulk: per_session = double(w.size); break;
    case WorkloadKind::request_response: per_session = double(w.request) + double(w.response); break;
    case WorkloadKind::on_off: per_session = w.send_rate.value / 8 * std::min(to_seconds(w.on), active); break;
    case WorkloadKind::command: break;
  }
  load.bytes = load.sessions * per_session;
  return load;
}

std::string amount(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

void check_size(const std::vector<Field>& workload_fields, LoadContext& ctx) {
  const Scenario& s = ctx.scenario;
  Load total;
  std::size_t largest = 0;
  double largest_cost = -1;
  for (std::size_t i = 0; i < s.workloads.size(); ++i) {
    const Load load = offered(s.workloads[i], s.duration);
    total.sessions += load.sessions;
    total.bytes += load.bytes;
    // The workload that dominates is the one to name: by its share of either limit.
    const double cost = std::max(load.sessions / kRefuseSessions, load.bytes / kSegmentBytes / kRefusePackets);
    if (cost > largest_cost) {
      largest_cost = cost;
      largest = i;
    }
  }
  if (s.workloads.empty()) return;
  const double packets = total.bytes / kSegmentBytes;
  const std::string size = "about " + amount(total.sessions) + " sessions and " + amount(packets) +
                           " packets offered (mostly workload '" + s.workloads[largest].name + "')";
  if (total.sessions > kRefuseSessions || packets > kRefusePackets)
    workload_fields[largest].fail("this run would start " + size + ": more than " + amount(kRefuseSessions) +
                                  " sessions or " + amount(kRefusePackets) +
                                  " packets is refused (it would not finish); check rate, count, size and duration");
  if (total.sessions > kWarnSessions || packets > kWarnPackets)
    ctx.scenario.warnings.push_back(s.file + ": this run will start " + size + " and may take hours (over " +
                                    amount(kWarnSessions) + " sessions or " + amount(kWarnPackets) + " packets)");
}

}  // namespace dmm::scenario::detail
