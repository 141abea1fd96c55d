"""Bit-serial against the best bit-parallel MAC array on ECP5-85F: W ∈ {1, 2, 4, 8} at A = 8.

One bit-serial array (``bitserial``, w-serial, MSB-first, weights up to 8 bits chosen at run
time, so one build serves every W; its adder trees and shift-accumulators on the ECP5 carry
chain, ``family="ecp5"``) against ``lowbit fit``'s probes for int8 × intW
(:func:`lowbit.fit.probe`, ``--quick`` sizes: an output-stationary ``systolic`` array for each
multiplier choice, fabric / DSP / both). The bit-parallel array with the most GMAC/s per kLUT
is the reference, the best fabric-only one is printed beside it. All out of context through
Lowbit's flow (cached by content hash). Printed per W::

    GMAC/s          = MACs per cycle at W bits × Fmax / 1000 (bit-serial: lanes·cols / W)
    GMAC/s per kLUT = GMAC/s / (LUTs / 1000)
    scaling         = cycles at 8 bits ÷ cycles at W bits for a 256×256×256 GEMM (the perf
                      model, which the testbench holds the RTL to), over the ideal 8 / W

Keep to one place and route at a time on a shared machine:

    flock /tmp/lowbit-pnr.lock python benchmarks/bitserial_vs_parallel.py [--lanes 16 --cols 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.table import Table

from lowbit.boards.devices import get_device
from lowbit.boards.report import fmax_mhz
from lowbit.commands.common import console
from lowbit.fit import probe
from lowbit.kinds.bitserial import BitserialConfig
from lowbit.models.bitserial import BitserialPerf
from lowbit.models.perf import GemmShape
from lowbit.sweep import Point, Sweep, run_sweep

DEVICE = "ecp5-85f"
WEIGHT_BITS = (1, 2, 4, 8)
ACC = 24
GEMM = GemmShape(256, 256, 256)


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
    p.add_argument("-j", "--jobs", type=int, default=1, help="place and route jobs (default 1)")
    p.add_argument("-o", "--out", help="where the reports go (default: a temporary dir)")
    args = p.parse_args(argv)
    out = console()
    where = Path(args.out or tempfile.mkdtemp(prefix="lowbit-bitserial-"))

    serial = BitserialConfig(lanes=args.lanes, cols=args.cols, a="int8", w="int8", acc=ACC,
                             family="ecp5")
    ((_, result),) = run_sweep(Sweep("bitserial", (Point(serial.to_dict(), DEVICE, None, 1,
                                                          None, "pypi"),)), where / "serial",
                               workers=args.jobs)
    if result["status"] != "ok":
        raise SystemExit(f"{serial.name}: {result['error']['step']} failed: "
                         f"{result['error']['message']}")
    serial_report = result["report"]
    cycles8 = BitserialPerf(serial, pw=8).gemm_cycles(GEMM)

    table = Table(title=f"bit-serial {serial.lanes}×{serial.cols} (one build, W at run time, "
                        f"carry chains) vs the best bit-parallel array, A = int8, {DEVICE}")
    for col in ("W", "serial GMAC/s", "LUTs", "Fmax", "GMAC/s/kLUT", "scaling",
                "best MAC array", "GMAC/s", "LUTs ", "DSPs", "Fmax ", "GMAC/s/kLUT ",
                "÷ best", "÷ best fabric"):
        table.add_column(col, justify="left" if col == "best MAC array" else "right")
    for w in WEIGHT_BITS:
        base = {"a": "int8", "w": f"int{w}", "acc": ACC, "dataflow": "os"}
        points, failed = probe("systolic", base, get_device(DEVICE), quick=True,
                               out=where / f"mac-w{w}", workers=args.jobs, progress=out.log)
        for candidate, error in failed:
            out.print(f"FAILED {candidate.config.name}: {error['message']}", markup=False)
        macs = [(pt, figures(pt.report, pt.macs)) for pt in points]
        best_pt, best = max(macs, key=lambda x: x[1]["per_klut"])
        fabric = max((f["per_klut"] for pt, f in macs if not f["dsp"]), default=0)
        perf = BitserialPerf(serial, pw=w)
        s = figures(serial_report, perf.peak_macs_per_cycle)
        scaling = cycles8 / perf.gemm_cycles(GEMM) / (8 / w)
        table.add_row(str(w), f"{s['gmacs']:.2f}", f"{s['luts']:,}", f"{s['fmax']:.0f}",
                      f"{s['per_klut']:.3f}", f"{scaling:.1%}",
                      f"{best_pt.candidate.choice} {best_pt.report['name']}",
                      f"{best['gmacs']:.2f}", f"{best['luts']:,}", str(best["dsp"]),
                      f"{best['fmax']:.0f}", f"{best['per_klut']:.3f}",
                      f"{s['per_klut'] / best['per_klut']:.2f}×",
                      f"{s['per_klut'] / fabric:.2f}×" if fabric else "-")
    out.print(table)
    out.print(f"bit-serial DSPs: {serial_report['resources']['dsp']}; Fmax in MHz; ÷ = "
              f"bit-serial GMAC/s per kLUT over the bit-parallel array's; reports: {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
