#pragma once
// What a new session asks for: the inputs of a policy decision.
#include <optional>
#include <string>
#include <string_view>

#include "dmm/address.hpp"

namespace dmm {

enum class L4Proto : std::uint8_t { tcp, udp };
// What the application wants from the stack; set per socket (DMM_INTENT) or per workload.
enum class Intent : std::uint8_t { default_, latency, throughput, bulk };

std::string_view to_string(L4Proto p);
std::string_view to_string(Intent i);
std::optional<L4Proto> parse_l4proto(std::string_view text);
std::optional<Intent> parse_intent(std::string_view text);

struct SessionRequest {
  Endpoint dst;
  L4Proto proto = L4Proto::tcp;
  Intent intent = Intent::default_;
};

}  // namespace dmm
