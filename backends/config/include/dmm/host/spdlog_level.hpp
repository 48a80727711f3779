#pragma once
// The host config's log level as spdlog's, for the daemons that log with spdlog (dmm-nrd, dmm-stackd).
// Header-only: the host config library does not depend on spdlog.
#include <spdlog/spdlog.h>

#include "dmm/host/host_config.hpp"

namespace dmm::host {

inline spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace dmm::host
