"""Arrays that fill the FPGA: the best integer systolic array ``lowbit fit`` finds for W8A8,
W4A8, W2A8 and W4A4 on ECP5-85F and iCE40UP5K, beside today's generator (Yosys-inferred,
unregistered DSP multipliers, as many PEs as DSP blocks) measured in the same run.

Columns: GMAC/s at the post-route Fmax, GMAC/s per kLUT, LUT and DSP utilization, Fmax, the
fraction of the device bound (``lowbit.boards.bounds``) and the speed-up over the reference.
Every implementation is cached by content hash, so an interrupted run resumes where it
stopped; a full-device ECP5 place and route takes an hour or more: run it in the background.

    python benchmarks/fill_device.py [--quick] [--devices ecp5-85f,ice40-up5k]
                                     [--formats W4A8,W8A8] [--budget 0.85] [-o DIR]

``--quick``: W4A8 only, one probe per multiplier choice and one full-size run per device.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lowbit.boards.bounds import device_bound
from lowbit.boards.devices import get_device
from lowbit.boards.report import fmax_mhz
from lowbit.boards.steps import Target
from lowbit.errors import LowbitError
from lowbit.fit import FORMAT_PAIRS, check_budget, fit, format_pairs
from lowbit.flow import implement
from lowbit.registry import config_from_dict

#: the integer pairs it fills for (:data:`lowbit.fit.FORMAT_PAIRS`)
FORMATS = ("W8A8", "W4A8", "W2A8", "W4A4")


def reference(device, a: str, w: str, acc: int):
    """Today's generator on ``device``: the largest square Yosys-inferred DSP array (its PEs
    one DSP block each, product registered in the fabric), or a 4×4 where there are none."""
    side = max(1, math.isqrt(device.dsp)) if device.dsp else 4
    return config_from_dict({"kind": "systolic", "rows": side, "cols": side, "a": a, "w": w,
                             "acc": acc, "mul_reg": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--devices", default="ecp5-85f,ice40-up5k")
    parser.add_argument("--formats", default=None, help=f"of {', '.join(FORMATS)}")
    parser.add_argument("--budget", type=float, default=0.85)
    parser.add_argument("--dataflow", choices=("ws", "os"), default="os")
    parser.add_argument("-o", "--out", default="lowbit-out/fill_device")
    args = parser.parse_args()
    formats = (args.formats or ("W4A8" if args.quick else ",".join(FORMATS))).split(",")
    try:    # every bad name or budget before anything is implemented
        format_pairs(formats, FORMATS)
        devices = [get_device(name) for name in args.devices.split(",")]
        check_budget(args.budget)
    except LowbitError as e:
        parser.error(str(e))
    out = Console(width=max(Console().width, 132))    # the table's ten columns unwrapped
    designs: list[str] = []
    table = Table(title="arrays that fill the FPGA (out of context, post-route)")
    for col in ("device", "format", "design", "GMAC/s", "GMAC/s per kLUT", "LUTs %", "DSPs",
                "Fmax MHz", "of bound", "× today"):
        table.add_column(col, justify="left" if col in ("device", "format", "design") else
                         "right")
    for device in devices:
        name = device.name
        for label in formats:
            a, w, acc = FORMAT_PAIRS[label]
            base = {"a": a, "w": w, "acc": acc, "dataflow": args.dataflow}
            bound = device_bound(device, *(config_from_dict({"kind": "systolic", **base}).a,
                                           config_from_dict({"kind": "systolic", **base}).w),
                                 acc, lut_share=args.budget)
            ref = implement(reference(device, a, w, acc), Target(device),
                            progress=lambda m: out.log(m)).report
            ref_gmacs = ref["perf"]["peak_macs_per_cycle"] * (fmax_mhz(ref) or 0) / 1000
            result = fit("systolic", base, device, budget=args.budget, quick=args.quick,
                         runs=1, out=Path(args.out) / f"{name}-{label}",
                         progress=lambda m: out.log(m))
            rows = [("today: inferred DSP", ref, ref_gmacs)]
            if result.best:
                rows.append((f"fit: {result.best.candidate.choice}", result.best.report,
                             result.best.gmacs))
            for design, report, gmacs in rows:
                luts = int(report["resources"]["luts"])
                designs.append(report["name"])
                table.add_row(name, label, f"{design} [{len(designs)}]", f"{gmacs:.2f}",
                              f"{gmacs / (luts / 1000):.3f}" if luts else "-",
                              f"{100 * luts / device.luts:.1f}",
                              f"{report['resources']['dsp']}/{device.dsp}",
                              f"{fmax_mhz(report) or 0:.1f}",
                              f"{gmacs / bound.gmacs:.1%}" if bound.gmacs else "-",
                              f"{gmacs / ref_gmacs:.2f}" if ref_gmacs else "-")
            out.log(f"{name} {label}: bound {bound.macs_per_cycle:,} MACs/cycle "
                    f"({bound.dsp_macs} DSP + {bound.fabric_macs} fabric, "
                    f"{bound.fabric_mac_luts} LUT4 each) at {bound.ceiling_mhz:.0f} MHz "
                    f"= {bound.gmacs:.1f} GMAC/s")
    out.print(table)
    for i, design in enumerate(designs, 1):
        out.print(f"[{i}] {design}")


if __name__ == "__main__":
    main()
