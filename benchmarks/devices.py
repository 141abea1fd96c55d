"""One core on every device: the same config out of context on each iCE40, ECP5 and Gowin part,
one place and route at a time (cached), as a table of LUT4s, FFs, carry cells, DSP blocks,
block RAMs, Fmax, the speed grade it was timed at and what nextpnr left untimed.

Default config: a 4×4 weight-stationary INT8×INT4 systolic array, 20-bit accumulators,
``mul=infer`` (Yosys decides: DSP blocks where it maps them, LUTs elsewhere); ``--mul lut``
uses the portable carry-chain rows instead.

    python benchmarks/devices.py [--rows 4 --cols 4 --a int8 --w int4 --acc 20]
                                  [--mul infer|lut] [--devices ice40-up5k,gw1nr-9] [--markdown]

``--markdown`` prints the table as GitHub Markdown (as in the README) instead of a terminal table.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from lowbit.boards.devices import DEVICES, get_device
from lowbit.boards.report import fmax_mhz
from lowbit.boards.steps import FlowError, Target
from lowbit.flow import implement
from lowbit.registry import config_from_dict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4)
    parser.add_argument("--cols", type=int, default=4)
    parser.add_argument("--a", default="int8")
    parser.add_argument("--w", default="int4")
    parser.add_argument("--acc", type=int, default=20)
    parser.add_argument("--mul", choices=("infer", "lut"), default="infer")
    parser.add_argument("--devices", default=",".join(DEVICES),
                        help="comma-separated devices (default: every device)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    config = config_from_dict({"kind": "systolic", "rows": args.rows, "cols": args.cols,
                               "a": args.a, "w": args.w, "acc": args.acc, "mul": args.mul})
    out = Console(width=200)
    title = f"{config.name} out of context, seed 1"
    columns = ("device", "family", "speed grade", "LUT4s", "FFs", "carry", "DSP", "BRAM",
               "Fmax MHz", "GMAC/s", "untimed cells / failure")
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col in ("device", "family", "speed grade",
                                                         "untimed cells / failure") else "right")
    for name in args.devices.split(","):
        out.print(f"implementing on {name} ...")
        try:
            r = implement(config, Target.parse(device=name)).report
        except FlowError as e:   # e.g. more DSP products than the part has
            table.add_row(name, get_device(name).family.name, "", *[""] * 7,
                          f"{e.step} failed: {e.message}")
            continue
        res, fmax = r["resources"], fmax_mhz(r) or 0.0
        table.add_row(name, r["device"]["family"], r["device"]["speed"] or "none",
                      f"{res['luts']:,}", f"{res['ffs']:,}", f"{res['carry']:,}",
                      str(res["dsp"]), str(res["bram"]), f"{fmax:.1f}",
                      f"{r['perf']['peak_macs_per_cycle'] * fmax / 1000:.2f}",
                      ", ".join(r.get("untimed_cells", [])) or "-")
    if not args.markdown:
        out.print(table)
        return
    print(f"{title}\n\n| {' | '.join(columns)} |\n|{'---|' * len(columns)}")
    for row in zip(*(c.cells for c in table.columns)):
        print(f"| {' | '.join(row)} |")


if __name__ == "__main__":
    main()
