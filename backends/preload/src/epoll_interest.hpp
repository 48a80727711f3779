#pragma once
// Epoll interest that must survive the shim replacing the socket behind a pending fd (DESIGN.md §2.4: whatever
// the shim does to an undecided socket, what the program registered on its fd holds afterwards).
//
// Why this is needed: the kernel keys an epoll registration by (open file, fd number). When the decision dup3's
// a new socket onto the program's fd number, the placeholder's registrations stay with the placeholder's file
// (and die with it), and the new socket is in no set: a program that did socket -> epoll_ctl(ADD) -> connect
// (nginx's upstream connections, many event loops) would never hear of its connection again. So the shim records
// every ADD/MOD/DEL on a pending fd (interpose_epoll.cpp), and around the dup3 takes each registration out of its
// set (while the fd still names the placeholder) and adds it back for the new socket with the same interest and
// data word.
//
// What is not carried exactly: an EPOLLONESHOT registration that already fired (and so was disarmed) before the
// decision is added back armed; a registration made through a raw system call, or through another fd of the same
// epoll set than the one recorded, is not seen.
#include <sys/epoll.h>

#include "fd_record.hpp"

namespace dmm::preload {

// Updates `rec` after a successful epoll_ctl(epfd, op, fd, event) of its fd.
void record_epoll_ctl(FdRecord& rec, int epfd, int op, const epoll_event* event);

// Takes `fd`'s recorded registrations out of their sets; `fd` must still name the socket they were made on.
// Registrations the kernel no longer has (the program removed them behind our back, or closed the set) are
// forgotten, so that restore never adds one to a set that is gone or to another set under a reused number.
// Registrations a fork parent made stay in place (the set and the placeholder are shared with it: the parent's
// socket keeps its registration, and the new one is added beside it).
void detach_epoll_interest(int fd, FdRecord& rec);

// Adds `rec`'s registrations for whatever `fd` names now (the new socket, or the old one again when the
// replacement failed). Returns how many the kernel refused.
int restore_epoll_interest(int fd, const FdRecord& rec);

}  // namespace dmm::preload
