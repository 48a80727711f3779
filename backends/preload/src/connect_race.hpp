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
// when the winner connected, or fails with the most telling error of its attempts; a signal or SO_SNDTIMEO ends the
// wait as they end a kernel connect (restarted after an SA_RESTART handler, EINTR otherwise; EINPROGRESS when the
// timeout runs out), the race goes on, and connect() again waits for it. A non-blocking connect returns EINPROGRESS
// at once, as without racing; a poll()/select() sleeping on the fd is woken when the winner is swapped in (the loser
// is shut down), an epoll set gets the winner's EPOLLOUT, and what the program sets on its fd while the race runs
// (epoll registrations, socket options) is recorded and follows the winner. The first attempt's SO_ERROR is never
// read by the racer: if it fails with an error before another attempt connected, a non-blocking program (or a
// blocking one that stopped waiting) reads that error as without racing, and the race ends — racing covers the
// silent path (no answer within the attempt delay). If the first attempt connects while another's win is being
// installed, the first one stays. A dup or close of the fd ends the race (the fds keep the first attempt); a socket
// dup'ed before its connect is not raced.
//
// Attempts may be on kernel instances (the program's socket first, then private sockets of the shim's), on
// user-space instances that dmm-stackd runs (a daemon session, whose end is the program's fd when it is the first
// attempt and goes behind it when it wins, as a placement would put it), or on lwip-dpdk instances inside the
// program (a UserSession of the stack thread, whose application end is handled the same way: race_user_attempt.hpp).
// Not raced: a socket the program bound to an address (two attempts cannot hold one local address); it keeps the
// fall-back on path errors, as do stacks marked down (by the policy, or by this process's circuit breaker, which
// the races feed: race_learning.hpp).
#include <sys/socket.h>

#include "fd_table.hpp"
#include "placement.hpp"

namespace dmm::preload {

// Whether the connect of `fd`, just placed by `p`, races (see above).
bool wants_race(const Placement& p);

// Connects `fd` (placed on p.choice.ranked[p.rank]) racing the later ranked instances; returns what
// connect() returns (0, or -1 with errno: EINPROGRESS for a non-blocking fd). After a blocking race in which every
// attempt failed, p.rank is the last rank tried, so that a fall-back on a path error goes on after it. nullopt: no
// race could be set up (a socket dup'ed before its connect, no racer) and nothing was called — the caller connects
// as without racing.
std::optional<int> race_connect(int fd, FdSlot& slot, Placement& p, const sockaddr* address, socklen_t length);

// connect() again on a blocking fd whose race still runs (the program was interrupted by a signal, or its
// SO_SNDTIMEO ran out): waits for the same race, as a kernel connect on a connecting socket waits. False (result
// untouched) when that is not the case: the kernel answers.
bool race_connect_again(int fd, int& result) noexcept;
// How many races run now (epoll_ctl and setsockopt look at placed sockets' records only while some do).
int races_running() noexcept;
// pthread_atfork, before a fork: a race running now shares its first socket with the child, which the winner's
// swap must then leave alone.
void races_note_fork() noexcept;
// pthread_atfork child: the racer thread is the parent's; the child closes the racer's sockets it inherited, and
// its first race starts its own racer.
void races_after_fork_in_child() noexcept;

}  // namespace dmm::preload
