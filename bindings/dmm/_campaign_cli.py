"""dmm-campaign: campaigns (dmm.Campaign) from a shell, with the same store.

    dmm-campaign run DIR --scenario PATH [--grid KEY=V1,V2 ...] [--seeds 5 | 1,2,7 | 3-9] [--mode sim|emu]
                 [--scheduler tcp://HOST:8786] [--retries N] [--quiet]
    dmm-campaign status DIR
    dmm-campaign results DIR [--csv FILE] [--summary KEY[,KEY...]]
    dmm-campaign compare DIR [--tolerance KEY=VALUE ...] [--csv FILE]

`run` plans the grid's runs (every KEY=value combination, each with every seed) in DIR and runs the ones not
stored yet: on this machine (a Dask LocalCluster) or on the Dask scheduler given. Without --scenario, DIR must be
a campaign already: its planned runs are run. Exit codes: 0 ok, 1 some runs failed (stored as failed), 2 bad
input (grid key or value, not a campaign directory, another scenario in DIR), 3 the run could not proceed.
`status` lists the failed runs with the file that holds what each wrote. `compare` judges each simulation against
the emulation of the same grid point and seed, as dmm-compare does: exit 0 when every pair agrees, 1 when some
pair diverges (or its emulation is invalid), 2 when there is nothing to compare or a tolerance is bad.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from ._campaign import Campaign, CampaignError, CampaignRunError
from .errors import Error, ScenarioError


def _seeds(text: str) -> list[int]:
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",")]
        elif "-" in text:
            first, last = (int(s) for s in text.split("-", 1))
            seeds = list(range(first, last + 1))
        else:
            seeds = list(range(1, int(text) + 1))
        if seeds:
            return seeds
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds {text!r}: give a count (5), a list (1,2,7) or a range (3-9)")
    raise argparse.ArgumentTypeError(f"--seeds {text!r} names no seed")


def _grid(items: list[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key or not values:
            raise argparse.ArgumentTypeError(f"--grid {item!r}: expected KEY=VALUE[,VALUE...]")
        grid.setdefault(key, []).extend(values.split(","))
    return grid


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dmm-campaign", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="plan and run the missing runs")
    run.add_argument("directory")
    run.add_argument("--scenario", help="the scenario file (required for a new campaign)")
    run.add_argument("--grid", action="append", default=[], help="KEY=V1,V2: a --set key and its values")
    run.add_argument("--seeds", type=_seeds, default=None, help="5 (= 1..5), 1,2,7 or 3-9 (default: 1)")
    run.add_argument("--mode", choices=["sim", "emu"], default="sim",
                     help="sim: dmm-sim; emu: dmm-emu on real stacks (root; workers with --resources emulation=1)")
    run.add_argument("--scheduler", help="a Dask scheduler's address (default: a LocalCluster of this machine)")
    run.add_argument("--retries", type=int, default=0, help="retries of a run whose worker died")
    run.add_argument("--rerun-failed", action="store_true", help="run the runs stored as failed again")
    run.add_argument("--quiet", action="store_true", help="no progress line")
    status = sub.add_parser("status", help="planned, finished, failed and missing runs")
    status.add_argument("directory")
    results = sub.add_parser("results", help="one row per stored run (CSV), or means with 95 %% intervals")
    results.add_argument("directory")
    results.add_argument("--csv", help="write to this file instead of standard output")
    results.add_argument("--summary", help="KEY[,KEY...]: group by these grid keys, mean and 95 %% CI over seeds")
    compare = sub.add_parser("compare", help="each simulation against the emulation of the same grid point and seed")
    compare.add_argument("directory")
    compare.add_argument("--tolerance", action="append", default=[],
                         help="KEY=VALUE as dmm-compare takes it (goodput=15%%, share=0.2, switch_time=2period)")
    compare.add_argument("--csv", help="write the table to this file instead of standard output")
    return p


def _status(campaign: Campaign, directory: str) -> None:
    status = campaign.status()
    print(" ".join(f"{key}={value}" for key, value in status.items()))
    frame = campaign.results()
    failed = frame[frame["status"] != "ok"] if not frame.empty else frame
    shown = 10
    for _, row in failed.head(shown).iterrows():
        point = ", ".join(f"{key}={row[key]}" for key in frame.attrs.get("point_keys", []) if pd.notna(row[key]))
        print(f"failed: {point or '(no grid keys)'}, seed {row['seed']}, {row['mode']}: {row['error']} "
              f"(output: {directory}/runs/{row['run_id']}/stderr.txt)")
    if len(failed) > shown:
        print(f"... and {len(failed) - shown} more failed runs (dmm-campaign results {directory})")


def _compare(campaign: Campaign, args) -> int:
    frame = campaign.compare(tolerances=args.tolerance or None)
    table = frame.drop(columns=["comparison"])
    if args.csv:
        table.to_csv(args.csv, index=False)
    else:
        print(table.to_csv(index=False), end="")
    return 0 if frame["agrees"].all() else 1


def main(argv: list[str]) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 0 if exit_.code == 0 else 2
    try:
        if args.command == "run":
            if args.scenario:
                campaign = Campaign(args.directory, scenario=args.scenario, grid=_grid(args.grid),
                                    seeds=args.seeds or [1], mode=args.mode)
            else:
                if args.grid or args.seeds is not None or args.mode != "sim":
                    parser.error("--grid, --seeds and --mode need --scenario (the campaign's scenario file)")
                campaign = Campaign.open(args.directory)
            client = None
            if args.scheduler:
                from distributed import Client
                client = Client(args.scheduler)
            try:
                frame = campaign.run(client=client, retries=args.retries, progress=not args.quiet,
                                     rerun_failed=args.rerun_failed)
            finally:
                if client is not None:
                    client.close()
            status = campaign.status()
            print(f"{args.directory}: {status['ok']} ok, {status['failed']} failed, {status['missing']} missing "
                  f"of {status['planned']} planned")
            return 1 if not frame.empty and (frame["status"] != "ok").any() else 0
        campaign = Campaign.open(args.directory)
        if args.command == "status":
            _status(campaign, args.directory)
            return 0
        if args.command == "compare":
            return _compare(campaign, args)
        frame = campaign.summary(by=args.summary.split(",")) if args.summary else campaign.results()
        if args.csv:
            frame.to_csv(args.csv, index=False)
        else:
            with pd.option_context("display.max_rows", None, "display.max_columns", None, "display.width", 200):
                print(frame.to_csv(index=False), end="")
        return 0
    except CampaignRunError as err:
        print(f"dmm-campaign: {err}", file=sys.stderr)
        return 3
    except (ScenarioError, CampaignError, ValueError, TypeError, KeyError, argparse.ArgumentTypeError) as err:
        print(f"dmm-campaign: {err}", file=sys.stderr)
        return 2
    except (Error, OSError) as err:
        print(f"dmm-campaign: {err}", file=sys.stderr)
        return 3
