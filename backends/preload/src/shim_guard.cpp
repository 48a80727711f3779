#include "shim_guard.hpp"

namespace dmm::preload {

__thread int t_inside_shim __attribute__((tls_model("initial-exec"))) = 0;
__thread int t_switch_home_fd __attribute__((tls_model("initial-exec"))) = -1;

}  // namespace dmm::preload
