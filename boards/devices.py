"""FPGA families and devices: how each is synthesized, placed, packed and counted.

A :class:`Family` says which Yosys command synthesizes for it, which nextpnr and packer run,
what its bitstream looks like, and how its cell types map onto the normalized resources of a
report (LUTs, FFs, carry cells, DSPs, block RAMs, IOs). A :class:`Device` is one part of a
family with the nextpnr options that select it, its speed grade and its totals: the datasheet's
for iCE40 and ECP5 (the test suite checks them against nextpnr's own device database), Apicula's
chip database for Gowin (:mod:`lowbit.boards.gowin`; the test suite checks those against nextpnr
too). ``lowbit boards`` lists them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from lowbit.boards import gowin
from lowbit.errors import ConfigError

#: the normalized resources of a report, in table order, and what they count
RESOURCES = ("luts", "ffs", "carry", "dsp", "bram", "io")
RESOURCE_NAMES = {"luts": "LUT4s", "ffs": "flip-flops", "carry": "carry cells",
                  "dsp": "DSP blocks", "bram": "block RAMs", "io": "IOs"}
#: the resources a device has a total of
TOTALS = ("luts", "ffs", "dsp", "bram")


@dataclass(frozen=True)
class Family:
    """One FPGA family and its open toolchain.

    Argument templates are filled in per run: ``{file}`` (a constraints or placed-design file),
    ``{placed}``, ``{bitstream}`` and ``{chipdb}`` (the packer's).
    """

    name: str
    synth: str                           # Yosys synthesis command
    nextpnr: str                         # tool names in lowbit.tools
    packer: str
    constraints: tuple[tuple[str, ...], str]   # nextpnr arguments and file suffix of the pins
    placed: tuple[tuple[str, ...], str]        # ... and of the placed design
    pack_args: tuple[str, ...]
    bitstream_suffix: str
    preamble: bytes                      # sync word every bitstream of the family carries
    native_ooc: bool                     # nextpnr has --out-of-context (no IO buffers)
    lut_cells: Mapping[str, int]         # Yosys cell type → LUT4s it occupies
    ff_prefix: str                       # every flip-flop cell type starts with this
    carry_cells: tuple[str, ...]
    dsp_cells: Mapping[str, float]       # Yosys cell type → DSP blocks it takes
    bram_cells: tuple[str, ...]
    bels: Mapping[str, str]              # normalized resource → nextpnr utilization key
    # where a resource's placed cells are not all of its key's type: nextpnr's ``used`` counts
    # cells by type, ``available`` bels by type; resource → {utilization key: blocks per cell}
    used_keys: Mapping[str, Mapping[str, float]]
    packages: Mapping[str, str]          # platform package → nextpnr's name, where they differ
    lower_packages: bool = False         # nextpnr spells packages in lower case (iCE40)
    text_bitstream: bool = False         # the bitstream is ASCII '0'/'1' lines (Gowin .fs)
    constrained_clock: bool = True       # a board's pin constraints carry its clock frequency
    pinned_ooc: bool = False             # out of context, nextpnr needs every port on a pin
    post_synth: tuple[str, ...] = ()     # Yosys commands after synthesis ({top} filled in)
    synth_files: Mapping[str, str] | None = None   # files they read: name → text
    untimed_cells: tuple[str, ...] = ()  # cell types nextpnr has no timing model for

    def nextpnr_package(self, package: str) -> str:
        """nextpnr's spelling of a package name as amaranth-boards gives it (e.g. BG381)."""
        if self.lower_packages:
            return package.lower()
        if package.upper() in self.packages.values():
            return package.upper()
        return self.packages.get(package.upper(), package)

    def count(self, cells: Mapping[str, int]) -> dict[str, int]:
        """Normalized resources of a netlist from its cell counts by type (Yosys ``stat``); a
        DSP cell that takes part of a block (a Gowin MULT9X9: half an 18×18) rounds up."""
        return {
            "luts": sum(n * cells.get(t, 0) for t, n in self.lut_cells.items()),
            "ffs": sum(n for t, n in cells.items() if t.startswith(self.ff_prefix)),
            "carry": sum(cells.get(t, 0) for t in self.carry_cells),
            "dsp": math.ceil(sum(w * cells.get(t, 0) for t, w in self.dsp_cells.items())),
            "bram": sum(cells.get(t, 0) for t in self.bram_cells),
        }


ICE40 = Family(
    name="ice40", synth="synth_ice40", nextpnr="nextpnr-ice40", packer="icepack",
    constraints=(("--pcf", "{file}"), ".pcf"), placed=(("--asc", "{file}"), ".asc"),
    pack_args=("{placed}", "{bitstream}"), bitstream_suffix=".bin",
    preamble=bytes.fromhex("7EAA997E"), native_ooc=False,
    # A logic cell is a LUT4, a carry and a flip-flop: an adder bit is one SB_LUT4 whose
    # SB_CARRY rides along in the same cell, so carries add no LUTs.
    lut_cells={"SB_LUT4": 1}, ff_prefix="SB_DFF", carry_cells=("SB_CARRY",),
    dsp_cells={"SB_MAC16": 1}, bram_cells=("SB_RAM40_4K",),
    bels={"luts": "ICESTORM_LC", "ffs": "ICESTORM_LC", "dsp": "ICESTORM_DSP",
          "bram": "ICESTORM_RAM", "io": "SB_IO"},
    used_keys={}, packages={}, lower_packages=True,
)

ECP5 = Family(
    name="ecp5", synth="synth_ecp5", nextpnr="nextpnr-ecp5", packer="ecppack",
    constraints=(("--lpf", "{file}"), ".lpf"), placed=(("--textcfg", "{file}"), ".config"),
    pack_args=("--input", "{placed}", "--bit", "{bitstream}"), bitstream_suffix=".bit",
    preamble=bytes.fromhex("FFFFBDB3"), native_ooc=True,
    # A CCU2C (two adder bits) occupies both LUT4s of a slice half, as Lattice counts it. A
    # TRELLIS_DPR16X4 (16×4 distributed RAM) takes the four LUT4s of two slices as storage and
    # the two of a third for its write port: six, as nextpnr's TRELLIS_COMB count has it.
    lut_cells={"LUT4": 1, "CCU2C": 2, "TRELLIS_DPR16X4": 6}, ff_prefix="TRELLIS_FF",
    carry_cells=("CCU2C",), dsp_cells={"MULT18X18D": 1}, bram_cells=("DP16KD",),
    bels={"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "dsp": "MULT18X18D",
          "bram": "DP16KD", "io": "TRELLIS_IO"},
    used_keys={},
    packages={"BG256": "CABGA256", "MG285": "CSFBGA285", "BG381": "CABGA381",
              "BG554": "CABGA554", "BG756": "CABGA756"},
)

#: Gowin DSP cells in 18×18 multipliers (the unit of a part's DSP total): a MULT9X9 is half of
#: one, the 36-bit modes take two or four; the pre-adders and the 54-bit ALU multiply nothing
GOWIN_DSP = {"MULT9X9": 0.5, "MULT18X18": 1, "MULTALU18X18": 1, "MULTALU36X18": 2,
             "MULTADDALU18X18": 2, "MULT36X36": 4}

GOWIN = Family(
    name="gowin", synth="synth_gowin -noiopads", nextpnr="nextpnr-gowin", packer="gowin_pack",
    # synth_gowin maps IO buffers onto the ports of every module, the kept core's too: the
    # flow maps them onto the top's alone (the platform's own IBUF/TBUF cells stay as they
    # are); and LUT1..LUT3 become LUT4s, the only LUTs nextpnr's timing database has arcs for
    post_synth=("iopadmap -bits -inpad IBUF O:I -outpad OBUF I:O -toutpad TBUF ~OEN:I:O "
                "-tinoutpad IOBUF ~OEN:O:I:IO {top}", "techmap -map gowin_lut4.v"),
    synth_files={"gowin_lut4.v": gowin.LUT4_MAP}, untimed_cells=gowin.UNTIMED_CELLS,
    constraints=(("--vopt", "cst={file}"), ".cst"), placed=(("--write", "{file}"), ".pnr.json"),
    pack_args=("-d", "{chipdb}", "-o", "{bitstream}", "{placed}"), bitstream_suffix=".fs",
    # the .fs file's header: FF padding, then the sync word A5 C3 (bits as ASCII text)
    preamble=bytes.fromhex("FFFFA5C3"), native_ooc=False, text_bitstream=True,
    # A CFU holds eight LUT4s and six flip-flops; an ALU (one adder bit) is the LUT4 of its
    # position in ALU mode, which nextpnr counts among the LUT4s too. The MUX2_LUT5..8 that
    # join LUT4s into wider functions are dedicated muxes, no LUTs.
    lut_cells={"LUT1": 1, "LUT2": 1, "LUT3": 1, "LUT4": 1, "ALU": 1}, ff_prefix="DFF",
    carry_cells=("ALU",), dsp_cells=GOWIN_DSP,
    bram_cells=("SP", "SPX9", "SDP", "SDPX9", "SDPB", "SDPX9B", "DP", "DPX9", "DPB", "DPX9B",
                "pROM", "pROMX9"),
    bels={"luts": "LUT4", "ffs": "DFF", "dsp": "MULT18X18", "bram": "BSRAM", "io": "IOB"},
    # an input buffer becomes an IOB cell; output and tristate buffers keep their types
    used_keys={"dsp": GOWIN_DSP, "io": dict.fromkeys(("IOB", "IBUF", "OBUF", "TBUF", "IOBUF"), 1)},
    packages={},
    # Apicula's .cst has pins only: the board's clock goes to nextpnr as --freq
    constrained_clock=False,
    # nextpnr-himbaechel-gowin has no out-of-context mode and refuses unconstrained IOs
    pinned_ooc=True,
)

FAMILIES = {f.name: f for f in (ICE40, ECP5, GOWIN)}


@dataclass(frozen=True)
class Device:
    """One FPGA part.

    ``nextpnr_args`` select it, with ``{package}``, ``{speed}``, ``{part_number}`` and
    ``{chipdb}`` filled in from the run's target. ``speed`` is the speed grade out-of-context
    runs use (ECP5 ``6``, Gowin ``C6/I5``; iCE40 parts have no speed grades: None). ``datasheet``
    holds the totals (LUT4s, FFs, DSP blocks, block RAMs) where they are typed in; without it
    they come from the family's chip database (Gowin: Apicula's).
    """

    name: str
    family: Family
    part: str                    # as amaranth-boards platforms name it (device / family)
    package: str                 # package of out-of-context runs, as the platforms spell it
    nextpnr_args: tuple[str, ...]
    speed: str | None
    bram_kbits: int              # bits per block RAM, in kbit
    default_mhz: float           # out-of-context timing target unless --freq is given
    datasheet: Mapping[str, int] | None = None
    synth_args: str = ""         # options of the Yosys synthesis command
    part_number: str = ""        # full part number ({package}, {speed}): Gowin selects by it
    chipdb: str = ""             # the chip database nextpnr and the packer load (Gowin)
    ceiling_mhz: float = 0.0     # registered DSP / block RAM Fmax (benchmarks/device_ceiling.py)

    @property
    def synth_command(self) -> str:
        """The Yosys synthesis command with the part's options (e.g. iCE40 ``-dsp``)."""
        return f"{self.family.synth} {self.synth_args}".strip()

    def full_part_number(self, package: str | None = None, speed: str | None = None) -> str:
        """The part number with a package and speed grade (default: the device's own)."""
        return self.part_number.format(package=package or self.package,
                                       speed=speed or self.speed)

    def chip_facts(self) -> dict[str, Any]:
        """What the chip database says about the part (Gowin: totals and out-of-context pins)."""
        return gowin.facts(self.chipdb, self.full_part_number())

    def totals(self) -> dict[str, int]:
        if self.datasheet is not None:
            return {r: self.datasheet[r] for r in TOTALS}
        return dict(self.chip_facts()["totals"])

    @property
    def luts(self) -> int:
        return self.totals()["luts"]

    @property
    def ffs(self) -> int:
        return self.totals()["ffs"]

    @property
    def dsp(self) -> int:
        return self.totals()["dsp"]

    @property
    def bram(self) -> int:
        return self.totals()["bram"]


def _datasheet(luts: int, ffs: int, dsp: int, bram: int) -> dict[str, int]:
    return {"luts": luts, "ffs": ffs, "dsp": dsp, "bram": bram}


GOWIN_ARGS = ("--device", "{part_number}", "--vopt", "family={chipdb}")

#: ceiling_mhz: `python benchmarks/device_ceiling.py --device ecp5-85f --device ecp5-25f
#: --device ice40-up5k` (nextpnr-ecp5 / -ice40 0.11.1, seed 1, out of context): the registered
#: block RAM of lowbit.hw.ram is below the DSP on every device (ECP5: DP16KD OUTREG → bypass
#: LUT → FF, 380 / 303 MHz against the DSP's 439 / 425; iCE40 UP5K: SB_RAM40_4K → LUT → FF,
#: 98 MHz against 228). The HX8K has no DSP block and is not measured.
DEVICES: dict[str, Device] = {d.name: d for d in [
    Device("ice40-up5k", ICE40, "iCE40UP5K", "sg48", ("--up5k", "--package", "{package}"), None,
           bram_kbits=4, default_mhz=50, datasheet=_datasheet(5280, 5280, 8, 30),
           synth_args="-dsp", ceiling_mhz=97.7),
    Device("ice40-hx8k", ICE40, "iCE40HX8K", "ct256", ("--hx8k", "--package", "{package}"),
           None, bram_kbits=4, default_mhz=80, datasheet=_datasheet(7680, 7680, 0, 32)),
    Device("ecp5-25f", ECP5, "LFE5U-25F", "CABGA381",
           ("--25k", "--package", "{package}", "--speed", "{speed}"), "6",
           bram_kbits=18, default_mhz=100, datasheet=_datasheet(24288, 24288, 28, 56),
           ceiling_mhz=303.2),
    Device("ecp5-45f", ECP5, "LFE5U-45F", "CABGA381",
           ("--45k", "--package", "{package}", "--speed", "{speed}"), "6",
           bram_kbits=18, default_mhz=100, datasheet=_datasheet(43848, 43848, 72, 108)),
    Device("ecp5-85f", ECP5, "LFE5U-85F", "CABGA381",
           ("--85k", "--package", "{package}", "--speed", "{speed}"), "6",
           bram_kbits=18, default_mhz=100, datasheet=_datasheet(83640, 83640, 156, 208),
           ceiling_mhz=379.6),
    # the parts of the Tang Nano 9K and the Tang Primer 20K, at their speed grades
    Device("gw1nr-9", GOWIN, "GW1NR-9C", "QN88P", GOWIN_ARGS, "C6/I5", bram_kbits=18,
           default_mhz=100, synth_args="-family gw1n", part_number="GW1NR-LV9{package}{speed}",
           chipdb="GW1N-9C"),
    Device("gw2a-18", GOWIN, "GW2A-18C", "PG256", GOWIN_ARGS, "C8/I7", bram_kbits=18,
           default_mhz=100, synth_args="-family gw2a", part_number="GW2A-LV18{package}{speed}",
           chipdb="GW2A-18C"),
]}


def without_dsp(device: Device) -> Device:
    """``device`` with Yosys's DSP inference off (iCE40: no ``-dsp``; ECP5, Gowin: ``-nodsp``)
    under a name of its own (``<name>-nodsp``, so its own cache entries): what a design's
    multiplications cost in the fabric as Yosys maps them."""
    args = [a for a in device.synth_args.split() if a != "-dsp"]
    if device.family.name in ("ecp5", "gowin"):
        args.append("-nodsp")
    return replace(device, name=f"{device.name}-nodsp", synth_args=" ".join(args))


def get_device(name: str) -> Device:
    """The device called ``name``, or a ConfigError listing the known ones."""
    if name not in DEVICES:
        raise ConfigError("device", name, f"known devices: {', '.join(DEVICES)}")
    return DEVICES[name]


def device_of_part(part: str) -> Device:
    """The device of an amaranth-boards platform's part: its ``device`` string (Lattice, e.g.
    ``LFE5U-85F``) or its ``family`` (Gowin, e.g. ``GW1NR-9C``)."""
    for d in DEVICES.values():
        if d.part.upper() == part.upper():
            return d
    raise ConfigError("device", part, f"known parts: {', '.join(d.part for d in DEVICES.values())}")
