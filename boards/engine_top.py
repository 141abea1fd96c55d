"""The board top of the GEMM engine: the engine on the board's clock, UART pins and LEDs.

The serial port is the board's USB UART (iCEBreaker: FTDI channel B; ULX3S: the FTDI US1
port). The pass LED shows a run in progress, the fail LED that the last command was
rejected (corrupted, truncated or malformed). Built by ``lowbit build KIND ... --engine``.
"""

from amaranth.hdl import Elaboratable, Module
from amaranth.lib import io

from lowbit.boards.platforms import Board
from lowbit.hw.engine import Engine
from lowbit.hw.interface import CoreInterface
from lowbit.hw.protocol import EngineLayout, EngineOptions
from lowbit.hw.verilog import GeneratedCore

TOP = "top"


class EngineBoardTop(Elaboratable):
    def __init__(self, board: Board, engine):
        self.board, self.engine = board, engine

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.engine = engine = self.engine
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx = rx = io.Buffer("i", uart.rx)
        m.submodules.tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [engine.rx.eq(rx.i), tx.o.eq(engine.tx)]
        for i, (led, value) in enumerate(((self.board.pass_led, engine.busy),
                                          (self.board.fail_led, engine.error))):
            name, number, *sub = led
            port = platform.request(name, number, dir="-")
            m.submodules[f"led_{i}"] = buffer = io.Buffer("o", getattr(port, sub[0]) if sub
                                                          else port)
            m.d.comb += buffer.o.eq(value)
        return m


def engine_board_files(board: Board, config, core: GeneratedCore, options: EngineOptions,
                       core_file: str) -> dict[str, str]:
    """``top.il`` and the pin and clock constraints of the engine around ``core`` on ``board``."""

    iface = CoreInterface.from_manifest(core.manifest)
    layout = EngineLayout.build(config, iface, options.depth, options.multiplier_bits)
    engine = Engine(iface, layout, options.divisor(board.clock_mhz * 1e6), options.timeout_bytes)
    platform = board.make_platform()
    platform.add_file(core_file, core.verilog)
    plan = platform.build(EngineBoardTop(board, engine), name=TOP, do_build=False)
    constraints = TOP + board.device.family.constraints[1]
    return {name: plan.files[name] for name in (f"{TOP}.il", constraints)}
