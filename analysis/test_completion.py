"""Tests for analysis/completion.py and the figures built on it (plot_run's completion_cdf.png, compare_runs'
completion and goodput CDFs and its command line), on synthetic results directories.

    cd analysis && /usr/bin/python3 -m unittest -v test_completion   (what CTest runs)
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import compare_runs  # noqa: E402
import completion  # noqa: E402
import plot_run  # noqa: E402
from results import load_results  # noqa: E402
from test_plot_run import SESSIONS_HEADER, make_failover_run, write_csv, write_summary  # noqa: E402

UNFINISHED = completion.UNFINISHED_ERROR


def sessions(rows):
    """rows of (start_s, end_s or None, completed, error) -> a sessions frame with the columns completion needs."""
    return pd.DataFrame({
        "start_s": [r[0] for r in rows], "end_s": [np.nan if r[1] is None else r[1] for r in rows],
        "completed": [bool(r[2]) for r in rows], "error": [r[3] if r[3] else np.nan for r in rows]})


class CompletionStatsTest(unittest.TestCase):
    def test_outcomes(self):
        frame = sessions([(0, 1, 1, ""), (0, None, 0, UNFINISHED), (0, 0.1, 0, "connection refused"),
                          # written before end_s was left empty: still unfinished by its error
                          (0, 10.0, 0, UNFINISHED)])
        self.assertEqual(list(completion.outcomes(frame)), ["completed", "unfinished", "failed", "unfinished"])

    def test_without_censoring_it_is_the_fraction_of_all_sessions(self):
        # 3 of 5 completed (0.1, 0.2, 0.3 s), 2 failed: the curve stops at 0.6, the median is the 3rd time.
        frame = sessions([(0, 0.1, 1, ""), (1, 1.2, 1, ""), (2, 2.3, 1, ""), (0, 0.05, 0, "reset"),
                          (0, 0.0, 0, "no healthy stack")])
        stats = completion.completion_stats(frame, 10.0)
        np.testing.assert_allclose(stats.times, [0.1, 0.2, 0.3])
        np.testing.assert_allclose(stats.cdf, [0.2, 0.4, 0.6])
        self.assertAlmostEqual(stats.median_s, 0.3)
        self.assertAlmostEqual(stats.within(0.25), 0.4)
        self.assertEqual((stats.completed, stats.unfinished, stats.failed), (3, 0, 2))
        self.assertAlmostEqual(stats.failed_share, 0.4)

    def test_unfinished_are_censored_at_their_age(self):
        # Kaplan–Meier by hand: completions at 1 s and 3 s; one session unfinished at age 2 s (started at 8 s
        # of a 10 s run). At 1 s: 3 at risk, S = 2/3; the censored one leaves at 2 s; at 3 s: 1 at risk, S = 0.
        frame = sessions([(0, 1, 1, ""), (8, None, 0, UNFINISHED), (0, 3, 1, "")])
        stats = completion.completion_stats(frame, 10.0)
        np.testing.assert_allclose(stats.cdf, [1 / 3, 1.0])
        self.assertAlmostEqual(stats.median_s, 3.0)

    def test_leaving_sessions_unfinished_does_not_make_a_run_look_fast(self):
        # The case: the finished sessions are fast, but most never finish. Dropping the unfinished
        # gives a 100 ms median; counting them, the median is not reached.
        rows = [(0, 0.1, 1, "")] * 4 + [(1, None, 0, UNFINISHED)] * 6
        stats = completion.completion_stats(sessions(rows), 10.0)
        self.assertEqual(stats.median_s, math.inf)
        self.assertIn("median not reached", stats.describe())
        self.assertIn("6 unfinished (60%)", stats.describe())
        finished_only = sessions(rows[:4])
        self.assertAlmostEqual(completion.completion_stats(finished_only, 10.0).median_s, 0.1)

    def test_pooled_runs_and_no_sessions(self):
        a = sessions([(0, 1, 1, "")])
        b = sessions([(0, None, 0, UNFINISHED)])
        stats = completion.completion_stats([(a, 10.0), (b, 10.0)])
        self.assertEqual(stats.n, 2)
        self.assertAlmostEqual(stats.cdf[-1], 0.5)
        empty = completion.completion_stats(sessions([]), 10.0)
        self.assertTrue(math.isnan(empty.median_s))
        self.assertEqual(empty.describe().split(":")[0], "n=0")


def capture(function, *args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = function(list(args))
        except SystemExit as exit_:
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def make_stuck_run(path, stuck):
    """A 10 s run whose 10 RPCs complete in 50 ms, plus `stuck` RPCs started at 1 s and never finished."""
    os.makedirs(path, exist_ok=True)
    rows = []
    for i in range(10):
        rows.append([i + 1, "rpc", "client", "server", 80, "latency", "fast", 0, 1, i * 0.5, i * 0.5 + 0.05,
                     200, 16384, 1, ""])
    for j in range(stuck):
        rows.append([100 + j, "rpc", "client", "server", 80, "latency", "fast", 0, 1, 1.0, "", 200, 0, 0,
                     UNFINISHED])
    write_csv(os.path.join(path, "sessions.csv"), SESSIONS_HEADER, rows)
    write_summary(path, "stuck", 10.0, rows, stacks=("fast",))
    return path


class CompletionFiguresTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()
        matplotlib.pyplot.close("all")

    def test_plot_run_completion_cdf_counts_and_says_so(self):
        run = load_results(make_failover_run(os.path.join(self.dir, "run")))
        fig = plot_run.completion_figure(run)
        ax = fig.axes[0]
        self.assertIn("Kaplan–Meier", ax.get_title())
        self.assertIn("unfinished", ax.get_title())
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        self.assertTrue(all("unfinished" in t and "failed" in t and "median" in t for t in texts), texts)
        # Over all sessions the curve stops below 1 by what never completes (a session that got no stack).
        stats = completion.completion_stats(run.sessions, run.duration_s)
        self.assertEqual(stats.failed, 1)
        self.assertLess(stats.cdf[-1], 1.0)
        self.assertGreater(stats.cdf[-1], 0.99)

    def test_compare_runs_ranks_the_run_that_leaves_sessions_unfinished_last(self):
        fast_but_stuck = load_results(make_stuck_run(os.path.join(self.dir, "stuck"), stuck=20))
        honest = load_results(make_stuck_run(os.path.join(self.dir, "honest"), stuck=0))
        groups = {"stuck": [fast_but_stuck], "honest": [honest]}
        table = compare_runs.completion_table(groups)
        self.assertEqual(table.loc["stuck", "median_completion_s"], math.inf)
        self.assertAlmostEqual(table.loc["honest", "median_completion_s"], 0.05, places=9)
        self.assertAlmostEqual(table.loc["stuck", "unfinished_share"], 20 / 30)
        self.assertAlmostEqual(table.loc["stuck", "within_0.1s"], 10 / 30)
        # Finished sessions alone would rank them equal (both 50 ms).
        self.assertAlmostEqual(np.median(compare_runs.completion_times([fast_but_stuck])), 0.05)
        fig = compare_runs.completion_cdf(groups)
        texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        self.assertTrue(any("stuck" in t and "20 unfinished (67%)" in t and "not reached" in t for t in texts),
                        texts)
        self.assertIn("Kaplan–Meier", fig.axes[0].get_title())
        rates = compare_runs.goodput_cdf(groups)
        texts = [t.get_text() for t in rates.axes[0].get_legend().get_texts()]
        self.assertTrue(any(t.startswith("stuck") and "66.7% unfinished" in t for t in texts), texts)

    def test_label_list_as_the_readme_writes_it(self):
        dirs = [make_stuck_run(os.path.join(self.dir, name), stuck) for name, stuck in
                [("r1", 0), ("r2", 3), ("r3", 5)]]
        out = os.path.join(self.dir, "cmp")
        code, stdout, stderr = capture(compare_runs.main, *dirs, "--label", "a", "b", "c", "--out", out)
        self.assertEqual(code, 0, stderr)
        self.assertIn("completion_cdf.png", stdout)
        groups = compare_runs.from_dirs(dirs, ["a", "b", "c"])
        self.assertEqual(list(groups), ["a", "b", "c"])
        # The repeated form still works, and a count that does not match is a usage error.
        code, _, stderr = capture(compare_runs.main, *dirs, "--label", "a", "--label", "b", "--label", "c",
                                  "--out", out)
        self.assertEqual(code, 0, stderr)
        code, _, stderr = capture(compare_runs.main, *dirs, "--label", "a", "b", "--out", out)
        self.assertEqual(code, 2)
        self.assertIn("2 --label for 3", stderr)


if __name__ == "__main__":
    unittest.main()
