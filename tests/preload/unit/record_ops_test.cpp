#include "record_ops.hpp"

#include <gtest/gtest.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace dmm::preload {
namespace {

FdRecord fresh_record() {
  FdRecord rec;
  start_pending(rec, AF_INET, SOCK_STREAM, 0, 0);
  return rec;
}

TEST(RecordOps, SettingAnOptionAgainMovesItToTheEndWithItsNewValue) {
  FdRecord rec = fresh_record();
  const int a = 1, b = 0, size = 65536;
  record_option(rec, IPPROTO_TCP, TCP_NODELAY, &a, sizeof a);
  record_option(rec, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  record_option(rec, IPPROTO_TCP, TCP_NODELAY, &b, sizeof b);
  ASSERT_EQ(rec.option_count, 2);  // distinct options only
  // The latest call's place in the order: an option that must follow another (SO_LOCK_FILTER after a filter)
  // still follows it when the other is set again.
  EXPECT_EQ(rec.options[0].name, SO_RCVBUF);
  EXPECT_EQ(rec.options[1].name, TCP_NODELAY);
  int value = -1;
  std::memcpy(&value, rec.options[1].value, sizeof value);
  EXPECT_EQ(value, 0);
  EXPECT_FALSE(rec.options_overflow);
}

TEST(RecordOps, ADetachedFilterIsNotReplayedAndAReattachedOneIs) {
  sock_filter code[] = {{BPF_RET | BPF_K, 0, 0, 64}};
  const sock_fprog program{1, code};
  const int unused = 0;
  FdRecord detached = fresh_record();
  record_option(detached, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
  record_option(detached, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused);
  EXPECT_EQ(detached.option_count, 0);
  FdRecord again = fresh_record();
  record_option(again, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
  record_option(again, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof unused);
  record_option(again, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
  ASSERT_EQ(again.option_count, 1);
  EXPECT_EQ(again.options[0].name, SO_ATTACH_FILTER);
}

TEST(RecordOps, TooManyTooLargeOrPointerOptionsAreDroppedAndFlagged) {
  FdRecord rec = fresh_record();
  const int one = 1;
  for (int name = 1; name <= static_cast<int>(kMaxRecordedOptions); ++name) record_option(rec, 1000, name, &one, 4);
  EXPECT_FALSE(rec.options_overflow);
  record_option(rec, 1000, 999, &one, 4);
  EXPECT_TRUE(rec.options_overflow);
  EXPECT_EQ(rec.option_count, kMaxRecordedOptions);

  FdRecord big = fresh_record();
  unsigned char blob[kMaxOptionBytes + 1] = {};
  record_option(big, SOL_SOCKET, SO_RCVBUF, blob, sizeof blob);
  EXPECT_TRUE(big.options_overflow);
  EXPECT_EQ(big.option_count, 0);

  FdRecord reuseport = fresh_record();
  record_option(reuseport, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, blob, 16);  // a pointer that cannot be read back
  EXPECT_TRUE(reuseport.options_overflow);
  EXPECT_EQ(reuseport.option_count, 0);
}

TEST(RecordOps, ASocketFilterIsCopiedFromTheOldSocketAtReplay) {
  // A two-instruction classic BPF program ("accept 64 bytes"): the record keeps only its place in the order
  // (the program's sock_fprog points into its own memory); replay reads it back from the old socket.
  sock_filter code[] = {{BPF_LD | BPF_W | BPF_LEN, 0, 0, 0}, {BPF_RET | BPF_K, 0, 0, 64}};
  const sock_fprog program{2, code};
  const int old_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(old_fd, 0);
  ASSERT_EQ(setsockopt(old_fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program), 0);
  FdRecord rec = fresh_record();
  record_option(rec, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program);
  const int lock = 1;
  record_option(rec, SOL_SOCKET, SO_LOCK_FILTER, &lock, sizeof lock);  // an int, replayed after the filter
  EXPECT_FALSE(rec.options_overflow);
  ASSERT_EQ(rec.option_count, 2);

  const int fresh = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fresh, 0);
  EXPECT_EQ(replay_options(rec, old_fd, fresh), 0);
  socklen_t count = 0;
  ASSERT_EQ(getsockopt(fresh, SOL_SOCKET, SO_GET_FILTER, nullptr, &count), 0);
  ASSERT_EQ(count, 2u);
  sock_filter copied[2] = {};
  ASSERT_EQ(getsockopt(fresh, SOL_SOCKET, SO_GET_FILTER, copied, &count), 0);
  EXPECT_EQ(copied[1].k, 64u);
  int locked = 0;
  socklen_t len = sizeof locked;
  ASSERT_EQ(getsockopt(fresh, SOL_SOCKET, SO_LOCK_FILTER, &locked, &len), 0);
  EXPECT_EQ(locked, 1);
  close(fresh);
  close(old_fd);
}

TEST(RecordOps, ReplayPutsTheOptionsOnANewSocketAndCountsRefusals) {
  FdRecord rec = fresh_record();
  const int one = 1, size = 65536;
  record_option(rec, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  record_option(rec, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  record_option(rec, SOL_SOCKET, 0x7fff, &one, sizeof one);  // no such option: refused
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(replay_options(rec, -1, fd), 1);
  int value = 0;
  socklen_t len = sizeof value;
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len), 0);
  EXPECT_EQ(value, 1);
  ASSERT_EQ(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &len), 0);
  EXPECT_EQ(value, 2 * size);
  close(fd);
}

TEST(RecordOps, IdentityTellsTheSameSocketFromAReusedNumber) {
  FdRecord rec = fresh_record();
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(take_identity(fd, rec));
  EXPECT_TRUE(still_same_socket(fd, rec));
  close(fd);
  const int other = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // very likely the same number
  EXPECT_FALSE(still_same_socket(other, rec));
  close(other);
  EXPECT_FALSE(still_same_socket(other, rec));  // closed
}

TEST(RecordOps, StartPendingForgetsThePreviousSocket) {
  FdRecord rec = fresh_record();
  const int one = 1;
  record_option(rec, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  rec.aliased = rec.bound = rec.options_overflow = true;
  rec.stack = 3;
  start_pending(rec, AF_INET6, SOCK_DGRAM, 0, 2);
  EXPECT_EQ(rec.option_count, 0);
  EXPECT_FALSE(rec.aliased || rec.bound || rec.options_overflow);
  EXPECT_EQ(rec.stack, kNoStack);
  EXPECT_TRUE(rec.original);
  EXPECT_EQ(rec.domain, AF_INET6);
  EXPECT_EQ(rec.intent, 2);
}

}  // namespace
}  // namespace dmm::preload
