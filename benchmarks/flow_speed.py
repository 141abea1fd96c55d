"""Speed of the FPGA flow's sweeps: cold vs warm (the cache), and 1 vs 2 worker processes.

A sweep of 8 small MAC configs, out of context on one device, is run three times through the
`lowbit sweep` command, as a user runs it (process start-up, imports and the compare table
included):

1. cold, 2 workers — an empty cache: every point generates, synthesizes, places and routes;
2. warm, 2 workers — the same sweep again: every point comes from the cache (goal: < 5 % of 1);
3. cold, 1 worker  — an empty cache again, to show what the second process buys.

The YoWASP tools' own one-time compilation (~/.cache/yowasp) is outside Lowbit's cache and is
assumed done (run `lowbit doctor` once). Usage: python benchmarks/flow_speed.py [--device D]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

SWEEP = """kind = "mac"
devices = ["{device}"]

[base]
acc = 20

[grid]
a = ["int2", "int4", "int6", "int8"]
w = ["int2", "uint4"]
"""


def timed_sweep(sweep: Path, out: Path, cache: Path, workers: int) -> float:
    env = {**os.environ, "LOWBIT_CACHE": str(cache)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lowbit.cli", "sweep", str(sweep), "-o",
                           str(out), "-j", str(workers)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"sweep failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="ice40-up5k", help="device (default: ice40-up5k)")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="lowbit-flow-speed-") as tmp:
        tmp = Path(tmp)
        sweep = tmp / "bench.toml"
        sweep.write_text(SWEEP.format(device=args.device))
        points = 8
        console.print(f"sweep of {points} MAC configs out of context on {args.device}, "
                      f"{os.cpu_count()} CPUs")
        with console.status("cold, 2 workers"):
            cold2 = timed_sweep(sweep, tmp / "out-a", tmp / "cache-a", 2)
        with console.status("warm, 2 workers"):
            warm2 = timed_sweep(sweep, tmp / "out-a", tmp / "cache-a", 2)
        with console.status("cold, 1 worker"):
            cold1 = timed_sweep(sweep, tmp / "out-b", tmp / "cache-b", 1)

    table = Table(title="lowbit sweep wall time")
    for col in ("run", "workers", "wall s", "s per point", "ratio"):
        table.add_column(col, justify="left" if col == "run" else "right")
    table.add_row("cold", "2", f"{cold2:.2f}", f"{cold2 / points:.2f}", "1 (reference)")
    table.add_row("warm", "2", f"{warm2:.2f}", f"{warm2 / points:.3f}",
                  f"{warm2 / cold2:.1%} of cold (goal < 5%)")
    table.add_row("cold", "1", f"{cold1:.2f}", f"{cold1 / points:.2f}",
                  f"{cold1 / cold2:.2f}× the 2-worker time")
    console.print(table)
    verdict = "met" if warm2 / cold2 < 0.05 else "NOT met"
    console.print(f"warm/cold = {warm2 / cold2:.1%}: goal {verdict}; "
                  f"2 workers are {cold1 / cold2:.2f}× faster than 1")


if __name__ == "__main__":
    main()
