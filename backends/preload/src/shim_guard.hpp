#pragma once
// Re-entry guard. While the shim itself runs library code that makes socket calls (KernelStack creating a socket
// inside a namespace, the config loader, logging), those calls reach our own wrappers: the guard makes them go
// straight to libc.
namespace dmm::preload {

// initial-exec TLS: no dynamic-loader call (and so no allocation) on access, also in signal handlers.
extern __thread int t_inside_shim __attribute__((tls_model("initial-exec")));

class InsideShim {
public:
  InsideShim() { ++t_inside_shim; }
  ~InsideShim() { --t_inside_shim; }
  InsideShim(const InsideShim&) = delete;
  InsideShim& operator=(const InsideShim&) = delete;
};

inline bool inside_shim() { return t_inside_shim != 0; }

// While this thread makes a socket on a stack in another network namespace, the fd of the namespace it returns to
// (else -1). A signal handler that calls socket() in that window must still get a socket of the program's own
// namespace (socket_interrupting_switch() in interpose_socket.cpp).
extern __thread int t_switch_home_fd __attribute__((tls_model("initial-exec")));

class SwitchingNamespace {
public:
  explicit SwitchingNamespace(int home_fd) : saved_(t_switch_home_fd) { t_switch_home_fd = home_fd; }
  ~SwitchingNamespace() { t_switch_home_fd = saved_; }
  SwitchingNamespace(const SwitchingNamespace&) = delete;
  SwitchingNamespace& operator=(const SwitchingNamespace&) = delete;

private:
  int saved_;
};

}  // namespace dmm::preload
