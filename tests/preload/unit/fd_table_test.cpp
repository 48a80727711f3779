#include "fd_table.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace dmm::preload {
namespace {

TEST(FdTable, ChunksAppearOnlyWhenAnFdIsRecorded) {
  FdTable& table = fd_table();
  constexpr int fd = 70000;  // far from anything else in this process
  EXPECT_EQ(table.find(fd), nullptr);
  FdSlot* slot = table.find_or_create(fd);
  ASSERT_NE(slot, nullptr);
  EXPECT_EQ(table.find(fd), slot);
  EXPECT_EQ(table.find(fd + 1), slot + 1);  // same chunk
  EXPECT_EQ(slot->state.load(), FdState::untracked);
  EXPECT_EQ(table.find_or_create(-1), nullptr);
  EXPECT_EQ(table.find_or_create(FdTable::kMaxFds), nullptr);  // beyond the table: left alone
}

TEST(FdTable, ASecondLockOnTheSameThreadIsReentryNotADeadlock) {
  FdSlot slot;
  SlotLock outer(slot);
  ASSERT_FALSE(outer.reentered());
  // What a signal handler running on this thread inside the shim would see.
  SlotLock inner(slot);
  EXPECT_TRUE(inner.reentered());
  SlotLock attempt(slot, SlotLock::TryOnly{});
  EXPECT_FALSE(attempt.held());
}

TEST(FdTable, OtherThreadsWaitForTheHolder) {
  FdSlot slot;
  std::atomic<int> inside{0}, max_inside{0};
  auto work = [&] {
    for (int i = 0; i < 20000; ++i) {
      SlotLock lock(slot);
      const int now = ++inside;
      if (now > max_inside) max_inside = now;
      --inside;
    }
  };
  std::thread a(work), b(work), c(work);
  a.join();
  b.join();
  c.join();
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_EQ(slot.owner.load(), 0u);
}

TEST(FdTable, PairLocksInFdOrderSoOppositeDupsCannotDeadlock) {
  FdSlot x, y;
  std::atomic<bool> stop{false};
  std::thread t([&] {
    while (!stop) SlotPairLock lock(1, x, 2, y);
  });
  for (int i = 0; i < 20000; ++i) SlotPairLock lock(2, y, 1, x);  // the other direction
  stop = true;
  t.join();
  SlotPairLock same(5, x, 5, x);  // dup2(fd, fd)
  EXPECT_FALSE(same.reentered());
}

TEST(FdTable, ForkedChildForgetsRecordsLockedByThreadsThatAreGone) {
  FdTable& table = fd_table();
  FdSlot* held = table.find_or_create(70300);
  FdSlot* mine = table.find_or_create(70301);
  FdSlot* free_slot = table.find_or_create(70302);
  held->state = FdState::pending;
  mine->state = FdState::pending;
  free_slot->state = FdState::placed;
  std::atomic<bool> locked{false}, release{false};
  std::thread other([&] {
    SlotLock lock(*held);  // another thread is mid-update when the process forks
    locked = true;
    while (!release) std::this_thread::yield();
  });
  while (!locked) std::this_thread::yield();
  SlotLock my_lock(*mine);  // the forking thread's own lock stays: it returns into code that releases it
  const pid_t child = fork();
  if (child == 0) {
    table.reset_after_fork();
    const bool ok = held->owner.load() == 0 && held->state.load() == FdState::untracked &&
                    mine->owner.load() == thread_token() && mine->state.load() == FdState::pending &&
                    free_slot->state.load() == FdState::placed;
    _exit(ok ? 0 : 1);
  }
  int status = -1;
  waitpid(child, &status, 0);
  release = true;
  other.join();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(held->state.load(), FdState::pending);  // the parent is untouched
}

}  // namespace
}  // namespace dmm::preload
