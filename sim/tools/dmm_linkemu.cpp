// dmm-linkemu SPEC.json — dmm-emu's link emulator (not meant to be run by hand): run inside the emulator's network
// namespace, it emulates the scenario's links in real time with ns-3 (sim/emu/link_emulator.hpp).
// Protocol on stdin/stdout with dmm-emu: prints "ready" once the packet sockets are open and the world is built,
// waits for a line on stdin ("go"; end of input = give up), runs for the spec's duration, prints its report as one
// JSON line. Errors go to stderr; exit 0 ok, 2 bad spec, 3 runtime failure.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "emu/link_emulator.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: dmm-linkemu SPEC.json (started by dmm-emu)\n";
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    std::cerr << "dmm-linkemu: cannot read " << argv[1] << "\n";
    return 2;
  }
  auto spec = dmm::emu::parse_emulator_spec(text.str());
  if (!spec) {
    std::cerr << "dmm-linkemu: " << spec.error().message << "\n";
    return 2;
  }
  auto emulator = dmm::sim::emu::LinkEmulator::create(*spec);
  if (!emulator) {
    std::cerr << "dmm-linkemu: " << emulator.error().message << "\n";
    return 3;
  }
  std::cout << "ready" << std::endl;
  std::string go;
  if (!std::getline(std::cin, go)) return 0;  // dmm-emu gave up before starting
  const auto stats = (*emulator)->run();
  std::cout << dmm::emu::emulator_stats_json(stats) << std::endl;
  return 0;
}
