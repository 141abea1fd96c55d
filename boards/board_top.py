"""The board top: the self-test of any core on a board's clock and LEDs.

The board-independent :class:`~lowbit.boards.selftest.SelfTestTop` is simulated with Verilator
before place-and-route (so a bitstream whose LED says "fail" points at the silicon, not at the
wrapper), then placed in :class:`BoardTop`, which the amaranth-boards platform turns into
RTLIL plus the pin and clock constraints nextpnr needs.

LEDs: the board's pass LED lights when every result arrived and the checksum matches the golden
model's; the fail LED on a mismatch, an extra result beat or a watchdog timeout; spare LEDs show
the checksum's low bits.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from lowbit.boards.platforms import Board
from lowbit.boards.selftest import Expectation, SelfTestTop
from lowbit.hw.interface import CoreInterface

SIM_TOP = "selftest_top"
TOP = "top"


class BoardTop(Elaboratable):
    """The self-test on a board: the platform supplies the clock and power-on reset."""

    def __init__(self, board: Board, selftest: SelfTestTop):
        self.board = board
        self.selftest = selftest

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.selftest = st = self.selftest
        drives = [(self.board.pass_led, st.passed), (self.board.fail_led, st.failed),
                  *((led, st.checksum[i]) for i, led in enumerate(self.board.checksum_leds))]
        ports = {}   # a resource is requested once, even when two LEDs are its subsignals
        for i, (led, value) in enumerate(drives):
            name, number, *sub = led
            if (name, number) not in ports:
                ports[name, number] = platform.request(name, number, dir="-")
            port = ports[name, number]
            m.submodules[f"led_{i}"] = buffer = io.Buffer("o", getattr(port, sub[0]) if sub
                                                          else port)
            m.d.comb += buffer.o.eq(value)
        return m


def board_files(board: Board, iface: CoreInterface, expect: Expectation, core_file: str,
                core_verilog: str) -> dict[str, str]:
    """``top.il`` and the pin and clock constraints (``top.pcf`` / ``top.lpf``) that the
    board's amaranth-boards platform writes for the board top."""
    platform = board.make_platform()
    platform.add_file(core_file, core_verilog)
    plan = platform.build(BoardTop(board, SelfTestTop(iface, expect)), name=TOP,
                          do_build=False)
    constraints = TOP + board.device.family.constraints[1]
    return {name: plan.files[name] for name in (f"{TOP}.il", constraints)}
