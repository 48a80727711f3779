"""dmm-emu end to end (issue 13): shipped scenarios on real stacks pass their expectations, dmm-compare finds sim and
emu within tolerance and a deliberately different pair divergent, bad input is reported as dmm-sim reports it,
emu-only limits are named, nothing is left behind after Ctrl-C or after a SIGKILL (the next run sweeps it), and a
user without root is told why. Needs root (CI and this machine run as root); every client runs in namespaces the
run made.

Environment: DMM_SIM, DMM_EMU, DMM_COMPARE (the built tools), DMM_SOURCE_DIR."""
from __future__ import annotations

import csv
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

SIM = os.environ["DMM_SIM"]
EMU = os.environ["DMM_EMU"]
COMPARE = os.environ["DMM_COMPARE"]
SOURCE = os.environ["DMM_SOURCE_DIR"]


# Every run's results go under one directory, removed when the module's tests are done (pcap traces are tens of MB).
SCRATCH = tempfile.mkdtemp(prefix="dmm-emu-tests-")
os.chmod(SCRATCH, 0o755)  # the unprivileged-user test writes below it


def tearDownModule():
    shutil.rmtree(SCRATCH, ignore_errors=True)


# Under a sanitizer build (CI's ASan/UBSan phase) our code runs two to three times slower, and on a 2-core machine the
# emulator may fall behind real time: dmm-emu then rightly marks the run invalid. What that build checks is memory
# safety on the same paths (the runs still go to the end and write everything); whether an emulation keeps up is
# judged in the Release build, where these tests demand a faithful run.
SANITIZED = os.environ.get("DMM_EMU_SANITIZED") == "1"

if SANITIZED:
    # The programs of command workloads run under the sanitized shim, which brings the ASan runtime after the
    # program in the library list (they do not link it); ASan refuses that by default, though it works. The shim's
    # own tests say the same (tests/preload/subprocess.cpp).
    os.environ["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))


def fell_behind_only(fidelity: dict) -> bool:
    return not fidelity["valid"] and all("fell behind real time" in r or "of its rate while saturated" in r
                                         or "could not keep up" in r for r in fidelity["reasons"])


def expect_faithful(test: unittest.TestCase, code: int, text: str, *results_dirs: str) -> None:
    """The runs in `results_dirs` were faithful emulations and `code` is 0 — or, in a sanitizer build only, the
    test is skipped because the emulator fell behind and nothing else went wrong."""
    if SANITIZED:
        slow = [d for d in results_dirs if fell_behind_only(load_json(os.path.join(d, "emu.json")))]
        if slow:
            test.skipTest(f"sanitizer build: the link emulator fell behind real time in {slow} (judged in Release)")
    test.assertEqual(code, 0, text)
    for d in results_dirs:
        fidelity = load_json(os.path.join(d, "emu.json"))
        test.assertTrue(fidelity["valid"], fidelity["reasons"])


def scenario(name: str) -> str:
    return os.path.join(SOURCE, "scenarios", name)


def run(argv, timeout=120):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def load_json(path: str):
    with open(path) as handle:
        return json.load(handle)


def namespaces_of(pid: int) -> list[str]:
    return [os.path.basename(p) for p in glob.glob(f"/run/netns/dmme{pid}-*")]


# Quickstart scaled to a quarter of its bandwidth: the fast link at 25 Mbit/s instead of 100 and the bulk transfer
# 5 MB instead of 20, so that it overlaps the same share of the RPCs (~1.8 s) — same question, same expectations.
# (With 20 MB at 25 Mbit/s, the RPCs that share the bottleneck with a 7 s bulk transfer get 13 % less goodput on
# Linux than in ns-3: a real difference of the two TCPs' queue dynamics, which dmm-compare rightly reports.) How fast a link the emulator can carry is a property of the machine, not
# of the code: on this machine quickstart's 100 Mbit/s run is valid (README), but a CI machine once carried only
# ~50 Mbit/s and rightly marked that run invalid. A unit test must not be a speed test, so it stays well inside
# any machine's reach; the overload test below checks that falling behind is caught, and emu.json reports the
# emulator's CPU per 100 Mbit/s.
QUICKSTART_WITHIN_REACH = ["--set", "topology.links.wan-a.rate=25Mbps", "--set", "workloads.bulk.size=5MB"]


class EmuScenarios(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dmm-emu-test-", dir=SCRATCH)
        cls.sim = os.path.join(cls.dir, "sim")
        cls.emu = os.path.join(cls.dir, "emu")
        cls.sim_run = run([SIM, scenario("quickstart.yaml"), "--out", cls.sim, "--quiet", *QUICKSTART_WITHIN_REACH])
        cls.emu_run = run([EMU, scenario("quickstart.yaml"), "--out", cls.emu, *QUICKSTART_WITHIN_REACH])

    def test_quickstart_passes_on_real_stacks(self):
        self.assertIn("expectations: 4/4 passed", self.emu_run.stdout, self.emu_run.stdout + self.emu_run.stderr)
        fidelity = load_json(os.path.join(self.emu, "emu.json"))
        self.assertEqual([l["link"] for l in fidelity["links"]], ["wan-a", "wan-b"])
        # lwIP's congestion control is its own: the results say so rather than pretending to run newreno.
        self.assertTrue(any("lwIP" in n for n in fidelity["notes"]), fidelity["notes"])
        # Same results directory as dmm-sim: the same files, the same columns.
        for name in ["sessions.csv", "metrics.csv", "policy.jsonl", "events.csv", "summary.json", "scenario.yaml"]:
            self.assertTrue(os.path.exists(os.path.join(self.emu, name)), name)
        for name in ["sessions.csv", "metrics.csv", "events.csv"]:
            with open(os.path.join(self.sim, name)) as s, open(os.path.join(self.emu, name)) as e:
                self.assertEqual(s.readline(), e.readline(), name)
        expect_faithful(self, self.emu_run.returncode, self.emu_run.stdout + self.emu_run.stderr, self.emu)

    def test_quickstart_sim_and_emu_agree(self):
        self.assertEqual(self.sim_run.returncode, 0, self.sim_run.stderr)
        expect_faithful(self, self.emu_run.returncode, self.emu_run.stdout + self.emu_run.stderr, self.emu)
        compare = run([COMPARE, self.sim, self.emu])
        self.assertEqual(compare.returncode, 0, compare.stdout + compare.stderr)

    def test_a_deliberately_different_simulation_diverges(self):
        other = os.path.join(self.dir, "sim-80ms")
        made = run([SIM, scenario("quickstart.yaml"), "--out", other, "--quiet", *QUICKSTART_WITHIN_REACH, "--set",
                    "topology.links.wan-a.delay=80ms"])
        self.assertIn(made.returncode, (0, 1), made.stderr)
        compare = run([COMPARE, other, self.emu])
        self.assertEqual(compare.returncode, 1, compare.stdout + compare.stderr)
        self.assertIn("DIVERGE", compare.stdout)

    def test_nothing_is_left_behind(self):
        # Every dmm-emu namespace still present must belong to a run that is still going.
        for path in glob.glob("/run/netns/dmme*-*"):
            pid = os.path.basename(path)[len("dmme"):].split("-")[0]
            self.assertTrue(os.path.exists(f"/proc/{pid}"), f"{path} outlived its run")


class EmuFailover(unittest.TestCase):
    """failover.yaml twice at once (two runs share the machine, each in its own namespaces), one with --pcap; both
    pass, both agree with the simulation — the link going down and coming back included."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dmm-emu-failover-", dir=SCRATCH)
        cls.sim = os.path.join(cls.dir, "sim")
        cls.emus = [os.path.join(cls.dir, "emu1"), os.path.join(cls.dir, "emu2")]
        cls.sim_run = run([SIM, scenario("failover.yaml"), "--out", cls.sim, "--quiet"])
        procs = [subprocess.Popen([EMU, scenario("failover.yaml"), "--out", out, *extra], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for out, extra in zip(cls.emus, [[], ["--pcap"]])]
        # While both run: each has its own namespaces, named after its own pid.
        deadline = time.monotonic() + 20
        cls.namespaces = [[], []]
        while time.monotonic() < deadline and not all(cls.namespaces):
            cls.namespaces = [namespaces_of(p.pid) for p in procs]
            time.sleep(0.2)
        cls.results = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            cls.results.append((p.returncode, out + err))

    def test_two_runs_at_once_both_pass_in_their_own_namespaces(self):
        first, second = (set(n) for n in self.namespaces)
        self.assertTrue(first and second, self.namespaces)
        self.assertFalse(first & second)
        for (code, text), out in zip(self.results, self.emus):
            self.assertIn("expectations: 4/4 passed", text, text)
            expect_faithful(self, code, text, out)

    def test_failover_agrees_with_the_simulation(self):
        self.assertEqual(self.sim_run.returncode, 0, self.sim_run.stderr)
        for (code, text), out in zip(self.results, self.emus):
            expect_faithful(self, code, text, out)
        # One run at a time, then both as repeats: the link going down must move new sessions as fast as in ns-3
        # (the hosts' interfaces go down with it) and its coming back must restore the primary's routes.
        for emus in ([self.emus[0]], self.emus):
            compare = run([COMPARE, self.sim, *emus])
            self.assertEqual(compare.returncode, 0, compare.stdout + compare.stderr)
            self.assertIn("policy switch after 8 s link wan-a down", compare.stdout)

    def test_pcap_traces_every_link_as_dmm_sim_does(self):
        traces = sorted(os.listdir(os.path.join(self.emus[1], "pcap")))
        self.assertEqual([t.split("-")[0] + "-" + t.split("-")[1] for t in traces],
                         ["wan-a", "wan-a", "wan-b", "wan-b"], traces)
        for trace in traces:
            with open(os.path.join(self.emus[1], "pcap", trace), "rb") as handle:
                data = handle.read()
            self.assertEqual(data[:4], bytes.fromhex("d4c3b2a1"), trace)  # pcap, little-endian
            self.assertGreater(len(data), 24 + 16 + 40, trace)            # header and at least one packet
        self.assertFalse(os.path.exists(os.path.join(self.emus[0], "pcap")))


class EmuRacing(unittest.TestCase):
    """blackhole.yaml on real kernel stacks: wan-a drops everything from 8 s on (no error comes back); nSocket
    races the ranked stacks, so sessions opened right after it complete over wan-b within about the attempt delay,
    as in the simulation."""

    def test_sessions_race_off_a_silent_path_as_in_the_simulation(self):
        sim = tempfile.mkdtemp(dir=SCRATCH)
        emu = tempfile.mkdtemp(dir=SCRATCH)
        sim_run = run([SIM, scenario("blackhole.yaml"), "--out", sim, "--quiet"])
        self.assertEqual(sim_run.returncode, 0, sim_run.stderr)
        emu_run = run([EMU, scenario("blackhole.yaml"), "--out", emu])
        code, text = emu_run.returncode, emu_run.stdout + emu_run.stderr
        # Faithful first (a sanitizer build skips here when the emulator fell behind real time), then the answer:
        # among the expectations, the median completion in [8 s, 9 s) <= 0.5 s.
        expect_faithful(self, code, text, emu)
        self.assertIn("expectations: 4/4 passed", text, text)
        attempts = load_json(os.path.join(emu, "summary.json"))["attempts"]
        self.assertGreater(attempts["lost"], 0, attempts)  # it did race
        compare = run([COMPARE, sim, emu])
        self.assertEqual(compare.returncode, 0, compare.stdout + compare.stderr)


class EmuStackEvents(unittest.TestCase):
    def test_a_failed_lwip_stack_moves_sessions_as_fast_as_in_the_simulation(self):
        # lwIP reads its veth through a packet socket that never reports the link: dmm-emu tells it, so its
        # connects fail at once (as a kernel instance's do) and nRD switches within one period, as in ns-3.
        out = tempfile.mkdtemp(prefix="dmm-emu-lwip-fail-", dir=SCRATCH)
        path = os.path.join(SOURCE, "tests", "scenarios", "stack-fail.yaml")
        sim = run([SIM, path, "--out", os.path.join(out, "sim"), "--quiet"])
        self.assertEqual(sim.returncode, 0, sim.stderr)
        emu = run([EMU, path, "--out", os.path.join(out, "emu")])
        self.assertIn("expectations: 4/4 passed", emu.stdout, emu.stdout + emu.stderr)
        expect_faithful(self, emu.returncode, emu.stdout + emu.stderr, os.path.join(out, "emu"))
        compare = run([COMPARE, os.path.join(out, "sim"), os.path.join(out, "emu"), "--json"])
        switches = {f["figure"]: f for f in json.loads(compare.stdout)["figures"] if f["kind"] == "switch_time"}
        fail = switches["policy switch after 3 s stack first fail"]
        self.assertEqual(fail["verdict"], "agree", fail)
        self.assertLess(fail["emu"], 0.75, fail)  # was 1.5 s: three connect timeouts' worth

    def test_a_recovered_kernel_stack_gets_its_routes_back(self):
        # A kernel instance that fails loses its routes with its interface; recovering must bring them back, or
        # every new session on it fails and the last expectation (back on `first` from 7.5 s) does not hold.
        out = tempfile.mkdtemp(prefix="dmm-emu-stack-fail-", dir=SCRATCH)
        result = run([EMU, os.path.join(SOURCE, "tests", "scenarios", "stack-fail.yaml"), "--out", out,
                      "--set", "stacks.first.kind=kernel"])
        self.assertIn("expectations: 4/4 passed", result.stdout, result.stdout + result.stderr)
        expect_faithful(self, result.returncode, result.stdout + result.stderr, out)


class EmuFidelity(unittest.TestCase):
    def test_an_overloaded_emulator_makes_the_run_invalid(self):
        out = tempfile.mkdtemp(prefix="dmm-emu-overload-", dir=SCRATCH)
        result = run([EMU, os.path.join(SOURCE, "tests", "scenarios", "emu-overload.yaml"), "--out", out])
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn("NOT A FAITHFUL EMULATION", result.stdout)
        fidelity = load_json(os.path.join(out, "emu.json"))
        self.assertFalse(fidelity["valid"])
        self.assertTrue(any("fell behind real time" in r for r in fidelity["reasons"]), fidelity["reasons"])
        # ... and dmm-compare never calls an invalid emulation agreement, not even with identical figures (the
        # same directory, as the "simulation", spares simulating 5 Gbit/s).
        same = tempfile.mkdtemp(prefix="dmm-emu-overload-copy-", dir=SCRATCH)
        shutil.copytree(out, same, dirs_exist_ok=True)
        os.remove(os.path.join(same, "emu.json"))
        compare = run([COMPARE, same, out])
        self.assertEqual(compare.returncode, 1, compare.stdout + compare.stderr)


class EmuSignalsAndCleanup(unittest.TestCase):
    def start(self, out, *extra):
        return subprocess.Popen([EMU, scenario("quickstart.yaml"), "--out", out, "--quiet", *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_for_namespaces(self, pid, deadline_s=15):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and not namespaces_of(pid):
            time.sleep(0.05)
        return namespaces_of(pid)

    def test_ctrl_c_writes_partial_results_and_removes_everything(self):
        out = tempfile.mkdtemp(prefix="dmm-emu-int-", dir=SCRATCH)
        p = self.start(out)
        self.assertTrue(self.wait_for_namespaces(p.pid))
        time.sleep(3)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 130, err)
        self.assertTrue(load_json(os.path.join(out, "summary.json"))["partial"])
        self.assertFalse(load_json(os.path.join(out, "emu.json"))["valid"])
        self.assertEqual(namespaces_of(p.pid), [])
        self.assertEqual(run(["pgrep", "-f", f"{out}/linkemu-spec.json"]).stdout, "")  # the emulator is gone too

    def test_after_a_sigkill_the_next_run_removes_what_was_left(self):
        out = tempfile.mkdtemp(prefix="dmm-emu-kill-", dir=SCRATCH)
        p = self.start(out)
        self.assertTrue(self.wait_for_namespaces(p.pid))
        time.sleep(1)
        p.kill()
        p.wait(timeout=30)
        self.assertTrue(namespaces_of(p.pid), "a killed run cannot clean up: its namespaces stay until the next run")
        # The link emulator dies with its parent (PR_SET_PDEATHSIG).
        end = time.monotonic() + 10
        while time.monotonic() < end and run(["pgrep", "-f", f"{out}/linkemu-spec.json"]).stdout:
            time.sleep(0.1)
        self.assertEqual(run(["pgrep", "-f", f"{out}/linkemu-spec.json"]).stdout, "")
        # The next run removes them before it makes its own.
        nxt = run([EMU, scenario("quickstart.yaml"), "--out", tempfile.mkdtemp(dir=SCRATCH), "--quiet", "--set",
                   "duration=3s", "--set", "expect=[]", "--set", "events=[]", "--set", "workloads.rpc.stop=3s"])
        self.assertIn(nxt.returncode, (0, 1), nxt.stderr)
        self.assertEqual(namespaces_of(p.pid), [])


class EmuCommands(unittest.TestCase):
    """command-fetch.yaml: an unmodified curl under dmm-run follows the policy nRD publishes (version 2, once wan-a's
    delay grows); each run is a session with its exit status; dmm-sim runs the simulated equivalent, and dmm-compare
    sets the two side by side without inventing a goodput for curl."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="dmm-emu-command-", dir=SCRATCH)
        cls.sim = os.path.join(cls.dir, "sim")
        cls.emu = os.path.join(cls.dir, "emu")
        cls.emu_run = run([EMU, scenario("command-fetch.yaml"), "--out", cls.emu])
        cls.sim_run = run([SIM, scenario("command-fetch.yaml"), "--out", cls.sim, "--quiet"])

    def sessions(self):
        with open(os.path.join(self.emu, "sessions.csv")) as handle:
            return list(csv.DictReader(handle))

    def test_the_programs_follow_the_policy_nrd_publishes(self):
        text = self.emu_run.stdout + self.emu_run.stderr
        # What is checked here is behaviour, not the emulator's speed: a run the machine's load made the emulator
        # fall behind in (exit 1, emu.json says why) still shows whether the programs followed the policy.
        fidelity = load_json(os.path.join(self.emu, "emu.json"))
        if self.emu_run.returncode == 1 and fell_behind_only(fidelity):
            self.assertIn("not a faithful emulation", self.emu_run.stderr)
        else:
            self.assertEqual(self.emu_run.returncode, 0, text)
        self.assertIn("expectations: 3/3 passed", self.emu_run.stdout, text)
        rows = self.sessions()
        self.assertGreater(len(rows), 10)
        # Version 2 reached the programs over the socket (the initial policy in their dmm.yaml is version 1).
        late = [r for r in rows if float(r["start_s"]) >= 8]
        self.assertTrue(late)
        self.assertTrue(all(r["policy_version"] == "2" and r["stack"] == "backup" for r in late), late)
        # A program's bytes are not known: empty, never 0; the table says so.
        self.assertTrue(all(r[c] == "" for r in rows for c in ("bytes_sent", "bytes_received", "bytes_delivered")))
        self.assertIn("unknown*", self.emu_run.stdout)
        for stack in load_json(os.path.join(self.emu, "summary.json"))["stacks"]:
            if stack["sessions"]:  # only command runs: no byte figure at all, rather than 0
                self.assertIsNone(stack["delivered_mbps"], stack)
        self.assertTrue(all(r["attempts"] == r["stack"] + ":ok" for r in rows), rows[0])
        self.assertEqual(fidelity["commands"]["fetch"]["runs"], len(rows))
        self.assertEqual(fidelity["commands"]["fetch"]["server"], "ran to the end")
        self.assertGreaterEqual(fidelity["programs_nrd"]["subscribers"], len(rows))  # every run's shim subscribed
        self.assertGreater(fidelity["programs_nrd"]["samples"], 0)  # and reported its sessions to the run's nRD
        with open(os.path.join(self.emu, "commands", "fetch", "1.decisions.jsonl")) as handle:
            self.assertEqual(json.loads(handle.readline())["stack"], "primary")
        with open(os.path.join(self.emu, "commands", "client.dmm.yaml")) as handle:
            self.assertIn("congestion: cubic", handle.read())  # the scenario's TCP variant on the programs' sockets
        for path in glob.glob("/run/dmm-emu/dmme*-"):
            pid = os.path.basename(path)[len("dmme"):].split("-")[0]
            self.assertTrue(os.path.exists(f"/proc/{pid}"), f"{path} outlived its run")

    def test_compare_sets_curl_beside_its_simulated_equivalent(self):
        self.assertEqual(self.sim_run.returncode, 0, self.sim_run.stderr)
        compare = run([COMPARE, self.sim, self.emu, "--json"])
        self.assertIn(compare.returncode, (0, 1), compare.stderr)
        result = json.loads(compare.stdout)
        kinds = {(f["kind"], f["scope"].get("workload")) for f in result["figures"]}
        self.assertIn(("completion", "fetch"), kinds)
        self.assertNotIn(("goodput", "fetch"), kinds)
        self.assertTrue(any("workload fetch" in n and "not compared" in n for n in result["notes"]), result["notes"])
        switch = [f for f in result["figures"] if f["kind"] == "switch_time"]
        self.assertEqual([f["verdict"] for f in switch], ["agree"], switch)

    def test_real_programs_and_every_way_a_run_ends(self):
        out = os.path.join(self.dir, "programs")
        result = run([EMU, os.path.join(SOURCE, "tests", "scenarios", "command-programs.yaml"), "--out", out])
        text = result.stdout + result.stderr
        fidelity = load_json(os.path.join(out, "emu.json"))
        if not (result.returncode == 1 and fell_behind_only(fidelity)):
            self.assertEqual(result.returncode, 0, text)
        self.assertIn("expectations: 4/4 passed", result.stdout, text)
        with open(os.path.join(out, "sessions.csv")) as handle:
            ends = {r["workload"]: (r["completed"], r["error"]) for r in csv.DictReader(handle)}
        # iperf3 over UDP: its server replies from the address the client sent to (before: refused, never ended).
        self.assertEqual(ends["udp"], ("1", ""))
        self.assertEqual(ends["tcp"], ("1", ""))
        self.assertEqual(ends["fails"], ("0", "exit status 7"))
        self.assertTrue(ends["overruns"][1].startswith("timed out after 1s (stopped; "), ends)
        self.assertEqual(ends["unfinished"], ("0", "unfinished at end of run"))
        with open(os.path.join(out, "sessions.csv")) as handle:
            ports = {r["workload"]: r["port"] for r in csv.DictReader(handle)}
        self.assertEqual((ports["tcp"], ports["fails"]), ("5201", ""))  # no port: an empty cell, not 0
        report = load_json(os.path.join(out, "commands", "tcp", "1.out"))  # iperf3's own figure (-J)
        self.assertGreater(report["end"]["sum_received"]["bits_per_second"], 10e6)  # of a 20 Mbit/s link

    def test_a_killed_runs_programs_are_stopped_by_the_next_run(self):
        marker = "97.531"  # a sleep no one else runs; the shell forks it, so it has no PR_SET_PDEATHSIG of its own
        out = tempfile.mkdtemp(prefix="dmm-emu-command-kill-", dir=SCRATCH)
        p = subprocess.Popen([EMU, scenario("command-fetch.yaml"), "--out", out, "--quiet", "--set",
                              f"workloads.fetch.run=sleep {marker}; true", "--set", "workloads.fetch.timeout=60s"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 30
        while time.monotonic() < end and not run(["pgrep", "-f", f"^sleep {marker}"]).stdout:
            time.sleep(0.1)
        self.assertTrue(run(["pgrep", "-f", f"^sleep {marker}"]).stdout, "the program never started")
        p.kill()
        p.communicate(timeout=30)
        self.assertTrue(run(["pgrep", "-f", f"^sleep {marker}"]).stdout, "expected a leftover for the next run")
        nxt = run([EMU, scenario("command-fetch.yaml"), "--out", tempfile.mkdtemp(dir=SCRATCH), "--quiet", "--set",
                   "duration=3s", "--set", "expect=[]", "--set", "events=[]", "--set", "workloads.fetch.stop=2s"])
        self.assertIn(nxt.returncode, (0, 1), nxt.stderr)
        self.assertEqual(run(["pgrep", "-f", f"^sleep {marker}"]).stdout, "")
        self.assertEqual(namespaces_of(p.pid), [])
        self.assertFalse(glob.glob(f"/run/dmm-emu/dmme{p.pid}-"))


class EmuPluginKinds(unittest.TestCase):
    def test_a_plug_in_kind_carries_sessions_on_real_stacks(self):
        # tests/scenarios/plugin.yaml: kind `relay` (tests/plugins) over a kernel instance, as in dmm-sim.
        out = tempfile.mkdtemp(prefix="dmm-emu-plugin-", dir=SCRATCH)
        # New sessions stop half a second before the end: one still connecting when the run ends has no stack yet,
        # and the scenario asks for a share of exactly 1.
        result = run([EMU, os.path.join(SOURCE, "tests", "scenarios", "plugin.yaml"), "--out", out, "--set",
                      f"plugins=[{os.environ['DMM_TEST_PLUGIN']}]", "--set", "workloads.rpc.stop=2.5s", "--set",
                      "workloads.direct.stop=2.5s"])
        text = result.stdout + result.stderr
        if not (result.returncode == 1 and fell_behind_only(load_json(os.path.join(out, "emu.json")))):
            self.assertEqual(result.returncode, 0, text)
        self.assertIn("expectations: 3/3 passed", result.stdout, text)  # rpc on `relayed`, direct on `base`


class EmuRepeat(unittest.TestCase):
    def test_repeat_writes_one_results_directory_per_run(self):
        out = tempfile.mkdtemp(prefix="dmm-emu-repeat-", dir=SCRATCH)
        # all-fail.yaml (3 s) fails its implicit expectation by design: every run goes on, and the exit code is the
        # worst of the runs'.
        result = run([EMU, os.path.join(SOURCE, "tests", "scenarios", "all-fail.yaml"), "--out", out, "--repeat", "2"])
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertEqual(sorted(os.listdir(out)), ["run-1", "run-2"])
        for run_dir in ("run-1", "run-2"):
            self.assertEqual(load_json(os.path.join(out, run_dir, "summary.json"))["seed"], 1)  # same script
        self.assertEqual(result.stdout.count("expectations: 0/1 passed"), 2, result.stdout)
        self.assertIn("repeats: 0 of 2 runs valid with every expectation passed", result.stdout)
        # (exit 1 either way: the expectation fails by design; expect_faithful checks emu.json's verdicts)
        expect_faithful(self, 0, result.stdout, *(os.path.join(out, d) for d in ("run-1", "run-2")))

    def test_a_bad_repeat_count_is_named(self):
        for bad in ("0", "-1", "two", "1001"):
            result = run([EMU, scenario("quickstart.yaml"), "--out", tempfile.mkdtemp(dir=SCRATCH), "--repeat", bad])
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(f"--repeat: expected a whole number of runs from 1 to 1000, got '{bad}'", result.stderr)


class EmuInput(unittest.TestCase):
    def test_bad_scenarios_get_the_same_messages_as_in_dmm_sim(self):
        files = sorted(glob.glob(os.path.join(SOURCE, "tests", "bad-scenarios", "*.yaml")))
        self.assertGreater(len(files), 50)
        for path in files:
            sim = run([SIM, path, "--out", tempfile.mkdtemp(dir=SCRATCH), "--quiet"])
            emu = run([EMU, path, "--out", tempfile.mkdtemp(dir=SCRATCH), "--quiet"])
            self.assertEqual(sim.returncode, 2, path)
            self.assertEqual(emu.returncode, 2, path)
            self.assertEqual(emu.stderr, sim.stderr, path)

    def test_what_dmm_emu_cannot_realise_is_named(self):
        cases = [
            (["--set", "stacks.fast.kind=ns3"], "has no real backend in dmm-emu"),
            (["--set", "stacks.fast.tcp=vegas"], "tcp: vegas is not available in this kernel"),
        ]
        for extra, message in cases:
            result = run([EMU, scenario("quickstart.yaml"), "--out", tempfile.mkdtemp(dir=SCRATCH), "--quiet", *extra])
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn(message, result.stderr)
            self.assertIn("quickstart.yaml:", result.stderr)

    def test_without_root_it_says_why(self):
        out = tempfile.mkdtemp(prefix="dmm-emu-nobody-", dir=SCRATCH)
        os.chmod(out, 0o777)
        result = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", EMU, scenario("quickstart.yaml"),
                      "--out", os.path.join(out, "results"), "--quiet"])
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("needs root", result.stderr)


if __name__ == "__main__":
    unittest.main()
