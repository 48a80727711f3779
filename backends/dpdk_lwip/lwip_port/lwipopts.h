/* The options of the project's own build of lwIP 2.1.3 (Debian's source package, fetched by setup.sh).
 *
 * Why not Debian's liblwip: it is built for the Hurd's socket server (NO_SYS 0, a 64 KiB window and send buffer,
 * 250/500 ms TCP timers, forwarding on, 10 fragments per datagram), and those options are compiled in. What each
 * choice here is for is said next to it; the figures that motivated them are in issue 15's note and the README. */
#ifndef DMM_LWIPOPTS_H
#define DMM_LWIPOPTS_H

/* ---- How lwIP runs: the raw API on one thread (an Executor's), no OS layer, time from sys_now(). ---- */
#define NO_SYS 1
#define LWIP_TIMERS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define SYS_LIGHTWEIGHT_PROT 0

/* ---- Memory: the C library's allocator for the heap and every pool, so nothing has a fixed count (a burst
 * of connections or of out-of-order segments is bounded by windows, not by pool sizes chosen here). ---- */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define LWIP_STATS 0

/* ---- Interfaces and protocols: Ethernet, ARP, IPv4, IPv6 (static addresses, on-link), UDP, TCP. ---- */
#define LWIP_ETHERNET 1
#define LWIP_ARP 1
#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_ICMP 1
#define LWIP_ICMP6 1
#define LWIP_IPV6_MLD 1 /* IPv6 neighbour discovery joins solicited-node groups */
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_RAW 0
#define LWIP_IGMP 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0
/* Several instances are netifs of one lwIP: a packet must never be forwarded from one instance to another. */
#define IP_FORWARD 0
#define LWIP_IPV6_FORWARD 0
/* An instance's addresses are the config's: no SLAAC, no router solicitations. */
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 1
#define LWIP_IPV6_NUM_ADDRESSES 3
#define LWIP_NETIF_TX_SINGLE_PBUF 1 /* one frame is one contiguous copy into the port */
#define LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS 1
#define SO_REUSE 1
#define LWIP_TCP_KEEPALIVE 1
/* Neighbours: a server instance talks to many on-link peers (Debian's 10 entries thrash). */
#define ARP_TABLE_SIZE 64
#define ARP_QUEUEING 1
#define ARP_QUEUE_LEN 32
#define LWIP_ND6_NUM_NEIGHBORS 32
#define LWIP_ND6_NUM_DESTINATIONS 64
/* Reassembly of 64 KiB datagrams (45 fragments at a 1500-byte MTU, several at once); Debian's 10 lost UDP above 14 KiB. */
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define LWIP_IPV6_REASS 1
#define LWIP_IPV6_FRAG 1
#define IP_REASS_MAX_PBUFS 256
#define MEMP_NUM_REASSDATA 16
#define IPV6_FRAG_COPYHEADER 1 /* 64-bit pointers do not fit in the fragment header lwIP would reuse */

/* ---- TCP: windows for the bandwidth-delay products DMM's scenarios and hosts use. ----
 * A 2 MiB receive window (window scaling, shift 7 as Linux uses) keeps a 50 ms path full up to ~330 Mbit/s; a
 * 512 KiB send buffer up to ~84 Mbit/s. Memory is only taken for data actually queued. The send buffer is smaller
 * because lwIP walks its unsent and unacknowledged segment lists on every write and output: at 2 MiB those lists
 * are ~1400 segments long, and bulk sending on a LAN measured 3.0 Gbit/s, at 1 MiB 2.2-3.2, at 512 KiB 3.5-4.0, at 128 KiB
 * 3.5-3.6 (dmm-bench client bulk over a veth, two runs each). */
#define TCP_MSS 1460
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 7
#define TCP_WND (2 * 1024 * 1024)
#define TCP_SND_BUF (512 * 1024)
#define TCP_SND_QUEUELEN ((4 * (TCP_SND_BUF) + (TCP_MSS - 1)) / (TCP_MSS))
/* lwIP compares this with 16-bit quantities: it must stay below 64 KiB (less 4 MSS). */
#define TCP_SNDLOWAT (16 * TCP_MSS)
#define TCP_QUEUE_OOSEQ 1
#define LWIP_TCP_SACK_OUT 1 /* a Linux sender recovers from a loss without resending the whole window */
#define LWIP_TCP_MAX_SACK_NUM 4
/* Timers. lwIP runs its fast timer (delayed ACKs, refused data) every TCP_TMR_INTERVAL and its slow timer
 * (retransmission, persist, keepalive, TIME-WAIT) every second one. Debian's 250 ms let a delayed ACK wait up to
 * 250 ms: longer than Linux's 200 ms minimum RTO, so a Linux peer resent every lone segment. Here the fast
 * timer is 50 ms (and LwipCore runs the delayed ACKs every 10 ms on top), the slow one 100 ms: lwIP's own RTO
 * floor (its RTT variance cannot fall below 3 slow ticks) is then ~300 ms, above Linux's delayed-ACK timer
 * (40 ms), so lwIP does not resend what a Linux receiver merely has not acknowledged yet. */
#define TCP_TMR_INTERVAL 50

/* ---- Checksums: computed while copying the application's data into segments; checked on receive. The
 * frame port completes the checksums the local kernel left to offload before lwIP sees a frame. ---- */
#define LWIP_CHECKSUM_ON_COPY 1
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1

#endif /* DMM_LWIPOPTS_H */
