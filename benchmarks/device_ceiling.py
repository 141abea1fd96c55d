"""The clock ceiling of each device: the Fmax nextpnr gives a registered DSP multiplier and a
block-RAM read, each between the flip-flops of the out-of-context harness.

These are the clock figures of the device bound (``Device.ceiling_mhz`` in
``lowbit.boards.devices``: the DSP's, or the block RAM's when lower, with its read registered
where that is faster): no array of these blocks runs faster on this toolchain and speed grade.
Run it after a toolchain update and copy the figures over.

    python benchmarks/device_ceiling.py [--device ecp5-85f ...]
"""

from __future__ import annotations

import argparse
import json

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from rich.console import Console
from rich.table import Table

from lowbit.boards.devices import DEVICES
from lowbit.boards.steps import Target
from lowbit.flow import implement_component
from lowbit.hw.mul.ecp5 import Mult18x18d
from lowbit.hw.mul.ice40 import SbMac16x8
from lowbit.models.formats import IntFormat


class DspProbe(wiring.Component):
    """The family's DSP block with every register on: inputs in, product out."""

    def __init__(self, family: str):
        self.family = family
        bits = 16 if family == "ecp5" else 8  # the widest IntFormat product is 32 bits
        self.fmt = IntFormat(bits)
        super().__init__({"a": In(bits), "w": In(bits), "p": Out(2 * bits)})

    def elaborate(self, platform):
        m = Module()
        if self.family == "ecp5":
            mul = Mult18x18d(self.fmt, self.fmt, reg_inputs=True, reg_pipeline=True,
                             reg_output=True)
        else:
            mul = SbMac16x8(self.fmt, self.fmt, reg_inputs=True, reg_output=True)
        m.submodules.mul = mul
        m.d.comb += [mul.a.eq(self.a), mul.w.eq(self.w), mul.en.eq(1), self.p.eq(mul.p)]
        return m


class RamProbe(wiring.Component):
    """One block RAM (as Yosys maps a 512×16 memory): a write port and a synchronous read,
    with ``out_reg`` a register right after it (the block's output register where the
    mapping takes it in)."""

    def __init__(self, out_reg: bool):
        self.out_reg = out_reg
        super().__init__({"waddr": In(9), "wdata": In(16), "we": In(1), "raddr": In(9),
                          "rdata": Out(16)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=16, depth=512, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we),
                     rd.addr.eq(self.raddr)]
        if self.out_reg:
            m.d.sync += self.rdata.eq(rd.data)
        else:
            m.d.comb += self.rdata.eq(rd.data)
        return m


def fmax(component, name: str, device) -> float:
    """Fmax of ``component`` out of context on ``device`` (the harness's flip-flops around)."""
    clocks = implement_component(component, name, Target(device))["clocks"]
    return min(c["achieved_mhz"] for c in clocks.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", choices=sorted(DEVICES),
                        help="devices to measure (default: every device with DSP blocks)")
    args = parser.parse_args()
    devices = [DEVICES[d] for d in args.device or DEVICES if DEVICES[d].dsp]
    table = Table(title="clock ceilings (nextpnr, out of context)")
    for col in ("device", "speed", "DSP MHz", "block RAM MHz", "RAM + register MHz",
                "ceiling MHz", "listed"):
        table.add_column(col, justify="left" if col in ("device", "speed") else "right")
    rows = []
    for device in devices:
        dsp = fmax(DspProbe(device.family.name), "dsp_probe", device)
        ram = fmax(RamProbe(False), "ram_probe", device)
        ram_reg = fmax(RamProbe(True), "ram_reg_probe", device)
        ceiling = min(dsp, max(ram, ram_reg))
        rows.append({"device": device.name, "dsp_mhz": dsp, "ram_mhz": ram,
                     "ram_reg_mhz": ram_reg, "ceiling_mhz": ceiling})
        table.add_row(device.name, device.speed or "-", f"{dsp:.1f}", f"{ram:.1f}",
                      f"{ram_reg:.1f}", f"{ceiling:.1f}", f"{device.ceiling_mhz:.1f}")
    Console().print(table)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
