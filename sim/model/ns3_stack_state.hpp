#pragma once
// What one simulated stack shares with the connections it made: whether it has failed, and which connections are
// still alive to be aborted when it does. Shared ownership, because connections may outlive their stack.
// No ns-3 here: this is plain bookkeeping.
#include <cstdint>
#include <map>

#include "dmm/result.hpp"

namespace dmm::sim {

// A connection that the stack can kill.
class Ns3Abortable {
public:
  // Kills the connection (its socket is reset or closed) and reports `why` to its application, once.
  virtual void abort(const Error& why) = 0;

protected:
  ~Ns3Abortable() = default;
};

class Ns3StackState {
public:
  using Token = std::uint64_t;

  bool failed() const { return failed_; }
  // Entering the failed state aborts every live member, oldest first (a fixed order keeps runs reproducible).
  // Members may unregister others, or register new ones, from inside their abort.
  void set_failed(bool failed, const Error& why);

  Token add(Ns3Abortable& member);
  void remove(Token token);
  std::size_t live() const { return members_.size(); }

private:
  bool failed_ = false;
  Token next_ = 1;
  std::map<Token, Ns3Abortable*> members_;
};

}  // namespace dmm::sim
