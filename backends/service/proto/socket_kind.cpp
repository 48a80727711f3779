#include "dmm/service/socket_kind.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

namespace dmm::service {
namespace {

constexpr int kTypeFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;

std::string domain_name(int domain) {
  switch (domain) {
    case AF_INET: return "AF_INET";
    case AF_INET6: return "AF_INET6";
    case AF_UNIX: return "AF_UNIX";
    case AF_PACKET: return "AF_PACKET";
    case AF_NETLINK: return "AF_NETLINK";
    default: return "domain " + std::to_string(domain);
  }
}

std::string type_name(int type) {
  std::string name;
  switch (type & ~kTypeFlags) {
    case SOCK_STREAM: name = "SOCK_STREAM"; break;
    case SOCK_DGRAM: name = "SOCK_DGRAM"; break;
    case SOCK_RAW: name = "SOCK_RAW"; break;
    case SOCK_SEQPACKET: name = "SOCK_SEQPACKET"; break;
    case SOCK_RDM: name = "SOCK_RDM"; break;
    case SOCK_PACKET: name = "SOCK_PACKET"; break;
    default: name = "type " + std::to_string(type & ~kTypeFlags);
  }
  if (type & SOCK_NONBLOCK) name += "|SOCK_NONBLOCK";
  if (type & SOCK_CLOEXEC) name += "|SOCK_CLOEXEC";
  return name;
}

std::string protocol_name(int protocol) {
  switch (protocol) {
    case 0: return "0";
    case IPPROTO_TCP: return "IPPROTO_TCP";
    case IPPROTO_UDP: return "IPPROTO_UDP";
    case IPPROTO_MPTCP: return "IPPROTO_MPTCP";
    case IPPROTO_ICMP: return "IPPROTO_ICMP";
    case IPPROTO_ICMPV6: return "IPPROTO_ICMPV6";
    case IPPROTO_UDPLITE: return "IPPROTO_UDPLITE";
    case IPPROTO_SCTP: return "IPPROTO_SCTP";
    case IPPROTO_RAW: return "IPPROTO_RAW";
    default: return "protocol " + std::to_string(protocol);
  }
}

Error refused(int domain, int type, int protocol, const std::string& why) {
  return make_error(EINVAL, "refused_kind: dmm-stackd makes only TCP and UDP sockets (AF_INET/AF_INET6, SOCK_STREAM "
                            "or SOCK_DGRAM); " + describe_socket_kind(domain, type, protocol) + " " + why);
}

}  // namespace

int socket_type_flags() { return kTypeFlags; }

std::string describe_socket_kind(int domain, int type, int protocol) {
  return domain_name(domain) + "/" + type_name(type) + "/" + protocol_name(protocol);
}

Status check_socket_kind(int domain, int type, int protocol) {
  if (domain != AF_INET && domain != AF_INET6) return refused(domain, type, protocol, "is not an Internet socket");
  const int base = type & ~kTypeFlags;
  if (base == SOCK_RAW || base == SOCK_PACKET)
    return refused(domain, type, protocol, "would need CAP_NET_RAW, which the service never lends");
  if (base == SOCK_STREAM) {
    if (protocol == 0 || protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP) return {};
    return refused(domain, type, protocol, "is not TCP or MPTCP");
  }
  if (base == SOCK_DGRAM) {
    if (protocol == 0 || protocol == IPPROTO_UDP) return {};
    return refused(domain, type, protocol, "is not UDP");
  }
  return refused(domain, type, protocol, "is not a stream or datagram socket");
}

}  // namespace dmm::service
