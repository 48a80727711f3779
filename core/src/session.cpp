// Names of protocols and intents as they appear in configs, scenarios and results.
#include "dmm/session.hpp"

#include <array>
#include <utility>

namespace dmm {
namespace {

constexpr std::array<std::pair<L4Proto, std::string_view>, 2> kProtos{{{L4Proto::tcp, "tcp"}, {L4Proto::udp, "udp"}}};
constexpr std::array<std::pair<Intent, std::string_view>, 4> kIntents{{{Intent::default_, "default"},
                                                                      {Intent::latency, "latency"},
                                                                      {Intent::throughput, "throughput"},
                                                                      {Intent::bulk, "bulk"}}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E value) {
  for (const auto& [v, name] : table)
    if (v == value) return name;
  return "?";  // an out-of-range enum value: a bug elsewhere, but printing must not crash
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& table, std::string_view text) {
  for (const auto& [v, name] : table)
    if (name == text) return v;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(L4Proto p) { return name_of(kProtos, p); }
std::string_view to_string(Intent i) { return name_of(kIntents, i); }
std::optional<L4Proto> parse_l4proto(std::string_view text) { return value_of(kProtos, text); }
std::optional<Intent> parse_intent(std::string_view text) { return value_of(kIntents, text); }

}  // namespace dmm
