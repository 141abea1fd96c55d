"""Area and timing of the mixed-precision arithmetic units, per MAC, against INT8×INT8.

Every unit is implemented out of context (Yosys + nextpnr, the `lowbit synth` flow) on an
ECP5-85F and an iCE40UP5K through the sweep machinery (cached by content hash, two worker
processes), and one table per device prints LUTs, FFs, DSPs and Fmax of the unit, then LUTs,
FFs and DSPs per MAC (the unit's figures over its peak MACs per cycle from its performance
model) with each row's ratio to the reference row, the plain `mac` kind at INT8×INT8, and its
GMAC/s per kLUT against the best INT8×INT8 MAC array among ``lowbit fit``'s probes (a 4×4
output-stationary systolic array per multiplier choice: fabric, DSP blocks, both), printed
first.

Usage: python benchmarks/mixed_area.py [--devices ecp5-85f,ice40-up5k] [-j 2] [-o DIR]
[--rows TEXT ...] (the first run takes several minutes; a repeated one comes from the cache;
--rows keeps the reference and the rows whose label contains one of the texts, e.g.
--rows "E4M3×E4M3 fmac, exact" "E4M3×E4M3 fmac, L-Mul").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lowbit.boards.devices import get_device
from lowbit.boards.report import fmax_mhz
from lowbit.fit import STRATEGIES
from lowbit.sweep import Point, Sweep, cached_result, run_sweep

SIX = "fp8_e4m3,fp8_e5m2,fp6_e3m2,fp6_e2m3,fp4_e2m1,int8"
#: (row label, config); the first row is the reference
UNITS = [
    ("INT8×INT8 mac (reference)", {"kind": "mac", "a": "int8", "w": "int8", "acc": 32,
                                   "k_bits": 12}),
    ("INT8×INT8 fmac, exact", {"kind": "fmac", "a": "int8", "w": "int8", "k_bits": 12}),
    ("FP8 E4M3×E4M3 fmac, exact", {"kind": "fmac", "a": "fp8_e4m3", "w": "fp8_e4m3",
                                   "k_bits": 12}),
    ("FP8 E4M3×E4M3 fmac, L-Mul", {"kind": "fmac", "a": "fp8_e4m3", "w": "fp8_e4m3",
                                   "k_bits": 12, "mul": "lmul"}),
    ("FP8 E5M2×E5M2 fmac, exact", {"kind": "fmac", "a": "fp8_e5m2", "w": "fp8_e5m2",
                                   "k_bits": 12}),
    ("FP8 E5M2×E5M2 fmac, L-Mul", {"kind": "fmac", "a": "fp8_e5m2", "w": "fp8_e5m2",
                                   "k_bits": 12, "mul": "lmul"}),
    ("FP8 E4M3×E4M3 fmac, 24-bit rounded", {"kind": "fmac", "a": "fp8_e4m3",
                                            "w": "fp8_e4m3", "k_bits": 12, "acc": 24,
                                            "exact": False}),
    ("FP6 E2M3×E2M3 fmac, exact", {"kind": "fmac", "a": "fp6_e2m3", "w": "fp6_e2m3",
                                   "k_bits": 12}),
    ("FP4 E2M1×E2M1 fmac, exact", {"kind": "fmac", "a": "fp4_e2m1", "w": "fp4_e2m1",
                                   "k_bits": 12}),
    ("6-format fmac (FP8/6/4, INT8 at run time)", {"kind": "fmac", "a": SIX, "w": SIX,
                                                   "k_bits": 12}),
    ("MXFP8 E4M3 blockdot, 8 lanes, exact block out", {"kind": "blockdot", "a": "mxfp8_e4m3",
                                                       "w": "mxfp8_e4m3", "lanes": 8,
                                                       "output": "block"}),
    ("MXFP4 blockdot, 8 lanes, exact block out", {"kind": "blockdot", "a": "mxfp4",
                                                  "w": "mxfp4", "lanes": 8, "output": "block"}),
    ("NVFP4 blockdot, 8 lanes, exact block out", {"kind": "blockdot", "a": "nvfp4",
                                                  "w": "nvfp4", "lanes": 8, "output": "block"}),
    ("MXFP8 E4M3 blockdot, 8 lanes, FP32 accumulation", {"kind": "blockdot", "a": "mxfp8_e4m3",
                                                         "w": "mxfp8_e4m3", "lanes": 8}),
    ("MXFP4 blockdot, 8 lanes, FP32 accumulation", {"kind": "blockdot", "a": "mxfp4",
                                                    "w": "mxfp4", "lanes": 8}),
    ("NVFP4 blockdot, 8 lanes, FP32 + tensor scales", {"kind": "blockdot", "a": "nvfp4",
                                                       "w": "nvfp4", "lanes": 8}),
    ("fusion, run-time 8×8…2×2 (figures at 8×8: 1 MAC/cycle)",
     {"kind": "fusion", "acc": 32, "k_bits": 12}),
    # the research datapaths of issue 17 beside the plain ones they replace
    ("INT8×INT2 mac (multiplier)", {"kind": "mac", "a": "int8", "w": "int2", "acc": 20,
                                    "k_bits": 12}),
    ("INT8×ternary mac, addsub (BitNet / MatMul-free)", {
        "kind": "mac", "a": "int8", "w": "ternary", "acc": 20, "k_bits": 12, "mul": "addsub"}),
    ("INT8×binary mac, addsub (BiBERT)", {"kind": "mac", "a": "int8", "w": "binary", "acc": 20,
                                          "k_bits": 12, "mul": "addsub"}),
    ("INT8×INT2 systolic os 4×4, a * w", {"kind": "systolic", "dataflow": "os", "rows": 4,
                                          "cols": 4, "a": "int8", "w": "int2", "acc": 20,
                                          "k_bits": 12}),
    ("INT8×INT2 systolic os 4×4, lut", {"kind": "systolic", "dataflow": "os", "rows": 4,
                                        "cols": 4, "a": "int8", "w": "int2", "acc": 20,
                                        "k_bits": 12, "mul": "lut"}),
    ("INT8×ternary systolic os 4×4, addsub", {"kind": "systolic", "dataflow": "os", "rows": 4,
                                              "cols": 4, "a": "int8", "w": "ternary", "acc": 20,
                                              "k_bits": 12, "mul": "addsub"}),
    ("INT8×INT4 systolic os 4×4 (plain INT PE)", {"kind": "systolic", "dataflow": "os",
                                                  "rows": 4, "cols": 4, "a": "int8", "w": "int4",
                                                  "acc": 24, "k_bits": 12}),
    ("INT8×INT4 systolic os 4×4, pow2 group scale (MixPE)", {
        "kind": "systolic", "dataflow": "os", "rows": 4, "cols": 4, "a": "int8", "w": "int4",
        "acc": 24, "k_bits": 12, "scale": "pow2", "g_bits": 7}),
    ("INT8×INT4 systolic ws 4×4 (plain INT PE)", {"kind": "systolic", "rows": 4, "cols": 4,
                                                  "a": "int8", "w": "int4", "acc": 24,
                                                  "k_bits": 12}),
    ("INT8×INT8 systolic ws 4×4 (plain INT PE)", {"kind": "systolic", "rows": 4, "cols": 4,
                                                  "a": "int8", "w": "int8", "acc": 24,
                                                  "k_bits": 12}),
    ("INT8×OliVe4 systolic ws 4×4, pairs decoded (OliVe)", {
        "kind": "systolic", "rows": 4, "cols": 4, "a": "int8", "w": "olive4", "acc": 24,
        "k_bits": 12}),
    ("INT8×INT4 bitserial 8×4, int8 group scale", {
        "kind": "bitserial", "lanes": 8, "cols": 4, "a": "int8", "w": "int4", "acc": 32,
        "k_bits": 12, "scale": "int", "scale_fmt": "uint8"}),
    ("INT8×BitMoD4 bitserial 8×4, int8 group scale", {
        "kind": "bitserial", "lanes": 8, "cols": 4, "a": "int8", "w": "bitmod4", "acc": 32,
        "k_bits": 12, "scale": "int", "scale_fmt": "uint8"}),
    ("INT8×BitMoD4 bitserial 8×4, bit-serial dequant (BitMoD)", {
        "kind": "bitserial", "lanes": 8, "cols": 4, "a": "int8", "w": "bitmod4", "acc": 32,
        "k_bits": 12, "scale": "serial", "scale_fmt": "uint8"}),
]


def mac_arrays(device: str) -> list[tuple[str, dict]]:
    """``lowbit fit``'s INT8×INT8 probes on ``device`` (a 4×4 output-stationary systolic array
    per multiplier choice): the best of them, by GMAC/s per kLUT, is what a unit competes
    with."""
    strategy = STRATEGIES["systolic"]({"a": "int8", "w": "int8", "acc": 24, "dataflow": "os"},
                                      get_device(device))
    return [(f"INT8×INT8 systolic {c.config.rows}×{c.config.cols}, mul {c.choice} (fit probe)",
             c.config.to_dict()) for c in strategy.probes(quick=True)]


def on_device(device: str, unit: tuple[str, dict]) -> tuple[str, dict]:
    """``unit`` as it fits ``device``: a systolic array of inferred multipliers (one DSP block
    per PE) halves its rows and columns until its PEs fit the device's DSP blocks (a 4×4 is a
    2×2 on the UP5K's 8), its label saying the size it has."""
    label, config = unit
    dsp = get_device(device).dsp
    if config["kind"] != "systolic" or config.get("mul", "infer") != "infer" or not dsp:
        return unit
    rows, cols = config["rows"], config["cols"]
    while rows * cols > dsp and rows % 2 == 0 and cols % 2 == 0:
        rows, cols = rows // 2, cols // 2
    return (label.replace(f"{config['rows']}×{config['cols']}", f"{rows}×{cols}"),
            {**config, "rows": rows, "cols": cols})


def density(report: dict) -> float:
    """GMAC/s per kLUT at the post-route Fmax."""
    gmacs = float(report["perf"]["peak_macs_per_cycle"]) * (fmax_mhz(report) or 0.0) / 1000
    return gmacs / (int(report["resources"]["luts"]) / 1000)


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def implement(points: list[Point], out: Path, workers: int, console: Console) -> dict:
    """Run the sweep (cached points come from the cache) with a progress line."""
    with console.status("implementing") as status:
        done = 0

        def progress(point, result):
            nonlocal done
            done += 1
            status.update(f"implemented {done}/{len(points)} ({point.config['kind']} on "
                          f"{point.device}: {result['status']})")

        results = {p.id: r for p, r in run_sweep(Sweep("mixed_area", tuple(points)), out,
                                                 workers=workers, on_result=progress)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", default="ecp5-85f,ice40-up5k")
    parser.add_argument("-j", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("-o", type=Path, help="where the sweep's reports go (default: a temp dir)")
    parser.add_argument("--cached", action="store_true",
                        help="print only what the cache already holds; implement nothing")
    parser.add_argument("--rows", nargs="+", metavar="TEXT",
                        help="only the reference row and the rows whose label contains one of "
                             "these texts")
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 170)
    devices = args.devices.split(",")
    units = [u for i, u in enumerate(UNITS) if i == 0 or not args.rows
             or any(text in u[0] for text in args.rows)]
    if len(units) == 1 and args.rows:
        parser.error(f"--rows {args.rows!r} matches no row; the rows: "
                     + "; ".join(label for label, _ in UNITS[1:]))
    rows = {device: mac_arrays(device) + [on_device(device, u) for u in units]
            for device in devices}
    points = [Point(config, device, None, 1, None, "pypi")
              for device in devices for _, config in rows[device]]
    out = args.o or Path(tempfile.mkdtemp(prefix="lowbit-mixed-area-"))
    if args.cached:
        missing = {"status": "failed", "error": {"message": "not in the cache"}}
        results = {p.id: cached_result(p) or missing for p in points}
    else:
        results = implement(points, out, args.j, console)
    for device in devices:
        table = Table(title=f"Mixed-precision units, out of context on {device} "
                            "(ratios: per MAC, to the INT8×INT8 mac; density: to the best "
                            "INT8×INT8 array)")
        for col in ("unit", "MAC/cyc", "LUTs", "FFs", "DSPs", "Fmax MHz", "LUT/MAC", "×ref",
                    "FF/MAC", "×ref", "DSP/MAC", "Fmax ×ref", "GMAC/s/kLUT", "÷ best array"):
            table.add_column(col, justify="left" if col == "unit" else "right")
        ref = None  # the reference row's LUT/FF/DSP per MAC and Fmax, once implemented
        arrays = len(rows[device]) - len(units)
        reports = []
        for _, config in rows[device]:
            point = next(p for p in points if p.device == device and p.config is config)
            reports.append(results[point.id].get("report"))
        best = max((density(r) for r in reports[:arrays] if r), default=0)
        for index, ((label, config), r) in enumerate(zip(rows[device], reports)):
            if r is None:
                result = results[next(p for p in points
                                      if p.device == device and p.config is config).id]
                message = result["error"]["message"].splitlines()[0][:60]
                table.add_row(label, *["-"] * 12, f"failed: {message}")
                continue
            peak = float(r["perf"]["peak_macs_per_cycle"])
            res = r["resources"]
            luts, ffs, dsp, fmax = (int(res["luts"]), int(res["ffs"]), int(res["dsp"]),
                                    fmax_mhz(r) or 0.0)
            per = (luts / peak, ffs / peak, dsp / peak)
            if index == arrays:
                ref = (*per, fmax)
            base = ref or (0, 0, 0, 0)
            table.add_row(label, f"{peak:g}", f"{luts:,}", f"{ffs:,}", f"{dsp}", f"{fmax:.1f}",
                          f"{per[0]:.0f}", ratio(per[0], base[0]) if ref else "-",
                          f"{per[1]:.0f}", ratio(per[1], base[1]) if ref else "-",
                          f"{per[2]:.2f}", ratio(fmax, base[3]) if ref else "-",
                          f"{density(r):.3f}", ratio(density(r), best),
                          end_section=index == arrays - 1)
        console.print(table)
    console.print(f"reports: {out}")


if __name__ == "__main__":
    main()
