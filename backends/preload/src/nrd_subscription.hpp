#pragma once
// The shim's link to dmm-nrd, when dmm.yaml has an `nrd:` section (issue 6). One background thread (signals
// blocked, inside the shim's re-entry guard for its whole life, so its own socket calls go straight to libc) runs
// an EpollExecutor with an NrdClient that subscribes, applies each new policy version to the shim's orchestrator
// (whose select() the program's threads keep calling, lock-free), reconnects with back-off while the daemon is
// gone (the orchestrator serves its last policy meanwhile), and reports samples of the sessions the shim placed
// (session_sampler.hpp).
//
// Fork: the child has no subscription thread. Its copy of the connection is closed (if the fd still is that
// socket) and the subscription is dropped: the child serves the policy it inherited and reports nothing. Why not
// re-subscribe: the child's orchestrator may have been copied mid-update by another thread (its reader counts
// and writer lock then describe threads that do not exist in the child), and applying a policy there could wait
// forever. Nothing here takes a lock in the fork handler, so fork never waits for the shim.
#include <chrono>
#include <string>
#include <vector>

#include "dmm/host/host_config.hpp"
#include "dmm/orchestrator.hpp"
#include "dmm/path_sample.hpp"

namespace dmm::preload {

// Starts the subscription thread (once per process) and waits, at most `first_policy_wait`, until the daemon has
// sent the policy in force (or the daemon cannot be reached): a program's first connect, which follows its first
// socket() at once, must be decided with the daemon's current policy, not the host config's version 1 it started
// with (issue 12: a fresh `dmm-run -- curl` after nRD published "blue down" still went to blue). A problem (no
// thread, no event loop) is appended to `problems` and the program runs on with its host-config policy.
void start_nrd_subscription(Orchestrator& orchestrator, const host::NrdSpec& nrd, std::vector<std::string>& problems,
                            std::chrono::milliseconds first_policy_wait);

// exit() of the program: the samples of sessions it still holds (read now) and of those it closed lately go to the
// daemon before the process ends, waiting at most `bound` — a short-lived program's only session would otherwise
// never be reported (samples are sent in batches every 200 ms). Registered with atexit when `nrd:` is set.
void flush_nrd_samples_at_exit(std::chrono::milliseconds bound);

// close() hook: a TCP session the shim placed is about to be closed; its last TCP_INFO goes to nRD. Allocation-
// free; nothing happens without a subscription or when called from inside the shim.
void nrd_session_closing(int fd);

// A sample made elsewhere in the shim (sessions on user-space stacks, from their metrics) for nRD: queued for the
// subscription thread, bounded (beyond it dropped). Its time is stamped when the subscription sends it. No-op
// without a subscription. Not for signal handlers (it takes a mutex).
void nrd_report_sample(const PathSample& sample);

// pthread_atfork child handler (see above). Async-signal-safe: fstat, close, atomic stores.
void nrd_subscription_after_fork_in_child();

}  // namespace dmm::preload
