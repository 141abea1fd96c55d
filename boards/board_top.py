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

import json
from pathlib import Path

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from lowbit.hw.interface import CoreInterface
from lowbit.boards.platforms import Board
from lowbit.boards.selftest import Expectation, SelfTestTop, expectation
from lowbit.config import CoreConfig
from lowbit.hw.verilog import GeneratedCore

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


def checked_selftest(config: CoreConfig, core: GeneratedCore, iface: CoreInterface,
                     run_dir: Path) -> Expectation:
    """The golden expectation, after the board-independent top reached it in simulation."""
    from amaranth.back import verilog

    from lowbit.sim import runner

    expect = expectation(config, iface)
    top = SelfTestTop(iface, expect)
    text = verilog.convert(top, name=SIM_TOP, ports=top.ports(), emit_src=False)
    build = runner.build(core.verilog + text, SIM_TOP)
    run = runner.run(build, "lowbit.boards.tb_selftest", run_dir, env={
        "LOWBIT_CONFIG": json.dumps(config.to_dict()),
        "LOWBIT_OPTIONS": json.dumps(expect.to_dict())})
    if not run.passed:
        from lowbit.boards.flow import FlowError

        raise FlowError("selftest", f"the board top of {core.name} does not reach the golden "
                        f"checksum {expect.to_dict()['checksum']} in simulation", run.log,
                        run.failures)
    return expect


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
