#pragma once
// Racing a program's TCP connect across the rule's ranked kernel instances (the policy rule's `race` and
// `attempt_delay`, RFC 8305's staggered attempts across stack instances). The first attempt is the program's own
// socket, placed on the first ranked stack as without racing; the later ones are private sockets of the shim on
// the next ranked healthy kernel instances, started when the previous attempt has not connected after the attempt
// delay (staggered), at once (simultaneous), or when one fails. The first to connect ends up behind the program's
// fd (swap_socket: flags, FD_CLOEXEC, epoll registrations follow); the others are closed at once. A loser is not a
// failure: no sample reaches dmm-nrd for it (the shim reports kernel sessions only when they close, established).
//
// The shim's racer thread runs every race. A blocking connect waits in the call for the race's outcome and returns
// when the winner connected, or fails with the last attempt's error (a signal or SO_SNDTIMEO ends the wait with
// EINTR/EINPROGRESS as the kernel's connect would; the race goes on as for a non-blocking one). A non-blocking
// connect returns EINPROGRESS at once, as without racing; a poll()/select() sleeping on the fd is woken when the
// winner is swapped in (the loser is shut down), an epoll set gets the winner's EPOLLOUT, and what the program sets
// on its fd while the race runs (epoll registrations, socket options) is recorded and follows the winner. What a
// non-blocking program can see of the first attempt stays its own: the racer never reads its SO_ERROR, and if it
// fails with an error before another attempt connected, the program reads that error as without racing and the
// race ends — racing covers the silent path (no answer within the attempt delay). If the first attempt connects
// while another's win is being installed, the first one stays. A dup of the fd, or its close, ends the race (both
// fds keep the first attempt). Stacks the policy marks down are not raced, and not tried after a race.
//
// Not raced: user-space instances (lwip-dpdk in process or through dmm-stackd) and a socket the program bound to
// an address (two attempts cannot hold one local address); they keep today's fall-back on path errors.
#include <sys/socket.h>

#include "fd_table.hpp"
#include "placement.hpp"

namespace dmm::preload {

// Whether the connect of `fd`, just placed by `p`, races (see above).
bool wants_race(const Placement& p);

// Connects `fd` (placed on p.choice.ranked[p.rank]) racing the later ranked kernel instances; returns what
// connect() returns (0, or -1 with errno: EINPROGRESS for a non-blocking fd). After a blocking race in which every
// attempt failed, p.rank is the last rank tried, so that a fall-back on a path error goes on after it.
int race_connect(int fd, FdSlot& slot, Placement& p, const sockaddr* address, socklen_t length);

// How many races run now (epoll_ctl and setsockopt look at placed sockets' records only while some do).
int races_running() noexcept;
// pthread_atfork, before a fork: a race running now shares its first socket with the child, which the winner's
// swap must then leave alone.
void races_note_fork() noexcept;
// pthread_atfork child: the racer thread is the parent's; the child closes the racer's sockets it inherited, and
// its first race starts its own racer.
void races_after_fork_in_child() noexcept;

}  // namespace dmm::preload
