#pragma once
// dmm-linkemu as a child process in the emulator's namespace: started, waited for until its links are up, told to
// go at the run's time zero, and asked for its report at the end. It dies with dmm-emu (PR_SET_PDEATHSIG).
#include <sys/types.h>

#include <memory>
#include <string>

#include "dmm/result.hpp"
#include "run/link_emulation_spec.hpp"

namespace dmm::emu {

class LinkProcess {
public:
  // Writes `spec` to `spec_path`, starts `linkemu` inside `emulator_namespace` and waits (at most 10 s) until it
  // reports that its links are built. Its stderr goes to `log_path`.
  static Result<std::unique_ptr<LinkProcess>> start(const std::string& linkemu, const std::string& emulator_namespace,
                                                    const EmulatorSpec& spec, const std::string& spec_path,
                                                    const std::string& log_path);
  ~LinkProcess();  // kills it if it still runs
  LinkProcess(const LinkProcess&) = delete;
  LinkProcess& operator=(const LinkProcess&) = delete;

  Status go();
  // Waits (at most `timeout`) for the report the emulator prints when its run ends.
  Result<EmulatorStats> finish(Duration timeout);

private:
  LinkProcess(pid_t pid, int to_child, int from_child, std::string log_path)
      : pid_(pid), to_child_(to_child), from_child_(from_child), log_path_(std::move(log_path)) {}
  Result<std::string> read_line(Duration timeout);
  std::string log_tail() const;

  pid_t pid_;
  int to_child_, from_child_;
  std::string log_path_;
  std::string buffered_;
};

}  // namespace dmm::emu
