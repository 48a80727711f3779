#pragma once
// A Policy as JSON, both ways: the object of one policy.jsonl line (DESIGN.md §2.2)
//   {"version":N,"time_s":S,"reason":"...","rules":[{"match":{"dst":..,"port":..,"proto":..,"intent":..},
//    "use":[...]}],"down":[...]}
// which is also how a policy travels between processes (dmm-nrd's sync protocol) and how an operator writes
// one to push by hand (dmm-ctl). Reading is strict and bounded: it is the boundary where another process's bytes
// become a Policy, so every problem is reported with its JSON path (`rules[2].match.port: ...`).
#include <cstddef>
#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "dmm/policy.hpp"
#include "dmm/result.hpp"

namespace dmm {

// Key order as documented (ordered_json), so that printed lines read like the format above.
nlohmann::ordered_json policy_to_json(const Policy& policy);

struct PolicyJsonLimits {
  std::size_t max_rules = 100'000;
  std::size_t max_name_bytes = 255;     // a stack name
  std::size_t max_reason_bytes = 4096;
};

// EINVAL with `PATH: what is wrong` for anything that is not a policy object: unknown or missing keys, wrong
// types, a version below 1, a malformed prefix or port range, an unknown protocol or intent, limits exceeded.
// Whether the named stacks exist is the receiver's business (validate()). `time_s` is optional (0 if absent).
Result<Policy> policy_from_json(const nlohmann::json& value, const PolicyJsonLimits& limits = {});
// The same from text; a syntax error names its byte offset.
Result<Policy> parse_policy_json(std::string_view text, const PolicyJsonLimits& limits = {});

}  // namespace dmm
