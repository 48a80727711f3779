#!/usr/bin/python3
"""How dmm-sim's wall time grows with the number of sessions: the site scenario (scenarios/make_site.py: 100
clients, two paths each, probes every 250 ms, 60 s simulated) at per-client rates that make about 1k, 3k, 10k,
30k and 100k sessions. Prints wall time, events/s, and the marginal wall time per extra session between
neighbouring points: constant marginal cost = linear growth (the fixed part, probes and nRD, is the same in
every run). The figures of the README's curve come from this script.

    /usr/bin/python3 sim/bench/session_curve.py [--dmm-sim build/bin/dmm-sim] [--points 1000,10000] [--json F]
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "scenarios"))
import make_site  # noqa: E402

CLIENTS = 100
DURATION_S = 60


def run(dmm_sim: str, sessions: int, workdir: pathlib.Path) -> dict:
    rate = sessions / (CLIENTS * DURATION_S)
    scenario = workdir / f"site-{sessions}.yaml"
    scenario.write_text(make_site.site(CLIENTS, f"{rate:.4f}/s", f"{DURATION_S}s", "250ms"))
    out = workdir / f"out-{sessions}"
    # Exit 1 (an expectation failed) is a result, not an error: at the lowest rates c1 has too few sessions for
    # its share expectations to mean much. Anything else is.
    done = subprocess.run([dmm_sim, str(scenario), "--out", str(out), "--quiet"], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        sys.exit(f"dmm-sim failed on {scenario} (exit {done.returncode}):\n{done.stderr}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "target_sessions": sessions,
        "sessions": summary["sessions"]["total"],
        "completed": summary["sessions"]["completed"],
        "wall_s": summary["timing"]["wall_s"],
        "events": summary["sim_events"],
        "events_per_s": summary["timing"]["events_per_wall_s"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dmm-sim", default=str(HERE.parent.parent / "build/bin/dmm-sim"))
    p.add_argument("--points", default="1000,3000,10000,30000,100000", help="sessions per run, comma-separated")
    p.add_argument("--json", help="also write the figures to this file")
    a = p.parse_args()
    points = sorted(int(x) for x in a.points.split(","))
    rows = []
    with tempfile.TemporaryDirectory(prefix="dmm-curve-") as tmp:
        for n in points:
            rows.append(run(a.dmm_sim, n, pathlib.Path(tmp)))
            r = rows[-1]
            print(f"  {r['sessions']:>7} sessions  {r['wall_s']:7.2f} s wall  {r['events']:>10} events  "
                  f"{r['events_per_s']:>9.0f} events/s", flush=True)
    print(f"\nsite scenario, {CLIENTS} clients, {DURATION_S} s simulated, probes every 250 ms")
    print(f"{'sessions':>9} {'completed':>9} {'wall s':>8} {'events/s':>10} {'marginal us/session':>20}")
    for i, r in enumerate(rows):
        marginal = ""
        if i > 0:
            prev = rows[i - 1]
            marginal = f"{1e6 * (r['wall_s'] - prev['wall_s']) / (r['sessions'] - prev['sessions']):.0f}"
        print(f"{r['sessions']:>9} {r['completed']:>9} {r['wall_s']:>8.2f} {r['events_per_s']:>10.0f} {marginal:>20}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last["wall_s"] / first["wall_s"]
        print(f"\n{last['sessions'] / first['sessions']:.0f}x the sessions took {growth:.1f}x the wall time")
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
