"""Simulation speed of the testbench: a 16×16 INT8 weight-stationary array on a 256×256×256
GEMM, checked bit-exactly, under Verilator and under Icarus in the same run.

Prints, per simulator, the build time (apart: cached builds cost nothing), the whole run time
(simulator start, stimulus, simulation, checking), simulated cycles and MACs per second, and
the ratio of Verilator's MACs/s to Icarus's. Goal: the Verilator run under 10 s on two cores
and at least 10× Icarus. Icarus runs the same GEMM unless ``--icarus-gemm`` says otherwise
(it is two orders of magnitude slower; rates stay comparable).

    python benchmarks/sim_speed.py [--rows 16 --cols 16 --gemm 256x256x256 --icarus-gemm MxNxK]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from lowbit.commands.common import console
from lowbit.hw.verilog import generate
from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.perf import GemmShape
from lowbit.sim import runner
from lowbit.simulate import simulate


def measure(config: SystolicConfig, simulator: str, shape: GemmShape, out) -> dict:
    with out.status(f"{simulator}: building the model (cached after the first time)"):
        core = generate(config)
        build = runner.build(core.verilog, core.name, simulator)
    with out.status(f"{simulator}: simulating GEMM {shape} ({shape.macs:,} MACs)"), \
            tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        result = simulate(config, simulator=simulator, run_dir=Path(tmp), testcase="gemm_tiled",
                          options={"gemm": [shape.m, shape.n, shape.k]})
        seconds = time.monotonic() - started
    record = next((r for r in result.run.records if r.get("test") == "gemm_tiled"), {})
    return {"sim": simulator, "build_s": build.seconds, "cached": build.cached, "run_s": seconds,
            "cycles": record.get("cycles", 0), "model": record.get("model_cycles", 0),
            "macs": shape.macs, "passed": result.passed, "failures": result.run.failures,
            "gemm": shape}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=16)
    p.add_argument("--cols", type=int, default=16)
    p.add_argument("--gemm", default="256x256x256", help="MxNxK (default 256x256x256)")
    p.add_argument("--icarus-gemm", help="a smaller MxNxK for Icarus (default: the same GEMM)")
    args = p.parse_args(argv)
    out = console()
    shape = GemmShape.parse(args.gemm)
    config = SystolicConfig(rows=args.rows, cols=args.cols, dataflow="ws", a="int8", w="int8",
                            acc=32, depth=max(256, min(shape.m, 1 << 12)))
    sims = [("verilator", shape)]
    if shutil.which("iverilog"):
        sims.append(("icarus", GemmShape.parse(args.icarus_gemm) if args.icarus_gemm else shape))
    else:
        out.print("Icarus not found (apt-get install iverilog): Verilator only, no ratio")
    rows = [measure(config, sim, gemm, out) for sim, gemm in sims]

    table = Table(title=f"{config.name}: GEMM bit-exact against the golden model")
    for col in ("simulator", "GEMM", "build s", "run s", "cycles", "model", "cycles/s", "MACs/s",
                "bit-exact"):
        table.add_column(col, justify="left" if col in ("simulator", "GEMM") else "right")
    for r in rows:
        table.add_row(r["sim"], str(r["gemm"]),
                      "cached" if r["cached"] else f"{r['build_s']:.1f}", f"{r['run_s']:.2f}",
                      f"{r['cycles']:,}", f"{r['model']:,}", f"{r['cycles'] / r['run_s']:,.0f}",
                      f"{r['macs'] / r['run_s']:,.0f}", "yes" if r["passed"] else "NO")
    out.print(table)
    rate = {r["sim"]: r["macs"] / r["run_s"] for r in rows}
    if "icarus" in rate:
        ratio = rate["verilator"] / rate["icarus"]
        out.print(f"Verilator / Icarus simulated MACs per second: {ratio:.1f}x "
                  "(goal: at least 10x)")
    out.print(f"Verilator run, build excluded: {rows[0]['run_s']:.2f} s (goal: under 10 s)")
    for r in rows:
        for failure in r["failures"]:
            out.print(f"FAIL {r['sim']}: {failure}", style="red", markup=False)
    return 0 if all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
