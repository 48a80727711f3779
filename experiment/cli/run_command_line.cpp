#include "cli/run_command_line.hpp"

#include <iostream>

#include "run/build_info.hpp"

namespace dmm::sim {

namespace po = boost::program_options;

std::variant<RunCommandLine, int> parse_run_command_line(int argc, char** argv, const RunToolText& text,
                                                         const po::options_description& own) {
  po::options_description visible("Usage: " + text.tool + " SCENARIO.yaml [options]\n\n" + text.summary +
                                  "\nOptions");
  visible.add_options()
    ("help,h", "show this help")
    ("out,o", po::value<std::string>(), ("results directory (default " + text.default_out + ")").c_str())
    ("seed", po::value<std::string>(), "random seed, a non-negative integer (overrides the scenario's)")
    ("set", po::value<std::vector<std::string>>()->composing(), "override a scenario key: --set nrd.period=250ms")
    ("plot", "draw plots into <out>/plots/ (analysis/plot_run.py)")
    ("pcap", text.pcap.c_str())
    ("quiet,q", "print nothing but errors");
  for (const auto& option : own.options()) visible.add(option);  // in the same list, not a section of their own
  visible.add_options()("version", "print the version (and git commit, ns-3 version) and exit");
  po::options_description hidden;
  hidden.add_options()("scenario", po::value<std::string>());
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description positional;
  positional.add("scenario", 1);

  RunCommandLine line;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), line.values);
    po::notify(line.values);
  } catch (const std::exception& e) {
    std::cerr << text.tool << ": " << e.what() << "\n(see " << text.tool << " --help)\n";
    return 2;
  }
  const auto& vm = line.values;
  if (vm.count("help")) {
    std::cout << visible << "\n" << text.epilogue;
    return 0;
  }
  if (vm.count("version")) {
    std::cout << version_line(text.tool) << "\n";
    return 0;
  }
  if (!vm.count("scenario")) {
    std::cerr << text.tool << ": missing SCENARIO.yaml\n(see " << text.tool << " --help)\n";
    return 2;
  }
  line.scenario = vm["scenario"].as<std::string>();
  if (vm.count("out")) line.out = vm["out"].as<std::string>();
  if (vm.count("seed")) line.seed = vm["seed"].as<std::string>();
  if (vm.count("set")) line.overrides = vm["set"].as<std::vector<std::string>>();
  line.plot = vm.count("plot") > 0;
  line.pcap = vm.count("pcap") > 0;
  line.quiet = vm.count("quiet") > 0;
  return line;
}

}  // namespace dmm::sim
