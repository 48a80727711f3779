#include "packet_ring_port.hpp"

#include <endian.h>
#include <linux/if_packet.h>
#include <arpa/inet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "offload_frames.hpp"

namespace dmm::lwip_dpdk {
namespace {

// struct virtio_net_hdr (linux/virtio_net.h, a stable ABI; that header does not compile as C++): little-endian
// fields on the hosts this runs on, which is how the kernel writes them for packet sockets.
struct VirtioNetHeader {
  std::uint8_t flags;
  std::uint8_t gso_type;
  std::uint16_t hdr_len;
  std::uint16_t gso_size;
  std::uint16_t csum_start;
  std::uint16_t csum_offset;
};
static_assert(sizeof(VirtioNetHeader) == 10);
constexpr std::uint8_t kGsoNone = 0;
constexpr std::size_t kVnetHeader = sizeof(VirtioNetHeader);
constexpr std::size_t kRxFrames = 1024;
// Staged TX bytes before a burst is sent anyway: lwIP's send buffer (512 KiB) fits, so a window's worth of
// segments written in one turn goes out as super-frames.
constexpr std::size_t kTxStage = 1u << 20;
constexpr std::size_t kMaxFrame = 0xffff;
constexpr std::size_t kMaxRingBytes = 8u << 20;
constexpr std::size_t kBlockSize = 64u << 10;
// Super-frames the kernel also queues whole on the socket (PACKET_COPY_THRESH) need room there: a few 64 KiB
// frames with their overhead.
constexpr int kReceiveBuffer = 4 << 20;
// Each sendmmsg() burst is charged to the socket until the peer's veth has taken it: room for a staged burst.
constexpr int kSendBuffer = 4 << 20;

Error os_error(const std::string& iface, const std::string& what, int code) {
  return make_error(code, "interface '" + iface + "': " + what + ": " + std::strerror(code));
}

// A slot big enough for a full frame of the interface's MTU with the slot header, the virtio header and a VLAN
// tag; a power of two from 2 KiB to 64 KiB, so slots tile the 64 KiB blocks. Larger frames take the copy path.
std::size_t slot_size(std::uint16_t mtu) {
  std::size_t size = 2048;
  while (size < std::size_t(mtu) + 128 && size < kBlockSize) size *= 2;
  return size;
}

template <typename T>
int set_option(int fd, int level, int name, T value) {
  return ::setsockopt(fd, level, name, &value, sizeof value);
}

std::uint32_t load_status(const std::uint8_t* slot) {
  return __atomic_load_n(&reinterpret_cast<const tpacket2_hdr*>(slot)->tp_status, __ATOMIC_ACQUIRE);
}
void store_status(std::uint8_t* slot, std::uint32_t status) {
  __atomic_store_n(&reinterpret_cast<tpacket2_hdr*>(slot)->tp_status, status, __ATOMIC_RELEASE);
}

OffloadMarks read_marks(const std::uint8_t* at) {
  VirtioNetHeader h;
  std::memcpy(&h, at, sizeof h);
  return OffloadMarks{.flags = h.flags,
                      .gso_type = h.gso_type,
                      .hdr_len = le16toh(h.hdr_len),
                      .gso_size = le16toh(h.gso_size),
                      .csum_start = le16toh(h.csum_start),
                      .csum_offset = le16toh(h.csum_offset)};
}

}  // namespace

Result<std::unique_ptr<PacketRingPort>> PacketRingPort::open(const std::string& iface, const std::string& netns_path) {
  if (iface.empty() || iface.size() >= IFNAMSIZ) return make_error(EINVAL, "interface name '" + iface + "' is not valid");
  std::unique_ptr<PacketRingPort> self(new PacketRingPort());
  self->name_ = iface;
  const int type = SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK;
  if (netns_path.empty()) {
    self->fd_ = kernel::UniqueFd(::socket(AF_PACKET, type, 0));  // protocol 0: nothing arrives before bind
    if (!self->fd_) return os_error(iface, "AF_PACKET socket (needs CAP_NET_RAW)", errno);
  } else {
    auto factory = kernel::NetnsSocketFactory::open_path(netns_path, netns_path);
    if (!factory) return factory.error();
    auto fd = factory->socket(AF_PACKET, type, 0);
    if (!fd) return fd.error();
    self->fd_ = std::move(*fd);
  }
  const int fd = self->fd_.get();

  // The interface as the socket's namespace knows it.
  ifreq request{};
  std::memcpy(request.ifr_name, iface.c_str(), iface.size());
  if (::ioctl(fd, SIOCGIFINDEX, &request) != 0)
    return os_error(iface, "no such interface" + (netns_path.empty() ? std::string() : " in " + netns_path), errno);
  const int ifindex = request.ifr_ifindex;
  if (::ioctl(fd, SIOCGIFHWADDR, &request) != 0) return os_error(iface, "its MAC address", errno);
  if (request.ifr_hwaddr.sa_family != ARPHRD_ETHER)
    return make_error(EINVAL, "interface '" + iface + "' is not an Ethernet interface");
  std::memcpy(self->mac_.data(), request.ifr_hwaddr.sa_data, 6);
  if (::ioctl(fd, SIOCGIFMTU, &request) == 0 && request.ifr_mtu >= 576)
    self->mtu_ = static_cast<std::uint16_t>(std::min(request.ifr_mtu, 65535));

  if (set_option(fd, SOL_PACKET, PACKET_VERSION, int{TPACKET_V2}) != 0) return os_error(iface, "TPACKET_V2", errno);
  if (set_option(fd, SOL_PACKET, PACKET_VNET_HDR, 1) != 0) return os_error(iface, "PACKET_VNET_HDR", errno);
  // Our own frames are not input (kernels before 4.20 lack the option: they do not loop a socket's own frames
  // back to it anyway).
  (void)set_option(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
  if (set_option(fd, SOL_PACKET, PACKET_COPY_THRESH, 1) != 0) return os_error(iface, "PACKET_COPY_THRESH", errno);
  if (set_option(fd, SOL_SOCKET, SO_RCVBUFFORCE, kReceiveBuffer) != 0)
    (void)set_option(fd, SOL_SOCKET, SO_RCVBUF, kReceiveBuffer);  // without CAP_NET_ADMIN: up to rmem_max
  if (set_option(fd, SOL_SOCKET, SO_SNDBUFFORCE, kSendBuffer) != 0)
    (void)set_option(fd, SOL_SOCKET, SO_SNDBUF, kSendBuffer);

  const std::size_t frame_size = slot_size(self->mtu_);
  const std::size_t frames = std::min(kRxFrames, kMaxRingBytes / frame_size);
  const std::size_t block_size = std::max(kBlockSize, frame_size);
  const std::size_t per_block = block_size / frame_size;
  tpacket_req req{};
  req.tp_block_size = static_cast<unsigned>(block_size);
  req.tp_block_nr = static_cast<unsigned>((frames + per_block - 1) / per_block);
  req.tp_frame_size = static_cast<unsigned>(frame_size);
  req.tp_frame_nr = static_cast<unsigned>(req.tp_block_nr * per_block);
  if (::setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) return os_error(iface, "RX ring", errno);
  self->rx_.frame_size = frame_size;
  self->rx_.frames = req.tp_frame_nr;
  self->map_size_ = self->rx_.frames * frame_size;
  void* map = ::mmap(nullptr, self->map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (map == MAP_FAILED) return os_error(iface, "mapping its RX ring", errno);
  self->map_ = map;
  self->rx_.base = static_cast<std::uint8_t*>(map);
  // Never zeroed: lwIP writes every byte of a frame it asks for.
  self->tx_bytes_ = std::make_unique_for_overwrite<std::uint8_t[]>(kTxStage + kMaxFrame);

  sockaddr_ll address{};
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons(ETH_P_ALL);
  address.sll_ifindex = ifindex;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return os_error(iface, "binding its AF_PACKET socket", errno);
  return self;
}

PacketRingPort::~PacketRingPort() {
  if (map_) ::munmap(map_, map_size_);
}

std::size_t PacketRingPort::receive(std::size_t max, const FrameSink& sink) {
  std::size_t n = 0;
  for (; n < max; ++n) {
    std::uint8_t* slot = rx_.slot(rx_.next);
    if (!(load_status(slot) & TP_STATUS_USER)) break;
    deliver(slot, sink);
    store_status(slot, TP_STATUS_KERNEL);
    rx_.next = (rx_.next + 1) % rx_.frames;
  }
  counters_.rx_frames += n;
  return n;
}

void PacketRingPort::deliver(std::uint8_t* slot, const FrameSink& sink) {
  const auto* header = reinterpret_cast<const tpacket2_hdr*>(slot);
  const std::uint32_t status = header->tp_status;
  // A frame of a VLAN is not for an untagged interface (lwIP has no VLANs; priority tags, VLAN 0, are fine).
  const bool other_vlan = (status & TP_STATUS_VLAN_VALID) && (header->tp_vlan_tci & 0x0fff) != 0;
  if (status & TP_STATUS_COPY) return deliver_copied(sink, other_vlan);  // too big for a slot: read it whole
  // A frame the ring cut short is lost.
  if (other_vlan || header->tp_snaplen < header->tp_len || header->tp_mac < kVnetHeader) {
    ++counters_.rx_dropped;
    return;
  }
  const OffloadMarks marks = read_marks(slot + header->tp_mac - kVnetHeader);
  std::span<std::uint8_t> frame(slot + header->tp_mac, header->tp_snaplen);
  count(finish_offloads(frame, marks, sink), marks);
}

void PacketRingPort::count(OffloadResult result, const OffloadMarks& marks) {
  if (result == OffloadResult::malformed) ++counters_.rx_dropped;
  else if (marks.gso_type != kGsoNone) ++counters_.rx_gso_frames;
  else if (result == OffloadResult::completed) ++counters_.rx_checksums_completed;
}

void PacketRingPort::deliver_copied(const FrameSink& sink, bool drop) {
  if (big_frame_.empty()) big_frame_.resize(kVnetHeader + 0x10000 + 64);
  // Read even when it is to be dropped: each copied slot is paired, in order, with one frame queued on the socket.
  const ssize_t n = ::recv(fd_.get(), big_frame_.data(), big_frame_.size(), MSG_DONTWAIT | MSG_TRUNC);
  if (drop || n < static_cast<ssize_t>(kVnetHeader) || static_cast<std::size_t>(n) > big_frame_.size()) {
    ++counters_.rx_dropped;
    return;
  }
  const OffloadMarks marks = read_marks(big_frame_.data());
  std::span<std::uint8_t> frame(big_frame_.data() + kVnetHeader, static_cast<std::size_t>(n) - kVnetHeader);
  count(finish_offloads(frame, marks, sink), marks);
}

std::uint8_t* PacketRingPort::begin_frame(std::size_t length) {
  if (length > kMaxFrame) {
    ++counters_.tx_dropped;
    return nullptr;
  }
  if (tx_used_ + length > kTxStage) flush();  // then it fits: tx_bytes_ holds kTxStage plus one largest frame
  std::uint8_t* frame = tx_bytes_.get() + tx_used_;
  tx_used_ += length;
  staged_.push_back({frame, length});
  return frame;
}

std::size_t PacketRingPort::flush() {
  if (staged_.empty()) return 0;
  coalescer_.plan(staged_);
  const auto& messages = coalescer_.messages();
  const auto& pieces = coalescer_.pieces();
  auto& headers = tx_vnet_;
  auto& iov = tx_iov_;
  auto& out = tx_messages_;
  headers.resize(messages.size());  // sized before any pointer into them is taken
  iov.clear();
  iov.reserve(messages.size() + pieces.size());
  out.resize(messages.size());
  for (std::size_t m = 0; m < messages.size(); ++m) {
    const OffloadMarks& k = messages[m].marks;
    const VirtioNetHeader vnet{k.flags, k.gso_type, htole16(k.hdr_len), htole16(k.gso_size), htole16(k.csum_start),
                               htole16(k.csum_offset)};
    std::memcpy(headers[m].data(), &vnet, kVnetHeader);
    const std::size_t first = iov.size();
    iov.push_back({headers[m].data(), kVnetHeader});
    for (std::size_t p = 0; p < messages[m].pieces; ++p) {
      const auto& piece = pieces[messages[m].first_piece + p];
      iov.push_back({const_cast<std::uint8_t*>(piece.data), piece.length});
    }
    out[m] = mmsghdr{};
    out[m].msg_hdr.msg_iov = iov.data() + first;
    out[m].msg_hdr.msg_iovlen = iov.size() - first;
  }
  // What the kernel cannot take now (its send buffer is full, the interface is down) is dropped, as a NIC's full
  // queue would drop it: TCP resends. A message it refuses as such (a super-frame its virtio checks reject) is
  // sent again as the frames lwIP made, which are still staged whole, and the burst goes on.
  std::size_t m = 0;
  while (m < out.size()) {
    const int n = ::sendmmsg(fd_.get(), out.data() + m, static_cast<unsigned>(std::min<std::size_t>(out.size() - m, 1024)),
                             MSG_DONTWAIT);
    for (int i = 0; i < n; ++i, ++m) {
      counters_.tx_frames += messages[m].frames;
      if (messages[m].frames > 1) ++counters_.tx_super_frames;
    }
    if (n > 0) continue;
    if (n < 0 && (errno == EINVAL || errno == EMSGSIZE)) {  // this message, not the socket: the rest may go
      if (messages[m].frames > 1) send_one_by_one(messages[m]);
      else ++counters_.tx_dropped;
      ++m;
      continue;
    }
    for (; m < out.size(); ++m) counters_.tx_dropped += messages[m].frames;
  }
  staged_.clear();
  tx_used_ = 0;
  return 0;
}

void PacketRingPort::send_one_by_one(const TcpCoalescer::Message& message) {
  VirtioNetHeader none{};
  for (std::size_t f = message.first_frame; f < message.first_frame + message.frames; ++f) {
    iovec parts[2] = {{&none, kVnetHeader}, {const_cast<std::uint8_t*>(staged_[f].data), staged_[f].length}};
    msghdr one{};
    one.msg_iov = parts;
    one.msg_iovlen = 2;
    (::sendmsg(fd_.get(), &one, MSG_DONTWAIT) >= 0 ? counters_.tx_frames : counters_.tx_dropped) += 1;
  }
}

}  // namespace dmm::lwip_dpdk
