"""An MXINT8 block dot-product unit against INT8 MACs of the same lane count, like for like.

The INT-vs-FP hardware claim, checked on the FPGA: an L-lane MXINT8 ``blockdot`` unit (L
element products a cycle, E8M0 block scales, qgemm's FP32 output) costs at most 1.1× the
LUTs of L INT8 MACs. The reference is the project's L-PE output-stationary ``systolic`` array
(2×4 for L = 8, 4×8 for L = 32) of INT8×INT8 MACs with 32-bit wrapping accumulators: L
products a cycle, each into an integer accumulator. Both designs multiply with ``a * w`` as
Yosys maps it, on the same device and in the same run, in two mappings: ``dsp`` (Yosys
infers the device's DSP blocks: MULT18X18D, SB_MAC16; only where the device has L of them)
and ``fabric`` (the same device with DSP inference off, ``synth_ecp5 -nodsp`` / ``synth_ice40``
without ``-dsp``: :func:`lowbit.boards.devices.without_dsp`). A third row, ``blockdot`` with
``output="block"`` (each block's exact scaled sum, no FP32 rounding or accumulation), splits
the unit's LUTs into the block datapath and its FP32 tail.

Columns: the design, LUT4s (on ECP5 LUT4 + 2 per CCU2C + 6 per TRELLIS_DPR16X4, as the flow
counts them), DSP blocks, Fmax (nextpnr, out of context, seed 1) and the LUT ratio to the INT8
array of the same device, mapping and L. Every implementation is cached by content hash::

    flock /tmp/lowbit-pnr.lock nice -n 10 python benchmarks/mx_vs_int.py \\
        [--devices ecp5-85f,ice40-up5k] [--mappings fabric,dsp] [--markdown]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lowbit.boards.devices import Device, get_device, without_dsp
from lowbit.boards.report import fmax_mhz
from lowbit.boards.steps import Target
from lowbit.errors import LowbitError
from lowbit.flow import implement
from lowbit.kinds.blockdot import BlockdotConfig
from lowbit.kinds.systolic import SystolicConfig

#: the lane counts measured on each device
LANES = {"ecp5-85f": (8, 32), "ice40-up5k": (8,)}
#: the INT8 reference's array shape for L lanes (the squarest R×C with R·C = L, R ≤ C)
SHAPES = {8: (2, 4), 32: (4, 8)}
MAPPINGS = ("fabric", "dsp")


def designs(lanes: int) -> list[tuple[str, object]]:
    """(label, config) of the reference, then the MXINT8 units, for ``lanes`` lanes."""
    rows, cols = SHAPES[lanes]
    return [
        (f"INT8×INT8 systolic os {rows}×{cols}, acc32 (reference)",
         SystolicConfig.from_dict({"dataflow": "os", "rows": rows, "cols": cols, "a": "int8",
                                   "w": "int8", "acc": 32, "mul": "infer"})),
        (f"MXINT8 blockdot, {lanes} lanes, FP32 output (qgemm)",
         BlockdotConfig.from_dict({"a": "mxint8", "w": "mxint8", "lanes": lanes})),
        (f"MXINT8 blockdot, {lanes} lanes, exact block output",
         BlockdotConfig.from_dict({"a": "mxint8", "w": "mxint8", "lanes": lanes,
                                   "output": "block"})),
    ]


def mapped(device: Device, mapping: str) -> Device:
    return device if mapping == "dsp" else without_dsp(device)


def measure(config, device: Device, err: Console) -> dict:
    """LUTs, DSPs and Fmax of ``config`` out of context on ``device`` (cached)."""
    err.log(f"{device.name}: {config.name}")
    with tempfile.TemporaryDirectory() as failed:
        report = implement(config, Target(device), failed_out=Path(failed),
                           progress=lambda message: None).report
    return {"luts": int(report["resources"]["luts"]), "dsp": int(report["resources"]["dsp"]),
            "fmax": fmax_mhz(report) or 0.0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--devices", default=",".join(LANES),
                   help=f"comma-separated, from {', '.join(LANES)} (default: all)")
    p.add_argument("--mappings", default=",".join(MAPPINGS),
                   help=f"comma-separated, from {', '.join(MAPPINGS)} (default: both)")
    p.add_argument("--markdown", action="store_true", help="also print a markdown table")
    args = p.parse_args(argv)
    err = Console(stderr=True)
    names, mappings = args.devices.split(","), args.mappings.split(",")
    if not set(names) <= set(LANES) or not set(mappings) <= set(MAPPINGS):
        p.error(f"--devices={args.devices!r} / --mappings={args.mappings!r} are not allowed: "
                f"devices from {', '.join(LANES)}; mappings from {', '.join(MAPPINGS)}")
    devices = [get_device(d) for d in names]
    table = Table(title="MXINT8 blockdot against INT8 MACs of the same lane count "
                        "(×INT8: LUTs over the INT8 array's, same device, mapping and L)")
    head = ("device", "mapping", "L", "design", "LUTs", "DSPs", "Fmax MHz", "×INT8 LUTs")
    for col in head:
        table.add_column(col, justify="left" if col in ("device", "mapping", "design")
                         else "right")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for device in devices:
        for mapping in mappings:
            for lanes in LANES[device.name]:
                if mapping == "dsp" and device.dsp < lanes:
                    continue
                ref = None      # the reference's LUTs: the first design's, if it built
                for i, (label, config) in enumerate(designs(lanes)):
                    try:
                        r = measure(config, mapped(device, mapping), err)
                    except LowbitError as e:
                        cells = (device.name, mapping, str(lanes), label, "failed", "", "",
                                 str(e).splitlines()[0][:60])
                    else:
                        ref = r["luts"] if i == 0 else ref
                        ratio = f"{r['luts'] / ref:.2f}" if ref else "-"
                        cells = (device.name, mapping, str(lanes), label, f"{r['luts']:,}",
                                 f"{r['dsp']}", f"{r['fmax']:.1f}", ratio)
                    table.add_row(*cells)
                    lines.append("| " + " | ".join(cells) + " |")
    Console(width=170).print(table)
    if args.markdown:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
