"""Area and Fmax of each multiplier choice, against Yosys's own mappings measured in the same run.

Two tables per device (ECP5-85F, iCE40UP5K; out of context, grade -6 on ECP5):

* **mac**: the `mac` kind (acc = product + 8 bits, K up to 2^12 - 1) implemented by the flow
  (`lowbit.flow.implement`, cached) with each `--mul` choice: `infer` as Yosys maps it
  (MULT18X18D / SB_MAC16 inferred), `infer` with the DSPs taken away (Yosys's generic LUT
  mapping: the same device under another name whose synthesis is `synth_ecp5 -nodsp` /
  `synth_ice40` without `-dsp`), registered `infer`, `lut` (portable rows and, on ECP5, the
  CCU2C rows), `lut` pipelined, and `dsp` (the block instantiated with its registers).
* **bare**: the multipliers of `lowbit.hw.mul` alone in the flow's out-of-context harness
  (`lowbit.flow.implement_component`, cached by content hash): the array behind one output
  register (its whole delay between two flip-flops) and pipelined, a registered DSP, and
  `a * w` behind one register.

Columns: LUT4s (on ECP5 LUT4 + 2 per CCU2C), carry cells, FFs, DSPs, Fmax and its ratio to the
first row of the table. One place-and-route at a time.

Usage: python benchmarks/multipliers.py [--quick] [--devices ecp5-85f,ice40-up5k]
[--tables mac,bare]   (--quick: INT8×INT4 only; the full run takes tens of minutes cold)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lowbit.boards import report as rpt
from lowbit.boards.devices import get_device, without_dsp
from lowbit.boards.steps import Target
from lowbit.flow import implement, implement_component
from lowbit.hw.mul.ecp5 import Mult18x18d
from lowbit.hw.mul.fabric import FabricMultiplier, chains
from lowbit.hw.mul.ice40 import SbMac16x8
from lowbit.hw.mul.shape import InferredMultiplier
from lowbit.kinds.mac import MacConfig
from lowbit.models.formats import IntFormat, parse_format

PAIRS = [("int8", "int4"), ("int4", "int4"), ("int8", "int8"), ("int8", "int2")]
BARE_PAIRS = [("int4", "int4"), ("int8", "int4"), ("int8", "int8"),
              ("uint4", "uint4"), ("uint8", "uint4"), ("uint8", "uint8")]


def mac_rows(device, a: str, w: str):
    """(label, config, device) of every mul choice for one operand pair."""
    fa, fw = parse_format(a), parse_format(w)
    base = {"a": a, "w": w, "acc": fa.bits + fw.bits + 8, "k_bits": 12}
    family = device.family.name
    regs = {"in_reg": True, "mul_reg": True}
    rows = [("infer (Yosys: DSP)", base, device),
            ("infer (Yosys: LUTs, no DSP)", base, without_dsp(device)),
            ("infer, in+mul regs", {**base, **regs}, device),
            ("lut, portable rows", {**base, "mul": "lut"}, device)]
    cells = "ecp5" if family == "ecp5" else "generic"
    if family == "ecp5":
        rows.append(("lut, CCU2C rows", {**base, "mul": "lut", "family": "ecp5"}, device))
    stages = max(chains(fa, fw) - 1, 1)
    rows.append((f"lut {cells}, regs + {stages} stages",
                 {**base, "mul": "lut", "family": cells, "mul_stages": stages, **regs}, device))
    if family == "ecp5" or max(fa.bits, fw.bits) <= 8:
        rows.append((f"dsp {family}, in+mul regs", {**base, "mul": "dsp", "family": family,
                                                    **regs}, device))
    return [(label, MacConfig.from_dict(cfg), dev) for label, cfg, dev in rows]


def bare_units(device, a: IntFormat, w: IntFormat):
    """(label, component) of the multipliers alone, each with at least one register."""
    n = chains(a, w)
    family = device.family.name
    units = [("a * w, 1 reg (Yosys: DSP)", InferredMultiplier(a, w, 1), device),
             ("a * w, 1 reg (Yosys: LUTs)", InferredMultiplier(a, w, 1), without_dsp(device)),
             ("portable rows, 1 reg", FabricMultiplier(a, w, 1), device),
             (f"portable rows, {n} regs", FabricMultiplier(a, w, n), device)]
    if family == "ecp5":
        units += [("CCU2C rows, 1 reg", FabricMultiplier(a, w, 1, "ecp5"), device),
                  (f"CCU2C rows, {n} regs", FabricMultiplier(a, w, n, "ecp5"), device),
                  ("MULT18X18D, out reg", Mult18x18d(a, w, reg_output=True), device),
                  ("MULT18X18D, in+out regs",
                   Mult18x18d(a, w, reg_inputs=True, reg_output=True), device)]
    elif max(a.bits, w.bits) <= 8:
        units += [("SB_MAC16 8x8, out reg", SbMac16x8(a, w, reg_output=True), device),
                  ("SB_MAC16 8x8, in+out regs",
                   SbMac16x8(a, w, reg_inputs=True, reg_output=True), device)]
    return units


def implement_bare(unit, name: str, device, progress) -> dict:
    """One multiplier through the flow's out-of-context steps; its resources and clocks."""
    return implement_component(unit, name, Target(device), progress=progress)


def row(table: Table, label: str, resources: dict, clocks: dict, ref: float | None) -> float:
    fmax = rpt.fmax_mhz({"clocks": clocks})
    path = next((c["critical_path"] for c in clocks.values() if c["critical_path"]), None)
    where = f"{path['from']} → {path['to']}" if path else ""
    table.add_row(label, f"{resources['luts']:,}", f"{resources['carry']:,}",
                  f"{resources['ffs']:,}", f"{resources['dsp']}", f"{fmax:.1f}",
                  f"{fmax / ref:.2f}" if ref else "1.00", where[:60])
    return fmax


def new_table(title: str) -> Table:
    table = Table(title=title)
    for col in ("multiplier", "LUT4", "carry", "FF", "DSP", "Fmax MHz", "×ref", "critical path"):
        table.add_column(col, justify="left" if col in ("multiplier", "critical path")
                         else "right")
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="INT8×INT4 only")
    p.add_argument("--devices", default="ecp5-85f,ice40-up5k")
    p.add_argument("--tables", default="mac,bare")
    args = p.parse_args(argv)
    console = Console(width=160)
    err = Console(stderr=True)
    progress = lambda message: err.log(message)    # noqa: E731
    tables = args.tables.split(",")
    for device in map(get_device, args.devices.split(",")):
        if "mac" in tables:
            for a, w in PAIRS[:1] if args.quick else PAIRS:
                table, ref = new_table(f"mac {a}×{w} on {device.name}"), None
                for label, config, dev in mac_rows(device, a, w):
                    err.log(f"{device.name}: {label}")
                    with tempfile.TemporaryDirectory() as failed:
                        impl = implement(config, Target(dev), failed_out=Path(failed),
                                              progress=progress)
                    r = impl.report
                    fmax = row(table, label, r["resources"], r["clocks"], ref)
                    ref = ref or fmax
                console.print(table)
        if "bare" in tables:
            for a, w in (BARE_PAIRS[1:2] if args.quick else BARE_PAIRS):
                fa, fw = parse_format(a), parse_format(w)
                table, ref = new_table(f"bare {a}×{w} multiplier on {device.name}"), None
                for i, (label, unit, dev) in enumerate(bare_units(device, fa, fw)):
                    err.log(f"{device.name}: {a}×{w} {label}")
                    result = implement_bare(unit, f"mul_{a}_{w}_{i}", dev, progress)
                    fmax = row(table, label, result["resources"], result["clocks"], ref)
                    ref = ref or fmax
                console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
