#pragma once
// Running the system's tools (`ip`, `ethtool`, `sysctl`) the way a person would, with their words in the error.
#include <string>
#include <vector>

#include "dmm/result.hpp"

namespace dmm::emu {

// Runs argv[0] (searched in PATH) with stdout and stderr captured; EIO naming the command and its output when it
// exits non-zero or cannot start.
Result<std::string> run_command(const std::vector<std::string>& argv);

// The command as a shell line, for messages.
std::string command_line(const std::vector<std::string>& argv);

// The last `max_bytes` of a program's log file, trailing blank lines dropped ("" when empty or unreadable): what a
// message quotes of a child's stderr.
std::string file_tail(const std::string& path, std::size_t max_bytes);

}  // namespace dmm::emu
