"""dmm.Campaign: runs stored once, found again, run on Dask (a LocalCluster here), failures stored."""

from __future__ import annotations

import json
import os
import sqlite3
import sys

import pandas as pd
import pytest

import dmm
from conftest import QUICKSTART

# Tests that run scenarios are marked full_scenario (left out under the sanitizers, where they take minutes); the
# checks before anything runs are not.

# quickstart cut to 2 s: a campaign needs runs, not their story
SHORT = {"duration": "2s", "workloads.rpc.stop": "2s", "workloads.bulk.size": "200KB", "events": [], "expect": []}


def short_scenario() -> dmm.Scenario:
    return dmm.load_scenario(QUICKSTART).with_overrides(SHORT)


@pytest.fixture(scope="module")
def client():
    import distributed  # setup.sh installs it: missing, the tests fail rather than skip
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.mark.full_scenario
def test_runs_are_stored_once_and_a_reopened_campaign_runs_nothing(tmp_path, client):
    grid = {"nrd.period": ["250ms", "1s"]}
    campaign = dmm.Campaign(tmp_path / "study", scenario=short_scenario(), grid=grid, seeds=[1, 2])
    assert len(campaign.missing()) == 4
    frame = campaign.run(client=client, progress=False)
    assert len(frame) == 4 and set(frame["status"]) == {"ok"}
    assert set(frame["nrd.period"]) == {"250ms", "1s"} and set(frame["seed"]) == {1, 2}
    assert (frame["sessions"] > 0).all()
    # Each run has its folder: parameters, the results directory, meta.
    for run_id in frame["run_id"]:
        run = tmp_path / "study" / "runs" / run_id
        assert (run / "out" / "sessions.csv").exists() and (run / "out" / "summary.json").exists()
        assert json.loads((run / "meta.json").read_text())["status"] == "ok"
        assert "seed" in json.loads((run / "params.json").read_text())

    again = dmm.Campaign(tmp_path / "study", scenario=short_scenario(), grid=grid, seeds=[1, 2])
    assert again.missing().empty
    metas = sorted((tmp_path / "study" / "runs").glob("*/meta.json"))
    before = [m.stat().st_mtime_ns for m in metas]
    with sqlite3.connect(tmp_path / "study" / "index.sqlite") as db:
        rows = db.execute("SELECT * FROM runs ORDER BY run_id").fetchall()
    assert again.run(client=client, progress=False)["run_id"].tolist() == frame["run_id"].tolist()
    assert [m.stat().st_mtime_ns for m in metas] == before  # nothing ran again
    with sqlite3.connect(tmp_path / "study" / "index.sqlite") as db:
        assert db.execute("SELECT * FROM runs ORDER BY run_id").fetchall() == rows

    # A new grid point adds only its runs.
    wider = dmm.Campaign(tmp_path / "study", scenario=short_scenario(),
                         grid={"nrd.period": ["250ms", "1s", "2s"]}, seeds=[1, 2])
    assert list(wider.missing()["nrd.period"]) == ["2s", "2s"]
    assert len(wider.run(client=client, progress=False)) == 6


@pytest.mark.full_scenario
def test_a_run_on_a_worker_matches_the_same_run_here(tmp_path, client):
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.period": ["500ms"]}, seeds=[3])
    row = campaign.run(client=client, progress=False).iloc[0]
    here = short_scenario().run(seed=3, overrides={"nrd.period": "500ms"})
    assert row["sessions"] == here.summary["sessions"]["total"]
    assert row["completed"] == here.summary["sessions"]["completed"]
    ran = campaign.sessions()
    assert len(ran) == len(here.sessions)
    assert list(ran["stack"]) == list(here.sessions["stack"])
    assert list(ran.columns[:3]) == ["nrd.period", "seed", "mode"]
    metrics = campaign.metrics()
    assert len(metrics) == len(here.metrics) and set(metrics["seed"]) == {3}


@pytest.mark.full_scenario
def test_python_algorithms_defined_here_decide_on_the_workers(tmp_path, client):
    class AlwaysSlow(dmm.PolicyAlgorithm):  # travels to the workers by cloudpickle
        def decide(self, estimates, current):
            return current.reorder(lambda stack: stack != "slow")

    # Several runs per worker: each worker rebuilds the class more than once (the second rebuild once replaced
    # the registered class by an empty skeleton: decide() not implemented).
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(),
                            grid={"nrd.algorithm": ["min-rtt", "python:AlwaysSlow"], "nrd.params": [{}]},
                            seeds=[1, 2, 3])
    frame = campaign.run(client=client, progress=False)
    assert set(frame["status"]) == {"ok"}, frame["error"].dropna().tolist()
    slow = frame[frame["nrd.algorithm"] == "python:AlwaysSlow"]["share:slow"]
    fast = frame[frame["nrd.algorithm"] == "min-rtt"]["share:slow"]
    assert (slow > 0.5).all() and (fast < 0.3).all(), frame[["nrd.algorithm", "seed", "share:slow"]]


@pytest.mark.full_scenario
def test_a_failing_run_is_stored_as_failed_and_the_others_complete(tmp_path, client):
    class Broken(dmm.PolicyAlgorithm):  # travels to the workers by cloudpickle
        def decide(self, estimates, current):
            raise RuntimeError("broken on purpose")

    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(),
                            grid={"nrd.algorithm": ["min-rtt", "python:Broken"]}, seeds=[1])
    frame = campaign.run(client=client, progress=False).set_index("nrd.algorithm")
    assert frame.loc["min-rtt", "status"] == "ok"
    assert frame.loc["python:Broken", "status"] == "failed"
    assert "RuntimeError: broken on purpose" in frame.loc["python:Broken", "error"]
    assert campaign.missing().empty  # a failed run is stored, not retried on reopen
    # Its folder says why, in what the run wrote.
    broken = frame.loc["python:Broken", "run_id"]
    assert "broken on purpose" in campaign.output(broken)["stderr"]
    import subprocess
    from conftest import ROOT
    tool = os.environ.get("DMM_CAMPAIGN") or os.path.join(ROOT, "build", "bin", "dmm-campaign")
    status = subprocess.run([tool, "status", str(tmp_path / "c")], capture_output=True, text=True, timeout=60)
    lines = status.stdout.splitlines()
    assert lines[0] == "planned=2 ok=1 failed=1 missing=0" and len(lines) == 2, status.stdout
    assert lines[1].startswith("failed: nrd.algorithm=python:Broken, seed 1, sim: AlgorithmError")
    assert lines[1].endswith(f"(output: {tmp_path / 'c'}/runs/{broken}/stderr.txt)")


@pytest.mark.full_scenario
def test_what_a_run_writes_is_kept_in_its_folder_not_on_the_workers_output(tmp_path, client):
    class Chatty(dmm.PolicyAlgorithm):  # travels to the workers by cloudpickle
        def decide(self, estimates, current):
            if not getattr(self, "said", False):
                print("chatty: to sys.stdout")
                print("chatty: to sys.stderr", file=sys.stderr)
                os.write(1, b"chatty: to descriptor 1\n")  # as the simulator's C++ code and dmm-emu's programs do
                os.write(2, b"chatty: to descriptor 2\n")
                self.said = True
            return current

    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(),
                            grid={"nrd.algorithm": ["python:Chatty", "min-rtt"]}, seeds=[1, 2])
    frame = campaign.run(client=client, progress=False)
    assert set(frame["status"]) == {"ok"}, frame["error"].dropna().tolist()
    for _, row in frame.iterrows():
        output = campaign.output(row["run_id"])
        if row["nrd.algorithm"] == "python:Chatty":
            assert output["stdout"].splitlines() == ["chatty: to sys.stdout", "chatty: to descriptor 1"], output
            assert output["stderr"].splitlines() == ["chatty: to sys.stderr", "chatty: to descriptor 2"], output
        else:
            assert "chatty" not in output["stdout"] + output["stderr"]  # one run's output never lands in another's
    with pytest.raises(KeyError, match="no stored run"):
        campaign.output("0123456789abcdef")


@pytest.mark.full_scenario
def test_a_worker_with_several_threads_runs_its_runs_one_after_another(tmp_path):
    # dask-worker's default is a thread per core; the simulator runs one scenario per process at a time, so such
    # a worker once failed every run that came while another ran ("another scenario is running").
    import distributed
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as threaded:
        campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.period": ["250ms", "1s"]},
                                seeds=[1, 2])
        frame = campaign.run(client=threaded, progress=False)
    assert set(frame["status"]) == {"ok"}, frame["error"].dropna().tolist()


@pytest.mark.full_scenario
def test_progress_is_a_bar_on_stderr_counting_runs_and_failures(tmp_path, client, capsys):
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.period": ["250ms", "1s"]},
                            seeds=[1])
    campaign.run(client=client)
    err = capsys.readouterr().err
    assert f"campaign c" in err and "2/2" in err and "0 failed" in err, err


def test_comparing_needs_both_modes_of_a_grid_point_and_seed(tmp_path):
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario())
    with pytest.raises(dmm.CampaignError, match=r"no grid point and seed has both .* \(0 simulations, 0 emulations\)"):
        campaign.compare()
    import subprocess
    from conftest import ROOT
    tool = os.environ.get("DMM_CAMPAIGN") or os.path.join(ROOT, "build", "bin", "dmm-campaign")
    cli = subprocess.run([tool, "compare", str(tmp_path / "c")], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2 and "mode='emu'" in cli.stderr, cli


def test_bad_grids_fail_before_anything_runs_naming_the_key(tmp_path):
    with pytest.raises(dmm.ScenarioError, match="nrd.colour"):
        dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.colour": ["red"]})
    with pytest.raises(dmm.ScenarioError, match="nrd.period"):
        dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.period": ["fast"]})
    with pytest.raises(ValueError, match="seeds=..."):
        dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"seed": [1, 2]})
    assert not (tmp_path / "c" / "runs").exists()


def test_another_scenario_in_the_same_directory_is_refused(tmp_path):
    dmm.Campaign(tmp_path / "c", scenario=short_scenario())
    dmm.Campaign(tmp_path / "c", scenario=short_scenario())  # the same study: fine
    longer = short_scenario().with_overrides({"duration": "3s"})  # another edit of the same text
    with pytest.raises(dmm.CampaignError, match="scenario_sha256"):
        dmm.Campaign(tmp_path / "c", scenario=longer)
    changed = dmm.Scenario.from_yaml(open(QUICKSTART).read().replace("seed: 1", "seed: 7"), file=QUICKSTART)
    with pytest.raises(dmm.CampaignError, match="scenario_sha256"):
        dmm.Campaign(tmp_path / "c", scenario=changed.with_overrides(SHORT))


@pytest.mark.full_scenario
def test_summary_gives_means_with_confidence_intervals_across_seeds(tmp_path, client):
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.period": ["250ms", "1s"]},
                            seeds=[1, 2, 3])
    frame = campaign.run(client=client, progress=False)
    summary = campaign.summary(figures=["sessions", "delivered_mbps"])
    assert len(summary) == 4 and set(summary["n"]) == {3}
    row = summary[(summary["nrd.period"] == "1s") & (summary["figure"] == "sessions")].iloc[0]
    runs = frame[frame["nrd.period"] == "1s"]["sessions"]
    assert row["mean"] == pytest.approx(runs.mean())
    half = 4.302652729911275 * runs.std(ddof=1) / 3 ** 0.5  # Student's t, 2 degrees of freedom, 97.5 %
    assert row["ci95_high"] - row["mean"] == pytest.approx(half)
    array = campaign.to_xarray("sessions")
    assert dict(array.sizes) == {"nrd.period": 2, "seed": 3}
    one = frame[(frame["nrd.period"] == "1s") & (frame["seed"] == 2)]["sessions"].iloc[0]
    assert float(array.sel({"nrd.period": "1s", "seed": 2})) == float(one)
    ax = campaign.plot("delivered_mbps", x="nrd.period")
    assert ax.get_xlabel() == "nrd.period"
    with pytest.raises(KeyError, match="colour"):
        campaign.summary(by=["colour"])


@pytest.mark.full_scenario
def test_a_campaign_reopens_from_its_directory_alone(tmp_path, client):
    dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.period": ["250ms", "1s"]}, seeds=[1])
    reopened = dmm.Campaign.open(tmp_path / "c")
    assert reopened.status() == {"planned": 2, "ok": 0, "failed": 0, "missing": 2}
    assert reopened.grid == {"nrd.period": ["250ms", "1s"]} and reopened.seeds == [1]
    reopened.run(client=client, progress=False)
    assert dmm.Campaign.open(tmp_path / "c").status() == {"planned": 2, "ok": 2, "failed": 0, "missing": 0}
    with pytest.raises(dmm.CampaignError, match="not a campaign directory"):
        dmm.Campaign.open(tmp_path / "nowhere")


GRID_SHORT = [f"--grid={key}={value}" for key, value in
              {"duration": "2s", "workloads.rpc.stop": "2s", "workloads.bulk.size": "200KB", "events": "[]",
               "expect": "[]"}.items()]


@pytest.fixture
def scheduler(tmp_path):
    """A dask-scheduler and two dask-worker processes on loopback, started apart from the test process (no nanny:
    killing a worker's process kills the worker)."""
    import os
    import subprocess
    import time
    file = tmp_path / "scheduler.json"
    env = dict(os.environ)
    procs = [subprocess.Popen(["/usr/bin/dask-scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(file)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert file.exists(), "dask-scheduler did not start"
        for _ in range(2):
            procs.append(subprocess.Popen(["/usr/bin/dask-worker", "--scheduler-file", str(file), "--nthreads", "1",
                                           "--nworkers", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
                                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = json.loads(file.read_text())["address"]
        from distributed import Client
        with Client(address, timeout=30) as probe:
            probe.wait_for_workers(2, timeout=60)
        yield address, procs
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.full_scenario
def test_the_command_line_on_a_separate_scheduler_gives_the_local_clusters_results(tmp_path, client, scheduler):
    import subprocess
    from conftest import ROOT
    tool = os.path.join(ROOT, "build", "bin", "dmm-campaign") if "DMM_CAMPAIGN" not in os.environ \
        else os.environ["DMM_CAMPAIGN"]
    address, _ = scheduler
    remote = tmp_path / "remote"
    done = subprocess.run([tool, "run", str(remote), "--scenario", QUICKSTART, *GRID_SHORT,
                           "--grid=nrd.period=250ms,1s", "--seeds", "2", "--scheduler", address, "--quiet"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "4 ok, 0 failed, 0 missing of 4 planned" in done.stdout
    status = subprocess.run([tool, "status", str(remote)], capture_output=True, text=True, timeout=60)
    assert status.stdout.strip() == "planned=4 ok=4 failed=0 missing=0"

    local = dmm.Campaign(tmp_path / "local", scenario=short_scenario(), grid={"nrd.period": ["250ms", "1s"]},
                         seeds=[1, 2]).run(client=client, progress=False)
    there = dmm.Campaign.open(remote).results()
    figures = ["sessions", "completed", "failed", "delivered_mbps", "policy_versions"]
    mine = local.sort_values(["nrd.period", "seed"])[figures].reset_index(drop=True)
    theirs = there.sort_values(["nrd.period", "seed"])[figures].reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, theirs)

    csv = subprocess.run([tool, "results", str(remote), "--summary", "nrd.period"], capture_output=True, text=True,
                         timeout=60)
    assert csv.returncode == 0, csv.stderr
    assert csv.stdout.splitlines()[0].startswith("nrd.period,figure,n,mean,std,ci95_low,ci95_high")
    bad = subprocess.run([tool, "run", str(tmp_path / "bad"), "--scenario", QUICKSTART, "--grid=nrd.colour=red"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "nrd.colour" in bad.stderr


@pytest.mark.full_scenario
def test_a_worker_killed_mid_campaign_loses_no_run(tmp_path, scheduler):
    import signal
    import subprocess
    import time
    from conftest import ROOT
    tool = os.environ.get("DMM_CAMPAIGN") or os.path.join(ROOT, "build", "bin", "dmm-campaign")
    address, procs = scheduler
    directory = tmp_path / "killed"
    # Eight runs of ~0.5 s each on two workers; one worker is killed (SIGKILL: no goodbye) while they run.
    campaign = subprocess.Popen([tool, "run", str(directory), "--scenario", QUICKSTART,
                                 "--grid=duration=6s", "--grid=workloads.rpc.stop=6s", "--grid=events=[]",
                                 "--grid=expect=[]", "--seeds", "8", "--scheduler", address, "--quiet"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(directory.glob("runs/*/meta.json")):
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGKILL)
    out, err = campaign.communicate(timeout=600)
    assert campaign.returncode in (0, 1), err
    status = dmm.Campaign.open(directory).status()
    assert status["planned"] == 8 and status["missing"] == 0, status
    assert status["ok"] + status["failed"] == 8
    assert status["ok"] >= 7, status  # Dask reruns a lost worker's runs elsewhere


@pytest.mark.full_scenario  # no scenario runs, but it needs the Dask cluster, which the sanitizer builds leave out
def test_emulations_need_a_worker_offering_the_emulation_resource(tmp_path, client):
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), mode="emu")
    with pytest.raises(dmm.CampaignError, match="--resources emulation=1"):
        campaign.run(client=client, progress=False)  # the module's LocalCluster offers none
    assert campaign.status()["missing"] == 1  # nothing ran, nothing stored
    with pytest.raises(ValueError, match="'sim' or 'emu'"):
        dmm.Campaign(tmp_path / "c", scenario=short_scenario(), mode="ns3")


@pytest.mark.full_scenario
@pytest.mark.skipif(os.geteuid() != 0, reason="emulation makes network namespaces: root only")
def test_one_directory_holds_a_scenarios_simulations_and_emulations(tmp_path):
    scenario = dmm.load_scenario(QUICKSTART).with_overrides(
        {"duration": "3s", "workloads.rpc.stop": "3s", "workloads.bulk.size": "1MB",
         "topology.links.wan-a.rate": "25Mbps", "events": [], "expect": []})
    grid = {"nrd.period": ["500ms"]}
    sim = dmm.Campaign(tmp_path / "c", scenario=scenario, grid=grid, seeds=[1]).run(progress=False)
    both = dmm.Campaign(tmp_path / "c", scenario=scenario, grid=grid, seeds=[1], mode="emu").run(progress=False)
    assert len(sim) == 1 and len(both) == 2
    assert sorted(both["mode"]) == ["emu", "sim"] and set(both["status"]) == {"ok"}, both[["mode", "error"]]
    emu_run = both[both["mode"] == "emu"].iloc[0]
    assert (tmp_path / "c" / "runs" / emu_run["run_id"] / "out" / "emu.json").exists()
    assert emu_run["sessions"] > 0
    assert "mode" in dmm.Campaign.open(tmp_path / "c").summary().columns

    # The pair is judged as dmm-compare judges it; the command line says the same.
    pairs = dmm.Campaign.open(tmp_path / "c").compare()
    assert len(pairs) == 1 and pairs.iloc[0]["nrd.period"] == "500ms" and pairs.iloc[0]["seed"] == 1
    judged = pairs.iloc[0]
    assert judged["judged"] > 0 and judged["verdict"] == judged["comparison"].verdict
    assert judged["sim_run"] == sim.iloc[0]["run_id"] and judged["emu_run"] == emu_run["run_id"]
    import subprocess
    from conftest import ROOT
    tool = os.environ.get("DMM_CAMPAIGN") or os.path.join(ROOT, "build", "bin", "dmm-campaign")
    cli = subprocess.run([tool, "compare", str(tmp_path / "c")], capture_output=True, text=True, timeout=120)
    assert cli.returncode == (0 if judged["agrees"] else 1), cli.stderr
    assert cli.stdout.splitlines()[0].startswith("nrd.period,seed,verdict,agrees,judged,diverging")
    assert judged["verdict"] in cli.stdout.splitlines()[1]


@pytest.mark.full_scenario
def test_a_scenario_that_names_a_python_algorithm_itself_runs_on_the_workers(tmp_path, client):
    class SlowFirst(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            return current.reorder(lambda stack: stack != "slow")

    scenario = short_scenario().with_overrides({"nrd.algorithm": "python:SlowFirst", "nrd.params": {}})
    frame = dmm.Campaign(tmp_path / "c", scenario=scenario, seeds=[1, 2]).run(client=client, progress=False)
    assert set(frame["status"]) == {"ok"}, frame["error"].tolist()
    assert (frame["share:slow"] > 0.5).all()


@pytest.mark.full_scenario
def test_dict_and_numpy_grid_values_are_stored_reopened_and_summarised(tmp_path, client):
    import numpy as np
    grid = {"nrd.params": [{"hysteresis": 0.1}, {"hysteresis": 0.3}], "nrd.algorithm": ["min-rtt"],
            "nrd.sync_delay": ["5ms"], "topology.links.wan-a.queue": [np.int64(50)]}
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid=grid, seeds=[1, 2])
    campaign.run(client=client, progress=False)
    reopened = dmm.Campaign.open(tmp_path / "c")
    assert reopened.status() == {"planned": 4, "ok": 4, "failed": 0, "missing": 0}
    assert reopened.missing().empty  # the stored ids, not ids recomputed from sorted JSON
    summary = reopened.summary(by=["nrd.params"], figures=["sessions"])
    assert len(summary) == 2 and set(summary["n"]) == {2}
    assert "topology.links.wan-a.queue" not in set(reopened.summary(by=["nrd.params"])["figure"])  # a setting, not a figure
    assert dict(reopened.to_xarray("sessions").sizes)["seed"] == 2


@pytest.mark.full_scenario
def test_summary_keeps_failed_settings_and_only_this_objects_runs(tmp_path, client):
    class Broken(dmm.PolicyAlgorithm):
        def decide(self, estimates, current):
            raise RuntimeError("broken on purpose")

    grid = {"nrd.algorithm": ["min-rtt", "python:Broken"], "nrd.params": [{}]}
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid=grid, seeds=[1, 2])
    campaign.run(client=client, progress=False)
    other = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.period": ["2s"]}, seeds=[1])
    other.run(client=client, progress=False)
    summary = campaign.summary(by=["nrd.algorithm"], figures=["sessions"]).set_index("nrd.algorithm")
    assert summary.loc["python:Broken", "n"] == 0 and summary.loc["python:Broken", "failed_runs"] == 2
    assert summary.loc["min-rtt", "n"] == 2  # not the other object's nrd.period run
    # A failed run is stored; rerun_failed runs it again.
    before = campaign.results().set_index("run_id")["status"]
    again = campaign.run(client=client, progress=False, rerun_failed=True).set_index("run_id")
    assert (again.loc[before.index, "status"] == before).all()


def test_reading_needs_neither_the_version_nor_the_algorithms_running_does(tmp_path):
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario())
    marker = tmp_path / "c" / "campaign.json"
    identity = json.loads(marker.read_text())
    identity["dmm_version"] = "0.0.1"
    marker.write_text(json.dumps(identity))
    old = dmm.Campaign.open(tmp_path / "c")
    assert old.status()["planned"] == 1 and old.results().empty
    with pytest.raises(dmm.CampaignError, match="made by dmm 0.0.1"):
        old.run(progress=False)
    with pytest.raises(dmm.CampaignError, match="dmm_version"):
        dmm.Campaign(tmp_path / "c", scenario=short_scenario())
    del campaign


def test_one_process_at_a_time_runs_a_directory(tmp_path):
    from dmm import _campaign
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario())
    held = _campaign._lock(tmp_path / "c")
    try:
        with pytest.raises(dmm.CampaignError, match="another process is running"):
            campaign.run(progress=False)
    finally:
        held.close()


def test_the_command_line_refuses_an_empty_seed_range(tmp_path):
    import subprocess
    from conftest import ROOT
    tool = os.environ.get("DMM_CAMPAIGN") or os.path.join(ROOT, "build", "bin", "dmm-campaign")
    for seeds in ("5-3", "0", "x"):
        done = subprocess.run([tool, "run", str(tmp_path / "c"), "--scenario", QUICKSTART, "--seeds", seeds],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "--seeds" in done.stderr, (seeds, done.stderr)
    assert not (tmp_path / "c").exists()
