"""The clock ceiling of each device: the Fmax nextpnr gives a registered DSP multiplier and a
block-RAM read, each between the flip-flops of the out-of-context harness.

These are the clock figures of the device bound (``Device.ceiling_mhz`` in
``lowbit.boards.devices``, the lower of the two): no array of these blocks runs faster on this
toolchain and speed grade. Run it after a toolchain update and copy the figures over.

    python benchmarks/device_ceiling.py [--device ecp5-85f ...]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from amaranth.back import rtlil, verilog
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from rich.console import Console
from rich.table import Table

from lowbit.boards import report as rpt
from lowbit.boards.devices import DEVICES
from lowbit.boards.harness import Harness
from lowbit.boards.steps import Steps, Target, pnr, synth, tools_for
from lowbit.hw.interface import CoreInterface
from lowbit.hw.mul.ecp5 import Mult18x18d
from lowbit.hw.mul.ice40 import SbMac16x8
from lowbit.hw.verilog import ports_of
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
    """One block RAM (as Yosys maps a 512×16 memory): a write port and a registered read."""

    def __init__(self):
        super().__init__({"waddr": In(9), "wdata": In(16), "we": In(1), "raddr": In(9),
                          "rdata": Out(16)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=16, depth=512, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        m.d.comb += [wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we),
                     rd.addr.eq(self.raddr), self.rdata.eq(rd.data)]
        return m


def fmax(component, name: str, device) -> float:
    """Fmax of ``component`` out of context on ``device`` (the harness's flip-flops around)."""
    target = Target.parse(device=device.name)
    text = verilog.convert(component, name=name, emit_src=False)
    iface = CoreInterface.from_manifest({"name": name, "ports": ports_of(component)})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / f"{name}.v").write_text(text)
        harness = Harness(iface)
        (work / "harness.il").write_text(rtlil.convert(harness, name="harness",
                                                       ports=harness.ports()))
        run = Steps(work, tools_for(target, "pypi"), lambda m: None)
        synth(run, name, "harness", [f"{name}.v", "harness.il"], device)
        report, _ = pnr(run, target, ["--out-of-context"] if device.family.native_ooc else [],
                        1, 500)
    return min(c["achieved_mhz"] for c in rpt.clocks(report).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", choices=sorted(DEVICES),
                        help="devices to measure (default: every device with DSP blocks)")
    args = parser.parse_args()
    devices = [DEVICES[d] for d in args.device or DEVICES if DEVICES[d].dsp]
    table = Table(title="clock ceilings (nextpnr, out of context)")
    for col in ("device", "speed", "DSP MHz", "block RAM MHz", "ceiling MHz", "listed"):
        table.add_column(col, justify="left" if col in ("device", "speed") else "right")
    rows = []
    for device in devices:
        dsp = fmax(DspProbe(device.family.name), "dsp_probe", device)
        ram = fmax(RamProbe(), "ram_probe", device)
        rows.append({"device": device.name, "dsp_mhz": dsp, "ram_mhz": ram})
        table.add_row(device.name, device.speed or "-", f"{dsp:.1f}", f"{ram:.1f}",
                      f"{min(dsp, ram):.1f}", f"{device.ceiling_mhz:.1f}")
    Console().print(table)
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
