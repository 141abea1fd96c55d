"""``lowbit simulate KIND ...``: build (cached) and run the core's cocotb testbench."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rich.table import Table

from lowbit.commands.common import add_core_verb, config_from_args, console, seed
from lowbit.errors import SimulationError, UsageError
from lowbit.models.perf import GemmShape
from lowbit.registry import get_kind
from lowbit.sim.bench import MAX_CYCLES
from lowbit.sim.runner import CLOCK_PERIOD_NS, SIMULATORS
from lowbit.simulate import Simulation, simulate


def register(verbs) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--sim", choices=tuple(SIMULATORS), default="verilator",
                       help="simulator (default: verilator)")
        p.add_argument("--waves", action="store_true",
                       help="dump waveforms into the run directory and print the path (FST; "
                            "VCD under Verilator when lz4.h is not installed)")
        p.add_argument("--gemm", metavar="MxNxK", help="GEMM shape the full-rate test runs")
        p.add_argument("--seed", type=seed, default=1, help="random seed (default: 1)")
        p.add_argument("--test", metavar="NAME", help="run only the testbench test NAME "
                       "(names separated by commas for several)")
        p.add_argument("--run-dir", metavar="DIR",
                       help="where the log, results and waves go "
                            "(default: lowbit-out/<name>/sim-<sim>)")
    add_core_verb(verbs, "simulate", "simulate a core against its golden model", run, extra)


def run(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    options = {}
    if args.gemm:
        shape = GemmShape.parse(args.gemm)
        config.check_gemm(shape)
        perf = get_kind(config.KIND).perf_model(config)
        # the peak rate bounds the cycles without walking a huge GEMM's runs one by one
        bound = math.ceil(shape.macs / perf.peak_macs_per_cycle)
        cycles = bound if bound > MAX_CYCLES else perf.gemm_cycles(shape)
        if cycles > MAX_CYCLES:
            raise UsageError(f"--gemm {shape} takes at least {cycles:,} cycles by the "
                             f"performance model; a simulated GEMM may take at most "
                             f"{MAX_CYCLES:,}")
        options["gemm"] = [shape.m, shape.n, shape.k]
    out = console()
    with out.status("starting") as status:
        result = simulate(config, simulator=args.sim, waves=args.waves,
                          run_dir=Path(args.run_dir) if args.run_dir else None, seed=args.seed,
                          options=options, testcase=args.test, progress=status.update)
    report(result)
    if not result.passed:
        raise SimulationError(
            f"{len(result.run.failures)} of {len(result.run.outcomes)} tests failed against the "
            f"golden model; full log: {result.run.log}")
    return 0


#: the two cycle counts ``lowbit simulate`` prints, and what each counts
SIM_CYCLES = "sim cycles"
GEMM_CYCLES = "GEMM cycles"
CYCLES_LEGEND = (f"{SIM_CYCLES}: clock cycles each whole test simulated (reset, setup and every "
                 f"GEMM it ran); {GEMM_CYCLES}: from the clock edge of a GEMM's first input "
                 "handshake to that of its last result handshake, both counted — what the "
                 "performance model predicts")


def report(result: Simulation) -> None:
    """The summary table of a simulation: tests, cycles, speed, and measured vs modelled cycles."""
    out = console()
    run, build = result.run, result.build
    if build.cached:
        out.print(f"build: cached {build.simulator} model, not rebuilt ({build.path})")
    else:
        out.print(f"build: compiled {build.simulator} model in {build.seconds:.1f} s "
                  f"({build.path})")
    table = Table(title=f"{result.core.name} on {build.simulator}")
    for col in ("test", "result", SIM_CYCLES, "wall s", "cycles/s"):
        table.add_column(col, justify="left" if col in ("test", "result") else "right")
    for o in run.outcomes:
        cycles = int(o.sim_time_ns // CLOCK_PERIOD_NS)
        rate = f"{cycles / o.real_time_s:,.0f}" if o.real_time_s > 0 else "-"
        table.add_row(o.name, "[green]pass[/]" if o.passed else "[red]FAIL[/]", f"{cycles:,}",
                      f"{o.real_time_s:.2f}", rate)
    wall = sum(o.real_time_s for o in run.outcomes)
    table.add_row(f"{len(run.outcomes)} tests", f"{sum(o.passed for o in run.outcomes)} passed",
                  f"{run.cycles:,}", f"{wall:.2f}", f"{run.cycles / wall:,.0f}" if wall else "-",
                  style="bold")
    out.print(table)
    out.print(CYCLES_LEGEND)
    for rec in run.records:
        if "model_cycles" in rec:
            ratio = rec["cycles"] / rec["model_cycles"]
            util = rec.get("utilization")
            out.print(f"{rec['test']}: GEMM {rec.get('gemm', '?')} took {rec['cycles']:,} "
                      f"{GEMM_CYCLES}, "
                      f"model {rec['model_cycles']:,} (measured/model {ratio:.3f})"
                      + (f", utilization {util:.1%}" if util is not None else ""))
    for failure in run.failures:
        out.print(f"FAIL {failure}", style="red", markup=False, soft_wrap=True)
    if run.waves:
        out.print(f"waves: {run.waves}")
    out.print(f"log: {run.log}")
