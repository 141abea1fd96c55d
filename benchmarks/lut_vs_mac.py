"""LUT tensor core vs the best MAC array, W ∈ {1, 2, 4} bits × A = INT8, on FPGAs.

For each device, out of context through Lowbit's flow (the sweep machinery: cached by content
hash, so a second run costs nothing):

* **the MAC arrays**: ``lowbit fit``'s probes for int8 × intW (:func:`lowbit.fit.probe`,
  ``--quick`` sizes): an output-stationary ``systolic`` array for every multiplier choice the
  device allows — ``lut`` (carry-chain multipliers in the fabric), ``dsp`` (DSP blocks, packed
  as far as they go) and ``auto`` (both). The one with the most GMAC/s per kLUT is the
  reference; the best fabric-only one (no DSP block) is printed beside it.
* **the LUT cores**: :data:`LUT_CORES` (tables in distributed RAM on ECP5, block RAM on iCE40,
  each table shared by time-multiplexed column blocks), built once with weights up to 4 bits:
  W is a run-time input, so one build serves every W, at ``LutPerf(config, W)`` MACs/cycle.

Accumulators are 24 bits everywhere. Printed per device and W: LUTs, DSPs, Fmax, MACs/cycle,
GMAC/s (MACs/cycle × Fmax), GMAC/s per 1k LUTs and its ratio to the reference and to the best
fabric-only array. Keep to one place and route at a time on a shared machine:

    flock /tmp/lowbit-pnr.lock python benchmarks/lut_vs_mac.py [--devices ecp5-85f] [-j 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.table import Table

from lowbit.boards.devices import get_device
from lowbit.boards.report import fmax_mhz
from lowbit.commands.common import console as project_console
from lowbit.fit import probe
from lowbit.kinds.lut import LutConfig
from lowbit.models.lut import LutPerf
from lowbit.sweep import Point, Sweep, run_sweep

WIDTHS = (1, 2, 4)
ACC = 24


def _lut(**fields) -> LutConfig:
    return LutConfig(a="int8", w_bits=4, g=4, cols=8, acc=ACC, **fields)


#: the LUT cores per device: full tables (16 entries, 16 column blocks hide a fill at W = 1)
#: and symmetrized ones (8 entries, 8 blocks)
LUT_CORES = {
    "ecp5-85f": (_lut(tables=2, blocks=16, family="ecp5"),
                 _lut(tables=2, blocks=8, symmetric=True, family="ecp5")),
    "ice40-up5k": (_lut(tables=1, blocks=16, family="ice40"),),
}


def luts(report: dict) -> int:
    return int(report["resources"]["luts"])


def implement(configs: list, device: str, out: Path, workers: int, console) -> list[dict]:
    """Reports of ``configs`` on ``device`` (cached ones at once)."""
    points = [Point(c.to_dict(), device, None, 1, None, "pypi") for c in configs]
    results = run_sweep(Sweep("lut-vs-mac", tuple(points)), out, workers=workers,
                        on_result=lambda p, r: console.print(
                            f"{device} {p.config['kind']}: "
                            f"{'cached' if r.get('cached') else r['status']}"))
    bad = [(p, r) for p, r in results if r["status"] != "ok"]
    for p, r in bad:
        console.print(f"FAILED {p.config}: {r['error']['message']}", style="red", markup=False)
    if bad:
        sys.exit(1)
    return [r["report"] for _, r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=list(LUT_CORES), choices=list(LUT_CORES))
    parser.add_argument("-j", "--workers", type=int, default=1,
                        help="place-and-route jobs at once (1)")
    parser.add_argument("-o", "--out", help="where the reports go (default: a temporary dir)")
    args = parser.parse_args()
    console = project_console()    # 120 columns when the output is not a terminal
    out = Path(args.out or tempfile.mkdtemp(prefix="lowbit-lut-vs-mac-"))

    for device in args.devices:
        verdicts = []
        cores = list(zip(LUT_CORES[device], implement(list(LUT_CORES[device]), device,
                                                      out / device / "lut", args.workers,
                                                      console)))
        table = Table(title=f"LUT core vs the best MAC array on {device}, A = int8, "
                            f"acc {ACC} bits (out of context, post-route)")
        for col in ("W", "design", "LUTs", "DSPs", "Fmax MHz", "MAC/cyc", "GMAC/s",
                    "GMAC/s/kLUT", "÷ best MAC", "÷ best fabric MAC"):
            table.add_column(col, justify="left" if col in ("W", "design") else "right")
        for w in WIDTHS:
            base = {"a": "int8", "w": f"int{w}", "acc": ACC, "dataflow": "os"}
            points, failed = probe("systolic", base, get_device(device), quick=True,
                                   out=out / device / f"mac-w{w}", workers=args.workers,
                                   progress=console.print)
            for candidate, error in failed:
                console.print(f"FAILED {candidate.config.name}: {error['message']}",
                              style="red", markup=False)
            rows = [(f"mac {p.candidate.choice} {p.report['name']}", p.report, p.macs)
                    for p in points]
            rows += [(f"lut {config.name}", report, LutPerf(config, w).peak_macs_per_cycle)
                     for config, report in cores]
            density = {name: macs * (fmax_mhz(r) or 0) / luts(r)
                       for name, r, macs in rows}               # GMAC/s per kLUT
            macs_only = [name for name, _, _ in rows if name.startswith("mac")]
            best = max((density[n] for n in macs_only), default=0)
            fabric = max((density[n] for n, r, _ in rows
                          if n.startswith("mac") and not r["resources"]["dsp"]), default=0)
            for name, report, macs in rows:
                fmax = fmax_mhz(report) or 0
                d = density[name]
                table.add_row(str(w), name, f"{luts(report):,}", str(report["resources"]["dsp"]),
                              f"{fmax:.1f}", f"{macs:g}", f"{macs * fmax / 1000:.2f}",
                              f"{d:.3f}", f"{d / best:.2f}×" if best else "-",
                              f"{d / fabric:.2f}×" if fabric else "-",
                              end_section=name == rows[-1][0])
            winner = max(density, key=density.get)
            runner = max((d for n, d in density.items()
                          if n.split()[0] != winner.split()[0]), default=0)
            verdicts.append(f"W{w}A8 on {device}: {winner.split()[0]} wins with {winner} at "
                            f"{density[winner]:.3f} GMAC/s per kLUT"
                            + (f", {density[winner] / runner:.2f}× the best "
                               f"{'MAC array' if winner.startswith('lut') else 'LUT core'}"
                               if runner else ""))
        console.print(table)
        for line in verdicts:
            console.print(line, markup=False)
    console.print(f"reports: {out}")


if __name__ == "__main__":
    main()
