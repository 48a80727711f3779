/* A program for the nRD system tests, run under dmm-run inside the client namespace: opens TCP sessions to
 * ADDR:PORT one after another, every INTERVAL_MS, each an echo of a few bytes, until STOP_FILE exists (or
 * MAX sessions are done; 0 = no limit); each session sends BYTES (default 16) and reads them back. Per session it
 * prints one line:
 *   session=N t=MONOTONIC_SECONDS stack=NAME ok=1          (or ok=0 error=OP:ERRNO)
 * and at the end `sessions=N failed=M`. Exit 0 if no session failed, 3 otherwise, 2 for bad usage.
 *
 *   session_loop ADDR PORT INTERVAL_MS STOP_FILE [MAX [BYTES]]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dmm/dmm_socket.h"

static double monotonic_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One session; 0 on success, else errno (with *op naming the failing call). */
static int one_session(const struct sockaddr_in* to, const char* out, char* in, size_t bytes, char* stack,
                       size_t stack_size, const char** op) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return *op = "socket", errno;
  int err = 0;
  if (connect(fd, (const struct sockaddr*)to, sizeof *to) != 0) {
    err = errno;
    *op = "connect";
    close(fd);
    return err;
  }
  if (dmm_socket_stack(fd, stack, stack_size) != 0) snprintf(stack, stack_size, "-");
  /* Sent and read back concurrently (poll both ways): a large echo must not deadlock on full buffers. */
  size_t sent = 0, got = 0;
  while (got < bytes) {
    struct pollfd p = {fd, (short)(POLLIN | (sent < bytes ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 10000) != 1) {
      *op = "echo";
      close(fd);
      return ETIMEDOUT;
    }
    if (sent < bytes && (p.revents & POLLOUT)) {
      const ssize_t n = send(fd, out + sent, bytes - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN) {
        err = errno;
        *op = "send";
        close(fd);
        return err;
      }
      if (n > 0) sent += (size_t)n;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = recv(fd, in + got, bytes - got, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        err = n == 0 ? ECONNRESET : errno;
        *op = "recv";
        close(fd);
        return err;
      }
      if (n > 0) got += (size_t)n;
    }
  }
  close(fd);
  return memcmp(out, in, bytes) == 0 ? 0 : (*op = "echo", EPROTO);
}

int main(int argc, char** argv) {
  if (argc < 5 || argc > 7) {
    fprintf(stderr, "usage: %s ADDR PORT INTERVAL_MS STOP_FILE [MAX [BYTES]]\n", argv[0]);
    return 2;
  }
  struct sockaddr_in to;
  memset(&to, 0, sizeof to);
  to.sin_family = AF_INET;
  to.sin_port = htons((unsigned short)atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
    fprintf(stderr, "bad address %s\n", argv[1]);
    return 2;
  }
  const int interval_ms = atoi(argv[3]);
  const char* stop_file = argv[4];
  const long max = argc >= 6 ? atol(argv[5]) : 0;
  const long bytes = argc == 7 ? atol(argv[6]) : 16;
  if (bytes < 1 || bytes > (1 << 20)) {
    fprintf(stderr, "BYTES must be from 1 to 1048576\n");
    return 2;
  }
  char* out = malloc((size_t)bytes);
  char* in = malloc((size_t)bytes);
  if (!out || !in) return 2;
  for (long i = 0; i < bytes; ++i) out[i] = (char)('a' + i % 26);
  long sessions = 0, failed = 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  while ((max == 0 || sessions < max) && access(stop_file, F_OK) != 0) {
    char stack[64] = "-";
    const char* op = "";
    const double t = monotonic_seconds();
    const int err = one_session(&to, out, in, (size_t)bytes, stack, sizeof stack, &op);
    ++sessions;
    if (err == 0) {
      printf("session=%ld t=%.6f stack=%s ok=1\n", sessions, t, stack);
    } else {
      ++failed;
      printf("session=%ld t=%.6f stack=%s ok=0 error=%s:%s\n", sessions, t, stack, op, strerror(err));
    }
    if (interval_ms > 0) poll(NULL, 0, interval_ms);
  }
  printf("sessions=%ld failed=%ld\n", sessions, failed);
  free(out);
  free(in);
  return failed == 0 ? 0 : 3;
}
