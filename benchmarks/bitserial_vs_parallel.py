"""Bit-serial against bit-parallel on ECP5-85F: W ∈ {1, 2, 4, 8} weight bits at A = 8 bits.

One bit-serial array (``bitserial``, w-serial, weights up to 8 bits chosen at run time, so one
build serves every W) against an output-stationary ``systolic`` array of similar LUT budget
built for each W (int8 × intW multipliers). Both go through lowbit's flow out of context
(Yosys + nextpnr, cached by content hash; points run in parallel through the sweep machinery).
First a 4×4 systolic array per W measures LUTs per PE; then the array whose PE count matches
the bit-serial array's LUTs is implemented and compared. Printed per W, side by side::

    effective GMAC/s = MACs per cycle at W bits × Fmax / 1000
                       (bit-serial: lanes·cols / W; systolic: rows·cols)
    GMAC/s per kLUT  = GMAC/s / (LUTs / 1000)

with the ratio bit-serial / bit-parallel. DSP blocks are listed: Yosys maps the systolic
multipliers to MULT18X18D where it can, which the LUT budget does not count.

    python benchmarks/bitserial_vs_parallel.py [--lanes 16 --cols 8] [-j 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.table import Table

from lowbit.boards.report import fmax_mhz
from lowbit.commands.common import console
from lowbit.kinds.bitserial import BitserialConfig
from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.bitserial import BitserialPerf
from lowbit.sweep import Point, Sweep, run_sweep

DEVICE = "ecp5-85f"
WEIGHT_BITS = (1, 2, 4, 8)
PROBE = (4, 4)


def point(config) -> Point:
    return Point(config.to_dict(), DEVICE, None, 1, None, "pypi")


def systolic(w: int, rows: int, cols: int) -> SystolicConfig:
    return SystolicConfig(rows=rows, cols=cols, dataflow="os", a="int8", w=f"int{w}", acc=32)


def implement(configs: list, workers: int, out) -> list[dict]:
    """Reports of ``configs`` on the device (cached ones at once, the rest in parallel)."""
    points = [point(c) for c in configs]
    with out.status(f"implementing {len(points)} cores on {DEVICE} (cached after the first run)"), \
            tempfile.TemporaryDirectory() as tmp:
        results = run_sweep(Sweep("bitserial_vs_parallel", tuple(points)), Path(tmp),
                            workers=workers)
    reports = []
    for p, r in results:
        if r["status"] != "ok":
            raise SystemExit(f"{p.config}: {r['error']['step']} failed: {r['error']['message']}")
        reports.append(r["report"])
    return reports


def shape_for(pes: float) -> tuple[int, int]:
    """The R×C (R ≤ C ≤ 2R) whose PE count is nearest to ``pes``."""
    best = min(((r, c) for r in range(1, 33) for c in range(r, 2 * r + 1)),
               key=lambda rc: (abs(rc[0] * rc[1] - pes), rc[1] - rc[0]))
    return best


def figures(report: dict, macs_per_cycle: float) -> dict:
    fmax = fmax_mhz(report) or 0.0
    luts = int(report["resources"]["luts"])
    gmacs = macs_per_cycle * fmax / 1000
    return {"luts": luts, "dsp": int(report["resources"]["dsp"]), "fmax": fmax, "gmacs": gmacs,
            "per_klut": gmacs / (luts / 1000)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lanes", type=int, default=16, help="bit-serial lanes (default 16)")
    p.add_argument("--cols", type=int, default=8, help="bit-serial columns (default 8)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="parallel flow runs (default 2)")
    args = p.parse_args(argv)
    out = console()

    serial = BitserialConfig(lanes=args.lanes, cols=args.cols, a="int8", w="int8", acc=32)
    probes = {w: systolic(w, *PROBE) for w in WEIGHT_BITS}
    first = implement([serial, *probes.values()], args.jobs, out)
    serial_report, probe_reports = first[0], dict(zip(WEIGHT_BITS, first[1:]))
    budget = int(serial_report["resources"]["luts"])
    sized = {}
    for w in WEIGHT_BITS:
        per_pe = int(probe_reports[w]["resources"]["luts"]) / (PROBE[0] * PROBE[1])
        sized[w] = systolic(w, *shape_for(budget / per_pe))
    todo = [c for w, c in sized.items() if (c.rows, c.cols) != PROBE]
    reports = dict(zip([c.name for c in todo], implement(todo, args.jobs, out)))
    reports |= {probes[w].name: probe_reports[w] for w in WEIGHT_BITS}

    table = Table(title=f"bit-serial {serial.lanes}×{serial.cols} lanes×cols (one build, W at "
                        f"run time) vs bit-parallel os systolic, A = int8, {DEVICE}")
    for col in ("W", "bit-serial GMAC/s", "LUTs", "Fmax", "GMAC/s/kLUT", "systolic R×C",
                "GMAC/s", "LUTs ", "DSPs", "Fmax ", "GMAC/s/kLUT ", "ratio GMAC/s",
                "ratio per kLUT"):
        table.add_column(col, justify="right")
    for w in WEIGHT_BITS:
        s = figures(serial_report, BitserialPerf(serial, pw=w).peak_macs_per_cycle)
        c = sized[w]
        q = figures(reports[c.name], c.rows * c.cols)
        table.add_row(str(w), f"{s['gmacs']:.2f}", f"{s['luts']:,}", f"{s['fmax']:.0f}",
                      f"{s['per_klut']:.3f}", f"{c.rows}×{c.cols}", f"{q['gmacs']:.2f}",
                      f"{q['luts']:,}", str(q["dsp"]), f"{q['fmax']:.0f}", f"{q['per_klut']:.3f}",
                      f"{s['gmacs'] / q['gmacs']:.2f}", f"{s['per_klut'] / q['per_klut']:.2f}")
    out.print(table)
    out.print(f"bit-serial DSPs: {serial_report['resources']['dsp']}; Fmax in MHz; "
              "ratio = bit-serial / bit-parallel")
    return 0


if __name__ == "__main__":
    sys.exit(main())
