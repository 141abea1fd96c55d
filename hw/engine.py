"""The on-board GEMM engine: block-RAM buffers around any core, a run controller, registers, a
requantizer and the serial host interface (protocol in :mod:`lowbit.hw.protocol`).

The engine knows nothing about a kind's arithmetic: a run streams every input buffer, from
word 0 in buffer order, into the core's input stream of the same name (``beats_<stream>``
words), and writes the core's result beats to the result buffer until ``beats_<result>``
arrived. The host arranges the beats in the order the kind expects and tiles larger GEMMs
(:mod:`lowbit.host.driver`, with the kind's tiler). :class:`Engine` only composes its parts::

    rx ─► UARTRx ─► FrameReceiver ─► CommandExecutor ─► ResponseSender ─► UARTTx ─► tx
          (uart)    (frames: CRC,     (engine_commands: registers, Requantizer on READ)
                     staging)          │ WRITE    ▲ READ        │ RunOp ▲ state, cycles
                                       ▼          │             ▼       │
                               input buffers   result buffer   RunController (engine_control)
                                       │ InputDMA ▲ ResultWriter (engine_dma)
                                       ▼          │
                              core input streams ─► core ─► result stream

The requantizer (:mod:`lowbit.hw.engine_requant`) sits on the READ path, one shift-and-add
multiplier working at serial speed, so it costs no DSP block and the result buffer keeps exact
accumulators. RESET aborts a run and resets the core; a frame that stalls is dropped after a
timeout, so the engine always returns to idle.

**Two clock domains** (``core_clock``; on a board the core clock comes from a PLL,
:mod:`lowbit.boards.engine_top`, in simulation from :class:`CoreClockTop`'s input). The UART,
frames, executor, requantizer and registers stay on ``sync`` (the board clock); the core, the
DMAs, the result writer and the run controller run in ``core``. They cross in three ways:

* **buffers**: every buffer is a dual-clock block RAM, its host port (WRITE, READ) on ``sync``
  and its core-side port on ``core``. The host side touches a buffer only while no run is
  going (WRITE and READ are refused while BUSY), and a run starts only after its START went
  through the request FIFO, so no word is written on one side while the other reads it.
* **control**: the executor's :class:`~lowbit.hw.engine_control.RunOp` requests and the
  controller's answers (state, cycles) each pass an :class:`~amaranth.lib.fifo.AsyncFIFO`
  (Gray-coded pointers, two-flop synchronizers); one request is in flight at a time, and the
  executor decides BUSY from the answer it waited for.
* **registers** (core parameters, beat counts) are quasi-static: they feed the core side
  directly, without synchronizers, because SET_REG is refused while BUSY and a run begins
  only after a START that follows the last SET_REG by a whole command frame and a FIFO
  crossing, so they have been still for thousands of core cycles when the core samples them.

The ``core`` domain's reset must follow ``sync``'s (the tops synchronize the same source into
both). STATUS then counts core clock cycles.
"""


from amaranth.back import verilog
from amaranth.hdl import (
    Cat,
    ClockDomain,
    ClockSignal,
    DomainRenamer,
    Module,
    ResetSignal,
    Shape,
)
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.fifo import AsyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.hw.engine_commands import CommandExecutor
from lowbit.hw.engine_control import RUN_STATUS, RunController, RunOp
from lowbit.hw.engine_dma import InputDMA, ResultWriter
from lowbit.hw.frames import FrameReceiver, ResponseSender
from lowbit.hw.interface import CoreInterface
from lowbit.hw.protocol import EngineLayout, EngineOptions
from lowbit.hw.uart import UARTRx, UARTTx
from lowbit.hw.verilog import generate

CORE = "core"       # the core side's clock domain when it has its own clock


def _stream_ports(name: str, port) -> dict:
    """The core's Verilog ports of stream ``name`` connected to the stream interface ``port``."""
    ports = {f"{name}__valid": port.valid, f"{name}__ready": port.ready}
    if len(port.payload):
        ports[f"{name}__payload"] = port.payload
    return ports


class Engine(wiring.Component):
    """The engine around the core ``iface`` (instantiated by name from its Verilog).

    ``divisor`` is clock cycles per UART bit; a partial frame is dropped after
    ``timeout_bytes`` idle byte times. With ``core_clock`` the core side runs in the ``core``
    clock domain, which the parent defines (a board's PLL, or :class:`CoreClockTop`'s input;
    see the module's description).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    busy: Out(1)
    error: Out(1)

    def __init__(self, iface: CoreInterface, layout: EngineLayout, divisor: int,
                 timeout_bytes: int, core_clock: bool = False):
        self.iface, self.layout = iface, layout
        self.divisor, self.timeout = divisor, divisor * 10 * timeout_bytes
        self.core_clock = core_clock
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        lay = self.layout
        core = CORE if self.core_clock else "sync"
        on_core = DomainRenamer(core) if self.core_clock else (lambda part: part)
        m.submodules.uart_rx = urx = UARTRx(self.divisor)
        m.submodules.receiver = rcv = FrameReceiver(self.timeout)
        m.submodules.executor = ex = CommandExecutor(lay)
        m.submodules.sender = snd = ResponseSender()
        m.submodules.uart_tx = utx = UARTTx(self.divisor)
        ctl = RunController()
        m.submodules.control = on_core(ctl)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.busy.eq(ctl.run),
                     self.error.eq(ex.error)]
        for source, sink in ((urx.data, rcv.rx), (rcv.frame, ex.frame), (ex.reply, snd.reply),
                             (snd.tx, utx.data)):
            wiring.connect(m, source, sink)
        self._link(m, ex, ctl)

        regs = ex.registers
        connections = {p.name: getattr(regs, p.name) for p in self.iface.params}
        done = []
        for b in lay.buffers:
            m.submodules[f"buf_{b.name}"] = mem = Memory(shape=b.width, depth=lay.depth, init=[])
            mover = (InputDMA if b.input else ResultWriter)(lay.depth, b.width)
            m.submodules[f"{'dma' if b.input else 'writer'}_{b.name}"] = on_core(mover)
            if b.input:
                wiring.connect(m, getattr(ex.writes, b.name), mem.write_port())
                wiring.connect(m, mover.bram, mem.read_port(domain=core))
            else:
                wiring.connect(m, mover.bram, mem.write_port(domain=core))
                wiring.connect(m, ex.results, mem.read_port())
            m.d.comb += [mover.run.eq(ctl.run), mover.count.eq(getattr(regs, f"beats_{b.name}"))]
            connections |= _stream_ports(b.name, mover.stream)
            done.append(mover.done)
        m.d.comb += ctl.done.eq(Cat(*done).all())
        # ECP5 boards' clock domain has no reset (GSR sets the initial values instead)
        m.submodules.core = self.iface.instance(
            connections, domain=core, rst=ResetSignal(core, allow_reset_less=True) | ctl.abort)
        return m

    def _link(self, m: Module, ex: CommandExecutor, ctl: RunController) -> None:
        """The executor's run requests to the controller and its answers back: wires in one
        domain, an asynchronous FIFO each way between two."""
        if not self.core_clock:
            wiring.connect(m, ex.run, ctl.request)
            wiring.connect(m, ctl.status, ex.run_status)
            return
        # one request is in flight at a time, so two entries never fill up
        m.submodules.run_requests = requests = AsyncFIFO(
            width=Shape.cast(RunOp).width, depth=2, w_domain="sync", r_domain=CORE)
        m.submodules.run_answers = answers = AsyncFIFO(
            width=RUN_STATUS.size, depth=2, w_domain=CORE, r_domain="sync")
        wiring.connect(m, ex.run, requests.w_stream)
        wiring.connect(m, requests.r_stream, ctl.request)
        wiring.connect(m, ctl.status, answers.w_stream)
        wiring.connect(m, answers.r_stream, ex.run_status)


class CoreClockTop(wiring.Component):
    """``engine`` (built with ``core_clock``) with its ``core`` domain clocked by the
    ``core_clk`` input and reset with ``sync`` (asserted at once, released on a core clock
    edge): the simulation top of a two-domain build, where a board has its PLL."""

    rx: In(1, init=1)
    tx: Out(1, init=1)
    busy: Out(1)
    error: Out(1)
    core_clk: In(1)

    def __init__(self, engine: Engine):
        self.engine = engine
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.domains.core = ClockDomain(CORE)
        m.d.comb += ClockSignal(CORE).eq(self.core_clk)
        m.submodules.core_reset = ResetSynchronizer(ResetSignal("sync"), domain=CORE)
        m.submodules.engine = engine = self.engine
        m.d.comb += [engine.rx.eq(self.rx), self.tx.eq(engine.tx), self.busy.eq(engine.busy),
                     self.error.eq(engine.error)]
        return m


def engine_layout(config, options: EngineOptions) -> EngineLayout:
    """The layout of the engine around ``config``'s core (its ports from the generated core)."""
    iface = CoreInterface.from_manifest(generate(config).manifest)
    return EngineLayout.build(config, iface, options.depth, options.multiplier_bits)


def engine_verilog(config, options: EngineOptions, divisor: int, name: str = "engine") -> str:
    """Verilog of the engine around ``config``'s core (module ``name``) plus the core's own;
    with ``options.core_mhz`` set the core side runs on the ``core_clk`` input (the simulation
    top of a two-domain build: the PLL itself is a board's)."""
    core = generate(config)
    iface = CoreInterface.from_manifest(core.manifest)
    two = options.core_mhz is not None
    engine = Engine(iface, EngineLayout.build(config, iface, options.depth,
                                              options.multiplier_bits),
                    divisor, options.timeout_bytes, core_clock=two)
    top = CoreClockTop(engine) if two else engine
    return core.verilog + verilog.convert(top, name=name, emit_src=False)
