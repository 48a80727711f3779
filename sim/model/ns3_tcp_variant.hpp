#pragma once
// TCP congestion-control variants by their scenario names (`tcp: cubic`), mapped to ns-3's implementations.
// Each socket gets its own object, set before connect/listen, so stacks on one node may differ.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ns3/ptr.h"

namespace ns3 {
class TcpSocketBase;
}

namespace dmm::sim {

// Every accepted name, in a fixed order (for "expected one of ..." messages at load time).
std::span<const std::string_view> known_tcp_variants();
bool is_known_tcp_variant(std::string_view name);

// Gives `socket` a fresh congestion-control object of `variant` (and pacing for BBR, which depends on it).
// `rng_stream` fixes the ns-3 random stream of a variant that draws random numbers (BBR); nullopt leaves ns-3's
// automatic one. Returns false, changing nothing, for an unknown name. Call before Connect/Listen; accepted
// sockets inherit the listener's variant through ns-3's Fork.
bool apply_tcp_variant(ns3::TcpSocketBase& socket, std::string_view variant,
                       std::optional<std::int64_t> rng_stream = std::nullopt);

}  // namespace dmm::sim
