#pragma once
// Python values <-> core values for the bindings: names of protocols and intents, addresses, time in
// seconds. Bad values raise ValueError (pybind11 maps std::invalid_argument to it) naming what is wrong.
#include <string>
#include <vector>

#include "dmm/address.hpp"
#include "dmm/result.hpp"
#include "dmm/session.hpp"

namespace dmm::py_bindings {

L4Proto proto_from(const std::string& text);
Intent intent_from(const std::string& text);
IpPrefix prefix_from(const std::string& text);   // `10.0.0.0/8`, `10.255.0.2` (a host prefix), IPv6 too
IpAddress address_from(const std::string& text);

// Throws std::invalid_argument with the error's message (for Results whose failure is the caller's input).
void throw_if_error(const Status& status);

// `a, b, c`: names in messages and reprs.
std::string joined(const std::vector<std::string>& names);

}  // namespace dmm::py_bindings
