"""Campaigns: every run of a study (grid points x seeds of one scenario), run on Dask, stored once in a
directory and found again.

    campaign = dmm.Campaign("results/period-study", scenario="scenarios/quickstart.yaml",
                            grid={"nrd.period": ["250ms", "1s"]}, seeds=range(5))
    campaign.missing()          # the runs not stored yet
    frame = campaign.run()      # runs only those (a LocalCluster of this machine, or client=a distributed.Client)
    campaign.results()          # one row per stored run: grid columns, seed, status, the run's figures

The directory:
    campaign.json     what the campaign is: the scenario (its file, its --set edits, the SHA-256 of both), the
                      project's version; reopening with another scenario or version is refused, not mixed in
    index.sqlite      one row per finished run (SQLite, Python's own module): run id, grid point, seed, status,
                      error, wall time, version, the run's figures; read without loading any run's files
    runs/<id>/        params.json (grid point, seed), out/ (the results directory of DESIGN.md 2.2), meta.json
                      (status, error, wall time, version, worker)

A run's id is a hash of its grid point and seed, so a new grid point adds runs and a reopened campaign finds every
run it has. Runs execute on Dask workers; the index is written only here, by the process that called run(), as
results come back. Workers on other machines need the campaign directory at the same path (a shared filesystem).
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import json
import os
import pathlib
import sqlite3
import sys
from typing import Any, Iterable, Mapping, Optional, Union

import pandas as pd

from . import _algorithms
from ._campaign_worker import STDERR_FILE, STDOUT_FILE, run_one
from ._dmm import __version__
from ._results import Results
from ._scenario import Scenario, check_seed, load_scenario, yaml_value
from .errors import Error, ScenarioError

FORMAT = 1
_MODES = ("sim", "emu")
# Dask worker resource an emulation takes: a worker offering one (dask-worker --resources emulation=1, one such
# worker per machine) runs one emulation at a time; simulations need none and fill every worker.
EMULATION_RESOURCE = "emulation"


class CampaignError(Error):
    """The campaign directory belongs to another study (scenario text, project version) or is unreadable, or
    another process is running it."""


class CampaignRunError(CampaignError):
    """Some runs could not be carried out by Dask (their worker lost, the scheduler gone): they stay missing."""


class Campaign:
    """Many runs of one scenario — every grid point with every seed — stored in `directory`.

    scenario: a path (or a `dmm.Scenario`); grid: `{"--set key": [values...]}`, runs are the Cartesian product
    of the grid with `seeds`; mode: "sim" (dmm-sim's simulator) or "emu" (dmm-emu on this machine's real stacks:
    root, the scenario's duration in wall time, one emulation per machine). One directory may hold both modes' runs
    of the same scenario (two Campaign objects over it), for dmm-compare. Every run is checked before anything
    runs: a bad key or value raises `dmm.ScenarioError` naming it.
    """

    def __init__(self, directory: Union[str, os.PathLike], scenario: Union[str, os.PathLike, Scenario],
                 grid: Optional[Mapping[str, Iterable[Any]]] = None, seeds: Iterable[int] = (1,),
                 mode: str = "sim"):
        if mode not in _MODES:
            raise ValueError(f"mode {mode!r}: campaigns run {' or '.join(map(repr, _MODES))}")
        self.directory = pathlib.Path(directory)
        self.mode = mode
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.grid = _check_grid(grid or {})
        self.seeds = list(dict.fromkeys(check_seed(s) for s in seeds))  # a seed given twice is one run
        if not self.seeds:
            raise ValueError("seeds is empty: give at least one seed")
        keys = list(self.grid)
        self._runs = []
        seen = set()
        for values in itertools.product(*self.grid.values()):
            point = dict(zip(keys, values))
            try:
                self.scenario.with_overrides(point)
            except ScenarioError as err:
                err.add_note(f"in the campaign's grid point {_describe(point)}")
                raise
            for seed in self.seeds:
                run_id = _run_id(point, seed, mode)
                if run_id not in seen:  # a value given twice is one run
                    seen.add(run_id)
                    self._runs.append((run_id, point, seed, mode))
        self._open_store(check_version=True)

    @classmethod
    def open(cls, directory: Union[str, os.PathLike]) -> "Campaign":
        """The campaign stored in `directory`, with every run planned there so far (its grid points and seeds)."""
        directory = pathlib.Path(directory)
        try:
            identity = json.loads((directory / "campaign.json").read_text())
            text = (directory / "scenario.yaml").read_text()
            with sqlite3.connect(directory / "index.sqlite") as db:
                planned = db.execute("SELECT run_id, point, seed, mode FROM planned ORDER BY rowid").fetchall()
            file = identity["scenario_file"]
        except (OSError, ValueError, KeyError, sqlite3.Error) as err:
            raise CampaignError(f"{directory}: not a campaign directory ({err})") from err
        campaign = cls.__new__(cls)
        campaign.directory = directory
        # The scenario is loaded when a run needs it: reading results must not need its Python algorithms.
        campaign._scenario_source = (text, file, tuple(identity.get("scenario_overrides", [])))
        modes = list(dict.fromkeys(mode for _, _, _, mode in planned))
        campaign.mode = modes[0] if len(modes) == 1 else "mixed"
        points = [json.loads(point) for _, point, _, _ in planned]
        keys = list(dict.fromkeys(key for point in points for key in point))
        campaign.grid = {}
        for key in keys:
            values = {}
            for point in points:
                if key in point:
                    values.setdefault(yaml_value(point[key]), point[key])
            campaign.grid[key] = list(values.values())
        campaign.seeds = sorted({seed for _, _, seed, _ in planned})
        # The ids as stored: recomputing them from the JSON would differ for dicts whose keys it sorted.
        campaign._runs = [(run_id, point, seed, mode) for (run_id, _, seed, mode), point in zip(planned, points)]
        campaign._open_store(check_version=False)
        return campaign

    @property
    def scenario(self) -> Scenario:
        if self.__dict__.get("_scenario") is None:
            text, file, overrides = self._scenario_source
            self._scenario = Scenario.from_yaml(text, file=file).with_overrides(list(overrides))
        return self._scenario

    @scenario.setter
    def scenario(self, value: Scenario) -> None:
        self._scenario = value
        self._scenario_source = (value.yaml, value.file, tuple(value.overrides))

    def status(self) -> dict[str, int]:
        """How many runs this campaign directory has planned, finished well, failed, and still misses."""
        planned = self._db.execute("SELECT COUNT(*) FROM planned").fetchone()[0]
        ok = self._db.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0]
        failed = self._db.execute("SELECT COUNT(*) FROM runs WHERE status != 'ok'").fetchone()[0]
        missing = self._db.execute(
            "SELECT COUNT(*) FROM planned WHERE run_id NOT IN (SELECT run_id FROM runs)").fetchone()[0]
        return {"planned": planned, "ok": ok, "failed": failed, "missing": missing}

    # --- what there is --------------------------------------------------------------------------------

    def missing(self) -> pd.DataFrame:
        """The runs of this grid and seeds that have no stored result (a failed run counts as stored)."""
        done = {row[0] for row in self._db.execute("SELECT run_id FROM runs")}
        rows = [{**point, "seed": seed, "mode": mode, "run_id": run_id}
                for run_id, point, seed, mode in self._runs if run_id not in done]
        return pd.DataFrame(rows, columns=[*self.grid, "seed", "mode", "run_id"])

    def results(self, load: bool = False) -> pd.DataFrame:
        """One row per stored run of this campaign directory (also runs of grid points not in this object's
        grid), in the order the runs were planned (grid points in order, each with every seed) — not the order
        they happened to finish in: grid columns, `seed`, `mode`, `status` ("ok" or "failed"), `error`, `wall_s`, `run_id`, then the
        run's figures (as `dmm.sweep` has them: sessions, completed, failed, ..., `share:<stack>`).
        load: also a last column `results`, each run's `dmm.Results` (None for a failed run), read from its
        folder — every run's sessions and metrics in memory, so only for campaigns of modest size;
        `dmm.analysis.compare_runs.from_sweep` takes such a frame."""
        rows = []
        point_keys: dict[str, None] = {}  # every grid key of a stored run: settings, not figures
        for run_id, point, seed, mode, status, error, wall_s, figures in self._db.execute(
                "SELECT r.run_id, r.point, r.seed, r.mode, r.status, r.error, r.wall_s, r.figures FROM runs r "
                "LEFT JOIN planned p ON p.run_id = r.run_id ORDER BY p.rowid, r.rowid"):
            settings = json.loads(point)
            point_keys.update(dict.fromkeys(settings))
            row = {**settings, "seed": seed, "mode": mode, "status": status, "error": error, "wall_s": wall_s,
                   "run_id": run_id}
            row.update(json.loads(figures) if figures else {})
            rows.append(row)
        frame = pd.DataFrame(rows)
        if load and not frame.empty:
            frame["results"] = [self.load(run_id) if status == "ok" else None
                                for run_id, status in zip(frame["run_id"], frame["status"])]
        frame.attrs["grid"] = list(self.grid)
        frame.attrs["point_keys"] = list(point_keys)
        return frame

    def load(self, run_id: str) -> Results:
        """One stored run's `dmm.Results` (its sessions, metrics, policies, summary), by its `run_id`."""
        return Results.read(str(self._run_dir(run_id) / "out"))

    def output(self, run_id: str) -> dict[str, str]:
        """What a stored run wrote while it ran — the simulator's or dmm-emu's messages, a Python algorithm's
        print()s — as {"stdout": text, "stderr": text} (kept in runs/<id>/stdout.txt and stderr.txt)."""
        folder = self._run_dir(run_id)
        if not (folder / "meta.json").exists():
            raise KeyError(f"output({run_id!r}): no stored run has this id in {self.directory}")
        return {name: (folder / file).read_text(errors="replace") if (folder / file).exists() else ""
                for name, file in (("stdout", STDOUT_FILE), ("stderr", STDERR_FILE))}

    def sessions(self) -> pd.DataFrame:
        """Every successful run's sessions.csv in one frame, with the run's grid values, seed and mode first."""
        return self._across_runs("sessions.csv")

    def metrics(self) -> pd.DataFrame:
        """Every successful run's metrics.csv (nRD's estimates per stack and period) in one frame, likewise."""
        return self._across_runs("metrics.csv")

    def _across_runs(self, file: str) -> pd.DataFrame:
        parts = []
        for run_id, point, seed, mode in self._db.execute(
                "SELECT r.run_id, r.point, r.seed, r.mode FROM runs r LEFT JOIN planned p ON p.run_id = r.run_id "
                "WHERE r.status = 'ok' ORDER BY p.rowid, r.rowid"):
            table = pd.read_csv(self._run_dir(run_id) / "out" / file)
            for position, (key, value) in enumerate({**json.loads(point), "seed": seed, "mode": mode}.items()):
                table.insert(position, key, [value] * len(table))
            parts.append(table)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def summary(self, by: Optional[Iterable[str]] = None, figures: Optional[Iterable[str]] = None) -> pd.DataFrame:
        """Mean of each figure over the seeds of each group, with a 95 % confidence interval (Student's t; needs two
        runs or more in a group, else the interval is NaN). by: grid keys to group by (default: every grid key, and
        `mode` when both modes are stored);
        figures: which (default: every numeric figure). Only this object's runs count (other Campaign objects over
        the directory may have stored runs of other grid points). Failed runs are left out of the statistics and
        counted in `failed_runs`; a group whose runs all failed has a row with n = 0. A figure that is inf in
        some run (`median_completion_s` when half of its sessions never completed) has an inf mean and NaN
        interval: read it with `unfinished_share`. One row per group and figure: the `by` columns, figure, n, mean,
        std, ci95_low, ci95_high, failed_runs. List and dict grid values are shown as their YAML text."""
        from scipy import stats
        frame = self._own_results()
        if frame.empty:
            return pd.DataFrame()
        if by is None:
            by = list(self.grid) + (["mode"] if frame["mode"].nunique() > 1 else [])
        else:
            by = list(by)
        for key in by:
            if key not in frame.columns:
                raise KeyError(f"summary(by=...): {key!r} is not a column of the results ({', '.join(frame.columns)})")
        for key in by:
            frame[key] = frame[key].map(_hashable)
        ok = frame[frame["status"] == "ok"]
        settings = {*frame.attrs.get("point_keys", ()), *by, "seed", "mode", "run_id", "wall_s"}
        numeric = [c for c in ok.columns if c not in settings
                   and pd.api.types.is_numeric_dtype(ok[c]) and not pd.api.types.is_bool_dtype(ok[c])]
        figures = numeric if figures is None else list(figures)
        rows = []
        # Groups over every run, failed ones too, so that a setting whose runs all failed still has its row. One
        # key is given as itself: pandas 1.5 warns that a one-item list will yield 1-tuples one day.
        groups = frame.groupby(by if len(by) > 1 else by[0], sort=True, dropna=False) if by else [((), frame)]
        for key, everyone in groups:
            key = key if isinstance(key, tuple) else (key,)
            group = everyone[everyone["status"] == "ok"]
            for figure in figures:
                values = pd.to_numeric(group[figure], errors="coerce").dropna() if figure in group else pd.Series([])
                n = len(values)
                mean = values.mean() if n else float("nan")
                std = values.std(ddof=1) if n > 1 else float("nan")
                half = stats.t.ppf(0.975, n - 1) * std / n ** 0.5 if n > 1 else float("nan")
                rows.append({**dict(zip(by, key)), "figure": figure, "n": n, "mean": mean, "std": std,
                             "ci95_low": mean - half, "ci95_high": mean + half,
                             "failed_runs": int((everyone["status"] != "ok").sum())})
        return pd.DataFrame(rows)

    def to_xarray(self, figure: str):
        """One figure of every successful run as an xarray.DataArray over the grid keys and the seed (and the mode,
        when both are stored)."""
        frame = self._own_results()
        ok = frame[frame["status"] == "ok"].copy()
        if figure not in ok.columns:
            raise KeyError(f"to_xarray: no figure {figure!r} ({', '.join(ok.columns)})")
        dims = [*self.grid, "seed"] + (["mode"] if ok["mode"].nunique() > 1 else [])
        for key in self.grid:
            ok[key] = ok[key].map(_hashable)
        return ok.set_index(dims)[figure].to_xarray()

    def _own_results(self) -> pd.DataFrame:
        """results() restricted to this object's runs, with the keys of every stored grid point in attrs."""
        frame = self.results()
        if frame.empty:
            return frame
        keys = frame.attrs.get("point_keys", [])
        own = {run_id for run_id, *_ in self._runs}
        frame = frame[frame["run_id"].isin(own)].copy()
        frame.attrs["point_keys"] = keys
        return frame

    def plot(self, figure: str, x: str, hue: Optional[str] = None, ax=None):
        """`figure` against grid key `x` (one line per value of `hue`), mean over seeds with 95 % intervals."""
        import matplotlib.pyplot as plt
        summary = self.summary(by=[k for k in (x, hue) if k], figures=[figure])
        if ax is None:
            _, ax = plt.subplots()
        for label, part in (summary.groupby(hue) if hue else [(None, summary)]):
            ax.errorbar(part[x].astype(str), part["mean"], capsize=3, marker="o",
                        yerr=[part["mean"] - part["ci95_low"], part["ci95_high"] - part["mean"]],
                        label=f"{hue}={label}" if hue else None)
        ax.set_xlabel(x)
        ax.set_ylabel(f"{figure} (mean, 95 % CI over seeds)")
        hidden = int((~pd.Series(summary["mean"]).apply(lambda v: pd.notna(v) and abs(v) != float("inf"))).sum())
        if hidden:
            ax.set_title(f"{hidden} point(s) not drawn: every run failed, or the figure is infinite", fontsize=9)
        if hue:
            ax.legend()
        return ax

    def compare(self, tolerances=None) -> pd.DataFrame:
        """Each simulation against the emulation of the same grid point and seed, as `dmm-compare SIM_DIR EMU_DIR`
        judges them — for every pair of runs of this directory that both finished well (the two modes' runs come
        from two Campaign objects over it, or `dmm-campaign run --mode`). One row per pair: the grid columns,
        `seed`, `verdict` ("agree", "diverge", "invalid emulation"), `agrees`, `judged` (figures compared),
        `diverging` (the labels of those that part, "; "-joined), `sim_run`, `emu_run`, and `comparison`: the
        `dmm.analysis.compare.Comparison` (its report(), table(), plot(dir)). tolerances: as `dmm.compare`'s.
        Raises CampaignError when no grid point and seed has both."""
        from .analysis import compare as comparing
        ok: dict[tuple, dict[str, str]] = {}
        points: dict[str, dict] = {}
        for run_id, point, seed, mode in self._db.execute(
                "SELECT run_id, point, seed, mode FROM runs WHERE status = 'ok' ORDER BY rowid"):
            ok.setdefault((point, seed), {})[mode] = run_id
            points[point] = json.loads(point)
        pairs = [(key, runs) for key, runs in ok.items() if "sim" in runs and "emu" in runs]
        if not pairs:
            counts = {mode: sum(mode in runs for runs in ok.values()) for mode in _MODES}
            raise CampaignError(f"{self.directory}: no grid point and seed has both a simulation and an emulation "
                                f"that finished well ({counts['sim']} simulations, {counts['emu']} emulations): "
                                "run the same grid and seeds with mode='emu' (dmm-campaign run --mode emu)")
        rows = []
        for (point, seed), runs in pairs:
            result = comparing.compare(str(self._run_dir(runs["sim"]) / "out"),
                                       [str(self._run_dir(runs["emu"]) / "out")], tolerances)
            rows.append({**points[point], "seed": seed, "verdict": result.verdict, "agrees": result.agrees,
                         "judged": len(result.figures), "diverging": "; ".join(f.label for f in result.diverging),
                         "sim_run": runs["sim"], "emu_run": runs["emu"], "comparison": result})
        return pd.DataFrame(rows)

    # --- running --------------------------------------------------------------------------------------

    def run(self, client=None, retries: int = 0, progress: bool = True, rerun_failed: bool = False) -> pd.DataFrame:
        """Runs the missing runs on Dask and returns `results()`.

        client: a `distributed.Client` (any scheduler: several machines with `dask-scheduler` and `dask-worker`s);
        None starts a LocalCluster for this call: one single-threaded worker process per CPU for simulations, one
        worker offering the "emulation" resource for emulations. retries: how many times Dask retries a run whose
        worker died. A run that fails (its algorithm raised, the scenario failed) is stored as failed with its
        error and does not stop the others; rerun_failed=True runs such runs again. A run Dask could not carry out
        (its worker lost for good, the scheduler gone, a worker that cannot import dmm) is not stored: it stays
        missing, and run() raises CampaignError after storing every other run. progress: a bar on stderr (tqdm; in
        Jupyter too), runs done and failed. Each run's output is in its folder (`output(run_id)`).
        One process at a time runs a campaign directory: another one's run() raises CampaignError.
        """
        if self._stored_version != __version__:
            raise CampaignError(f"{self.directory} was made by dmm {self._stored_version}; this is {__version__}: "
                                "its results can be read, but new runs would not be comparable")
        done = dict(self._db.execute("SELECT run_id, status FROM runs"))
        todo = [run for run in self._runs
                if run[0] not in done or (rerun_failed and done[run[0]] != "ok")]
        if todo:
            lock = _lock(self.directory)
            own = client is None
            cluster = None
            if own:
                from distributed import Client, LocalCluster
                emulating = any(mode == "emu" for *_, mode in todo)
                workers = 1 if emulating else min(os.cpu_count() or 1, len(todo))
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       resources={EMULATION_RESOURCE: 1} if emulating else None)  # ":0": any free port
                client = Client(cluster)
            try:
                self._run_on(client, todo, retries, progress)
            finally:
                if own:
                    client.close()
                    cluster.close()
                lock.close()
        return self.results()

    def _run_on(self, client, todo, retries: int, progress: bool) -> None:
        from distributed import as_completed
        algorithms = _algorithms_used(self.scenario, [point for _, point, _, _ in todo])
        if any(mode == "emu" for *_, mode in todo):
            offering = [w for w in client.scheduler_info()["workers"].values()
                        if w.get("resources", {}).get(EMULATION_RESOURCE, 0) >= 1]
            if not offering:
                raise CampaignError(f"no Dask worker offers the resource {EMULATION_RESOURCE!r} that emulations take: "
                                    f"start one worker per machine with `dask-worker ... --resources "
                                    f"{EMULATION_RESOURCE}=1` (as root: dmm-emu makes namespaces)")
        futures = {}
        for run_id, point, seed, mode in todo:
            directory = self._run_dir(run_id)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "params.json").write_text(
                json.dumps({"point": json.loads(_point_json(point)), "seed": seed, "mode": mode}, indent=2) + "\n")
            future = client.submit(run_one, self._scenario_source, point, seed, mode, str(directory), algorithms,
                                   key=f"dmm-run-{run_id}", retries=retries, pure=False,
                                   resources={EMULATION_RESOURCE: 1} if mode == "emu" else None)
            futures[future] = (run_id, point, seed, mode)
        bar = _progress_bar(len(futures), self.directory.name) if progress else None
        failed = 0
        not_run = []
        try:
            for future in as_completed(futures):
                run_id, point, seed, mode = futures[future]
                try:
                    outcome = future.result()
                except Exception as err:  # Dask could not carry the run out (KilledWorker, CancelledError, ...)
                    not_run.append(f"{_describe(point)}, seed {seed}: {type(err).__name__}: {err}")
                else:
                    self._store(run_id, point, seed, mode, outcome)
                    failed += outcome["status"] != "ok"
                if bar is not None:
                    bar.set_postfix_str(f"{failed} failed" + (f", {len(not_run)} not run" if not_run else ""),
                                        refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        if not_run:
            raise CampaignRunError(f"{len(not_run)} of {len(futures)} runs could not be carried out and stay missing "
                                f"(run() again once the cluster is right); first: {not_run[0]}")

    # --- the store ------------------------------------------------------------------------------------

    def _run_dir(self, run_id: str) -> pathlib.Path:
        return self.directory / "runs" / run_id

    def _open_store(self, check_version: bool) -> None:
        # Points as JSON first: a value the index cannot hold fails here, before the directory exists.
        planned = [(run_id, _point_json(point), seed, mode) for run_id, point, seed, mode in self._runs]
        text, file, overrides = self._scenario_source
        # The scenario is its text and the --set edits it carries (the grid's come on top, per run).
        what = "\n".join([text, *overrides])
        identity = {"format": FORMAT, "scenario_file": file, "scenario_overrides": list(overrides),
                    "scenario_sha256": hashlib.sha256(what.encode("utf-8")).hexdigest(), "dmm_version": __version__}
        marker = self.directory / "campaign.json"
        if marker.exists():
            try:
                stored = json.loads(marker.read_text())
            except (OSError, ValueError) as err:
                raise CampaignError(f"{marker}: unreadable ({err})") from err
            # Reading a campaign made by another version is fine; adding runs of this version to it is not.
            self._stored_version = stored.get("dmm_version")
            for key in ("format", "scenario_sha256", "dmm_version") if check_version else ("format",):
                if stored.get(key) != identity[key]:
                    raise CampaignError(
                        f"{self.directory} holds a campaign with another {key} ({stored.get(key)!r}, this one is "
                        f"{identity[key]!r}): its runs would not be comparable. Use another directory.")
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(identity, indent=2) + "\n")
            (self.directory / "scenario.yaml").write_text(text)
            self._stored_version = __version__
        self._db = sqlite3.connect(self.directory / "index.sqlite", isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, point TEXT NOT NULL, "
                         "seed INTEGER NOT NULL, mode TEXT NOT NULL, status TEXT NOT NULL, error TEXT, wall_s REAL, "
                         "version TEXT, finished_utc TEXT, figures TEXT)")
        # Every run any Campaign object over this directory asked for: what `dmm-campaign status` counts.
        self._db.execute("CREATE TABLE IF NOT EXISTS planned (run_id TEXT PRIMARY KEY, point TEXT NOT NULL, "
                         "seed INTEGER NOT NULL, mode TEXT NOT NULL)")
        # One transaction: each statement on its own would be one disk sync, and 100,000 runs took 97 s to plan.
        self._db.execute("BEGIN")
        self._db.executemany("INSERT OR IGNORE INTO planned VALUES (?, ?, ?, ?)", planned)
        self._db.execute("COMMIT")

    def _store(self, run_id: str, point: Mapping[str, Any], seed: int, mode: str,
               outcome: Mapping[str, Any]) -> None:
        self._db.execute("INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (run_id, _point_json(point), seed, mode, outcome["status"],
                          outcome.get("error"),
                          outcome.get("wall_s"), outcome.get("version"),
                          datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                          json.dumps(outcome["figures"]) if outcome.get("figures") is not None else None))

    def __repr__(self) -> str:
        return (f"dmm.Campaign({str(self.directory)!r}, {len(self._runs)} runs of {self.scenario.file!r}, "
                f"{len(self.missing())} missing)")


# --- helpers ----------------------------------------------------------------------------------------------

def _check_grid(grid: Mapping[str, Iterable[Any]]) -> dict[str, list]:
    checked = {}
    for key, items in grid.items():
        if key == "seed":
            raise ValueError("grid['seed']: give seeds with seeds=..., not in the grid")
        if isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
            raise TypeError(f"grid[{key!r}] must be a list of values, not {items!r}")
        items = list(items)
        if not items:
            raise ValueError(f"grid[{key!r}] has no values")
        checked[key] = items
    return checked


def _lock(directory: pathlib.Path):
    """Holds the campaign directory for this process' run() (an exclusive flock on run.lock), or raises."""
    import fcntl
    handle = open(directory / "run.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise CampaignError(f"{directory}: another process is running this campaign; wait for it, or use "
                            "status()/results() to watch it") from None
    return handle


def _point_json(point: Mapping[str, Any]) -> str:
    """A grid point as the index stores it. numpy numbers become Python's; anything else JSON cannot hold is
    refused, naming the key."""
    def plain(value):
        if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
            try:
                return value.item()  # numpy scalars
            except (TypeError, ValueError):
                pass
        return value
    converted = {key: plain(value) for key, value in point.items()}
    try:
        return json.dumps(converted, sort_keys=True)
    except (TypeError, ValueError) as err:
        key = next((k for k, v in converted.items() if not _json_ok(v)), "?")
        raise TypeError(f"grid[{key!r}]: {converted.get(key)!r} cannot be stored in the campaign's index ({err}); "
                        "give numbers, strings, lists or dicts") from None


def _json_ok(value) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def _hashable(value):
    """A grid value to group or index by: itself, or its YAML text when it is a list or a dict."""
    return yaml_value(value) if isinstance(value, (list, dict)) else value


def _run_id(point: Mapping[str, Any], seed: int, mode: str) -> str:
    text = json.dumps({"point": {k: yaml_value(v) for k, v in sorted(point.items())}, "seed": seed, "mode": mode},
                      sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _algorithms_used(scenario: Scenario, points: Iterable[Mapping[str, Any]]) -> dict[str, type]:
    texts = [scenario.yaml, *scenario.overrides] + [yaml_value(v) for point in points for v in point.values()]
    return {name: cls for name, cls in _algorithms._registry.items() if any(name in text for text in texts)}


def _progress_bar(total: int, name: str):
    """tqdm's bar on stderr: redrawn in place on a terminal and in Jupyter (whose output shows carriage returns
    the same way); elsewhere (a CI log, a file) a line every 30 s and the last one, not one per run."""
    from tqdm import tqdm
    interactive = "ipykernel" in sys.modules or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())
    return tqdm(total=total, desc=f"campaign {name}", unit="run", file=sys.stderr,
                mininterval=0.2 if interactive else 30.0, dynamic_ncols=interactive)


def _describe(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={yaml_value(value)}" for key, value in point.items()) or "(no grid keys)"


__all__ = ["Campaign", "CampaignError", "CampaignRunError"]
