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

}  // namespace dmm::preload
