#pragma once
// Waiting for a server a test started (nginx, haproxy: they print nothing when ready) to accept connections.
#include <chrono>
#include <cstdint>
#include <string>

namespace dmm::test {

// True once a TCP connect to address:port from inside network namespace `ns` succeeds (tried every 20 ms);
// false after `timeout`.
bool wait_until_listening(const std::string& ns, const std::string& address, std::uint16_t port,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace dmm::test
