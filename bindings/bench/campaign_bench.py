#!/usr/bin/python3
"""Campaign throughput: N quickstart runs (seeds 1..N) one after another in this process (the baseline), then as
a dmm.Campaign on a Dask LocalCluster of one worker (what Dask and the store add per run) and of one worker per
CPU (runs per minute). Each campaign uses a fresh directory; the cluster's start-up is timed apart.

    PYTHONPATH=build/python /usr/bin/python3 bindings/bench/campaign_bench.py [--runs 12] [--scenario PATH]
"""
import argparse
import os
import pathlib
import tempfile
import time

import dmm

ROOT = pathlib.Path(__file__).resolve().parents[2]


def campaign_run(scenario, seeds, workers, directory):
    from distributed import Client, LocalCluster
    started = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    ready = time.perf_counter()
    frame = dmm.Campaign(directory, scenario=scenario, seeds=seeds).run(client=client, progress=False)
    finished = time.perf_counter()
    client.close()
    cluster.close()
    assert (frame["status"] == "ok").all(), frame[["seed", "status", "error"]]
    return ready - started, finished - ready


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=12)
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "quickstart.yaml"))
    a = p.parse_args()
    scenario = dmm.load_scenario(a.scenario)
    seeds = list(range(1, a.runs + 1))

    started = time.perf_counter()
    for seed in seeds:
        scenario.run(seed=seed)
    sequential = time.perf_counter() - started

    cpus = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="dmm-campaign-bench-") as tmp:
        start1, one = campaign_run(scenario, seeds, 1, pathlib.Path(tmp) / "one")
        startn, many = campaign_run(scenario, seeds, cpus, pathlib.Path(tmp) / "many")
    per_minute = lambda wall: 60 * a.runs / wall  # noqa: E731
    print(f"{a.runs} runs of {pathlib.Path(a.scenario).name}")
    print(f"  {'how':<38} {'wall s':>8} {'runs/min':>9} {'vs one after another':>21}")
    print(f"  {'one after another, this process':<38} {sequential:8.2f} {per_minute(sequential):9.1f} {1:21.2f}")
    print(f"  {'campaign, LocalCluster of 1 worker':<38} {one:8.2f} {per_minute(one):9.1f} {sequential / one:21.2f}")
    print(f"  {f'campaign, LocalCluster of {cpus} workers':<38} {many:8.2f} {per_minute(many):9.1f} "
          f"{sequential / many:21.2f}")
    print(f"  Dask and the store add {1000 * (one - sequential) / a.runs:.0f} ms per run (1 worker); "
          f"a LocalCluster starts in {start1:.1f} s (1 worker), {startn:.1f} s ({cpus} workers)")


if __name__ == "__main__":
    main()
