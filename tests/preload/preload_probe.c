/* A small, unmodified-style C client for the preload tests. It is run under dmm-run (or plainly, for the
 * negative cases) inside the client namespace and exercises one behaviour per sub-command. It prints
 * `key=value` facts on stdout, one per line, and exits 0 when every check of the sub-command held, 3 when a
 * connect/send failed (printing `error=<op>:<ERRNO-NAME>`), 1 for any other failed check (reason on stderr).
 *
 *   tcp ADDR PORT [block|nonblock]       connect, echo, print stack and protocol (6 TCP, 262 MPTCP)
 *   options ADDR PORT                    options set before connect are in force after it
 *   epoll2 ADDR1 PORT1 ADDR2 PORT2       two non-blocking connects (two instances) driven by one epoll
 *   dup ADDR1 PORT1 ADDR2 PORT2          dup of a pending socket follows it; dup2 onto a DMM socket
 *   fork ADDR PORT                       fork after connect; both processes use the fd; child connects anew
 *   udp ADDR1 PORT1 ADDR2 PORT2          unconnected UDP, sendto / sendmsg per destination
 *   udp-server PORT                      bind 0.0.0.0:PORT (UDP); echo one datagram
 *   intent ADDR PORT INTENT              SOL_DMM/DMM_INTENT before connect
 *   mptcp ADDR PORT                      connect, echo, wait (<= 5 s) for an additional MPTCP subflow
 *   listen PORT                          bind 0.0.0.0:PORT + listen; accept one connection, echo until EOF
 *   loopback                             a client and a server over 127.0.0.1 in one process (bound before
 *                                        listen and before connect)
 *   threads ADDR PORT                    4 threads connecting in a loop while the main thread forks
 *   sequence ADDR PORT [ADDR PORT ...]   one connection after the other (options set before each connect,
 *                                        checked after it): stackN, nodelayN, rcvbufN per connection
 *   bind-local ADDR PORT LOCAL           connects once, then binds a second TCP socket to LOCAL:0 (an address
 *                                        only the program's own namespace has): bind=0 or bind=ERRNO
 *   clobber-low ADDR PORT                connects, then dup2s /dev/null over fds 3..63 (as launchers do), then
 *                                        connects again: stack1, stack2
 *   epoll3 A1 P1 A2 P2 A3 P3             epoll2 with three connections (two user-space instances and a kernel one)
 *   big ADDR PORT BYTES                  sends BYTES of a pattern with write(), reads the echo back with read()
 *                                        (blocking), checks every byte: sent=, received=, stack=
 *   reset-server ADDR PORT               (server side) listens, prints ready=1, then resets the first
 *                                        connection after reading a byte (SO_LINGER 0)
 *   signal-sockets ADDR PORT MS          connects once, then for MS ms makes and closes TCP sockets while a
 *                                        50 us timer's handler makes sockets too: every socket the handler
 *                                        made must be in the program's own namespace (wrong=N, handled=N)
 *   epoll-first ADDR PORT                everything a program may attach to a socket before connect(), checked
 *                                        after it (nginx's order: socket, epoll_ctl ADD, connect): the fd in an
 *                                        EPOLLET set, in a level-triggered set, in an EPOLLONESHOT set and added
 *                                        then removed in a fourth; a dup of it in the level-triggered set with its
 *                                        own data word; O_ASYNC with F_SETOWN and F_SETSIG. Facts: et_out, et_data,
 *                                        lt_data, dup_data, oneshot_once, removed_silent, owner, sig, async, sigio
 *   stale ADDR PORT                      a socket closed behind the shim's back (raw close) and its number reused,
 *                                        by /dev/null (file_connect=ENOTSOCK, still_null=1) and by a socket received
 *                                        over SCM_RIGHTS (received_connect=..., received_stack=...): neither may be
 *                                        taken for the closed one
 *   drop-privileges ADDR PORT            3 connections as root, then setgroups/setgid/setuid(65534) in this process and
 *                                        3 more: owner_before=, owner_after= (the socket inodes' uid: the peer's when
 *                                        dmm-stackd made them)
 *   attempts ADDR PORT N                 N blocking connects, each on a new socket, failures counted (not fatal):
 *                                        failures=, last_error=
 *   epoll-fork ADDR PORT                 socket + epoll_ctl ADD in the parent, fork; the child connects and waits
 *                                        on the inherited epoll set: child_out, child_data (echo through it)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/mptcp.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dmm/dmm_socket.h"

#define CHECK(cond, ...)                                \
  do {                                                  \
    if (!(cond)) {                                      \
      fprintf(stderr, "check failed: %s: ", #cond);     \
      fprintf(stderr, __VA_ARGS__);                     \
      fprintf(stderr, "\n");                            \
      exit(1);                                          \
    }                                                   \
  } while (0)

static const char* errno_name(int e) {
  switch (e) {
    case ECONNRESET: return "ECONNRESET";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENOPROTOOPT: return "ENOPROTOOPT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case ENOTCONN: return "ENOTCONN";
    case EINPROGRESS: return "EINPROGRESS";
    case EISCONN: return "EISCONN";
    case EACCES: return "EACCES";
    case ENOTSOCK: return "ENOTSOCK";
    default: return strerror(e);
  }
}

static void fail_io(const char* op) {
  printf("error=%s:%s\n", op, errno_name(errno));
  fflush(stdout);
  exit(3);
}

struct addr {
  struct sockaddr_storage ss;
  socklen_t len;
};

static struct addr make_addr(const char* ip, const char* port) {
  struct addr a;
  memset(&a, 0, sizeof a);
  if (strchr(ip, ':')) {
    struct sockaddr_in6* in6 = (struct sockaddr_in6*)&a.ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((unsigned short)atoi(port));
    CHECK(inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1, "bad address %s", ip);
    a.len = sizeof *in6;
  } else {
    struct sockaddr_in* in = (struct sockaddr_in*)&a.ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((unsigned short)atoi(port));
    CHECK(inet_pton(AF_INET, ip, &in->sin_addr) == 1, "bad address %s", ip);
    a.len = sizeof *in;
  }
  return a;
}

/* The stack name, or `-ERRNO` when the shim does not say (no shim, inet socket: -EOPNOTSUPP). */
static const char* stack_of(int fd) {
  static char buf[8][64];
  static int next;
  char* out = buf[next++ % 8];
  if (dmm_socket_stack(fd, out, 64) != 0) snprintf(out, 64, "-%s", errno_name(errno));
  return out;
}

static int protocol_of(int fd) {
  int protocol = -1;
  socklen_t len = sizeof protocol;
  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len);
  return protocol;
}

static void wait_fd(int fd, short events) {
  struct pollfd p = {fd, events, 0};
  CHECK(poll(&p, 1, 10000) == 1, "fd %d not ready within 10 s", fd);
}

/* Finishes a connect that returned EINPROGRESS (or fails the probe with its error). */
static void finish_connect(int fd) {
  wait_fd(fd, POLLOUT);
  int err = 0;
  socklen_t len = sizeof err;
  CHECK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0, "SO_ERROR");
  if (err != 0) {
    errno = err;
    fail_io("connect");
  }
}

static void connect_to(int fd, const struct addr* a) {
  if (connect(fd, (const struct sockaddr*)&a->ss, a->len) == 0) return;
  if (errno != EINPROGRESS) fail_io("connect");
  finish_connect(fd);
}

/* Sends `msg` and expects it echoed back (blocking or not). */
static void echo(int fd, const char* msg) {
  const size_t n = strlen(msg);
  wait_fd(fd, POLLOUT);
  if (send(fd, msg, n, MSG_NOSIGNAL) != (ssize_t)n) fail_io("send");
  char buf[256];
  size_t got = 0;
  while (got < n) {
    wait_fd(fd, POLLIN);
    const ssize_t r = recv(fd, buf + got, sizeof buf - got, 0);
    if (r <= 0) fail_io("recv");
    got += (size_t)r;
  }
  CHECK(got == n && memcmp(buf, msg, n) == 0, "echo mismatch");
}

static int tcp_socket(const struct addr* a, int flags) { return socket(a->ss.ss_family, SOCK_STREAM | flags, 0); }

static int cmd_tcp(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  const int nonblock = argv[2] && strcmp(argv[2], "nonblock") == 0;
  int fd = tcp_socket(&a, nonblock ? SOCK_NONBLOCK : 0);
  CHECK(fd >= 0, "socket");
  connect_to(fd, &a);
  echo(fd, "hello through dmm");
  printf("stack=%s\n", stack_of(fd));
  printf("protocol=%d\n", protocol_of(fd));
  close(fd);
  return 0;
}

static int cmd_mptcp(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  int fd = tcp_socket(&a, 0); /* plain TCP, as far as this program knows */
  connect_to(fd, &a);
  echo(fd, "multipath");
  printf("stack=%s\n", stack_of(fd));
  printf("protocol=%d\n", protocol_of(fd));
  /* Additional subflows join asynchronously after the handshake: poll MPTCP_INFO, boundedly. */
  struct mptcp_info info;
  for (int i = 0; i < 100; ++i) {
    memset(&info, 0, sizeof info);
    socklen_t len = sizeof info;
    CHECK(getsockopt(fd, SOL_MPTCP, MPTCP_INFO, &info, &len) == 0, "MPTCP_INFO: %s", strerror(errno));
    if (info.mptcpi_subflows >= 1) break;
    poll(NULL, 0, 50);
  }
  printf("subflows=%d\n", info.mptcpi_subflows);
  echo(fd, "over several paths");
  return 0;
}

static int cmd_options(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  int fd = tcp_socket(&a, SOCK_CLOEXEC);
  CHECK(fd >= 0, "socket");
  const int rcvbuf = 65536, one = 1;
  CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0, "SO_RCVBUF");
  CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0, "TCP_NODELAY");
  CHECK(setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) == 0, "SO_KEEPALIVE");
  CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0, "O_NONBLOCK");
  connect_to(fd, &a);
  int value = 0;
  socklen_t len = sizeof value;
  CHECK(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &len) == 0, "get SO_RCVBUF");
  printf("rcvbuf=%d\n", value);  /* the kernel doubles what was asked: 131072 */
  len = sizeof value;
  CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len) == 0, "get TCP_NODELAY");
  printf("nodelay=%d\n", value);
  len = sizeof value;
  CHECK(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &value, &len) == 0, "get SO_KEEPALIVE");
  printf("keepalive=%d\n", value);
  printf("nonblock=%d\n", (fcntl(fd, F_GETFL) & O_NONBLOCK) ? 1 : 0);
  printf("cloexec=%d\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) ? 1 : 0);
  /* Non-blocking for real: a read with nothing to read says EAGAIN instead of blocking. */
  char c;
  printf("eagain=%d\n", recv(fd, &c, 1, 0) < 0 && errno == EAGAIN ? 1 : 0);
  echo(fd, "options");
  printf("stack=%s\n", stack_of(fd));
  close(fd);
  return 0;
}

/* Non-blocking connects to N destinations under one epoll set, then an echo on each. */
static int connect_all_by_epoll(char** argv, int count) {
  struct addr a[3];
  int fd[3];
  for (int i = 0; i < count; ++i) a[i] = make_addr(argv[2 * i], argv[2 * i + 1]);
  fd[0] = tcp_socket(&a[0], SOCK_NONBLOCK); /* non-blocking from socket() */
  for (int i = 1; i < count; ++i) {
    fd[i] = tcp_socket(&a[i], 0);
    const int on = 1;
    CHECK(ioctl(fd[i], FIONBIO, &on) == 0, "FIONBIO"); /* ... and from ioctl */
  }
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0, "epoll_create1");
  for (int i = 0; i < count; ++i) {
    const int r = connect(fd[i], (const struct sockaddr*)&a[i].ss, a[i].len);
    CHECK(r < 0 && errno == EINPROGRESS, "connect %d: expected EINPROGRESS, got %s", i, r == 0 ? "0" : strerror(errno));
    struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (unsigned)i};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev) == 0, "epoll_ctl");
  }
  int connected = 0;
  while (connected != (1 << count) - 1) {
    struct epoll_event evs[3];
    const int n = epoll_wait(ep, evs, 3, 10000);
    CHECK(n > 0, "epoll_wait timed out");
    for (int k = 0; k < n; ++k) {
      const int i = (int)evs[k].data.u32;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd[i], SOL_SOCKET, SO_ERROR, &err, &len);
      CHECK(err == 0, "connect %d: %s", i, strerror(err));
      connected |= 1 << i;
      struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (unsigned)i};
      epoll_ctl(ep, EPOLL_CTL_MOD, fd[i], &ev);
    }
  }
  static const char* words[] = {"first", "second", "third"};
  for (int i = 0; i < count; ++i) {
    echo(fd[i], words[i]);
    printf("stack%d=%s\n", i + 1, stack_of(fd[i]));
  }
  return 0;
}

static int cmd_epoll2(char** argv) { return connect_all_by_epoll(argv, 2); }
static int cmd_epoll3(char** argv) { return connect_all_by_epoll(argv, 3); }

/* A bulk echo with plain blocking write()/read() in two threads (the echo server sends everything back). */
struct big_job {
  int fd;
  long bytes;
  long done;
};

static unsigned char pattern_at(long i) { return (unsigned char)((i * 7 + i / 251) & 0xff); }

static void* big_writer(void* arg) {
  struct big_job* job = arg;
  unsigned char buf[65536];
  while (job->done < job->bytes) {
    long n = job->bytes - job->done < (long)sizeof buf ? job->bytes - job->done : (long)sizeof buf;
    for (long i = 0; i < n; ++i) buf[i] = pattern_at(job->done + i);
    const ssize_t w = write(job->fd, buf, (size_t)n);
    if (w <= 0) break;
    job->done += w;
  }
  shutdown(job->fd, SHUT_WR);
  return NULL;
}

static int cmd_big(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  const long bytes = atol(argv[2]);
  int fd = tcp_socket(&a, 0);
  CHECK(fd >= 0, "socket");
  connect_to(fd, &a);
  struct big_job job = {fd, bytes, 0};
  pthread_t writer;
  CHECK(pthread_create(&writer, NULL, big_writer, &job) == 0, "pthread_create");
  unsigned char buf[65536];
  long received = 0, wrong = 0;
  for (;;) {
    const ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) fail_io("read");
    if (r == 0) break;
    for (ssize_t i = 0; i < r; ++i) wrong += buf[i] != pattern_at(received + i);
    received += r;
  }
  pthread_join(writer, NULL);
  printf("sent=%ld\nreceived=%ld\nwrong=%ld\nstack=%s\n", job.done, received, wrong, stack_of(fd));
  close(fd);
  return 0;
}

static int cmd_dup(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]), b = make_addr(argv[2], argv[3]);
  /* A dup of a pending socket: the decision moves both fds to the chosen stack's socket. */
  int s = tcp_socket(&a, 0);
  int copy = dup(s);
  int copy2 = fcntl(s, F_DUPFD_CLOEXEC, 100);
  CHECK(copy >= 0 && copy2 >= 100, "dup");
  connect_to(s, &a);
  printf("dup_stack=%s\n", stack_of(copy));
  printf("dupfd_stack=%s\n", stack_of(copy2));
  printf("dupfd_cloexec=%d\n", (fcntl(copy2, F_GETFD) & FD_CLOEXEC) ? 1 : 0);
  close(s);
  echo(copy, "via the dup");
  echo(copy2, "via F_DUPFD_CLOEXEC");
  close(copy2);
  /* dup2 onto a DMM socket: `copy` (blue) is replaced by a socket to the second server. */
  int other = tcp_socket(&b, 0);
  connect_to(other, &b);
  CHECK(dup2(other, copy) == copy, "dup2");
  close(other);
  echo(copy, "via dup2");
  printf("dup2_stack=%s\n", stack_of(copy));
  close(copy);
  return 0;
}

static int cmd_fork(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  int fd = tcp_socket(&a, 0);
  connect_to(fd, &a);
  const pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    echo(fd, "from the child");
    /* A decision made in the child: the shim works after fork too. */
    int fresh = tcp_socket(&a, 0);
    connect_to(fresh, &a);
    echo(fresh, "child's own");
    printf("child_stack=%s\n", stack_of(fresh));
    fflush(stdout);
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child, "waitpid");
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %d)", status);
  echo(fd, "from the parent");
  printf("parent_stack=%s\n", stack_of(fd));
  return 0;
}

static void udp_echo(int fd, const char* msg, const struct addr* to, int use_sendmsg) {
  const size_t n = strlen(msg);
  ssize_t sent;
  if (use_sendmsg) {
    struct iovec iov = {(void*)msg, n};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = (void*)&to->ss;
    mh.msg_namelen = to->len;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    sent = sendmsg(fd, &mh, 0);
  } else {
    sent = sendto(fd, msg, n, 0, (const struct sockaddr*)&to->ss, to->len);
  }
  if (sent != (ssize_t)n) fail_io(use_sendmsg ? "sendmsg" : "sendto");
  char buf[256];
  wait_fd(fd, POLLIN);
  const ssize_t r = recv(fd, buf, sizeof buf, 0);
  CHECK(r == (ssize_t)n && memcmp(buf, msg, n) == 0, "udp echo mismatch");
}

static int cmd_udp_server(char** argv) {
  struct addr a = make_addr("0.0.0.0", argv[0]);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(bind(fd, (const struct sockaddr*)&a.ss, a.len) == 0, "bind: %s", strerror(errno));
  printf("bound stack=%s\n", stack_of(fd)); /* a UDP server port decides at bind */
  fflush(stdout);
  wait_fd(fd, POLLIN);
  char buf[256];
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr*)&peer, &len);
  CHECK(n > 0, "recvfrom");
  CHECK(sendto(fd, buf, (size_t)n, 0, (struct sockaddr*)&peer, len) == n, "sendto");
  printf("served=1\n");
  return 0;
}

static int cmd_udp(char** argv, int n) {
  if (n == 2) { /* one destination */
    struct addr a = make_addr(argv[0], argv[1]);
    int s = socket(a.ss.ss_family, SOCK_DGRAM, 0);
    udp_echo(s, "one datagram", &a, 0);
    printf("stack=%s\n", stack_of(s));
    return 0;
  }
  struct addr a = make_addr(argv[0], argv[1]), b = make_addr(argv[2], argv[3]);
  int s1 = socket(a.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int s2 = socket(b.ss.ss_family, SOCK_DGRAM, 0);
  printf("before_send=%s\n", stack_of(s1)); /* not decided yet: -ENOTCONN */
  udp_echo(s1, "datagram one", &a, 0);
  udp_echo(s2, "datagram two", &b, 1);
  udp_echo(s1, "again", &a, 0); /* already decided: plain kernel sendto */
  printf("stack1=%s\n", stack_of(s1));
  printf("stack2=%s\n", stack_of(s2));
  return 0;
}

static int cmd_intent(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  int fd = tcp_socket(&a, 0);
  int intent = DMM_INTENT_DEFAULT;
  if (strcmp(argv[2], "latency") == 0) intent = DMM_INTENT_LATENCY;
  if (strcmp(argv[2], "throughput") == 0) intent = DMM_INTENT_THROUGHPUT;
  if (strcmp(argv[2], "bulk") == 0) intent = DMM_INTENT_BULK;
  CHECK(setsockopt(fd, SOL_DMM, DMM_INTENT, &intent, sizeof intent) == 0, "DMM_INTENT: %s", strerror(errno));
  int back = -1;
  socklen_t len = sizeof back;
  CHECK(getsockopt(fd, SOL_DMM, DMM_INTENT, &back, &len) == 0 && back == intent, "DMM_INTENT read back");
  connect_to(fd, &a);
  echo(fd, "with intent");
  printf("stack=%s\n", stack_of(fd));
  /* After the decision, an intent could change nothing: the shim says so. */
  const int late = setsockopt(fd, SOL_DMM, DMM_INTENT, &intent, sizeof intent);
  printf("late_intent=%s\n", late == 0 ? "accepted" : errno_name(errno));
  return 0;
}

static int cmd_listen(char** argv) {
  struct addr a = make_addr("0.0.0.0", argv[0]);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  CHECK(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
  CHECK(bind(fd, (const struct sockaddr*)&a.ss, a.len) == 0, "bind: %s", strerror(errno));
  CHECK(listen(fd, 8) == 0, "listen: %s", strerror(errno));
  printf("listening stack=%s\n", stack_of(fd));
  fflush(stdout);
  wait_fd(fd, POLLIN);
  struct sockaddr_storage peer;
  socklen_t len = sizeof peer;
  int c = accept4(fd, (struct sockaddr*)&peer, &len, SOCK_CLOEXEC);
  CHECK(c >= 0, "accept4: %s", strerror(errno));
  printf("accepted_stack=%s\n", stack_of(c));
  printf("accepted_protocol=%d\n", protocol_of(c));
  char buf[256];
  ssize_t n;
  while ((n = recv(c, buf, sizeof buf, 0)) > 0) CHECK(send(c, buf, (size_t)n, 0) == n, "send");
  close(c);
  return 0;
}

static int cmd_loopback(void) {
  int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct addr a = make_addr("127.0.0.1", "0");
  CHECK(bind(server, (const struct sockaddr*)&a.ss, a.len) == 0, "bind");
  CHECK(listen(server, 4) == 0, "listen");
  a.len = sizeof a.ss;
  CHECK(getsockname(server, (struct sockaddr*)&a.ss, &a.len) == 0, "getsockname");
  int client = socket(AF_INET, SOCK_STREAM, 0);
  struct addr local = make_addr("127.0.0.1", "0"); /* bound before connect: replayed if the socket moves */
  CHECK(bind(client, (const struct sockaddr*)&local.ss, local.len) == 0, "bind client");
  connect_to(client, &a);
  int accepted = accept(server, NULL, NULL);
  CHECK(accepted >= 0, "accept");
  printf("listener_stack=%s\n", stack_of(server));
  printf("listener_protocol=%d\n", protocol_of(server));
  printf("protocol=%d\n", protocol_of(client));
  CHECK(send(client, "ping", 4, 0) == 4, "send");
  char buf[4];
  CHECK(recv(accepted, buf, 4, MSG_WAITALL) == 4 && memcmp(buf, "ping", 4) == 0, "recv");
  printf("loopback=ok\n");
  printf("stack=%s\n", stack_of(client));
  return 0;
}

static struct addr g_thread_target;

static void* connect_loop(void* arg) {
  (void)arg;
  for (int i = 0; i < 25; ++i) {
    int fd = tcp_socket(&g_thread_target, 0);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    connect_to(fd, &g_thread_target);
    echo(fd, "thread");
    int d = dup(fd);
    close(fd);
    close(d);
  }
  return NULL;
}

static int cmd_threads(char** argv) {
  g_thread_target = make_addr(argv[0], argv[1]);
  pthread_t threads[4];
  for (int i = 0; i < 4; ++i) CHECK(pthread_create(&threads[i], NULL, connect_loop, NULL) == 0, "pthread_create");
  /* Forks while the other threads are in the middle of decisions: the children must never hang. */
  for (int i = 0; i < 10; ++i) {
    const pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
      int fd = tcp_socket(&g_thread_target, 0);
      connect_to(fd, &g_thread_target);
      echo(fd, "forked");
      _exit(0);
    }
    int status = 0;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child %d failed (status %d)", i, status);
  }
  for (int i = 0; i < 4; ++i) pthread_join(threads[i], NULL);
  printf("threads=ok\n");
  return 0;
}

static int cmd_sequence(char** argv, int n) {
  for (int i = 0; i + 1 < n; i += 2) {
    struct addr a = make_addr(argv[i], argv[i + 1]);
    int fd = tcp_socket(&a, 0);
    CHECK(fd >= 0, "socket");
    const int rcvbuf = 65536 + 4096 * i, one = 1;
    CHECK(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0, "SO_RCVBUF");
    CHECK(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0, "TCP_NODELAY");
    connect_to(fd, &a);
    echo(fd, "in sequence");
    int value = 0;
    socklen_t len = sizeof value;
    CHECK(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &value, &len) == 0, "get TCP_NODELAY");
    printf("nodelay%d=%d\n", i / 2 + 1, value);
    len = sizeof value;
    CHECK(getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &len) == 0, "get SO_RCVBUF");
    printf("rcvbuf%d=%d\n", i / 2 + 1, value == 2 * rcvbuf ? 1 : 0);  /* the kernel doubles it */
    printf("stack%d=%s\n", i / 2 + 1, stack_of(fd));
    close(fd);
  }
  return 0;
}

static int cmd_bind_local(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  int first = tcp_socket(&a, 0);
  CHECK(first >= 0, "socket");
  connect_to(first, &a);
  close(first);
  int fd = tcp_socket(&a, 0);
  struct addr local = make_addr(argv[2], "0");
  if (bind(fd, (const struct sockaddr*)&local.ss, local.len) == 0) {
    printf("bind=0\n");
    struct sockaddr_in got;
    socklen_t len = sizeof got;
    CHECK(getsockname(fd, (struct sockaddr*)&got, &len) == 0, "getsockname");
    char text[INET_ADDRSTRLEN];
    printf("local=%s\n", inet_ntop(AF_INET, &got.sin_addr, text, sizeof text));
  } else {
    printf("bind=%s\n", errno_name(errno));
  }
  close(fd);
  return 0;
}

static int cmd_clobber_low(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  int fd = tcp_socket(&a, 0);
  CHECK(fd >= 0, "socket");
  connect_to(fd, &a);
  printf("stack1=%s\n", stack_of(fd));
  close(fd);
  const int null = open("/dev/null", O_RDWR);
  for (int n = 3; n < 64; ++n)
    if (n != null) dup2(null, n);
  for (int n = 3; n < 64; ++n) close(n);
  fd = tcp_socket(&a, 0);
  CHECK(fd >= 0, "socket");
  connect_to(fd, &a);
  echo(fd, "after the clobbering");
  printf("stack2=%s\n", stack_of(fd));
  return 0;
}

static int cmd_reset_server(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  const int l = socket(a.ss.ss_family, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  CHECK(bind(l, (struct sockaddr*)&a.ss, a.len) == 0 && listen(l, 4) == 0, "listen");
  printf("ready=1\n");
  const int c = accept(l, NULL, NULL);
  CHECK(c >= 0, "accept");
  char byte;
  CHECK(read(c, &byte, 1) == 1, "read");
  usleep(100 * 1000); /* the client is in its blocking read by now */
  const struct linger hard = {1, 0};
  setsockopt(c, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  close(c);
  return 0;
}

/* The inode of the network namespace socket `fd` belongs to, or 0. */
static ino_t socket_netns(int fd) {
  const int ns = ioctl(fd, SIOCGSKNS);
  if (ns < 0) return 0;
  struct stat st;
  const ino_t ino = fstat(ns, &st) == 0 ? st.st_ino : 0;
  close(ns);
  return ino;
}

static ino_t g_home_netns;
static volatile sig_atomic_t g_handled, g_wrong;

static void make_socket_in_handler(int sig) {
  (void)sig;
  const int saved = errno;
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd >= 0) {
    if (socket_netns(fd) != g_home_netns) g_wrong = g_wrong + 1;
    close(fd);
    g_handled = g_handled + 1;
  }
  errno = saved;
}

static int cmd_signal_sockets(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  struct stat st;
  CHECK(stat("/proc/self/ns/net", &st) == 0, "stat own netns");
  g_home_netns = st.st_ino;
  int first = tcp_socket(&a, 0);
  CHECK(first >= 0, "socket");
  connect_to(first, &a);  /* the next TCP sockets are predicted onto this one's stack */
  printf("stack=%s\n", stack_of(first));
  close(first);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = make_socket_in_handler;
  sa.sa_flags = SA_RESTART;
  CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction");
  struct itimerval every = {{0, 50}, {0, 50}};
  CHECK(setitimer(ITIMER_REAL, &every, NULL) == 0, "setitimer");
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  const long ms = atol(argv[2]);
  long made = 0, elsewhere = 0;
  do {
    const int fd = tcp_socket(&a, 0);
    CHECK(fd >= 0, "socket in the loop: %s", strerror(errno));
    if (socket_netns(fd) != g_home_netns) ++elsewhere;
    close(fd);
    ++made;
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < ms);
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("made=%ld\nelsewhere=%ld\nhandled=%d\nwrong=%d\n", made, elsewhere, (int)g_handled, (int)g_wrong);
  return 0;
}

/* Everything registered on the fd before connect() must hold after it (DESIGN.md §2.4). */
static volatile sig_atomic_t g_sigio;
static void on_sigio(int sig) {
  (void)sig;
  ++g_sigio;
}

#define ET_DATA 0x1122334455667788ULL
#define LT_DATA 0x0102030405060708ULL
#define DUP_DATA 0x00000000cafef00dULL

/* Waits up to `ms` on `ep` for one event; returns its events (0 on timeout) and its data word in *data. */
static unsigned wait_one(int ep, int ms, unsigned long long* data) {
  struct epoll_event ev;
  const int n = epoll_wait(ep, &ev, 1, ms);
  if (n != 1) return 0;
  if (data) *data = ev.data.u64;
  return ev.events;
}

static int cmd_epoll_first(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  const int fd = tcp_socket(&a, SOCK_NONBLOCK);
  CHECK(fd >= 0, "socket");
  const int copy = dup(fd);
  CHECK(copy >= 0, "dup");
  const int et = epoll_create1(EPOLL_CLOEXEC), lt = epoll_create1(EPOLL_CLOEXEC);
  const int once = epoll_create1(EPOLL_CLOEXEC), removed = epoll_create1(EPOLL_CLOEXEC);
  CHECK(et >= 0 && lt >= 0 && once >= 0 && removed >= 0, "epoll_create1");
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = ET_DATA};
  CHECK(epoll_ctl(et, EPOLL_CTL_ADD, fd, &ev) == 0, "ADD et");
  ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 1};
  CHECK(epoll_ctl(lt, EPOLL_CTL_ADD, fd, &ev) == 0, "ADD lt");
  ev = (struct epoll_event){.events = EPOLLOUT, .data.u64 = LT_DATA};
  CHECK(epoll_ctl(lt, EPOLL_CTL_MOD, fd, &ev) == 0, "MOD lt"); /* the MOD's interest and data are what count */
  ev = (struct epoll_event){.events = EPOLLOUT, .data.u64 = DUP_DATA};
  CHECK(epoll_ctl(lt, EPOLL_CTL_ADD, copy, &ev) == 0, "ADD dup");
  ev = (struct epoll_event){.events = EPOLLOUT | EPOLLONESHOT, .data.u64 = 3};
  CHECK(epoll_ctl(once, EPOLL_CTL_ADD, fd, &ev) == 0, "ADD oneshot");
  ev = (struct epoll_event){.events = EPOLLOUT, .data.u64 = 4};
  CHECK(epoll_ctl(removed, EPOLL_CTL_ADD, fd, &ev) == 0, "ADD removed");
  CHECK(epoll_ctl(removed, EPOLL_CTL_DEL, fd, &ev) == 0, "DEL removed");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigio;
  sigaction(SIGRTMIN + 1, &sa, NULL);
  CHECK(fcntl(fd, F_SETOWN, getpid()) == 0, "F_SETOWN");
  CHECK(fcntl(fd, F_SETSIG, SIGRTMIN + 1) == 0, "F_SETSIG");
  CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC) == 0, "O_ASYNC");

  const int r = connect(fd, (const struct sockaddr*)&a.ss, a.len);
  if (r < 0 && errno != EINPROGRESS) fail_io("connect");
  unsigned long long data = 0;
  /* Edge-triggered: the event that says "connected" (EPOLLOUT), with the program's data word. Earlier ready
     states of the unconnected placeholder (OUT|HUP) may come first; wait for a plain OUT. */
  unsigned events = 0;
  for (int i = 0; i < 4 && !(events & EPOLLOUT && !(events & EPOLLHUP)); ++i) events = wait_one(et, 5000, &data);
  printf("et_out=%d\n", (events & EPOLLOUT) && !(events & EPOLLHUP) ? 1 : 0);
  printf("et_data=%d\n", data == ET_DATA ? 1 : 0);
  finish_connect(fd);
  /* Level-triggered set: both fds, each with its own data word. */
  struct epoll_event evs[4];
  const int n = epoll_wait(lt, evs, 4, 5000);
  int lt_seen = 0, dup_seen = 0;
  for (int i = 0; i < n; ++i) {
    lt_seen |= evs[i].data.u64 == LT_DATA && (evs[i].events & EPOLLOUT);
    dup_seen |= evs[i].data.u64 == DUP_DATA && (evs[i].events & EPOLLOUT);
  }
  printf("lt_data=%d\ndup_data=%d\n", lt_seen, dup_seen);
  const unsigned first = wait_one(once, 5000, NULL), second = wait_one(once, 100, NULL);
  printf("oneshot_once=%d\n", (first & EPOLLOUT) && second == 0 ? 1 : 0);
  printf("removed_silent=%d\n", wait_one(removed, 100, NULL) == 0 ? 1 : 0);
  printf("owner=%d\n", fcntl(fd, F_GETOWN) == getpid() ? 1 : 0);
  printf("sig=%d\n", fcntl(fd, F_GETSIG) == SIGRTMIN + 1 ? 1 : 0);
  printf("async=%d\n", (fcntl(fd, F_GETFL) & O_ASYNC) ? 1 : 0);
  g_sigio = 0;
  echo(fd, "registered before connect");
  /* The echo's arrival raised the program's signal (O_ASYNC with F_SETSIG). */
  for (int i = 0; i < 100 && g_sigio == 0; ++i) usleep(10000);
  printf("sigio=%d\n", g_sigio > 0 ? 1 : 0);
  printf("stack=%s\n", stack_of(fd));
  close(copy);
  close(fd);
  return 0;
}

static int cmd_stale(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  /* A number reused by a file. */
  int s = tcp_socket(&a, 0);
  CHECK(s >= 0, "socket");
  syscall(SYS_close, s); /* behind the shim's back: its record of `s` is stale */
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  CHECK(null_fd == s, "expected /dev/null at %d, got %d", s, null_fd);
  const int r = connect(null_fd, (const struct sockaddr*)&a.ss, a.len);
  printf("file_connect=%s\n", r == 0 ? "0" : (errno == ENOTSOCK ? "ENOTSOCK" : errno_name(errno)));
  struct stat st;
  printf("still_null=%d\n", fstat(null_fd, &st) == 0 && S_ISCHR(st.st_mode) ? 1 : 0);
  close(null_fd);
  /* A number reused by a socket that arrives over SCM_RIGHTS. */
  int pair[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0, "socketpair");
  int stale = tcp_socket(&a, 0), sent = tcp_socket(&a, 0);
  CHECK(stale >= 0 && sent > stale, "socket");
  syscall(SYS_close, stale);
  char byte = 'x';
  struct iovec iov = {&byte, 1};
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof control);
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
  struct cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &sent, sizeof sent);
  CHECK(sendmsg(pair[0], &m, 0) == 1, "sendmsg");
  close(sent);
  memset(control, 0, sizeof control);
  m.msg_controllen = sizeof control;
  CHECK(recvmsg(pair[1], &m, 0) == 1, "recvmsg");
  int received = -1;
  memcpy(&received, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof received);
  CHECK(received == stale, "expected the received socket at %d, got %d", stale, received);
  const int rc = connect(received, (const struct sockaddr*)&a.ss, a.len);
  printf("received_connect=%s\n", rc == 0 ? "0" : errno_name(errno));
  printf("received_stack=%s\n", stack_of(received));
  return 0;
}

static int connected_owner(const struct addr* a) {
  const int fd = tcp_socket(a, 0);
  CHECK(fd >= 0, "socket");
  connect_to(fd, a);
  echo(fd, "owned");
  struct stat st;
  CHECK(fstat(fd, &st) == 0, "fstat");
  close(fd);
  return (int)st.st_uid;
}

static int cmd_drop_privileges(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  int before = -1, after = -1;
  for (int i = 0; i < 3; ++i) before = connected_owner(&a);
  usleep(100000); /* the shim's pool, if any, has sockets parked for root by now */
  const gid_t none = 65534;
  CHECK(setgroups(1, &none) == 0 && setgid(65534) == 0 && setuid(65534) == 0, "dropping privileges");
  for (int i = 0; i < 3; ++i) after = connected_owner(&a);
  printf("owner_before=%d\nowner_after=%d\n", before, after);
  return 0;
}

static int cmd_attempts(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  const int n = atoi(argv[2]);
  int failures = 0, last = 0;
  for (int i = 0; i < n; ++i) {
    const int fd = tcp_socket(&a, 0);
    CHECK(fd >= 0, "socket");
    if (connect(fd, (const struct sockaddr*)&a.ss, a.len) != 0) {
      ++failures;
      last = errno;
    }
    close(fd);
  }
  printf("failures=%d\nlast_error=%s\n", failures, last ? errno_name(last) : "none");
  return 0;
}

static int cmd_epoll_fork(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  const int fd = tcp_socket(&a, SOCK_NONBLOCK);
  const int ep = epoll_create1(0);
  CHECK(fd >= 0 && ep >= 0, "socket/epoll");
  struct epoll_event ev = {.events = EPOLLOUT | EPOLLET, .data.u64 = ET_DATA};
  CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "ADD");
  const pid_t child = fork();
  CHECK(child >= 0, "fork");
  if (child == 0) {
    const int r = connect(fd, (const struct sockaddr*)&a.ss, a.len);
    if (r < 0 && errno != EINPROGRESS) fail_io("connect");
    unsigned long long data = 0;
    unsigned events = 0;
    for (int i = 0; i < 4 && !(events & EPOLLOUT && !(events & EPOLLHUP)); ++i) events = wait_one(ep, 5000, &data);
    printf("child_out=%d\n", (events & EPOLLOUT) && !(events & EPOLLHUP) ? 1 : 0);
    printf("child_data=%d\n", data == ET_DATA ? 1 : 0);
    finish_connect(fd);
    echo(fd, "from the child");
    printf("child_stack=%s\n", stack_of(fd));
    _exit(0);
  }
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child, "waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void on_alarm(int sig) { (void)sig; }

/* A blocking connect while SIGALRM fires every 50 ms, then an HTTP GET of PATH on the socket. `restart`: the
 * handler has SA_RESTART (the kernel restarts connect; so must a connect that DMM races); `again`: no SA_RESTART, and
 * the program calls connect() again on EINTR, as many C programs do. Prints connect=0|ERRNO, eintr=N, http=CODE. */
static int cmd_alarm_connect(char** argv) {
  struct addr a = make_addr(argv[0], argv[1]);
  const char* path = argv[2];
  const int restart = strcmp(argv[3], "restart") == 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = restart ? SA_RESTART : 0;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval every = {{0, 50000}, {0, 50000}};
  setitimer(ITIMER_REAL, &every, NULL);
  int fd = tcp_socket(&a, 0);
  CHECK(fd >= 0, "socket");
  int eintr = 0;
  int rc;
  while ((rc = connect(fd, (struct sockaddr*)&a.ss, a.len)) != 0 && errno == EINTR && !restart) ++eintr;
  const int err = rc == 0 ? 0 : errno;
  struct itimerval off;
  memset(&off, 0, sizeof off);
  setitimer(ITIMER_REAL, &off, NULL);
  printf("connect=%s\n", rc == 0 ? "0" : errno_name(err));
  printf("eintr=%d\n", eintr);
  if (rc != 0) return 1;
  char request[256];
  snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: race\r\n\r\n", path);
  if (write(fd, request, strlen(request)) != (ssize_t)strlen(request)) fail_io("write");
  char reply[64];
  ssize_t got;
  do {
    got = read(fd, reply, sizeof reply - 1);
  } while (got < 0 && errno == EINTR);
  if (got <= 0) fail_io("read");
  reply[got] = 0;
  char* code = strchr(reply, ' ');
  printf("http=%.3s\n", code ? code + 1 : "none");
  close(fd);
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: dmm_preload_probe COMMAND ARGS...\n");
    return 2;
  }
  const char* cmd = argv[1];
  char** args = argv + 2;
  const int n = argc - 2;
  if (strcmp(cmd, "tcp") == 0 && n >= 2) return cmd_tcp(args);
  if (strcmp(cmd, "options") == 0 && n == 2) return cmd_options(args);
  if (strcmp(cmd, "epoll2") == 0 && n == 4) return cmd_epoll2(args);
  if (strcmp(cmd, "epoll3") == 0 && n == 6) return cmd_epoll3(args);
  if (strcmp(cmd, "big") == 0 && n == 3) return cmd_big(args);
  if (strcmp(cmd, "dup") == 0 && n == 4) return cmd_dup(args);
  if (strcmp(cmd, "fork") == 0 && n == 2) return cmd_fork(args);
  if (strcmp(cmd, "udp") == 0 && (n == 2 || n == 4)) return cmd_udp(args, n);
  if (strcmp(cmd, "udp-server") == 0 && n == 1) return cmd_udp_server(args);
  if (strcmp(cmd, "intent") == 0 && n == 3) return cmd_intent(args);
  if (strcmp(cmd, "listen") == 0 && n == 1) return cmd_listen(args);
  if (strcmp(cmd, "mptcp") == 0 && n == 2) return cmd_mptcp(args);
  if (strcmp(cmd, "loopback") == 0) return cmd_loopback();
  if (strcmp(cmd, "threads") == 0 && n == 2) return cmd_threads(args);
  if (strcmp(cmd, "sequence") == 0 && n >= 2 && n % 2 == 0) return cmd_sequence(args, n);
  if (strcmp(cmd, "bind-local") == 0 && n == 3) return cmd_bind_local(args);
  if (strcmp(cmd, "clobber-low") == 0 && n == 2) return cmd_clobber_low(args);
  if (strcmp(cmd, "reset-server") == 0 && n == 2) return cmd_reset_server(args);
  if (strcmp(cmd, "signal-sockets") == 0 && n == 3) return cmd_signal_sockets(args);
  if (strcmp(cmd, "epoll-first") == 0 && n == 2) return cmd_epoll_first(args);
  if (strcmp(cmd, "epoll-fork") == 0 && n == 2) return cmd_epoll_fork(args);
  if (strcmp(cmd, "attempts") == 0 && n == 3) return cmd_attempts(args);
  if (strcmp(cmd, "stale") == 0 && n == 2) return cmd_stale(args);
  if (strcmp(cmd, "drop-privileges") == 0 && n == 2) return cmd_drop_privileges(args);
  if (strcmp(cmd, "alarm-connect") == 0 && n == 4) return cmd_alarm_connect(args);
  fprintf(stderr, "unknown command or wrong arguments: %s\n", cmd);
  return 2;
}
