#pragma once
// What dmm-emu asks its link emulator (dmm-linkemu, sim/emu/) to emulate, and what the emulator reports back: the
// scenario's links as ns-3 runs them between real namespaces (DESIGN.md §2.6). Plain data and its JSON form, so
// that the runner (backends/emu) and the ns-3 process share it without either including the other.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dmm/address.hpp"
#include "dmm/result.hpp"
#include "dmm/units.hpp"

namespace dmm::emu {

// One side of an emulated link: the veth (in the emulator's namespace) whose peer is the real host's interface,
// that interface's address, the /24 both are in, and the addresses (/32) reachable through that host.
struct LinkSide {
  std::string interface;          // veth in the emulator's namespace
  IpAddress host;                 // the real host's address on the peer veth (x.y.z.2)
  IpAddress emulator;             // the emulator's address on this side (x.y.z.1): the host's gateway
  std::vector<IpAddress> behind;  // addresses the host answers for (node identities), routed to `host`
};

struct LinkSpec {
  std::uint32_t index = 0;  // the scenario's link index: the p2p subnet inside ns-3 and the loss streams
  std::string name;         // the scenario's link name (pcap file names, as in dmm-sim)
  BitsPerSecond rate{100e6};
  Duration delay{std::chrono::milliseconds(1)};
  double loss = 0;
  std::uint32_t queue_packets = 100;
  LinkSide a, b;
};

struct LinkEventSpec {
  Duration at{0};  // from the start of the run
  std::uint32_t link = 0;
  std::optional<BitsPerSecond> rate;
  std::optional<Duration> delay;
  std::optional<double> loss;
  std::optional<bool> up;
};

struct EmulatorSpec {
  std::vector<LinkSpec> links;
  std::vector<LinkEventSpec> events;
  Duration duration{0};
  std::uint64_t seed = 1;
  Duration lateness_tick = std::chrono::milliseconds(1);  // how often the emulator checks its own lateness
  std::string pcap_dir;  // non-empty: every link writes pcap traces there, named as dmm-sim's --pcap names them
};

// Per link and direction, what the emulated link did.
struct DirectionStats {
  std::uint64_t packets_sent = 0;       // handed to the sending device
  std::uint64_t packets_delivered = 0;  // received by the other end
  std::uint64_t packets_lost = 0;       // dropped by the loss model at the receiver
  std::uint64_t packets_queue_dropped = 0;
  std::uint64_t bytes_delivered = 0;
  // Frames the sending host put on its veth that never reached ns-3: the emulator's packet socket was full.
  std::uint64_t packets_dropped_before_emulator = 0;
  // Rate fidelity: over the windows in which ns-3 delivered at (nearly) the link's full rate, how long the
  // deliveries took in simulated time and on the wall clock. Equal when the emulator kept up; the ratio is the
  // rate the real hosts saw against the configured one.
  double saturated_sim_s = 0;
  double saturated_wall_s = 0;
};

struct LinkStats {
  std::uint32_t index = 0;
  DirectionStats a_to_b, b_to_a;
};

struct EmulatorStats {
  std::vector<LinkStats> links;
  // How far behind the wall clock the emulator's events ran, sampled every lateness_tick of the run.
  std::vector<double> lateness_s;
  double wall_s = 0;
  double cpu_s = 0;  // the emulator process's CPU time (user + system, all threads) over the run
};

// Parses the spec dmm-emu writes (JSON); EINVAL naming the field.
Result<EmulatorSpec> parse_emulator_spec(const std::string& json_text);
std::string emulator_spec_json(const EmulatorSpec& spec);
std::string emulator_stats_json(const EmulatorStats& stats);
Result<EmulatorStats> parse_emulator_stats(const std::string& json_text);

}  // namespace dmm::emu
