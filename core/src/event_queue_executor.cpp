#include "dmm/event_queue_executor.hpp"

namespace dmm {

TimerId EventQueueExecutor::schedule(Duration delay, std::function<void()> fn) {
  if (delay < Duration::zero()) delay = Duration::zero();
  const TimerId id = next_id_++;
  queue_.emplace(std::make_pair(now_ + delay, id), std::move(fn));
  due_.emplace(id, now_ + delay);
  return id;
}

void EventQueueExecutor::cancel(TimerId id) {
  auto it = due_.find(id);
  if (it == due_.end()) return;
  queue_.erase({it->second, id});
  due_.erase(it);
}

bool EventQueueExecutor::run_next() {
  if (queue_.empty()) return false;
  auto node = queue_.extract(queue_.begin());
  now_ = node.key().first;
  due_.erase(node.key().second);
  node.mapped()();
  return true;
}

void EventQueueExecutor::run_until(TimePoint until) {
  while (!queue_.empty() && queue_.begin()->first.first <= until) run_next();
  if (until > now_) now_ = until;
}

}  // namespace dmm
