#include "dpdk_port.hpp"

#include <fcntl.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "dmm/kernel/netns_socket_factory.hpp"
#include "dpdk_environment.hpp"

namespace dmm::lwip_dpdk {
namespace {

// Per port: enough mbufs for both rings plus bursts in flight, within the -m budget of an EAL without
// hugepages (8191 x ~2.3 KiB = ~19 MiB).
constexpr unsigned kPoolSize = 8191;
constexpr unsigned kPoolCache = 256;
constexpr std::uint16_t kRingSize = 1024;

std::string device_name(const std::string& vdev) { return vdev.substr(0, vdev.find(',')); }

// Runs `fn` with the calling thread inside the namespace file `path` (none: as it is), back home afterwards.
// Drivers that wrap a kernel interface (af_packet, pcap) name it in ioctls at probe, start and stop time: those
// must run where the interface is.
template <typename Fn>
auto in_namespace(const std::string& path, Fn&& fn) -> decltype(fn()) {
  if (path.empty()) return fn();
  auto factory = kernel::NetnsSocketFactory::open_path(path, path);
  if (!factory) return factory.error();
  if (::setns(factory->netns_fd(), CLONE_NEWNET) != 0)
    return make_error(errno, "setns into " + path + ": " + std::strerror(errno));
  auto result = fn();
  if (::setns(factory->home_fd(), CLONE_NEWNET) != 0) std::abort();  // see NetnsSocketFactory::socket
  return result;
}

Error port_error(const std::string& vdev, const std::string& what, int ret) {
  const int code = ret < 0 ? -ret : EIO;
  return make_error(code, "vdev '" + vdev + "': " + what + ": " + rte_strerror(code));
}

}  // namespace

Result<std::unique_ptr<DpdkPort>> DpdkPort::open(const std::string& vdev, const std::string& netns_path) {
  auto port = in_namespace(netns_path, [&] { return open_here(vdev); });
  if (port) (*port)->netns_path_ = netns_path;
  return port;
}

Result<std::unique_ptr<DpdkPort>> DpdkPort::open_here(const std::string& vdev) {
  const std::string name = device_name(vdev);
  if (name.empty()) return make_error(EINVAL, "vdev '" + vdev + "': no device name");
  uint16_t existing;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &existing) == 0)
    return make_error(EEXIST, "vdev '" + vdev + "': a port named '" + name + "' is already open in this process");
  (void)DpdkEnvironment::take_log();  // only what this probe says
  if (const int probed = rte_dev_probe(vdev.c_str()); probed < 0) {
    std::string said = DpdkEnvironment::take_log();
    for (char& c : said)
      if (c == '\n') c = ';';
    return make_error(-probed, "vdev '" + vdev + "': DPDK cannot create this device" +
                                   (said.empty() ? std::string(" (") + rte_strerror(-probed) : " (DPDK said: " + said) +
                                   "; is the driver name right and, for af_packet/pcap, does the interface exist?)");
  }
  std::uint16_t port = 0;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0)
    return make_error(ENODEV, "vdev '" + vdev + "': probed, but no ethdev port named '" + name + "'");

  static std::atomic<unsigned> pools{0};  // mempool names are process-wide
  const std::string pool_name = "dmm_pool_" + std::to_string(pools++);
  rte_mempool* pool = rte_pktmbuf_pool_create(pool_name.c_str(), kPoolSize, kPoolCache, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, rte_eth_dev_socket_id(port));
  if (!pool) return make_error(ENOMEM, "vdev '" + vdev + "': no memory for its mbuf pool: " + rte_strerror(rte_errno));
  std::unique_ptr<DpdkPort> self(new DpdkPort(name, port, pool));

  rte_eth_conf conf{};
  if (int r = rte_eth_dev_configure(port, 1, 1, &conf); r < 0) return port_error(vdev, "configure", r);
  uint16_t rx_ring = kRingSize, tx_ring = kRingSize;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_ring, &tx_ring);
  if (int r = rte_eth_rx_queue_setup(port, 0, rx_ring, rte_eth_dev_socket_id(port), nullptr, pool); r < 0)
    return port_error(vdev, "RX queue", r);
  if (int r = rte_eth_tx_queue_setup(port, 0, tx_ring, rte_eth_dev_socket_id(port), nullptr); r < 0)
    return port_error(vdev, "TX queue", r);
  if (int r = rte_eth_dev_start(port); r < 0) return port_error(vdev, "start", r);
  // lwIP answers ARP for its own MAC only, but unicast to other MACs must not reach it needlessly: promiscuous
  // stays off; broadcast (ARP) is always received.
  rte_ether_addr mac;
  if (int r = rte_eth_macaddr_get(port, &mac); r < 0) return port_error(vdev, "MAC address", r);
  std::memcpy(self->mac_.data(), mac.addr_bytes, 6);
  std::uint16_t mtu = 1500;
  if (rte_eth_dev_get_mtu(port, &mtu) == 0 && mtu >= 576) self->mtu_ = mtu;
  return self;
}

DpdkPort::DpdkPort(std::string name, std::uint16_t port, rte_mempool* pool)
    : name_(std::move(name)), port_(port), pool_(pool) {
  queued_.reserve(kBurst);
}

DpdkPort::~DpdkPort() {
  for (rte_mbuf* m : queued_) rte_pktmbuf_free(m);
  (void)in_namespace(netns_path_, [this]() -> Result<int> {
    rte_eth_dev_info info{};
    const bool have_info = rte_eth_dev_info_get(port_, &info) == 0;
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
    if (have_info && info.device) rte_dev_remove(info.device);
    return 0;
  });
  rte_mempool_free(pool_);
}

std::size_t DpdkPort::receive(std::size_t max, const FrameSink& sink) {
  rte_mbuf* frames[kBurst];
  const std::uint16_t n = rte_eth_rx_burst(port_, 0, frames, static_cast<std::uint16_t>(std::min<std::size_t>(max, kBurst)));
  for (std::uint16_t i = 0; i < n; ++i) {
    sink({rte_pktmbuf_mtod(frames[i], std::uint8_t*), rte_pktmbuf_data_len(frames[i])});
    rte_pktmbuf_free(frames[i]);
  }
  counters_.rx_frames += n;
  return n;
}

std::uint8_t* DpdkPort::begin_frame(std::size_t length) {
  if (queued_.size() >= kBurst && flush() >= kBurst) {
    ++counters_.tx_dropped;  // the driver takes nothing: drop this frame rather than grow without bound
    return nullptr;
  }
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (!m) {
    ++counters_.no_mbuf;
    return nullptr;
  }
  char* data = rte_pktmbuf_append(m, static_cast<std::uint16_t>(length));
  if (!data) {
    rte_pktmbuf_free(m);
    ++counters_.tx_dropped;
    return nullptr;
  }
  queued_.push_back(m);
  return reinterpret_cast<std::uint8_t*>(data);
}

std::size_t DpdkPort::flush() {
  if (queued_.empty()) return 0;
  const std::uint16_t sent = rte_eth_tx_burst(port_, 0, queued_.data(), static_cast<std::uint16_t>(queued_.size()));
  counters_.tx_frames += sent;
  queued_.erase(queued_.begin(), queued_.begin() + sent);
  return queued_.size();
}

}  // namespace dmm::lwip_dpdk
