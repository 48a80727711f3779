#pragma once
// ns-3's TCP defaults are not Linux's (536-byte segments, 1 s minimum RTO, 200 ms delayed ACKs, 128 KiB buffers).
// Scenarios compare simulated stacks with real ones, so the world calls this once, before it creates any node
// or socket (ns-3 reads attribute defaults when an object is created).
namespace dmm::sim {

void configure_ns3_defaults();

}  // namespace dmm::sim
