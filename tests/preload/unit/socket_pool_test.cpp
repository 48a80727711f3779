#include "socket_pool.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "dmm/kernel/netns_socket_factory.hpp"

namespace dmm::preload {
namespace {

using namespace std::chrono_literals;

// A maker that makes plain sockets of the kind asked, in this namespace, and counts its batches.
struct CountingMaker {
  // Each maker's sockets carry their own SO_SNDBUF, so that a test can tell them from other tests' parked sockets.
  static inline std::atomic<int> next_mark{0};
  const int mark = 8192 + 1024 * next_mark++;
  std::atomic<int> batches{0};
  std::atomic<int> sockets{0};
  SocketBatchMaker maker() {
    return [this](const PoolKey& key, int count) -> Result<std::vector<kernel::UniqueFd>> {
      ++batches;
      std::vector<kernel::UniqueFd> made;
      for (int i = 0; i < count; ++i) {
        auto fd = kernel::raw_socket(key.domain, key.type | SOCK_CLOEXEC | (key.nonblocking ? SOCK_NONBLOCK : 0), 0);
        if (!fd) return fd.error();
        ::setsockopt(fd->get(), SOL_SOCKET, SO_SNDBUF, &mark, sizeof mark);
        made.push_back(std::move(*fd));
        ++sockets;
      }
      return made;
    };
  }
};

// Waits (bounded) until `pools` has `n` ready sockets of `key`.
bool eventually_ready(const SocketPools& pools, const PoolKey& key, int n) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < deadline;) {
    if (pools.ready(key) >= n) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

// The filling thread lives as long as the process (as in the shim): the pools it fills are never destroyed.
SocketPools& leaked_pools(CountingMaker& maker) { return *new SocketPools(maker.maker()); }

TEST(SocketPools, NothingIsKeptOfAKindNoDecisionWanted) {
  CountingMaker maker;
  SocketPools pools(maker.maker());  // no thread is started: it may go away with the test
  PooledSocket taken;
  EXPECT_FALSE(pools.take(PoolKey{0, AF_INET, SOCK_STREAM, false}, taken));
  EXPECT_EQ(maker.batches.load(), 0);
}

TEST(SocketPools, AWantedKindIsKeptReadyParkedHighAndCloseOnExec) {
  auto* maker = new CountingMaker;
  SocketPools& pools = leaked_pools(*maker);
  const PoolKey key{1, AF_INET, SOCK_STREAM, true};
  pools.want(key);
  ASSERT_TRUE(eventually_ready(pools, key, 2));
  PooledSocket taken;
  ASSERT_TRUE(pools.take(key, taken));
  EXPECT_GE(taken.fd, kernel::high_fd_floor());  // out of the numbers programs use
  EXPECT_TRUE(::fcntl(taken.fd, F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(taken.fd, F_GETFL) & O_NONBLOCK);  // the kind's blocking mode
  struct stat st {};
  ASSERT_EQ(::fstat(taken.fd, &st), 0);
  EXPECT_EQ(st.st_ino, taken.ino);  // the identity the pool recorded, so socket() needs no fstat
  int type = 0;
  socklen_t len = sizeof type;
  ASSERT_EQ(::getsockopt(taken.fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
  EXPECT_EQ(type, SOCK_STREAM);
  ::close(taken.fd);
}

TEST(SocketPools, ManySocketsComeInFewBatches) {
  auto* maker = new CountingMaker;
  SocketPools& pools = leaked_pools(*maker);
  const PoolKey key{2, AF_INET6, SOCK_DGRAM, false};
  pools.want(key);
  int taken_count = 0, misses = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (taken_count < 200 && std::chrono::steady_clock::now() < deadline) {
    PooledSocket taken;
    if (pools.take(key, taken)) {
      ::close(taken.fd);
      ++taken_count;
    } else {
      ++misses;
      std::this_thread::sleep_for(200us);  // the program would make this one itself
    }
  }
  ASSERT_EQ(taken_count, 200);
  // The kind grew to 16 ready; refills come in batches of at least half of that.
  EXPECT_LE(maker->batches.load(), 200 / 4) << maker->batches << " batches, " << misses << " misses";
}

TEST(SocketPools, AKindThatCannotBeMadeIsRetriedOncePerSecondNotInALoop) {
  // dmm-stackd refusing (or gone): the filling thread backs off instead of spinning on the refusal.
  auto* batches = new std::atomic<int>{0};
  SocketPools& pools = *new SocketPools([batches](const PoolKey&, int) -> Result<std::vector<kernel::UniqueFd>> {
    ++*batches;
    return make_error(EACCES, "refused");
  });
  const PoolKey key{4, AF_INET, SOCK_STREAM, false};
  pools.want(key);
  for (int i = 0; i < 200; ++i) {  // the program keeps asking (each take finds the kind empty and wakes the thread)
    PooledSocket none;
    EXPECT_FALSE(pools.take(key, none));
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_LE(batches->load(), 2) << "the refused kind was asked for " << batches->load() << " times in ~0.2 s";
}

// The sockets parked by `maker` now: (fd, inode) of each high socket carrying its mark.
std::vector<std::pair<int, ino_t>> parked_by(const CountingMaker& maker) {
  std::vector<std::pair<int, ino_t>> found;
  for (int fd = kernel::high_fd_floor(); fd < kernel::high_fd_floor() + 64; ++fd) {
    int sndbuf = 0;
    socklen_t len = sizeof sndbuf;
    struct stat st {};
    if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 && sndbuf == 2 * maker.mark &&
        ::fstat(fd, &st) == 0)
      found.emplace_back(fd, st.st_ino);
  }
  return found;
}

TEST(SocketPools, FlushClosesEverySocketParkedForOldCredentials) {
  auto* maker = new CountingMaker;
  SocketPools& pools = leaked_pools(*maker);
  const PoolKey key{5, AF_INET, SOCK_STREAM, false};
  pools.want(key);
  ASSERT_TRUE(eventually_ready(pools, key, 2));
  const auto before = parked_by(*maker);
  ASSERT_FALSE(before.empty());
  pools.flush();
  // Every socket parked before is closed (its number gone, or another socket's now: the thread makes new ones at
  // once, for the credentials in force).
  for (const auto& [fd, ino] : before) {
    struct stat st {};
    EXPECT_TRUE(::fstat(fd, &st) != 0 || st.st_ino != ino) << "fd " << fd << " still parked";
  }
  EXPECT_TRUE(eventually_ready(pools, key, 1));
}

TEST(SocketPools, AForkChildClosesItsCopiesOfTheParkedSockets) {
  auto* maker = new CountingMaker;
  SocketPools& pools = leaked_pools(*maker);
  const PoolKey key{3, AF_INET, SOCK_STREAM, false};
  pools.want(key);
  ASSERT_TRUE(eventually_ready(pools, key, 2));
  PooledSocket peek;
  ASSERT_TRUE(pools.take(key, peek));  // one of them, to know a parked number; the rest stay parked
  ASSERT_TRUE(eventually_ready(pools, key, 2));
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    pools.after_fork_in_child();
    // The parked sockets are the parent's to hand out: none left here, none ready, and `peek` (taken before the
    // fork) is still this process's own.
    int open_high = 0;
    for (int fd = kernel::high_fd_floor(); fd < kernel::high_fd_floor() + 64; ++fd) {
      int sndbuf = 0;
      socklen_t len = sizeof sndbuf;
      if (fd != peek.fd && ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 && sndbuf == 2 * maker->mark)
        ++open_high;
    }
    PooledSocket none;
    _exit(open_high == 0 && pools.ready(key) == 0 && !pools.take(key, none) && ::fcntl(peek.fd, F_GETFD) >= 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_GE(pools.ready(key), 2);  // the parent's are untouched
  ::close(peek.fd);
}

}  // namespace
}  // namespace dmm::preload
