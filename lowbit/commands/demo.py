"""``lowbit demo``: the main job end to end on one small core, as the README's quick start runs it.

Generates an INT8×INT4 MAC, simulates it against the golden model under Verilator, prints what
the performance model says about it, and ends with its synthesis report: the MAC implemented
out of context on an iCE40 UP5K (Yosys + nextpnr), area and Fmax.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lowbit.boards.steps import Target
from lowbit.commands.common import console
from lowbit.commands.simulate import report
from lowbit.commands.synth import summary
from lowbit.errors import SimulationError
from lowbit.flow import implement
from lowbit.models.perf import GemmShape
from lowbit.registry import get_kind
from lowbit.simulate import simulate


def register(verbs) -> None:
    p = verbs.add_parser("demo", help="generate, simulate and synthesize an INT8×INT4 MAC",
                         description="Run Lowbit's main job end to end on a small core.")
    p.add_argument("-o", "--out", metavar="DIR", default="lowbit-out/demo",
                   help="where the Verilog, manifest and simulation files go")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = console()
    kind = get_kind("mac")
    config = kind.config.from_dict({"a": "int8", "w": "int4", "acc": 24})
    out_dir = Path(args.out)

    out.rule("1. generate")
    with out.status("generating") as status:
        result = simulate(config, run_dir=out_dir / "sim", progress=status.update)
    v_path, m_path = result.core.write(out_dir)
    out.print(f"{config.name}: {v_path} and {m_path}")

    out.rule("2. simulate against the golden model")
    report(result)
    if not result.passed:
        raise SimulationError(f"the demo core failed its testbench; log: {result.run.log}")

    out.rule("3. performance model")
    perf = kind.perf_model(config)
    shape = GemmShape(64, 64, 64)
    out.print(f"peak {perf.peak_macs_per_cycle:g} MAC/cycle; a {shape} GEMM takes "
              f"{perf.gemm_cycles(shape):,} cycles; {perf.storage_bits} bits of registers")

    out.rule("4. synthesis report (out of context, iCE40 UP5K)")
    with out.status("implementing") as status:
        impl = implement(config, Target.parse(device="ice40-up5k"), out=out_dir / "synth",
                         progress=status.update)
    summary(impl)
    out.print("[green]demo passed[/]")
    return 0
