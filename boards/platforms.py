"""Board files: every board Lowbit builds bitstreams for, on amaranth-boards platforms.

All five boards exist in ``amaranth-boards``; each entry names its platform class and which of
its LEDs show the self-test's verdict (see :mod:`lowbit.boards.selftest`). The FPGA part and
package come from the platform itself and select the :class:`~lowbit.boards.devices.Device`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property

from lowbit.boards.devices import Device, device_of_part
from lowbit.boards.memory import (
    ICE40UP_SPRAM,
    ICEBREAKER_FLASH,
    ORANGECRAB_DDR3,
    ULX3S_SDRAM,
    Memory,
)
from lowbit.errors import ConfigError

#: an LED resource: (name, number) or (name, number, subsignal) as the platform defines it
Led = tuple


@dataclass(frozen=True)
class Board:
    """One board: its amaranth-boards platform, the LEDs the board top drives, and the memories
    a workload's operands can stream from (the first is the roofline's default)."""

    name: str
    title: str
    platform: str                      # "module:Class" in amaranth_boards
    pass_led: Led
    fail_led: Led
    checksum_leds: tuple[Led, ...] = ()
    extra_resources: str | None = None     # platform attribute listing add-on resources
    memories: tuple[Memory, ...] = ()
    pll_pad: bool = False       # iCE40: the clock pin is a PLL's own pad (the _PAD primitive)

    def make_platform(self):
        module, _, cls = self.platform.partition(":")
        platform = getattr(importlib.import_module(f"amaranth_boards.{module}"), cls)()
        if self.extra_resources:
            platform.add_resources(getattr(platform, self.extra_resources))
        return platform

    @cached_property
    def _platform(self):
        return self.make_platform()

    @property
    def device(self) -> Device:
        return device_of_part(self._platform.device)

    @property
    def package(self) -> str:
        """The package as nextpnr names it (e.g. ``sg48``, ``CABGA381``)."""
        return self.device.family.nextpnr_package(self._platform.package)

    @property
    def speed(self) -> str | None:
        return getattr(self._platform, "speed", None)

    @property
    def clock_mhz(self) -> float:
        return self._platform.default_clk_frequency / 1e6


BOARDS: dict[str, Board] = {b.name: b for b in [
    Board("icebreaker", "1BitSquared iCEBreaker", "icebreaker:ICEBreakerPlatform",
          pass_led=("led", 1), fail_led=("led", 0),   # green, red
          checksum_leds=tuple(("led", i) for i in range(2, 7)),   # on the PMOD2 snap-off
          extra_resources="break_off_pmod", memories=(ICEBREAKER_FLASH, ICE40UP_SPRAM),
          pll_pad=True),        # clock on pin 35
    Board("ice40-hx8k-evb", "Lattice iCE40-HX8K Breakout Board",
          "ice40_hx8k_b_evn:ICE40HX8KBEVNPlatform", pass_led=("led", 0), fail_led=("led", 1),
          checksum_leds=tuple(("led", i) for i in range(2, 8))),
    Board("ulx3s-85f", "Radiona ULX3S (LFE5U-85F)", "ulx3s:ULX3S_85F_Platform",
          pass_led=("led", 0), fail_led=("led", 1),
          checksum_leds=tuple(("led", i) for i in range(2, 8)), memories=(ULX3S_SDRAM,)),
    Board("ulx3s-25f", "Radiona ULX3S (LFE5U-25F)", "ulx3s:ULX3S_25F_Platform",
          pass_led=("led", 0), fail_led=("led", 1),
          checksum_leds=tuple(("led", i) for i in range(2, 8)), memories=(ULX3S_SDRAM,)),
    Board("orangecrab-25f", "Good Stuff Department OrangeCrab r0.2 (25F)",
          "orangecrab_r0_2:OrangeCrabR0_2_25FPlatform",
          pass_led=("rgb_led", 0, "g"), fail_led=("rgb_led", 0, "r"),
          memories=(ORANGECRAB_DDR3,)),
]}


def get_board(name: str) -> Board:
    """The board called ``name``, or a ConfigError listing the known ones."""
    if name not in BOARDS:
        raise ConfigError("board", name, f"known boards: {', '.join(BOARDS)}")
    return BOARDS[name]
