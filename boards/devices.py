"""FPGA families and devices: how each is synthesized, placed, packed and counted.

A :class:`Family` says which Yosys command synthesizes for it, which nextpnr and packer run,
what its bitstream looks like, and how its cell types map onto the normalized resources of a
report (LUTs, FFs, carry cells, DSPs, block RAMs, IOs). A :class:`Device` is one part of a
family with the nextpnr options that select it and its datasheet totals (``lowbit boards``
lists them; the test suite checks them against nextpnr's own device database).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lowbit.errors import ConfigError

#: the normalized resources of a report, in table order, and what they count
RESOURCES = ("luts", "ffs", "carry", "dsp", "bram", "io")
RESOURCE_NAMES = {"luts": "LUT4s", "ffs": "flip-flops", "carry": "carry cells",
                  "dsp": "DSP blocks", "bram": "block RAMs", "io": "IOs"}


@dataclass(frozen=True)
class Family:
    """One FPGA family and its open toolchain."""

    name: str
    synth: str                           # Yosys synthesis command
    nextpnr: str                         # tool names in lowbit.tools
    packer: str
    constraints: tuple[str, str]         # nextpnr flag and file suffix of pin constraints
    placed: tuple[str, str]              # nextpnr flag and file suffix of the placed design
    pack_args: tuple[str, ...]           # packer arguments; {placed} and {bitstream} filled in
    bitstream_suffix: str
    preamble: bytes                      # sync word every bitstream of the family carries
    native_ooc: bool                     # nextpnr has --out-of-context (no IO buffers)
    lut_cells: Mapping[str, int]         # Yosys cell type → LUT4s it occupies
    ff_prefix: str                       # every flip-flop cell type starts with this
    carry_cells: tuple[str, ...]
    dsp_cells: tuple[str, ...]
    bram_cells: tuple[str, ...]
    bels: Mapping[str, str]              # normalized resource → nextpnr utilization key
    packages: Mapping[str, str] | None   # platform package → nextpnr's name (None: lower case)

    def nextpnr_package(self, package: str) -> str:
        """nextpnr's spelling of a package name as amaranth-boards gives it (e.g. BG381)."""
        if self.packages is None:
            return package.lower()
        if package.upper() in self.packages.values():
            return package.upper()
        return self.packages[package.upper()]

    def count(self, cells: Mapping[str, int]) -> dict[str, int]:
        """Normalized resources of a netlist from its cell counts by type (Yosys ``stat``)."""
        return {
            "luts": sum(n * cells.get(t, 0) for t, n in self.lut_cells.items()),
            "ffs": sum(n for t, n in cells.items() if t.startswith(self.ff_prefix)),
            "carry": sum(cells.get(t, 0) for t in self.carry_cells),
            "dsp": sum(cells.get(t, 0) for t in self.dsp_cells),
            "bram": sum(cells.get(t, 0) for t in self.bram_cells),
        }


ICE40 = Family(
    name="ice40", synth="synth_ice40", nextpnr="nextpnr-ice40", packer="icepack",
    constraints=("--pcf", ".pcf"), placed=("--asc", ".asc"),
    pack_args=("{placed}", "{bitstream}"), bitstream_suffix=".bin",
    preamble=bytes.fromhex("7EAA997E"), native_ooc=False,
    # A logic cell is a LUT4, a carry and a flip-flop: an adder bit is one SB_LUT4 whose
    # SB_CARRY rides along in the same cell, so carries add no LUTs.
    lut_cells={"SB_LUT4": 1}, ff_prefix="SB_DFF", carry_cells=("SB_CARRY",),
    dsp_cells=("SB_MAC16",), bram_cells=("SB_RAM40_4K",),
    bels={"luts": "ICESTORM_LC", "ffs": "ICESTORM_LC", "dsp": "ICESTORM_DSP",
          "bram": "ICESTORM_RAM", "io": "SB_IO"},
    packages=None,
)

ECP5 = Family(
    name="ecp5", synth="synth_ecp5", nextpnr="nextpnr-ecp5", packer="ecppack",
    constraints=("--lpf", ".lpf"), placed=("--textcfg", ".config"),
    pack_args=("--input", "{placed}", "--bit", "{bitstream}"), bitstream_suffix=".bit",
    preamble=bytes.fromhex("FFFFBDB3"), native_ooc=True,
    # A CCU2C (two adder bits) occupies both LUT4s of a slice half, as Lattice counts it.
    lut_cells={"LUT4": 1, "CCU2C": 2}, ff_prefix="TRELLIS_FF", carry_cells=("CCU2C",),
    dsp_cells=("MULT18X18D",), bram_cells=("DP16KD",),
    bels={"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "dsp": "MULT18X18D",
          "bram": "DP16KD", "io": "TRELLIS_IO"},
    packages={"BG256": "CABGA256", "MG285": "CSFBGA285", "BG381": "CABGA381",
              "BG554": "CABGA554", "BG756": "CABGA756"},
)


@dataclass(frozen=True)
class Device:
    """One FPGA part; the totals are the datasheet's (LUT4s, FFs, DSP blocks, block RAMs)."""

    name: str
    family: Family
    part: str
    package: str                 # nextpnr package for out-of-context runs
    nextpnr_args: tuple[str, ...]
    speed: str | None            # ECP5 speed grade for out-of-context runs
    luts: int
    ffs: int
    dsp: int
    bram: int
    bram_kbits: int              # bits per block RAM, in kbit
    default_mhz: float           # out-of-context timing target unless --freq is given
    ceiling_mhz: float = 0.0     # registered DSP / block RAM Fmax (benchmarks/device_ceiling.py)

    @property
    def synth_command(self) -> str:
        """The Yosys synthesis command; DSP inference only where the part has DSP blocks."""
        dsp = " -dsp" if self.family is ICE40 and self.dsp else ""
        return f"{self.family.synth}{dsp}"

    def totals(self) -> dict[str, int]:
        return {"luts": self.luts, "ffs": self.ffs, "dsp": self.dsp, "bram": self.bram}


DEVICES: dict[str, Device] = {d.name: d for d in [
    Device("ice40-up5k", ICE40, "iCE40UP5K", "sg48", ("--up5k",), None,
           luts=5280, ffs=5280, dsp=8, bram=30, bram_kbits=4, default_mhz=50),
    Device("ice40-hx8k", ICE40, "iCE40HX8K", "ct256", ("--hx8k",), None,
           luts=7680, ffs=7680, dsp=0, bram=32, bram_kbits=4, default_mhz=80),
    Device("ecp5-25f", ECP5, "LFE5U-25F", "CABGA381", ("--25k",), "6",
           luts=24288, ffs=24288, dsp=28, bram=56, bram_kbits=18, default_mhz=100),
    Device("ecp5-85f", ECP5, "LFE5U-85F", "CABGA381", ("--85k",), "6",
           luts=83640, ffs=83640, dsp=156, bram=208, bram_kbits=18, default_mhz=100),
]}


def get_device(name: str) -> Device:
    """The device called ``name``, or a ConfigError listing the known ones."""
    if name not in DEVICES:
        raise ConfigError("device", name, f"known devices: {', '.join(DEVICES)}")
    return DEVICES[name]


def device_of_part(part: str) -> Device:
    """The device of an amaranth-boards platform's ``device`` string (e.g. ``LFE5U-85F``)."""
    for d in DEVICES.values():
        if d.part.upper() == part.upper():
            return d
    raise ConfigError("device", part, f"known parts: {', '.join(d.part for d in DEVICES.values())}")
