#pragma once
// Which sockets dmm-stackd makes for others: TCP and UDP over IPv4 and IPv6 (MPTCP as a TCP variant), nothing else.
// The daemon runs as root: a raw, packet or netlink socket made for an unprivileged peer would hand it privileges
// it does not have (CAP_NET_RAW, CAP_NET_ADMIN), so every other kind is refused by name, whatever the peer.
#include <netinet/in.h>

#include <string>

#include "dmm/result.hpp"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262  // glibc < 2.32 headers; the kernel has had it since 5.6
#endif

namespace dmm::service {

// The flags a request's type may carry besides SOCK_STREAM / SOCK_DGRAM.
int socket_type_flags();
// OK for AF_INET/AF_INET6 x SOCK_STREAM with protocol 0, IPPROTO_TCP or IPPROTO_MPTCP, or SOCK_DGRAM with 0 or
// IPPROTO_UDP; `type` may carry SOCK_NONBLOCK and SOCK_CLOEXEC. Anything else: EINVAL naming what is refused and why.
Status check_socket_kind(int domain, int type, int protocol);
// "AF_INET/SOCK_STREAM|SOCK_NONBLOCK/IPPROTO_TCP" (numbers for what has no name), for messages and logs.
std::string describe_socket_kind(int domain, int type, int protocol);

}  // namespace dmm::service
