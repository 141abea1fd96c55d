"""LUT tensor core vs multiplier-based systolic array, W ∈ {1, 2, 4} bits × A = INT8, on FPGAs.

For each device (ECP5-85F, iCE40UP5K) and weight width W, three cores are implemented out of
context through Lowbit's flow (the sweep machinery: cached, 2 worker processes):

* ``mac``  — a 2×4 output-stationary ``systolic`` array of INT8 × INTW multipliers
  (8 MACs/cycle at every W), the reference;
* ``lut``  — a ``lut`` core with g = 4, one table, 8 columns, ``w_bits = W``
  (8·4/W MACs/cycle at W bits: 8 at W = 4, 32 at W = 1), without symmetrization;
* ``lut-sym`` — the same with symmetrized (half) tables.

Accumulators are 20 bits everywhere. Printed per device: LUTs, FFs, DSPs, Fmax, effective
GMAC/s (peak MACs/cycle × Fmax) and GMAC/s per 1k LUTs, with the LUT-core / MAC-array ratio of
both for each W. Usage: python benchmarks/lut_vs_mac.py [--devices D ...] [-j N] [-o DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.table import Table

from lowbit.commands.common import console as project_console
from lowbit.compare import rows
from lowbit.kinds.lut import LutConfig
from lowbit.kinds.systolic import SystolicConfig
from lowbit.sweep import Point, Sweep, run_sweep

WIDTHS = (1, 2, 4)
DEVICES = ("ecp5-85f", "ice40-up5k")
ACC = 20


def cores(w: int) -> dict[str, dict]:
    """The three configs compared at W weight bits."""
    lut = LutConfig(a="int8", w_bits=w, g=4, tables=1, cols=8, acc=ACC)
    return {
        "mac": SystolicConfig(rows=2, cols=4, dataflow="os", a="int8", w=f"int{w}",
                              acc=ACC).to_dict(),
        "lut": lut.to_dict(),
        "lut-sym": LutConfig.from_dict({**lut.to_dict(), "symmetric": True}).to_dict(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=list(DEVICES), help="devices")
    parser.add_argument("-j", "--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("-o", "--out", help="where the reports go (default: a temporary dir)")
    args = parser.parse_args()
    console = project_console()    # 120 columns when the output is not a terminal

    points, names = [], {}
    for device in args.devices:
        for w in WIDTHS:
            for core, config in cores(w).items():
                p = Point(config, device, None, 1, None, "pypi")
                points.append(p)
                names[p.id] = (device, w, core)
    out = Path(args.out or tempfile.mkdtemp(prefix="lowbit-lut-vs-mac-"))
    done = 0

    def progress(point: Point, result: dict) -> None:
        nonlocal done
        done += 1
        device, w, core = names[point.id]
        state = "cached" if result.get("cached") else result["status"]
        console.print(f"[{done}/{len(points)}] {device} W{w} {core}: {state}")

    with console.status(f"implementing {len(points)} cores (cached ones are not rerun)"):
        results = run_sweep(Sweep("lut-vs-mac", tuple(points)), out, workers=args.workers,
                            on_result=progress)
    failed = [(names[p.id], r["error"]["message"]) for p, r in results if r["status"] != "ok"]
    for what, message in failed:
        console.print(f"FAILED {what}: {message}", style="red", markup=False)

    ok = [(names[p.id], r["report"]) for p, r in results if r["status"] == "ok"]
    figures = {what: row for (what, _), row in zip(ok, rows([r for _, r in ok]))}
    for device in args.devices:
        table = Table(title=f"LUT core vs MAC array on {device}, A = int8, acc {ACC} bits")
        for col in ("W", "core", "LUTs", "FFs", "DSPs", "Fmax MHz", "MAC/cyc", "GMAC/s",
                    "GMAC/s/kLUT", "GMAC/s ÷ mac", "/kLUT ÷ mac"):
            table.add_column(col, justify="left" if col in ("W", "core") else "right")
        for w in WIDTHS:
            ref = figures.get((device, w, "mac"))
            for core in ("mac", "lut", "lut-sym"):
                row = figures.get((device, w, core))
                if row is None:
                    table.add_row(str(w), core, *["failed"] + [""] * 8)
                    continue
                ratio = ratio_k = "-"
                if ref is not None and core != "mac":
                    ratio = f"{row.gmacs / ref.gmacs:.2f}×" if ref.gmacs else "-"
                    ratio_k = (f"{row.gmacs_per_klut / ref.gmacs_per_klut:.2f}×"
                               if ref.gmacs_per_klut else "-")
                table.add_row(str(w), core, f"{row.luts:,}", f"{row.ffs:,}", str(row.dsp),
                              f"{row.fmax_mhz:.1f}", f"{row.peak_macs_per_cycle:g}",
                              f"{row.gmacs:.3f}", f"{row.gmacs_per_klut:.3f}", ratio, ratio_k,
                              end_section=core == "lut-sym")
        console.print(table)
    console.print(f"reports: {out}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
