#!/usr/bin/python3
"""How much dmm-emu's link emulator carries on this machine while the run stays valid (emu.json), and what it
costs: one bulk-saturated link at increasing rates, then an increasing number of links each carrying a bulk
transfer. Prints one row per run: rate or link count, valid, carried Mbit/s, lateness p50/p99, worst rate error,
emulator CPU (share of one core) and per 100 Mbit/s carried, machine CPU idle, frames dropped before the emulator.

    sudo backends/emu/bench/emu_capacity.py [--emu build/bin/dmm-emu] [--rates 100,200,400] [--links 1,2,4,8]

Takes about 10 s per run. Measure on an otherwise idle machine: the run itself is the load being measured."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_EMU = os.path.join(HERE, "..", "..", "..", "build", "bin", "dmm-emu")


def scenario(links: int, rate_mbps: float, seconds: int = 8) -> str:
    """`links` parallel links client-server, each with a kernel stack and a bulk transfer that keeps it
    saturated from 1 s to the end."""
    size_mb = int(rate_mbps * seconds / 8 * 2)  # twice what the link carries: it never finishes early
    lines = [f"name: emu-capacity-{links}x{rate_mbps:g}", "seed: 1", f"duration: {seconds}s", "topology:",
             "  nodes: [client, server]", "  links:"]
    lines += [f"    - {{name: l{i}, between: [client, server], rate: {rate_mbps:g}Mbps, delay: 10ms, queue: 200}}"
              for i in range(links)]
    lines += ["stacks:"]
    lines += [f"  - {{name: s{i}, node: client, kind: kernel, link: l{i}, tcp: cubic}}" for i in range(links)]
    lines += ["nrd: {algorithm: static, period: 500ms}", "policy:"]
    lines += [f"  - {{match: {{port: {5000 + i}}}, use: [s{i}]}}" for i in range(links)]
    lines += ["workloads:"]
    lines += [f"  - {{name: bulk{i}, kind: bulk, from: client, to: server, port: {5000 + i}, start: 1s, "
              f"size: {size_mb}MB}}" for i in range(links)]
    lines += ["expect: []"]
    return "\n".join(lines) + "\n"


def run(emu: str, links: int, rate_mbps: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="dmm-emu-capacity-") as tmp:
        path = os.path.join(tmp, "scenario.yaml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(scenario(links, rate_mbps))
        out = os.path.join(tmp, "out")
        done = subprocess.run([emu, path, "--out", out, "--quiet"], capture_output=True, text=True, timeout=300)
        if not os.path.exists(os.path.join(out, "emu.json")):
            raise SystemExit(f"dmm-emu failed (exit {done.returncode}): {done.stderr.strip()}")
        with open(os.path.join(out, "emu.json"), encoding="utf-8") as handle:
            return json.load(handle)


def row(label: str, fidelity: dict) -> str:
    e = fidelity["emulator"]
    errors = [d["rate_error"] for link in fidelity["links"] for key, d in link.items()
              if "->" in key and d["rate_error"] is not None]
    worst = min(errors) if errors else None
    per100 = e["cpu_share_per_100_mbps"]
    dropped = sum(d["packets_dropped_before_emulator"] for link in fidelity["links"] for key, d in link.items()
                  if "->" in key)
    return (f"{label:>14}  {'valid' if fidelity['valid'] else 'INVALID':>7}  {e['carried_mbps']:9.1f}  "
            f"{e['lateness_p50_ms']:7.2f}  {e['lateness_p99_ms']:8.2f}  "
            f"{'-' if worst is None else f'{worst * 100:+.2f} %':>10}  {e['cpu_share']:6.2f}  "
            f"{'-' if per100 is None else f'{per100:.3f}':>9}  {fidelity['cpu_idle']:5.2f}  {dropped:8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emu", default=DEFAULT_EMU)
    parser.add_argument("--rates", default="100,200,300,400,600", help="Mbit/s of the one-link runs")
    parser.add_argument("--links", default="1,2,4,8,16", help="link counts of the many-link runs (50 Mbit/s each)")
    parser.add_argument("--link-rate", type=float, default=50.0)
    args = parser.parse_args()
    print(f"{'run':>14}  {'verdict':>7}  {'carried':>9}  {'p50 ms':>7}  {'p99 ms':>8}  {'rate err':>10}  "
          f"{'cpu':>6}  {'cpu/100M':>9}  {'idle':>5}  {'dropped':>8}")
    for rate in [float(r) for r in args.rates.split(",") if r]:
        print(row(f"1 x {rate:g} Mbit/s", run(args.emu, 1, rate)), flush=True)
    for links in [int(n) for n in args.links.split(",") if n]:
        print(row(f"{links} x {args.link_rate:g} Mbit/s", run(args.emu, links, args.link_rate)), flush=True)


if __name__ == "__main__":
    main()
