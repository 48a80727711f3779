#pragma once
// dmm-ctl's human-readable renderings of the daemon's status and decision objects (the JSON is the contract; this
// is for people). Tolerant: a key that is missing or of another type prints as `-`, never throws.
#include <nlohmann/json.hpp>
#include <ostream>

namespace dmm::nrd::ctl {

void print_status(std::ostream& out, const nlohmann::json& status);
void print_decision(std::ostream& out, const nlohmann::json& decision);

}  // namespace dmm::nrd::ctl
