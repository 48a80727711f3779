#include "model/ns3_tcp_variant.hpp"

#include <algorithm>
#include <array>

#include "ns3/object-factory.h"
#include "ns3/string.h"
#include "ns3/tcp-bbr.h"
#include "ns3/tcp-congestion-ops.h"
#include "ns3/tcp-socket-base.h"

namespace dmm::sim {
namespace {

struct Variant {
  std::string_view name;
  const char* type_id;
  const char* attribute = nullptr;  // one attribute the ns-3 class needs to match what Linux calls `name`
  const char* value = nullptr;
  bool pacing = false;
};

// `reno` is Linux's Reno (ns-3's TcpLinuxReno); `westwood` is Linux's tcp_westwood, which implements Westwood+.
constexpr std::array kVariants{
    Variant{"cubic", "ns3::TcpCubic"},
    Variant{"newreno", "ns3::TcpNewReno"},
    Variant{"reno", "ns3::TcpLinuxReno"},
    Variant{"bbr", "ns3::TcpBbr", nullptr, nullptr, true},
    Variant{"vegas", "ns3::TcpVegas"},
    Variant{"westwood", "ns3::TcpWestwood", "ProtocolType", "WestwoodPlus"},
    Variant{"htcp", "ns3::TcpHtcp"},
    Variant{"highspeed", "ns3::TcpHighSpeed"},
    Variant{"hybla", "ns3::TcpHybla"},
    Variant{"scalable", "ns3::TcpScalable"},
    Variant{"veno", "ns3::TcpVeno"},
    Variant{"bic", "ns3::TcpBic"},
    Variant{"yeah", "ns3::TcpYeah"},
    Variant{"illinois", "ns3::TcpIllinois"},
    Variant{"ledbat", "ns3::TcpLedbat"},
    Variant{"lp", "ns3::TcpLp"},
    Variant{"dctcp", "ns3::TcpDctcp"},  // without ECN-marking queues it behaves like Reno
};

constexpr auto kNames = [] {
  std::array<std::string_view, kVariants.size()> names{};
  for (std::size_t i = 0; i < kVariants.size(); ++i) names[i] = kVariants[i].name;
  return names;
}();

const Variant* find(std::string_view name) {
  const auto it = std::find_if(kVariants.begin(), kVariants.end(), [&](const Variant& v) { return v.name == name; });
  return it == kVariants.end() ? nullptr : &*it;
}

}  // namespace

std::span<const std::string_view> known_tcp_variants() { return kNames; }

bool is_known_tcp_variant(std::string_view name) { return find(name) != nullptr; }

bool apply_tcp_variant(ns3::TcpSocketBase& socket, std::string_view variant, std::optional<std::int64_t> rng_stream) {
  const Variant* v = find(variant);
  if (v == nullptr) return false;
  ns3::ObjectFactory factory(v->type_id);
  if (v->attribute != nullptr) factory.Set(v->attribute, ns3::StringValue(v->value));
  const auto ops = factory.Create<ns3::TcpCongestionOps>();
  // BBR is the only variant here with a random variable (its PROBE_BW cycle starts at a random phase).
  if (const auto bbr = ns3::DynamicCast<ns3::TcpBbr>(ops); bbr && rng_stream) {
    bbr->SetStream(static_cast<std::uint32_t>(*rng_stream));
  }
  socket.SetCongestionControlAlgorithm(ops);
  if (v->pacing) socket.SetPacingStatus(true);
  return true;
}

}  // namespace dmm::sim
