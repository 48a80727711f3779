#include "model/ns3_stack_state.hpp"

#include <vector>

namespace dmm::sim {

void Ns3StackState::set_failed(bool failed, const Error& why) {
  const bool entering = failed && !failed_;
  failed_ = failed;
  if (!entering) return;
  std::vector<Token> tokens;
  tokens.reserve(members_.size());
  for (const auto& [token, member] : members_) tokens.push_back(token);
  for (const Token token : tokens) {
    // Look up again: an earlier abort may have destroyed this member through its application.
    const auto it = members_.find(token);
    if (it == members_.end()) continue;
    Ns3Abortable* member = it->second;
    members_.erase(it);
    member->abort(why);
  }
}

Ns3StackState::Token Ns3StackState::add(Ns3Abortable& member) {
  const Token token = next_++;
  members_.emplace(token, &member);
  return token;
}

void Ns3StackState::remove(Token token) { members_.erase(token); }

}  // namespace dmm::sim
