"""Tests for analysis/results.py and analysis/plot_run.py on synthetic results directories.

    /usr/bin/python3 -m unittest -v analysis/test_plot_run.py      (from the repository root)
    cd analysis && /usr/bin/python3 -m unittest -v test_plot_run   (what CTest runs)

`/usr/bin/python3 analysis/test_plot_run.py --demo DIR` writes the realistic synthetic run into DIR and plots
it, to look at the PNGs by eye.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import plot_run  # noqa: E402
import results  # noqa: E402
from results import ResultsError, load_results  # noqa: E402

PLOT_RUN = os.path.join(HERE, "plot_run.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
ALL_PNGS = ["goodput.png", "session_share.png", "nrd_estimates.png", "completion_cdf.png"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# What dmm-sim writes now; the first format (without the last columns) is tested too (OLD_* below).
OLD_SESSIONS_HEADER = ["session", "workload", "node", "dst", "port", "intent", "stack", "rule", "policy_version",
                       "start_s", "end_s", "bytes_sent", "bytes_received", "completed", "error"]
SESSIONS_HEADER = OLD_SESSIONS_HEADER + ["bytes_delivered", "loss", "owd_ms", "jitter_ms"]
OLD_METRICS_HEADER = ["time_s", "stack", "rtt_ms", "goodput_mbps", "loss", "failures", "healthy"]
METRICS_HEADER = OLD_METRICS_HEADER + ["goodput_estimate_mbps", "capacity_estimate_mbps"]
EVENTS_HEADER = ["time_s", "event", "target", "detail"]


# --- synthetic results directories --------------------------------------------------------------------------

def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_policy(path, versions):
    with open(path, "w", encoding="utf-8") as handle:
        for version in versions:
            handle.write(json.dumps(version) + "\n")


def write_summary(path, name, duration, sessions, stacks=("fast", "slow")):
    completed = sum(1 for s in sessions if s[13] == 1)
    by_stack = [{"stack": st, "sessions": sum(1 for s in sessions if s[6] == st), "share": 0.5,
                 "goodput_mbps": 1.0, "bytes": 1} for st in stacks]
    summary = {"scenario": name, "seed": 1, "duration_s": duration,
               "sessions": {"total": len(sessions), "completed": completed, "failed": len(sessions) - completed},
               "stacks": by_stack, "expectations": [], "sim_events": 12345, "wall_s": 0.5,
               "policy_versions": 3}
    with open(os.path.join(path, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle)


def failover_sessions(duration=30.0):
    """Sessions of the DESIGN.md example: rpc at 50/s on `fast` until policy v2 (after wan-a's delay jumps at
    10 s) moves it to `slow`; one bulk per stack; a few failures when wan-a goes down; some still open."""
    rng = random.Random(7)
    rows = []
    sid = 0

    def add(workload, port, intent, stack, rule, version, start, end, sent, received, completed, error=""):
        nonlocal sid
        sid += 1
        # TCP sessions: what arrived is what was acknowledged (all of it once completed) plus what was read.
        delivered = sent + received if completed else sent // 2 + received
        rows.append([sid, workload, "client", "server", port, intent, stack, rule, version,
                     round(start, 6), "" if end is None else round(end, 6), sent, received, completed, error,
                     delivered, "", "", ""])

    t = 0.0
    while t < duration:
        t += rng.expovariate(50.0)
        if t >= duration:
            break
        if t < 10.6:
            stack, version, rtt = "fast", 1, (0.02 if t < 10 else 0.2)
        elif t < 22:
            stack, version, rtt = "slow", 2, 0.08
        else:
            stack, version, rtt = "slow", 3, 0.08
        elapsed = 2 * rtt + rng.uniform(0.001, 0.01)
        end = t + elapsed
        if 19.8 < t < 20.0 and stack == "fast":
            add("rpc", 80, "latency", stack, 0, version, t, 20.0, 200, 0, 0, "connection reset")
        elif end > duration:
            add("rpc", 80, "latency", stack, 0, version, t, None, 200, 0, 0)
        else:
            add("rpc", 80, "latency", stack, 0, version, t, end, 200, 16384, 1)
    add("bulk", 5001, "throughput", "fast", 1, 1, 1.0, 5.3, 50_000_000, 0, 1)
    add("bulk", 5001, "throughput", "slow", 1, 2, 12.0, 29.0, 40_000_000, 0, 1)
    add("rpc", 80, "latency", "", -1, 3, 21.0, 21.0, 0, 0, 0, "no healthy stack")
    return rows


def failover_metrics(duration=30.0, nrd_stop=25.0):
    rows = []
    t = 0.5
    while t <= nrd_stop + 1e-9:
        fast_rtt = 20.0 if t < 10 else 200.0
        fast_healthy = 0 if t >= 20 else 1
        # fast: no estimate for a while after the link went down (a gap); slow: nothing before its first use.
        fast_goodput = "" if t >= 20 else (90.0 if t < 10 else 8.0)
        slow_goodput = "" if t < 11 else 18.5
        fast_capacity = 97.0 if 1 <= t < 12 else ""  # a bulk transfer measured it, then the window passed
        rows.append([t, "fast", "" if 20 <= t < 23 else fast_rtt, fast_goodput,
                     0.0 if t < 20 else 1.0, 0 if t < 20 else int((t - 19.5) * 2), fast_healthy, fast_goodput,
                     fast_capacity])
        rows.append([t, "slow", "" if t < 2 else 80.0, slow_goodput, 0.001, 0, 1, slow_goodput, ""])
        t = round(t + 0.5, 6)
    return rows


FAILOVER_EVENTS = [[10, "link", "wan-a", "set delay=200ms"], [20, "link", "wan-a", "down"],
                   [25, "nrd", "nrd", "stop"]]
FAILOVER_POLICY = [
    {"version": 1, "time_s": 0, "reason": "initial", "rules": [{"match": {}, "use": ["fast", "slow"]}],
     "down": []},
    {"version": 2, "time_s": 10.6, "reason": "min-rtt: slow 80ms < fast 200ms",
     "rules": [{"match": {}, "use": ["slow", "fast"]}], "down": []},
    {"version": 3, "time_s": 20.5, "reason": "fast down", "rules": [{"match": {}, "use": ["slow"]}],
     "down": ["fast"]},
]


def make_failover_run(path, with_nrd=True):
    """A realistic two-stack run; `with_nrd=False` is the same run without nRD (no metrics file, one policy)."""
    os.makedirs(path, exist_ok=True)
    sessions = failover_sessions()
    if not with_nrd:  # without nRD nothing moves the sessions off `fast`
        for row in sessions:
            if row[6] == "slow":
                row[6], row[8] = "fast", 1
    write_csv(os.path.join(path, "sessions.csv"), SESSIONS_HEADER, sessions)
    if with_nrd:
        write_csv(os.path.join(path, "metrics.csv"), METRICS_HEADER, failover_metrics())
        write_policy(os.path.join(path, "policy.jsonl"), FAILOVER_POLICY)
        write_csv(os.path.join(path, "events.csv"), EVENTS_HEADER, FAILOVER_EVENTS)
    else:
        write_policy(os.path.join(path, "policy.jsonl"), FAILOVER_POLICY[:1])
        write_csv(os.path.join(path, "events.csv"), EVENTS_HEADER, FAILOVER_EVENTS[:2])
    write_summary(path, "two-paths-failover" if with_nrd else "two-paths-no-nrd", 30.0, sessions)
    return path


def make_empty_run(path):
    """A run that produced nothing: header-only CSVs, no policy changes, no events."""
    os.makedirs(path, exist_ok=True)
    write_csv(os.path.join(path, "sessions.csv"), SESSIONS_HEADER, [])
    write_csv(os.path.join(path, "metrics.csv"), METRICS_HEADER, [])
    write_csv(os.path.join(path, "events.csv"), EVENTS_HEADER, [])
    write_policy(os.path.join(path, "policy.jsonl"), [])
    write_summary(path, "empty", 10.0, [], stacks=())
    return path


# --- helpers --------------------------------------------------------------------------------------------------

def run_cli(*args):
    return subprocess.run([PYTHON, PLOT_RUN, *args], capture_output=True, text=True, timeout=300)


def run_main(*args):
    """plot_run.main in-process (fast); returns (code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = plot_run.main(list(args))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


class PngAssertions:
    def assertValidPng(self, path, min_bytes=10_000):
        self.assertTrue(os.path.isfile(path), f"{path} not written")
        with open(path, "rb") as handle:
            data = handle.read()
        self.assertEqual(data[:8], PNG_SIGNATURE, f"{path} is not a PNG")
        self.assertEqual(data[12:16], b"IHDR")
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        self.assertGreater(width, 600, path)
        self.assertGreater(height, 400, path)
        self.assertGreaterEqual(len(data), min_bytes, f"{path} is suspiciously small ({len(data)} bytes)")
        self.assertTrue(data.rstrip(b"\0").endswith(b"IEND\xaeB`\x82"), f"{path} is truncated")


# --- results.py ------------------------------------------------------------------------------------------------

class ResultsLoadingTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        with open(os.path.join(self.dir, name), "w", encoding="utf-8") as handle:
            handle.write(text)

    def test_types_of_sessions(self):
        self.write("sessions.csv", ",".join(SESSIONS_HEADER) + "\n"
                   "1,rpc,client,server,80,latency,fast,0,1,0.5,0.54,200,16384,1,\n"
                   "2,NA,client,10.0.0.2,80,latency,,-1,1,1.25,,200,0,0,no healthy stack\n")
        sessions = load_results(self.dir).sessions
        # A file from before `attempts` was added: the column is there, empty (and nobody is warned about it).
        self.assertEqual(list(sessions.columns), SESSIONS_HEADER + ["attempts"])
        self.assertTrue(sessions.attempts.isna().all())
        self.assertEqual(sessions.session.dtype, np.int64)
        self.assertEqual(sessions.port.dtype, np.int64)
        self.assertEqual(sessions.rule.tolist(), [0, -1])
        self.assertEqual(sessions.start_s.dtype, np.float64)
        self.assertEqual(sessions.start_s.tolist(), [0.5, 1.25])
        self.assertEqual(sessions.bytes_received.tolist(), [16384, 0])
        self.assertEqual(sessions.completed.dtype, bool)
        self.assertEqual(sessions.completed.tolist(), [True, False])
        self.assertEqual(sessions.end_s.iloc[0], 0.54)
        self.assertTrue(math.isnan(sessions.end_s.iloc[1]))          # still open: empty end_s
        self.assertTrue(pd.isna(sessions["stack"].iloc[1]))              # never got a stack
        self.assertTrue(pd.isna(sessions.error.iloc[0]))
        self.assertEqual(sessions.error.iloc[1], "no healthy stack")
        self.assertEqual(sessions.workload.iloc[1], "NA")             # a name, not a missing value
        self.assertEqual(sessions.dst.tolist(), ["server", "10.0.0.2"])

    def test_new_columns_measure_what_arrived(self):
        self.write("sessions.csv", ",".join(SESSIONS_HEADER) + "\n"
                   "1,video,client,server,5000,default,lossy,0,1,0,2,2000000,0,1,,222400,0.8975,932.5,3.75\n"
                   "2,rpc,client,server,80,latency,fast,0,1,0.5,,200,0,0,unfinished at end of run,200,,,\n")
        sessions = load_results(self.dir).sessions
        self.assertEqual(sessions.bytes_delivered.dtype, np.int64)
        self.assertEqual(sessions.bytes_delivered.tolist(), [222400, 200])
        self.assertEqual(sessions.loss.iloc[0], 0.8975)
        self.assertTrue(math.isnan(sessions.loss.iloc[1]))           # TCP: no loss figure
        self.assertEqual(sessions.owd_ms.iloc[0], 932.5)
        self.assertEqual(sessions.jitter_ms.iloc[0], 3.75)
        self.assertEqual(results.delivered_bytes(sessions).tolist(), [222400.0, 200.0])

    def test_first_format_still_loads_and_plots(self):
        # Results written before the delivered columns: loaded with those columns empty; figures fall back to
        # the offered bytes, saying so.
        self.write("sessions.csv", ",".join(OLD_SESSIONS_HEADER) + "\n"
                   "1,rpc,client,server,80,latency,fast,0,1,0.5,0.54,200,16384,1,\n")
        self.write("metrics.csv", ",".join(OLD_METRICS_HEADER) + "\n0.5,fast,20.5,3.5,0,0,1\n")
        run = load_results(self.dir)
        self.assertTrue(run.sessions.bytes_delivered.isna().all())
        with self.assertLogs("dmm.results", "WARNING") as logged:
            self.assertEqual(results.delivered_bytes(run.sessions).tolist(), [16584.0])
        self.assertIn("bytes offered", "\n".join(logged.output))
        self.assertTrue(run.metrics.goodput_estimate_mbps.isna().all())
        code, stdout, stderr = run_main(self.dir)
        self.assertEqual(code, 0, stderr)
        self.assertEqual(len(stdout.split()), 4, stderr)
    def test_attempts_column_is_text(self):
        self.write("sessions.csv", ",".join(SESSIONS_HEADER + ["attempts"]) + "\n"
                   "1,rpc,client,server,80,latency,slow,0,1,0.5,0.54,200,16384,1,,16584,,,,fast:connect-timeout;slow:ok\n"
                   "2,rpc,client,server,80,latency,,-1,1,1.25,,200,0,0,no route,0,,,,\n")
        sessions = load_results(self.dir).sessions
        self.assertEqual(sessions.attempts.iloc[0], "fast:connect-timeout;slow:ok")
        self.assertTrue(pd.isna(sessions.attempts.iloc[1]))

    def test_types_of_metrics_with_gaps(self):
        self.write("sessions.csv", ",".join(SESSIONS_HEADER) + "\n")
        self.write("metrics.csv", ",".join(METRICS_HEADER) + "\n"
                   "0.5,fast,20.5,,0,0,1\n"
                   "0.5,slow,,95.25,0.01,2,0\n")
        metrics = load_results(self.dir).metrics
        self.assertEqual(metrics.time_s.dtype, np.float64)
        self.assertEqual(metrics.rtt_ms.iloc[0], 20.5)
        self.assertTrue(math.isnan(metrics.rtt_ms.iloc[1]))
        self.assertTrue(math.isnan(metrics.goodput_mbps.iloc[0]))
        self.assertEqual(metrics.goodput_mbps.iloc[1], 95.25)
        self.assertEqual(metrics.failures.tolist(), [0, 2])
        self.assertEqual(metrics.healthy.dtype, bool)
        self.assertEqual(metrics.healthy.tolist(), [True, False])

    def test_integer_column_with_empty_field_is_float_nan(self):
        self.write("sessions.csv", ",".join(SESSIONS_HEADER) + "\n"
                   "1,rpc,client,server,80,latency,,-1,,0.5,,0,0,0,refused\n")
        sessions = load_results(self.dir).sessions
        self.assertTrue(math.isnan(sessions.policy_version.iloc[0]))

    def test_header_only_and_missing_optional_files(self):
        self.write("sessions.csv", ",".join(SESSIONS_HEADER) + "\n")
        run = load_results(self.dir)
        self.assertEqual(len(run.sessions), 0)
        self.assertEqual(run.sessions.start_s.dtype, np.float64)
        self.assertEqual(run.sessions.completed.dtype, bool)
        self.assertEqual(list(run.metrics.columns), METRICS_HEADER)
        self.assertEqual(len(run.metrics), 0)
        self.assertEqual(len(run.events), 0)
        self.assertEqual(len(run.policy), 0)
        self.assertEqual(run.summary, {})
        self.assertEqual(run.scenario, os.path.basename(self.dir))
        self.assertEqual(run.duration_s, 1.0)

    def test_policy_and_events(self):
        make_failover_run(self.dir)
        self.write("policy.jsonl", "\n".join(json.dumps(v) for v in reversed(FAILOVER_POLICY)) + "\n{trunc")
        run = load_results(self.dir)
        self.assertEqual(run.policy.version.tolist(), [1, 2, 3])          # sorted; broken line skipped
        self.assertEqual(run.policy.time_s.tolist(), [0.0, 10.6, 20.5])
        self.assertEqual(run.policy.down.iloc[2], ["fast"])
        self.assertEqual(run.policy.rules.iloc[1][0]["use"], ["slow", "fast"])
        self.assertEqual(run.events.time_s.tolist(), [10.0, 20.0, 25.0])
        self.assertEqual(run.events.detail.iloc[0], "set delay=200ms")
        self.assertEqual(run.scenario, "two-paths-failover")
        self.assertEqual(run.duration_s, 30.0)
        self.assertEqual(run.stacks(), ["fast", "slow"])

    def test_missing_directory_and_missing_sessions(self):
        with self.assertRaisesRegex(ResultsError, "nope"):
            load_results(os.path.join(self.dir, "nope"))
        with self.assertRaisesRegex(ResultsError, "sessions.csv"):
            load_results(self.dir)

    def test_unparseable_csv_names_the_file(self):
        self.write("sessions.csv", ",".join(SESSIONS_HEADER) + "\n1,2\n\"unterminated,3,4\n" + "x," * 40 + "\n")
        with self.assertRaisesRegex(ResultsError, "sessions.csv"):
            load_results(self.dir)


# --- goodput arithmetic ------------------------------------------------------------------------------------------

class GoodputBinningTest(unittest.TestCase):
    def test_bytes_are_spread_uniformly_and_conserved(self):
        sessions = pd.DataFrame({
            "stack": ["a", "a", "b"], "start_s": [0.0, 2.0, 1.0], "end_s": [4.0, 2.0, np.nan],
            "bytes_sent": [4e6, 1e6, 0.0], "bytes_received": [0.0, 0.0, 9e6]})
        edges, series = plot_run.goodput_series(sessions, duration_s=10.0)
        self.assertAlmostEqual(edges[1] - edges[0], 0.1)             # max(10/200, 0.1)
        width = np.diff(edges)
        delivered_a = (series["a"] * width * 1e6 / 8).sum()
        self.assertAlmostEqual(delivered_a, 5e6, delta=1)
        self.assertAlmostEqual(series["a"][5], 8.0)                   # 4 MB over 4 s = 8 Mbit/s
        self.assertAlmostEqual(series["a"][20], 8.0 + 1e6 * 8 / 0.1 / 1e6)  # + the instant session at 2 s
        self.assertAlmostEqual(series["a"][45], 0.0)
        # An open session (no end_s) runs to the end of the run: 9 MB over 9 s.
        self.assertAlmostEqual(series["b"][50], 8.0)
        self.assertAlmostEqual(series["b"][5], 0.0)

    def test_coarse_bins_for_long_runs(self):
        edges = plot_run.bin_edges(600.0, plot_run.goodput_bin_s(600.0))
        self.assertEqual(len(edges), 201)
        self.assertAlmostEqual(edges[-1], 600.0)


# --- plot_run.py -------------------------------------------------------------------------------------------------

class PlotRunTest(unittest.TestCase, PngAssertions):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_failover_run_writes_every_plot(self):
        results = make_failover_run(os.path.join(self.dir, "run"))
        proc = run_cli(results)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        plots = os.path.join(results, "plots")
        self.assertEqual(proc.stdout.split(), [os.path.join(plots, p) for p in ALL_PNGS])
        self.assertEqual(proc.stderr, "")
        for png in ALL_PNGS:
            self.assertValidPng(os.path.join(plots, png))

    def test_out_option(self):
        results = make_failover_run(os.path.join(self.dir, "run"))
        out = os.path.join(self.dir, "elsewhere", "png")
        code, stdout, _ = run_main(results, "--out", out)
        self.assertEqual(code, 0)
        self.assertEqual(sorted(os.listdir(out)), sorted(ALL_PNGS))
        self.assertFalse(os.path.exists(os.path.join(results, "plots")))
        self.assertEqual(len(stdout.split()), 4)

    def test_run_without_nrd(self):
        results = make_failover_run(os.path.join(self.dir, "run"), with_nrd=False)
        code, stdout, stderr = run_main(results)
        self.assertEqual(code, 0, stderr)
        self.assertIn("nrd_estimates.png", stderr)
        self.assertEqual(len(stderr.strip().splitlines()), 1)        # one-line note per skipped plot
        for png in ["goodput.png", "session_share.png", "completion_cdf.png"]:
            self.assertValidPng(os.path.join(results, "plots", png))
        self.assertFalse(os.path.exists(os.path.join(results, "plots", "nrd_estimates.png")))

    def test_metrics_header_only(self):
        results = make_failover_run(os.path.join(self.dir, "run"))
        write_csv(os.path.join(results, "metrics.csv"), METRICS_HEADER, [])
        code, _, stderr = run_main(results)
        self.assertEqual(code, 0, stderr)
        self.assertIn("nrd_estimates.png", stderr)

    def test_empty_run(self):
        results = make_empty_run(os.path.join(self.dir, "run"))
        proc = run_cli(results)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout, "")
        notes = proc.stderr.strip().splitlines()
        self.assertEqual(len(notes), 4, proc.stderr)
        self.assertTrue(all(line.startswith("plot_run: skipping") for line in notes))

    def test_single_stack_no_events_no_summary(self):
        results = os.path.join(self.dir, "run")
        os.makedirs(results)
        rows = [[i, "rpc", "client", "server", 80, "latency", "only", 0, 1, i * 0.1, i * 0.1 + 0.05, 100, 1000,
                 1, ""] for i in range(40)]
        write_csv(os.path.join(results, "sessions.csv"), SESSIONS_HEADER, rows)
        write_csv(os.path.join(results, "metrics.csv"), METRICS_HEADER,
                  [[t * 0.5, "only", 10, 5, 0, 0, 1] for t in range(10)])
        code, stdout, stderr = run_main(results)
        self.assertEqual(code, 0, stderr)
        for png in ALL_PNGS:
            self.assertValidPng(os.path.join(results, "plots", png))

    def test_nans_and_odd_values(self):
        results = os.path.join(self.dir, "run")
        os.makedirs(results)
        rows = [
            [1, "rpc", "c", "s", 80, "latency", "a", 0, 1, 0.0, 0.0, 10, 10, 1, ""],      # zero-length
            [2, "rpc", "c", "s", 80, "latency", "a", 0, 1, 1.0, 0.5, 10, 10, 1, ""],      # ends before start
            [3, "rpc", "c", "s", 80, "latency", "b", 0, 1, "", 2.0, 10, 10, 1, ""],       # no start
            [4, "rpc", "c", "s", 80, "latency", "b", 0, 1, 1.0, "nan", "", "", "", ""],   # NaN end, no bytes
            [5, "rpc", "c", "s", 80, "latency", "b", 0, 1, 2.0, 1000.0, 1e9, 0, 1, ""],   # long: log x-axis
            [6, "rpc", "c", "s", 80, "latency", "", -1, "", 3.0, "", 0, 0, 0, "no stack"],
            [7, "rpc", "c", "s", 80, "latency", "a", 0, 1, "inf", "inf", 10, 10, 1, ""],     # infinities
            [8, "rpc", "c", "s", 80, "latency", "a", 0, 1, 4.0, "inf", 10, 10, 0, ""],
        ]
        write_csv(os.path.join(results, "sessions.csv"), SESSIONS_HEADER, rows)
        write_csv(os.path.join(results, "metrics.csv"), METRICS_HEADER,
                  [[0.5, "a", "", "", "", "", ""], [1.0, "a", "nan", "inf", 0, 0, 1], ["", "b", 1, 1, 0, 0, 1]])
        write_csv(os.path.join(results, "events.csv"), EVENTS_HEADER, [["", "link", "x", "down"], [1, "", "", ""]])
        with open(os.path.join(results, "policy.jsonl"), "w") as handle:
            handle.write('{"version": 1, "time_s": 0}\n{"version": null}\n[1]\n{"version": 2, "time_s": 1.5}\n')
        code, stdout, stderr = run_main(results)
        self.assertEqual(code, 0, stderr)
        self.assertEqual(len(stdout.split()), 4, stderr)

    def test_capacity_estimate_is_drawn_dashed_beside_the_goodput_estimate(self):
        results = make_failover_run(os.path.join(self.dir, "run"))
        run = load_results(results)
        self.assertAlmostEqual(run.metrics.capacity_estimate_mbps.max(), 97.0)
        figures = []
        original = plot_run.save
        plot_run.save = lambda fig, out_dir, name: figures.append(fig) or name
        try:
            plot_run.plot_nrd_estimates(run, self.dir)
        finally:
            plot_run.save = original
        axes = next(ax for ax in figures[0].axes if "capacity" in ax.get_ylabel())
        dashed = [l for l in axes.get_lines() if (l.get_gid() or "").startswith("capacity:")]
        self.assertEqual(len(dashed), 2)  # one per stack; slow's is all NaN
        self.assertTrue(all(l.get_linestyle() == "--" for l in dashed))
        values = [v for l in dashed for v in l.get_ydata() if np.isfinite(v)]
        self.assertEqual(set(values), {97.0})

    def test_estimates_break_where_nrd_was_stopped(self):
        # nRD every 0.5 s, stopped from 5 s to 14 s: no rows in between. Before, the RTT line went straight from
        # the last value before the stop to the first after, drawing a change nobody measured.
        results = make_failover_run(os.path.join(self.dir, "run"))
        times = [t * 0.5 for t in range(1, 11)] + [14 + t * 0.5 for t in range(1, 11)]
        rows = [[t, "fast", 20 if t < 10 else 250, "", 0, 0, 1] for t in times]
        write_csv(os.path.join(results, "metrics.csv"), METRICS_HEADER, rows)
        run = load_results(results)
        broken = plot_run.break_at_gaps(run.metrics[run.metrics["stack"] == "fast"])
        self.assertEqual(len(broken), len(rows) + 1)
        gap = broken[broken.rtt_ms.isna()]
        self.assertEqual(len(gap), 1)
        self.assertTrue(5.0 < gap.time_s.iloc[0] < 14.5)
        self.assertTrue(pd.isna(gap.healthy.iloc[0]))
        # And the figure's RTT line has that gap: no segment joins 5.0 s to 14.5 s.
        figures = []
        original = plot_run.save
        plot_run.save = lambda fig, out_dir, name: figures.append(fig) or name
        try:
            plot_run.plot_nrd_estimates(run, self.dir)
        finally:
            plot_run.save = original
        rtt_axes = next(ax for ax in figures[0].axes if ax.get_ylabel() == "RTT (ms)")
        line = next(l for l in rtt_axes.get_lines() if l.get_label() == "fast")
        xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        self.assertEqual(np.isnan(ys).sum(), 1, "the RTT line must break once, in the gap")
        self.assertTrue(5.0 < xs[np.isnan(ys)][0] < 14.5)
        # Without a gap nothing is inserted.
        steady = run.metrics[run.metrics.time_s < 6]
        self.assertEqual(len(plot_run.break_at_gaps(steady)), len(steady))

    def test_many_events_keep_the_label_strip_small(self):
        results = make_failover_run(os.path.join(self.dir, "run"))
        events = [[i * 0.5, "link", f"wan-{i % 3}", f"set delay={i}ms"] for i in range(60)]
        write_csv(os.path.join(results, "events.csv"), EVENTS_HEADER, events)
        placed = plot_run.layout_marker_labels([(t, f"{x}: {d}", None) for t, _, x, d in events], 30.0)
        self.assertEqual(len(placed), 60)
        self.assertLessEqual(max(row for *_, row in placed), plot_run.MAX_LABEL_ROWS - 1)
        self.assertTrue(any(row < 0 for *_, row in placed))
        code, _, stderr = run_main(results)
        self.assertEqual(code, 0, stderr)
        self.assertValidPng(os.path.join(results, "plots", "goodput.png"))

    def test_missing_directory_exits_2(self):
        missing = os.path.join(self.dir, "does-not-exist")
        proc = run_cli(missing)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(missing, proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)

    def test_directory_without_sessions_exits_2(self):
        code, _, stderr = run_main(self.dir)
        self.assertEqual(code, 2)
        self.assertIn(self.dir, stderr)

    def test_file_instead_of_directory_exits_2(self):
        path = os.path.join(self.dir, "file")
        open(path, "w").close()
        code, _, stderr = run_main(path)
        self.assertEqual(code, 2)
        self.assertIn(path, stderr)

    def test_bad_usage_exits_2(self):
        self.assertEqual(run_main()[0], 2)
        self.assertEqual(run_main(self.dir, "--bogus")[0], 2)

    def test_unwritable_output_exits_3(self):
        results = make_failover_run(os.path.join(self.dir, "run"))
        blocker = os.path.join(self.dir, "blocker")
        open(blocker, "w").close()                                    # a file where the out dir should be
        code, _, stderr = run_main(results, "--out", os.path.join(blocker, "plots"))
        self.assertEqual(code, 3)
        self.assertIn("failed", stderr)


def demo(directory):
    make_failover_run(os.path.join(directory, "failover"))
    make_failover_run(os.path.join(directory, "no-nrd"), with_nrd=False)
    for name in ["failover", "no-nrd"]:
        plot_run.main([os.path.join(directory, name)])


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--demo":
        demo(sys.argv[2])
    else:
        unittest.main()
