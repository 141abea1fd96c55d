"""``lowbit boards``: the boards Lowbit builds bitstreams for and the devices it implements on."""

from __future__ import annotations

import argparse

from rich.table import Table

from lowbit.boards.devices import DEVICES
from lowbit.boards.platforms import BOARDS
from lowbit.commands.common import console


def register(verbs) -> None:
    p = verbs.add_parser("boards", help="list boards and devices",
                         description="List the boards (`lowbit build --board`) and devices "
                                     "(`lowbit synth --device`) with their speed grades and "
                                     "resources.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = console()
    boards = Table(title="Boards (lowbit build KIND --board NAME)",
                   caption="every platform comes from amaranth-boards")
    for col in ("board", "device", "package", "speed", "clock", "amaranth-boards platform"):
        boards.add_column(col, justify="right" if col == "clock" else "left")
    for b in BOARDS.values():
        boards.add_row(b.name, b.device.name, b.package, speed(b.speed), f"{b.clock_mhz:g} MHz",
                       b.platform.partition(":")[2])
    out.print(boards)
    devices = Table(title="Devices (lowbit synth KIND --device NAME, out of context)",
                    caption="DSPs: SB_MAC16 (iCE40), MULT18X18D (ECP5), 18×18 multipliers of "
                            "two 9×9 each (Gowin); Gowin totals from Apicula's chip database")
    for col in ("device", "family", "part", "speed", "LUTs", "FFs", "DSPs", "BRAM",
                "default target"):
        devices.add_column(col, justify="left" if col in ("device", "family", "part", "speed")
                           else "right")
    for d in DEVICES.values():
        devices.add_row(d.name, d.family.name, d.part, speed(d.speed), f"{d.luts:,}",
                        f"{d.ffs:,}", str(d.dsp), f"{d.bram} × {d.bram_kbits} kbit",
                        f"{d.default_mhz:g} MHz")
    out.print(devices)
    return 0


def speed(grade: str | None) -> str:
    """A speed grade as the tables show it; iCE40 parts have none."""
    return grade if grade else "none (single grade)"
