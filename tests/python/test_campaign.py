"""dmm.Campaign: runs stored once, found again, run on Dask (a LocalCluster here), failures stored."""

from __future__ import annotations

import json
import sqlite3

import pytest

import dmm
from conftest import QUICKSTART

pytestmark = pytest.mark.full_scenario

# quickstart cut to 2 s: a campaign needs runs, not their story
SHORT = {"duration": "2s", "workloads.rpc.stop": "2s", "workloads.bulk.size": "200KB", "events": [], "expect": []}


def short_scenario() -> dmm.Scenario:
    return dmm.load_scenario(QUICKSTART).with_overrides(SHORT)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


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


def test_a_run_on_a_worker_matches_the_same_run_here(tmp_path, client):
    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(), grid={"nrd.period": ["500ms"]}, seeds=[3])
    row = campaign.run(client=client, progress=False).iloc[0]
    here = short_scenario().run(seed=3, overrides={"nrd.period": "500ms"})
    assert row["sessions"] == here.summary["sessions"]["total"]
    assert row["completed"] == here.summary["sessions"]["completed"]
    ran = campaign.sessions()
    assert len(ran) == len(here.sessions)
    assert list(ran["stack"]) == list(here.sessions["stack"])


def test_a_failing_run_is_stored_as_failed_and_the_others_complete(tmp_path, client):
    class Broken(dmm.PolicyAlgorithm):  # travels to the workers by cloudpickle
        def decide(self, estimates, current):
            raise RuntimeError("broken on purpose")

    campaign = dmm.Campaign(tmp_path / "c", scenario=short_scenario(),
                            grid={"nrd.algorithm": ["min-rtt", "python:Broken"]}, seeds=[1])
    frame = campaign.run(client=client, progress=False).set_index("nrd.algorithm")
    assert frame.loc["min-rtt", "status"] == "ok"
    assert frame.loc["python:Broken", "status"] == "failed"
    assert "broken on purpose" in frame.loc["python:Broken", "error"] or "Broken" in frame.loc["python:Broken", "error"]
    assert campaign.missing().empty  # a failed run is stored, not retried on reopen


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
