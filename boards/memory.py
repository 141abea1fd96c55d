"""Board memories: what a workload's operands stream from, for the roofline.

Each figure is a peak (every clock a transfer; no refresh, row changes, command or turnaround
overhead) and says where it comes from. A memory clocked with the core (``clock_mhz`` None)
runs at the core's Fmax, capped at the part's ``max_clock_mhz``.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True)
class Memory:
    """One memory of a board: capacity, data bus and clock, and the source of the figures.

    ``read_only`` (a configuration flash): only weights stream from it; activations and
    results stay in on-chip RAM and are not counted against it.
    """

    name: str
    part: str
    capacity_bytes: int
    bus_bits: int
    transfers_per_clock: int         # 1: SDR, 2: DDR
    clock_mhz: float | None          # None: clocked with the core
    source: str
    max_clock_mhz: float | None = None
    read_only: bool = False

    def clock(self, core_mhz: float) -> float:
        """The memory's clock in MHz when the core runs at ``core_mhz``."""
        if self.clock_mhz is not None:
            return self.clock_mhz
        return min(core_mhz, self.max_clock_mhz) if self.max_clock_mhz else core_mhz

    def bandwidth(self, core_mhz: float) -> float:
        """Peak bytes per second."""
        return self.bus_bits / 8 * self.transfers_per_clock * self.clock(core_mhz) * 1e6


ULX3S_SDRAM = Memory(
    "sdram", "SDR SDRAM MT48LC16M16A2 (or a pin-compatible 16M×16 part)", 32 * MIB, 16, 1,
    133.0, "ULX3S README (emard/ulx3s: 'RAM: 32MB SDRAM MT48LC16M16'); 16 data pins in "
    "amaranth-boards' ULX3S SDRAMResource; 133 MHz at CAS latency 3 is the -75 speed grade of "
    "the MT48LC16M16A2 datasheet (the -6A grade allows 167 MHz)")

ICE40UP_SPRAM = Memory(
    "spram", "iCE40UP5K single-port RAM, 4 blocks of 16K×16 (SB_SPRAM256KA)", 128 * 1024, 64, 1,
    None, "Lattice iCE40 UltraPlus datasheet (FPGA-DS-02008): 1 Mbit SPRAM in four 256-kbit "
    "blocks, each 16 bits wide; iCEBreaker README: '1 MBit (128 KB) Single-Port RAM'; all four "
    "read in parallel, one word each per core clock")

ICEBREAKER_FLASH = Memory(
    "flash", "quad-SPI NOR flash, 128 Mbit (W25Q128JV class)", 16 * MIB, 4, 1, None,
    "iCEBreaker README: 'QSPI-capable flash 128 MBit (16 MB)'; quad SPI moves 4 bits per "
    "clock, read at the core's clock, at most 133 MHz (W25Q128JV datasheet: 133 MHz quad SPI, "
    "66 MB/s)", max_clock_mhz=133.0, read_only=True)

ORANGECRAB_DDR3 = Memory(
    "ddr3", "DDR3L MT41K64M16 (1 Gbit, 16-bit)", 128 * MIB, 16, 2, 400.0,
    "OrangeCrab r0.2 documentation: 128 MB DDR3L, 16-bit; 400 MHz (800 Mb/s per pin) is the "
    "ECP5 DDR3 interface limit of the Lattice ECP5 family datasheet (FPGA-DS-02012)")
