"""The board top of the GEMM engine: the engine on the board's clock, UART pins and LEDs.

The serial port is the board's USB UART (iCEBreaker: FTDI channel B; ULX3S: the FTDI US1
port). The pass LED shows a run in progress, the fail LED that the last command was
rejected (corrupted, truncated or malformed). Built by ``lowbit build KIND ... --engine``.

With ``EngineOptions.core_mhz`` (other than the board's clock) the core side of the engine runs
on a PLL's output (:func:`engine_core_clock`): an ECP5 ``EHXPLLL`` fed from the clock pin, or an
iCE40 ``SB_PLL40_CORE`` — ``SB_PLL40_2_PAD`` where the clock pin is the PLL's own pad (as on the
iCEBreaker), whose port A passes the board clock on to the UART side. Both domains stay in
reset until the PLL locked (on iCE40 also for 15 µs after configuration, while block RAMs read
as zeroes). The board clock's net carries the board's frequency constraint; nextpnr derives the
PLL output's from it and the dividers ("Derived frequency constraint ... for net core_clk",
both nextpnr-ice40 and nextpnr-ecp5), and the flow checks that nextpnr timed the core clock at
the frequency :mod:`lowbit.boards.pll` computed.
"""

from amaranth.hdl import ClockDomain, ClockSignal, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from lowbit.boards.platforms import Board
from lowbit.boards.pll import CoreClock, Ice40Pll, core_clock
from lowbit.hw.engine import CORE, Engine
from lowbit.hw.interface import CoreInterface
from lowbit.hw.protocol import EngineLayout, EngineOptions
from lowbit.hw.verilog import GeneratedCore

TOP = "top"
POR_SECONDS = 15e-6         # iCE40 block RAMs read as zeroes for ~3 µs after configuration


def engine_core_clock(board: Board, options: EngineOptions) -> CoreClock | None:
    """The PLL of the engine's core clock on ``board``, or None when the core runs on the
    board's clock; a ConfigError when the board's PLL cannot make it."""
    if options.core_mhz is None or options.core_mhz == board.clock_mhz:
        return None
    return core_clock(board.device.family.name, board.clock_mhz, options.core_mhz)


def _clock_signals() -> tuple[Signal, Signal, Signal]:
    """The board clock, the PLL's output and its lock."""
    return Signal(name="board_clk"), Signal(name="pll_clk"), Signal(name="pll_locked")


class EngineBoardTop(Elaboratable):
    """``engine`` on ``board``'s pins; with ``clock`` (a PLL) the engine's core domain too."""

    def __init__(self, board: Board, engine, clock: CoreClock | None):
        self.board, self.engine, self.clock = board, engine, clock

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.engine = engine = self.engine
        if self.clock:
            self._clocks(m, platform)
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

    def _clocks(self, m: Module, platform) -> None:
        """``sync`` on the board clock, the engine's core clock from the PLL, both reset until
        the PLL locked."""
        pin = platform.request(platform.default_clk, dir="-")
        pll = self._ice40_pll if self.clock.family == "ice40" else self._ecp5_pll
        board_clk, core_clk, locked = pll(m, pin)
        m.domains.sync = ClockDomain("sync")
        m.domains.core = ClockDomain(CORE)
        m.d.comb += [ClockSignal("sync").eq(board_clk), ClockSignal(CORE).eq(core_clk)]
        ready = locked
        if self.clock.family == "ice40":
            m.domains.por = ClockDomain("por", reset_less=True, local=True)
            delay = round(POR_SECONDS * self.board.clock_mhz * 1e6)
            timer = Signal(range(delay + 1))
            m.d.comb += ClockSignal("por").eq(board_clk)
            with m.If(timer != delay):
                m.d.por += timer.eq(timer + 1)
            ready = locked & (timer == delay)
        m.submodules.reset = ResetSynchronizer(~ready, domain="sync")
        m.submodules.core_reset = ResetSynchronizer(~ready, domain=CORE)
        # nextpnr derives the PLL output's constraint from this one and the PLL's dividers
        platform.add_clock_constraint(board_clk, self.board.clock_mhz * 1e6)

    def _ice40_pll(self, m: Module, pin) -> tuple[Signal, Signal, Signal]:
        board_clk, core_clk, locked = _clock_signals()
        common = {"p_FEEDBACK_PATH": "SIMPLE", "i_RESETB": 1, "i_BYPASS": 0, "o_LOCK": locked,
                  **{f"p_{name}": Const(value, Ice40Pll.WIDTHS[name])
                     for name, value in self.clock.pll.parameters.items()}}
        if self.board.pll_pad:
            m.submodules.pll = Instance(
                "SB_PLL40_2_PAD", **common, p_PLLOUT_SELECT_PORTB="GENCLK",
                i_PACKAGEPIN=pin.io, o_PLLOUTGLOBALA=board_clk, o_PLLOUTGLOBALB=core_clk)
        else:
            m.submodules.clk_buf = buffer = io.Buffer("i", pin)
            m.d.comb += board_clk.eq(buffer.i)
            m.submodules.pll = Instance(
                "SB_PLL40_CORE", **common, p_PLLOUT_SELECT="GENCLK",
                i_REFERENCECLK=board_clk, o_PLLOUTGLOBAL=core_clk)
        return board_clk, core_clk, locked

    def _ecp5_pll(self, m: Module, pin) -> tuple[Signal, Signal, Signal]:
        board_clk, core_clk, locked = _clock_signals()
        feedback = Signal()
        m.submodules.clk_buf = buffer = io.Buffer("i", pin)
        m.d.comb += board_clk.eq(buffer.i)
        m.submodules.pll = Instance(
            "EHXPLLL", **{f"p_{name}": value for name, value in self.clock.pll.parameters.items()},
            # the loop filter settings Lattice's tools give every EHXPLLL
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
            p_FEEDBK_PATH="INT_OP",
            i_CLKI=board_clk, i_CLKFB=feedback, o_CLKINTFB=feedback, o_CLKOP=core_clk,
            i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=0, i_PHASESTEP=0,
            i_PHASELOADREG=0, i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)
        return board_clk, core_clk, locked


def engine_board_files(board: Board, config, core: GeneratedCore, options: EngineOptions,
                       core_file: str) -> dict[str, str]:
    """``top.il`` and the pin and clock constraints of the engine around ``core`` on ``board``."""

    iface = CoreInterface.from_manifest(core.manifest)
    layout = EngineLayout.build(config, iface, options.depth, options.multiplier_bits)
    clock = engine_core_clock(board, options)
    engine = Engine(iface, layout, options.divisor(board.clock_mhz * 1e6), options.timeout_bytes,
                    core_clock=clock is not None)
    platform = board.make_platform()
    platform.add_file(core_file, core.verilog)
    plan = platform.build(EngineBoardTop(board, engine, clock), name=TOP, do_build=False)
    constraints = TOP + board.device.family.constraints[1]
    return {name: plan.files[name] for name in (f"{TOP}.il", constraints)}
