#pragma once
// Deferred destruction. An object often has to die inside its own callback (a connection reporting its failure,
// a session finishing in on_readable); deleting it there would pull the stack out from under the caller. The
// owner buries it instead; the graveyard empties on the next executor turn, or when the owner itself goes.
#include <memory>
#include <vector>

#include "dmm/executor.hpp"

namespace dmm {

template <typename T>
class Graveyard {
public:
  explicit Graveyard(Executor& executor) : executor_(executor) {}
  ~Graveyard() { executor_.cancel(timer_); }
  Graveyard(const Graveyard&) = delete;
  Graveyard& operator=(const Graveyard&) = delete;

  void bury(std::unique_ptr<T> dead) {
    if (!dead) return;
    dead_.push_back(std::move(dead));
    if (timer_ == 0) {
      timer_ = executor_.schedule(Duration::zero(), [this] {
        timer_ = 0;
        auto batch = std::move(dead_);  // destructors may bury more: they land in a fresh batch
        dead_.clear();
      });
    }
  }
  // Destroys everything now; only from outside the buried objects' callbacks (e.g. an owner's destructor).
  void clear() { dead_.clear(); }

private:
  Executor& executor_;
  std::vector<std::unique_ptr<T>> dead_;
  TimerId timer_ = 0;
};

}  // namespace dmm
