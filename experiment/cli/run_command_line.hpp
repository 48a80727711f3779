#pragma once
// The command line dmm-sim and dmm-emu share, declared once so that the two tools cannot drift apart in what they
// accept or how they word it: SCENARIO.yaml [--out DIR] [--seed N] [--set key=value ...] [--plot] [--pcap]
// [--quiet] [--version] [--help], plus a tool's own options (dmm-emu's --repeat).
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <boost/program_options.hpp>

namespace dmm::sim {

// How a tool presents itself in --help and in its messages.
struct RunToolText {
  std::string tool;         // "dmm-sim"
  std::string summary;      // the line under the usage line
  std::string default_out;  // --out's default, as said in --help
  std::string pcap;         // what --pcap writes, as said in --help
  std::string epilogue;     // after the options: exit codes and notes
};

struct RunCommandLine {
  std::string scenario;
  std::optional<std::string> out;
  std::optional<std::string> seed;
  std::vector<std::string> overrides;
  bool plot = false;
  bool pcap = false;
  bool quiet = false;
  boost::program_options::variables_map values;  // every option, the tool's own included
};

// Parses `argv` with the shared options and `own`. --help and --version are printed here and give exit code 0;
// a usage error is printed after `tool: ` with a pointer to --help and gives 2. Otherwise the command line.
std::variant<RunCommandLine, int> parse_run_command_line(int argc, char** argv, const RunToolText& text,
                                                         const boost::program_options::options_description& own);

}  // namespace dmm::sim
