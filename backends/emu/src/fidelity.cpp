#include "fidelity.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <tuple>

namespace dmm::emu {
namespace {

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

nlohmann::ordered_json direction(const scenario::LinkSpec& link, const DirectionStats& d, double duration_s) {
  const std::uint64_t arrived = d.packets_delivered + d.packets_lost;  // reached the receiver's loss model
  const auto [lo, hi] = wilson_interval(d.packets_lost, arrived);
  nlohmann::ordered_json o;
  o["packets_sent"] = d.packets_sent;
  o["packets_delivered"] = d.packets_delivered;
  o["packets_lost"] = d.packets_lost;
  o["packets_queue_dropped"] = d.packets_queue_dropped;
  o["packets_dropped_before_emulator"] = d.packets_dropped_before_emulator;
  o["loss_configured"] = link.loss;
  o["loss_realised"] = arrived ? double(d.packets_lost) / double(arrived) : 0.0;
  o["loss_interval_95"] = {lo, hi};
  // Realised loss outside the binomial interval of the configured one would mean the emulator drops on its own.
  o["loss_consistent"] = arrived == 0 || (link.loss >= lo - 1e-12 && link.loss <= hi + 1e-12);
  o["mean_load"] = duration_s > 0 ? double(d.bytes_delivered) * 8.0 / (link.rate.value * duration_s) : 0.0;
  // The rate the hosts saw while ns-3 sent at the link's full rate, against that rate (null: never saturated).
  o["saturated_s"] = d.saturated_sim_s;
  const auto error = rate_error(d);
  o["rate_error"] = error ? nlohmann::ordered_json(*error) : nlohmann::ordered_json(nullptr);
  return o;
}

}  // namespace

std::pair<double, double> wilson_interval(std::uint64_t k, std::uint64_t n) {
  if (n == 0) return {0.0, 1.0};
  const double z = 1.959963984540054, nn = double(n), p = double(k) / nn;
  const double centre = (p + z * z / (2 * nn)) / (1 + z * z / nn);
  const double half = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / (1 + z * z / nn);
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::optional<double> rate_error(const DirectionStats& d) {
  if (d.saturated_sim_s <= 0 || d.saturated_wall_s <= 0) return std::nullopt;
  return d.saturated_sim_s / d.saturated_wall_s - 1.0;
}

namespace {
double smallest_delay_s(const scenario::Scenario& sc) {
  double smallest = 1.0;
  for (const auto& l : sc.links) smallest = std::min(smallest, to_seconds(l.delay));
  for (const auto& e : sc.events)
    if (e.delay) smallest = std::min(smallest, to_seconds(*e.delay));
  return smallest;
}
}  // namespace

double lateness_median_limit_s(const scenario::Scenario& sc) { return std::max(1e-3, 0.1 * smallest_delay_s(sc)); }
double lateness_limit_s(const scenario::Scenario& sc) { return std::max(5e-3, 0.5 * smallest_delay_s(sc)); }

CpuTicks read_cpu_ticks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  CpuTicks t;
  in >> cpu;
  if (cpu != "cpu") return t;
  std::uint64_t v, i = 0;
  while (in >> v) {
    t.total += v;
    if (i == 3 || i == 4) t.idle += v;  // idle, iowait
    if (++i == 8) break;                // user nice system idle iowait irq softirq steal (guest is in user)
  }
  return t;
}

Fidelity assess_fidelity(const scenario::Scenario& sc, const EmulatorStats& stats, double cpu_idle,
                         const std::vector<std::string>& notes) {
  Fidelity f;
  auto& j = f.json;
  const double limit = lateness_limit_s(sc), median_limit = lateness_median_limit_s(sc);
  const double p50 = percentile(stats.lateness_s, 0.5), p99 = percentile(stats.lateness_s, 0.99);
  const double worst = stats.lateness_s.empty() ? 0 : *std::max_element(stats.lateness_s.begin(), stats.lateness_s.end());
  if (stats.lateness_s.empty()) {
    f.valid = false;
    f.invalid_because.push_back("the emulator reported no lateness samples");
  } else {
    if (p50 > median_limit) {
      f.valid = false;
      std::ostringstream why;
      why << "the link emulator fell behind real time: median lateness " << p50 * 1e3 << " ms > limit "
          << median_limit * 1e3 << " ms (a tenth of the smallest link delay, at least 1 ms)";
      f.invalid_because.push_back(why.str());
    }
    if (p99 > limit) {
      f.valid = false;
      std::ostringstream why;
      why << "the link emulator fell behind real time: p99 lateness " << p99 * 1e3 << " ms > limit " << limit * 1e3
          << " ms (half the smallest link delay, at least 5 ms)";
      f.invalid_because.push_back(why.str());
    }
  }
  for (const auto& l : stats.links) {
    const auto& spec = sc.links[l.index];
    for (const auto& [d, from, to] : {std::tuple{&l.a_to_b, spec.a, spec.b}, std::tuple{&l.b_to_a, spec.b, spec.a}}) {
      const auto error = rate_error(*d);
      if (d->packets_dropped_before_emulator > 0) {
        f.valid = false;
        std::ostringstream why;
        why << "link " << spec.name << " " << from << "->" << to << ": " << d->packets_dropped_before_emulator
            << " frames were dropped before the emulator read them (it could not keep up)";
        f.invalid_because.push_back(why.str());
      }
      if (!error || *error >= -kRateErrorLimit) continue;
      f.valid = false;
      std::ostringstream why;
      why << "link " << spec.name << " " << from << "->" << to << " ran at " << (1 + *error) * 100
          << " % of its rate while saturated (limit " << (1 - kRateErrorLimit) * 100 << " %)";
      f.invalid_because.push_back(why.str());
    }
  }
  j["valid"] = f.valid;
  j["reasons"] = f.invalid_because;
  j["emulator"] = {{"lateness_p50_ms", p50 * 1e3}, {"lateness_p99_ms", p99 * 1e3}, {"lateness_max_ms", worst * 1e3},
                   {"lateness_p50_limit_ms", median_limit * 1e3}, {"lateness_p99_limit_ms", limit * 1e3}, {"samples", stats.lateness_s.size()},
                   {"wall_s", stats.wall_s}, {"cpu_s", stats.cpu_s}};
  // What emulation costs: the emulator's CPU (its share of one core) per 100 Mbit/s carried over all links and
  // directions. It includes the kernel work a veth does in the sender's context (the receiving host's TCP/IP
  // input runs in the emulator's write), which is why it grows with the hosts' own per-packet cost.
  double carried_bits = 0;
  for (const auto& l : stats.links) carried_bits += 8.0 * double(l.a_to_b.bytes_delivered + l.b_to_a.bytes_delivered);
  const double carried_mbps = stats.wall_s > 0 ? carried_bits / stats.wall_s / 1e6 : 0;
  j["emulator"]["carried_mbps"] = carried_mbps;
  j["emulator"]["cpu_share"] = stats.wall_s > 0 ? stats.cpu_s / stats.wall_s : 0;
  j["emulator"]["cpu_share_per_100_mbps"] =
      carried_mbps > 0 ? nlohmann::ordered_json(stats.cpu_s / stats.wall_s / carried_mbps * 100) : nlohmann::ordered_json(nullptr);
  j["cpu_idle"] = cpu_idle >= 0 ? nlohmann::ordered_json(cpu_idle) : nlohmann::ordered_json(nullptr);
  const double duration_s = to_seconds(sc.duration);
  nlohmann::ordered_json links = nlohmann::ordered_json::array();
  for (const auto& l : stats.links) {
    const auto& spec = sc.links[l.index];
    nlohmann::ordered_json o;
    o["link"] = spec.name;
    o["rate_mbps"] = spec.rate.value / 1e6;
    o["delay_ms"] = to_millis(spec.delay);
    // A packet's one-way delay in the emulator is the link's (queue + serialisation + propagation, as in dmm-sim)
    // plus the emulator's lateness: measured here as the configured delay plus the lateness percentiles.
    o["one_way_delay_p50_ms"] = to_millis(spec.delay) + p50 * 1e3;
    o["one_way_delay_p99_ms"] = to_millis(spec.delay) + p99 * 1e3;
    o[spec.a + "->" + spec.b] = direction(spec, l.a_to_b, duration_s);
    o[spec.b + "->" + spec.a] = direction(spec, l.b_to_a, duration_s);
    links.push_back(std::move(o));
  }
  j["links"] = links;
  j["notes"] = notes;
  return f;
}

}  // namespace dmm::emu
