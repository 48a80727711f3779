#!/usr/bin/python3
"""dmm-compare: where simulation and emulation of the same scenario agree and where they part (DESIGN.md §2.6).

    dmm-compare SIM_DIR EMU_DIR... [--json] [--plot] [--out DIR] [--tolerance key=value ...] [--version]

SIM_DIR is dmm-sim's results directory, each EMU_DIR one dmm-emu run of the same scenario (several: repeats,
judged with their 95 % interval). Prints a table (figure, sim, emu, error, tolerance, verdict), nRD's estimates side
by side, and the verdict; `--json` prints a JSON document with every figure instead. `--plot` writes
session_share.png, goodput.png and nrd_estimates.png into `--out` (default EMU_DIR/compare/, the first EMU_DIR).
Tolerances (`--tolerance key=value`, repeated or listed): goodput=0.1 and completion=0.1 (relative, or `10%`),
share=0.1 (absolute), switch_time=1period (or seconds: `0.5`, `500ms`), agreement=F (judge decision agreement:
at least this fraction of bins; not judged by default). Definitions: analysis/compare.py.

Exit codes: 0 agree, 1 diverge (or an emulation run says it was invalid), 2 bad input (a missing or unreadable
directory, one that is not a results directory, results of two different scenarios, a bad tolerance, an --out
that cannot be written), 3 an unexpected failure (a bug: the traceback is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback

if __package__:  # imported as dmm.analysis.dmm_compare
    from . import compare as comparing
else:  # run as a script (the dmm-compare wrapper), or imported from the analysis directory
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import compare as comparing  # noqa: E402

EXIT_AGREE, EXIT_DIVERGE, EXIT_BAD_INPUT, EXIT_FAILURE = 0, 1, 2, 3
PROG = "dmm-compare"


def version() -> str:
    """The project's version: given by the build's wrapper (DMM_VERSION), else read from the source tree's
    CMakeLists.txt when run from a checkout."""
    given = os.environ.get("DMM_VERSION")
    if given:
        return given
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "CMakeLists.txt")
    try:
        with open(top, encoding="utf-8") as handle:
            if match := re.search(r"project\(\s*dmm\s+VERSION\s+([0-9.]+)", handle.read()):
                return match.group(1)
    except OSError:
        pass
    return "unknown"


class UsageError(Exception):
    """Bad usage: argparse's message, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse prints usage and exits; the caller decides instead
        raise UsageError(message)


def argument_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="Where simulation and emulation of the same scenario agree and where "
                                           "they part. Exit 0 agree, 1 diverge, 2 bad input.")
    parser.add_argument("sim_dir", metavar="SIM_DIR", help="dmm-sim's results directory")
    parser.add_argument("emu_dirs", metavar="EMU_DIR", nargs="+",
                        help="dmm-emu's results directory (several: repeated runs)")
    parser.add_argument("--json", action="store_true", help="print every figure as one JSON document")
    parser.add_argument("--plot", action="store_true", help="write comparison PNGs into --out")
    parser.add_argument("--out", metavar="DIR", help="where --plot writes (default: EMU_DIR/compare/)")
    parser.add_argument("--tolerance", metavar="KEY=VALUE", action="extend", nargs="+", default=[],
                        help="goodput, completion (relative: 0.1 or 10%%), share (absolute), switch_time (seconds "
                             "or Nperiod), agreement (least fraction; judges decision agreement)")
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    return parser


def plot_dir(args) -> str:
    return args.out if args.out else os.path.join(args.emu_dirs[0], "compare")


def check_writable(directory: str) -> None:
    """Bad input, before anything is computed, when the plots could not be written there: the directory (or
    the nearest existing parent it would be made in) must be a writable directory."""
    existing = os.path.abspath(directory)
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise comparing.CompareInputError(f"--out {directory}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise comparing.CompareInputError(f"--out {directory}: {existing} is not writable")


def emit(text: str, stream) -> None:
    """Print, surviving a reader that went away (`dmm-compare ... | head`): the exit code still says the verdict."""
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        # Python would report the failed flush at exit: point the stream at /dev/null instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def run(argv) -> int:
    args = argument_parser().parse_intermixed_args(argv)
    tolerances = comparing.parse_tolerances(args.tolerance)
    if args.plot:
        check_writable(plot_dir(args))
    result = comparing.compare(args.sim_dir, args.emu_dirs, tolerances)
    if args.json:
        emit(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False), sys.stdout)
    else:
        emit(result.report(), sys.stdout)
    if args.plot:
        written = result.plot(plot_dir(args))
        # With --json stdout is the document alone; the files go to stderr.
        stream = sys.stderr if args.json else sys.stdout
        for path in written:
            emit(f"wrote {path}", stream)
    return EXIT_AGREE if result.agrees else EXIT_DIVERGE


def main(argv=None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv)
    except UsageError as err:
        print(f"{PROG}: {err}\n{argument_parser().format_usage().rstrip()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except comparing.CompareInputError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:  # noqa: BLE001 - a bug: show it, but never as exit 1 (that means "diverge")
        traceback.print_exc()
        print(f"{PROG}: unexpected failure (a bug in dmm-compare)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
