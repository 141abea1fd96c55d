"""The on-board GEMM engine: block-RAM buffers around any core, a run controller, registers, a
requantizer and the serial host interface (protocol in :mod:`lowbit.hw.protocol`).

The engine knows nothing about a kind's arithmetic: a run streams every input buffer, from
word 0 in buffer order, into the core's input stream of the same name (``beats_<stream>``
words), and writes the core's result beats to the result buffer until ``beats_<result>``
arrived. The host arranges the beats in the order the kind expects and tiles larger GEMMs
(:mod:`lowbit.host.beats`). :class:`Engine` only composes its parts::

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
"""


from amaranth.back import verilog
from amaranth.hdl import Cat, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.hw.engine_commands import CommandExecutor
from lowbit.hw.engine_control import RunController
from lowbit.hw.engine_dma import InputDMA, ResultWriter
from lowbit.hw.frames import FrameReceiver, ResponseSender
from lowbit.hw.interface import CoreInterface
from lowbit.hw.protocol import EngineLayout, EngineOptions
from lowbit.hw.uart import UARTRx, UARTTx
from lowbit.hw.verilog import generate


def _stream_ports(name: str, port) -> dict:
    """The core's Verilog ports of stream ``name`` connected to the stream interface ``port``."""
    ports = {f"{name}__valid": port.valid, f"{name}__ready": port.ready}
    if len(port.payload):
        ports[f"{name}__payload"] = port.payload
    return ports


class Engine(wiring.Component):
    """The engine around the core ``iface`` (instantiated by name from its Verilog).

    ``divisor`` is clock cycles per UART bit; a partial frame is dropped after
    ``timeout_bytes`` idle byte times.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    busy: Out(1)
    error: Out(1)

    def __init__(self, iface: CoreInterface, layout: EngineLayout, divisor: int,
                 timeout_bytes: int):
        self.iface, self.layout = iface, layout
        self.divisor, self.timeout = divisor, divisor * 10 * timeout_bytes
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        lay = self.layout
        m.submodules.uart_rx = urx = UARTRx(self.divisor)
        m.submodules.receiver = rcv = FrameReceiver(self.timeout)
        m.submodules.executor = ex = CommandExecutor(lay)
        m.submodules.sender = snd = ResponseSender()
        m.submodules.uart_tx = utx = UARTTx(self.divisor)
        m.submodules.control = ctl = RunController()
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx), self.busy.eq(ctl.run),
                     self.error.eq(ex.error)]
        for source, sink in ((urx.data, rcv.rx), (rcv.frame, ex.frame), (ex.reply, snd.reply),
                             (snd.tx, utx.data), (ex.run, ctl.request),
                             (ctl.status, ex.run_status)):
            wiring.connect(m, source, sink)

        regs = ex.registers
        connections = {p.name: getattr(regs, p.name) for p in self.iface.params}
        done = []
        for b in lay.buffers:
            m.submodules[f"buf_{b.name}"] = mem = Memory(shape=b.width, depth=lay.depth, init=[])
            mover = (InputDMA if b.input else ResultWriter)(lay.depth, b.width)
            m.submodules[f"{'dma' if b.input else 'writer'}_{b.name}"] = mover
            if b.input:
                wiring.connect(m, getattr(ex.writes, b.name), mem.write_port())
                wiring.connect(m, mover.bram, mem.read_port())
            else:
                wiring.connect(m, mover.bram, mem.write_port())
                wiring.connect(m, ex.results, mem.read_port())
            m.d.comb += [mover.run.eq(ctl.run), mover.count.eq(getattr(regs, f"beats_{b.name}"))]
            connections |= _stream_ports(b.name, mover.stream)
            done.append(mover.done)
        m.d.comb += ctl.done.eq(Cat(*done).all())
        # ECP5 boards' clock domain has no reset (GSR sets the initial values instead)
        m.submodules.core = self.iface.instance(
            connections, rst=ResetSignal(allow_reset_less=True) | ctl.abort)
        return m


def engine_layout(config, options: EngineOptions) -> EngineLayout:
    """The layout of the engine around ``config``'s core (its ports from the generated core)."""
    iface = CoreInterface.from_manifest(generate(config).manifest)
    return EngineLayout.build(config, iface, options.depth, options.multiplier_bits)


def engine_verilog(config, options: EngineOptions, divisor: int, name: str = "engine") -> str:
    """Verilog of the engine around ``config``'s core (module ``name``) plus the core's own."""
    core = generate(config)
    iface = CoreInterface.from_manifest(core.manifest)
    engine = Engine(iface, EngineLayout.build(config, iface, options.depth,
                                              options.multiplier_bits),
                    divisor, options.timeout_bytes)
    return core.verilog + verilog.convert(engine, name=name, emit_src=False)
