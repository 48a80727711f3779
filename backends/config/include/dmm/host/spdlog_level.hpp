#pragma once
// The host config's log level as spdlog's, for the daemons that log with spdlog (dmm-nrd, dmm-stackd).
// Header-only: the host config library does not depend on spdlog.
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

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

// A daemon's log: stderr, one `TIME LEVEL event=NAME key=value ...` line per event, flushed at once (it is read
// while the daemon runs, and after it is killed).
inline std::shared_ptr<spdlog::logger> daemon_logger(const std::string& name, LogLevel level) {
  auto log = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::stderr_sink_mt>());
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %l %v");
  log->set_level(to_spdlog(level));
  log->flush_on(spdlog::level::trace);
  return log;
}

}  // namespace dmm::host
