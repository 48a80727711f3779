#pragma once
// `kind: command` workloads on real stacks: each run of the workload's schedule (`count` back to back, or `rate`
// Poisson launches, drawn as dmm-sim's generators draw them) starts the program under dmm-run in the source
// node's program namespace, whose only way out is the node's stack instances; the program's shim gets the run's
// policy and reports its sessions' samples to the run's nRD (NrdSocketFront). A run is one session in
// sessions.csv: from launch to exit, completed when the program exits with status 0, on the stack its first
// session used (from its decision log); its bytes are not known (the data path is the kernel's) and are written
// empty. `serve:` programs start in the destination node before time zero (and, when the workload names a port,
// are waited for until they listen) and are stopped at the end.
//
// Each run leaves <out>/commands/<workload>/<n>.out, .err and .decisions.jsonl; a server serve.out and serve.err.
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "dmm/kernel/epoll_executor.hpp"
#include "emu_plan.hpp"
#include "run/recorder.hpp"
#include "run/scenario_run.hpp"
#include "scenario/scenario.hpp"

namespace dmm::emu {

struct CommandSetup {
  std::filesystem::path out_dir;       // the results directory
  std::filesystem::path scratch_dir;   // the run's own directory (servers' working directories live here)
  std::string dmm_run;                 // path of dmm-run
  std::string nrd_socket;              // NrdSocketFront's
};

class CommandWorkloads {
public:
  // Writes each source node's host config (<out>/commands/<node>.dmm.yaml: its kernel stacks by namespace, the
  // scenario's policy, the nRD socket). Nothing starts yet.
  static Result<std::unique_ptr<CommandWorkloads>> create(const scenario::Scenario& sc, const EmuPlan& plan,
                                                          kernel::EpollExecutor& loop, Executor& clock,
                                                          sim::Recorder& recorder, sim::ScenarioRun& run,
                                                          CommandSetup setup);
  ~CommandWorkloads();
  CommandWorkloads(const CommandWorkloads&) = delete;
  CommandWorkloads& operator=(const CommandWorkloads&) = delete;

  bool empty() const { return workloads_.empty(); }
  // Before time zero: starts the `serve:` programs and waits (at most 10 s each) until a server with a port
  // listens on it. EIO naming the workload and the server's last words if one ends or never listens.
  Status start_servers();
  // Time zero: every workload's schedule starts.
  void start(Duration run_end);
  // The end: programs still running are stopped and recorded unfinished; the servers are stopped.
  void finish();

  // Per workload: runs started and how they ended, for emu.json.
  nlohmann::json report() const;
  // One line per server that ended before the end of the run (printed and kept in emu.json's notes).
  std::vector<std::string> warnings() const;

private:
  struct Workload;
  struct Run;
  CommandWorkloads(const scenario::Scenario& sc, const EmuPlan& plan, kernel::EpollExecutor& loop, Executor& clock,
                   sim::Recorder& recorder, sim::ScenarioRun& run, CommandSetup setup);
  Status write_host_configs();
  // A command line with `{to}` (the destination node's address) and `{port}` (the workload's) filled in.
  static std::string fill_in(const std::string& line, const Workload& w);
  void launch(Workload& w);
  void schedule_next(Workload& w);
  void ended(Workload& w, std::uint64_t session, ExitStatus status);
  void record(Workload& w, Run& r, bool completed, std::string error);

  const scenario::Scenario& sc_;
  const EmuPlan& plan_;
  kernel::EpollExecutor& loop_;
  Executor& clock_;
  sim::Recorder& recorder_;
  sim::ScenarioRun& run_;
  CommandSetup setup_;
  std::vector<std::unique_ptr<Workload>> workloads_;
  std::vector<std::unique_ptr<Run>> ended_;  // runs recorded inside their exit callback, destroyed later
  bool started_ = false;    // time zero has come
  bool finishing_ = false;
};

}  // namespace dmm::emu
