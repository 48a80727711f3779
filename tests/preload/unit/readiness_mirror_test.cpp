// ReadinessMirror: what poll() on the application end shows in each state of a user-space session.
#include "readiness_mirror.hpp"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace dmm::preload {
namespace {

short ready(int fd) {
  pollfd p{fd, POLLIN | POLLOUT | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 ? p.revents : 0;
}

TEST(ReadinessMirror, ConnectingIsNeitherReadableNorWritable) {
  auto mirror = ReadinessMirror::create(true);
  ASSERT_TRUE(mirror.ok()) << mirror.error().message;
  EXPECT_EQ(ready(mirror->app_fd()), 0);
  EXPECT_GE(mirror->control_fd(), 500);  // out of the program's way
  EXPECT_TRUE(::fcntl(mirror->app_fd(), F_GETFL) & O_NONBLOCK);
  auto blocking = ReadinessMirror::create(false);
  ASSERT_TRUE(blocking.ok());
  EXPECT_FALSE(::fcntl(blocking->app_fd(), F_GETFL) & O_NONBLOCK);
}

TEST(ReadinessMirror, WritableAndReadableAreSetIndependently) {
  auto mirror = ReadinessMirror::create(true);
  ASSERT_TRUE(mirror.ok());
  const int app = mirror->app_fd();
  mirror->make_writable();
  EXPECT_EQ(ready(app), POLLOUT);
  mirror->set_readable(true);
  EXPECT_EQ(ready(app), POLLOUT | POLLIN);
  mirror->set_readable(true);  // idempotent: still one marker
  mirror->set_readable(false);
  mirror->consume_marker_from(app);
  EXPECT_EQ(ready(app), POLLOUT);
  mirror->make_unwritable(app);
  EXPECT_EQ(ready(app), 0);
  mirror->set_readable(true);
  EXPECT_EQ(ready(app), POLLIN);
  mirror->make_writable();
  EXPECT_EQ(ready(app), POLLIN | POLLOUT);
}

TEST(ReadinessMirror, NewDataIsANewEdgeForEdgeTriggeredEpoll) {
  auto mirror = ReadinessMirror::create(true);
  ASSERT_TRUE(mirror.ok());
  const int app = mirror->app_fd();
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ASSERT_EQ(::epoll_ctl(ep, EPOLL_CTL_ADD, app, &ev), 0);
  mirror->set_readable(true);
  EXPECT_EQ(::epoll_wait(ep, &ev, 1, 0), 1);
  EXPECT_EQ(::epoll_wait(ep, &ev, 1, 0), 0);  // edge-triggered: reported once
  mirror->set_readable(true);                 // more data while still readable: a new edge
  EXPECT_EQ(::epoll_wait(ep, &ev, 1, 0), 1);
  mirror->set_readable(false);
  mirror->consume_marker_from(app);
  EXPECT_EQ(ready(app), 0);  // every marker consumed at once
  ::close(ep);
}

TEST(ReadinessMirror, EndOfStreamReadsAsZeroAndFailureWakesEveryone) {
  auto mirror = ReadinessMirror::create(true);
  ASSERT_TRUE(mirror.ok());
  const int app = mirror->app_fd();
  mirror->set_end_of_stream();
  EXPECT_EQ(ready(app), POLLIN | POLLRDHUP);
  char byte;
  EXPECT_EQ(::recv(app, &byte, 1, MSG_DONTWAIT), 0);

  auto failed = ReadinessMirror::create(true);
  ASSERT_TRUE(failed.ok());
  failed->set_failed();  // from "connecting": readable, writable, ended
  EXPECT_EQ(ready(failed->app_fd()), POLLIN | POLLOUT | POLLRDHUP);
}

TEST(ReadinessMirror, TheControlEndSeesTheProgramCloseItsLastCopy) {
  auto mirror = ReadinessMirror::create(true);
  ASSERT_TRUE(mirror.ok());
  const int app = mirror->release_app_end();
  const int copy = ::dup(app);
  ::close(app);
  EXPECT_FALSE(mirror->app_gone());  // a copy is still open
  pollfd p{mirror->control_fd(), POLLRDHUP, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
  ::close(copy);
  EXPECT_TRUE(mirror->app_gone());
  EXPECT_EQ(::poll(&p, 1, 0), 1);
  EXPECT_TRUE(p.revents & POLLRDHUP);
}

}  // namespace
}  // namespace dmm::preload
