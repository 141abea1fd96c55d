"""The on-board GEMM engine: block-RAM buffers around any core, a run controller, registers, a
requantizer and the serial host interface (protocol in :mod:`lowbit.hw.protocol`).

The engine knows nothing about a kind's arithmetic: a run streams every input buffer, from
word 0 in buffer order, into the core's input stream of the same name (``beats_<stream>``
words), and writes the core's result beats to the result buffer until ``beats_<result>``
arrived. The host arranges the beats in the order the kind expects and tiles larger GEMMs
(:mod:`lowbit.host.beats`)::

    rx ─► UARTRx ─► FrameReceiver ─► executor ─► ResponseSender ─► UARTTx ─► tx
                    (CRC, staging)      │   ▲
               WRITE words ─► input buffers   result buffer ─► READ (─► requantizer)
                              │ DMA             ▲
                              ▼                 │
                         core streams ───► core ┘       registers ─► core parameters

The requantizer sits on the READ path (one shift-and-add multiplier working at serial speed,
so it costs no DSP block and the result buffer keeps exact accumulators): with ``rq_enable``
each result lane goes out as
``clip(round_shift(acc · rq_multiplier, rq_shift) + rq_zero_point, rq_min, rq_max)`` in
``rq_bytes`` bytes, ``round_shift`` rounding half up as in :mod:`lowbit.models.requant`.
RESET aborts a run and resets the core; a frame that stalls is dropped after a timeout, so
the engine always returns to idle.
"""


from amaranth.back import verilog
from amaranth.hdl import Cat, Const, Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.hw.frames import FrameReceiver, ResponseSender
from lowbit.hw.interface import CoreInterface
from lowbit.hw.protocol import MAGIC, Cmd, EngineLayout, EngineOptions, State, Status
from lowbit.hw.uart import UARTRx, UARTTx
from lowbit.hw.verilog import generate

CYCLE_BITS = 32


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
        m.submodules.uart_tx = utx = UARTTx(self.divisor)
        m.submodules.receiver = rcv = FrameReceiver(self.timeout)
        m.submodules.sender = snd = ResponseSender()
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        wiring.connect(m, urx.data, rcv.rx)
        wiring.connect(m, snd.tx, utx.data)

        regs = [Signal(signed(r.width) if r.signed else r.width, name=f"reg_{r.name}")
                for r in lay.registers]
        reg = {r.name: s for r, s in zip(lay.registers, regs)}
        state = Signal(2, init=State.IDLE)
        cycles = Signal(CYCLE_BITS)
        soft_reset = Signal()
        m.d.comb += self.busy.eq(state == State.BUSY)

        # --- buffers and the DMA between them and the core's streams
        connections = {p.name: reg[p.name] for p in self.iface.params}
        host_writes, done_parts = [], []
        for b in lay.inputs:
            mem = Memory(shape=b.width, depth=lay.depth, init=[])
            m.submodules[f"buf_{b.name}"] = mem
            host_writes.append(mem.write_port())
            rd = mem.read_port()
            addr = Signal(range(lay.depth + 1), name=f"{b.name}_addr")
            valid = Signal(name=f"{b.name}_valid")
            ready = Signal(name=f"{b.name}_ready")
            count = reg[f"beats_{b.name}"]
            more = addr < count
            take = (state == State.BUSY) & (~valid | ready)   # the word on the stream moves on
            with m.If(take):
                m.d.sync += [valid.eq(more), addr.eq(addr + more)]
            m.d.comb += [rd.addr.eq(addr), rd.en.eq(take)]   # en holds the word while stalled
            connections |= {f"{b.name}__valid": valid & (state == State.BUSY),
                            f"{b.name}__ready": ready}
            if b.width:
                connections[f"{b.name}__payload"] = rd.data
            done_parts.append(~more & ~valid)
            with m.If(soft_reset | (state != State.BUSY)):
                m.d.sync += [addr.eq(0), valid.eq(0)]

        res = lay.result
        rmem = Memory(shape=res.width, depth=lay.depth, init=[])
        m.submodules[f"buf_{res.name}"] = rmem
        rwr, host_read = rmem.write_port(), rmem.read_port()
        raddr = Signal(range(lay.depth + 1))
        rvalid, rpayload = Signal(), Signal(res.width)
        rmore = raddr < reg[f"beats_{res.name}"]
        rready = (state == State.BUSY) & rmore
        connections |= {f"{res.name}__valid": rvalid, f"{res.name}__ready": rready,
                        f"{res.name}__payload": rpayload}
        m.d.comb += [rwr.addr.eq(raddr), rwr.data.eq(rpayload), rwr.en.eq(rvalid & rready)]
        with m.If(rvalid & rready):
            m.d.sync += raddr.eq(raddr + 1)
        done_parts.append(~rmore)
        with m.If(soft_reset | (state != State.BUSY)):
            m.d.sync += raddr.eq(0)
        # ECP5 boards' clock domain has no reset (GSR sets the initial values instead)
        core_reset = ResetSignal(allow_reset_less=True) | soft_reset
        m.submodules.core = self.iface.instance(connections, rst=core_reset)

        with m.If(state == State.BUSY):
            m.d.sync += cycles.eq(cycles + 1)
            with m.If(Cat(*done_parts).all()):
                m.d.sync += state.eq(State.DONE)

        # --- the command executor
        cmd, arg, length = rcv.cmd, rcv.arg, rcv.length
        index, addr, words = arg[:8], arg[8:24], arg[24:40]
        reply_status, reply_length = Signal(8), Signal(16)
        out_word = Signal(max(64, res.width))    # bytes still to send, lowest first
        out_left = Signal(range(max(8, res.word_bytes) + 1))
        m.d.comb += [snd.status.eq(reply_status), snd.length.eq(reply_length),
                     snd.data.payload.eq(out_word[:8]), snd.data.valid.eq(out_left != 0)]
        with m.If(snd.data.valid & snd.data.ready):
            m.d.sync += [out_word.eq(out_word >> 8), out_left.eq(out_left - 1)]
        last_error = Signal()
        m.d.comb += self.error.eq(last_error)

        # WRITE: staging bytes → words → an input buffer
        cursor = Signal(16)           # byte (WRITE) or word (READ) position
        word_bytes = max(b.word_bytes for b in lay.inputs)
        word = Signal(8 * word_bytes)
        byte_in_word = Signal(range(word_bytes + 1))
        waddr = Signal(16)
        m.d.comb += rcv.stage_addr.eq(cursor)
        # READ: result words (→ requantizer) → bytes
        lane = Signal(range(max(lay.lanes, 2)))
        rword = Signal(res.width)
        product = Signal(signed(lay.lane_bits + lay.multiplier_bits + 2))
        addend = Signal.like(product)
        multiplier = Signal(lay.multiplier_bits)
        step = Signal(range(lay.multiplier_bits))
        shift_left = Signal.like(reg["rq_shift"])
        m.d.comb += host_read.addr.eq(addr + cursor)

        n_in = len(lay.inputs)
        is_busy = state == State.BUSY
        rq_bytes_ok = (reg["rq_bytes"] >= 1) & (reg["rq_bytes"] <= 4)
        bytes_per_word = Mux(reg["rq_enable"], lay.lanes * reg["rq_bytes"], res.word_bytes)
        read_length = Signal(32)
        m.d.comb += read_length.eq(words * bytes_per_word)

        def reply(status, nbytes=0, then="REPLY"):
            m.d.sync += [reply_status.eq(status), reply_length.eq(nbytes)]
            m.next = then

        with m.FSM():
            with m.State("WAIT"):
                m.d.sync += [cursor.eq(0), byte_in_word.eq(0), waddr.eq(addr), word.eq(0)]
                with m.If(rcv.done):
                    m.d.sync += last_error.eq(rcv.status != Status.OK)
                    with m.If(rcv.status != Status.OK):
                        reply(rcv.status)
                    with m.Elif(cmd == Cmd.INFO):
                        m.d.sync += [out_word.eq(Cat(Const(int.from_bytes(MAGIC, "little"), 32),
                                                     Const(lay.signature, 32))), out_left.eq(8)]
                        reply(Status.OK, 8)
                    with m.Elif(cmd == Cmd.STATUS):
                        m.d.sync += [out_word.eq(Cat(state, Const(0, 6), cycles)), out_left.eq(5)]
                        reply(Status.OK, 5)
                    with m.Elif(cmd == Cmd.RESET):
                        m.d.comb += soft_reset.eq(1)
                        m.d.sync += state.eq(State.IDLE)
                        reply(Status.OK)
                    with m.Elif(cmd == Cmd.GET_REG):
                        with m.If(index < len(regs)):
                            with m.Switch(index):
                                for i, r in enumerate(regs):
                                    with m.Case(i):
                                        m.d.sync += out_word.eq(r.as_unsigned())
                            m.d.sync += out_left.eq(4)
                            reply(Status.OK, 4)
                        with m.Else():
                            reply(Status.BAD_ARGUMENT)
                    with m.Elif(cmd > Cmd.RESET):
                        reply(Status.BAD_COMMAND)
                    with m.Elif(is_busy):
                        reply(Status.BUSY)
                    with m.Elif(cmd == Cmd.START):
                        m.d.sync += [state.eq(State.BUSY), cycles.eq(0)]
                        reply(Status.OK)
                    with m.Elif(cmd == Cmd.SET_REG):
                        with m.If(index < len(regs)):
                            with m.Switch(index):
                                for i, r in enumerate(regs):
                                    with m.Case(i):
                                        m.d.sync += r.eq(arg[8:8 + len(r)])
                            reply(Status.OK)
                        with m.Else():
                            reply(Status.BAD_ARGUMENT)
                    with m.Elif(cmd == Cmd.WRITE):
                        ok = Signal()
                        with m.Switch(index):
                            for i, b in enumerate(lay.inputs):
                                with m.Case(i):
                                    m.d.comb += ok.eq(
                                        (length % b.word_bytes == 0)
                                        & (addr + length // b.word_bytes <= lay.depth))
                        with m.If(ok):
                            m.next = "COPY_ADDR"
                            with m.If(length == 0):
                                reply(Status.OK)
                        with m.Else():
                            reply(Status.BAD_ARGUMENT)
                    with m.Else():   # READ
                        with m.If((index == n_in) & (addr + words <= lay.depth)
                                  & (~reg["rq_enable"] | rq_bytes_ok) & (read_length < 1 << 16)):
                            reply(Status.OK, read_length, then="READ_START")
                        with m.Else():
                            reply(Status.BAD_ARGUMENT)

            with m.State("COPY_ADDR"):      # staging address set; its byte arrives next cycle
                m.next = "COPY_DATA"
            with m.State("COPY_DATA"):
                m.d.sync += word.word_select(byte_in_word, 8).eq(rcv.stage_data)
                last_byte = Signal()
                with m.Switch(index):
                    for i, b in enumerate(lay.inputs):
                        with m.Case(i):
                            m.d.comb += last_byte.eq(byte_in_word == b.word_bytes - 1)
                m.d.sync += [cursor.eq(cursor + 1), byte_in_word.eq(byte_in_word + 1)]
                m.next = "COPY_ADDR"
                with m.If(last_byte):
                    m.d.sync += byte_in_word.eq(0)
                    m.next = "COPY_WRITE"
            with m.State("COPY_WRITE"):
                for i, (b, port) in enumerate(zip(lay.inputs, host_writes)):
                    m.d.comb += [port.addr.eq(waddr), port.data.eq(word[:b.width]),
                                 port.en.eq(index == i)]
                m.d.sync += [waddr.eq(waddr + 1), word.eq(0)]
                m.next = "COPY_ADDR"
                with m.If(cursor == length):
                    reply(Status.OK)

            with m.State("REPLY"):
                m.d.comb += snd.start.eq(1)
                m.next = "SENDING"
            with m.State("SENDING"):
                with m.If(~snd.busy & ~snd.start):
                    m.next = "WAIT"

            with m.State("READ_START"):
                m.d.comb += snd.start.eq(1)
                m.next = "READ_FETCH"
                with m.If(words == 0):
                    m.next = "SENDING"
            with m.State("READ_FETCH"):     # result word cursor → host_read.data next cycle
                m.next = "READ_LOAD"
            with m.State("READ_LOAD"):
                m.d.sync += [rword.eq(host_read.data), lane.eq(0), cursor.eq(cursor + 1)]
                with m.If(reg["rq_enable"]):
                    m.next = "RQ_MUL"
                with m.Else():
                    m.d.sync += [out_word.eq(host_read.data), out_left.eq(res.word_bytes)]
                    m.next = "READ_EMIT"
            with m.State("RQ_MUL"):
                lane_value = rword.word_select(lane, lay.lane_bits)
                m.d.sync += [addend.eq(lane_value.as_signed() if lay.lane_signed else lane_value),
                             multiplier.eq(reg["rq_multiplier"]), product.eq(0), step.eq(0)]
                m.next = "RQ_STEP"
            with m.State("RQ_STEP"):    # shift and add, a multiplier bit per cycle: no DSP
                with m.If(multiplier[0]):
                    m.d.sync += product.eq(product + addend)
                m.d.sync += [addend.eq(addend << 1), multiplier.eq(multiplier >> 1),
                             step.eq(step + 1)]
                with m.If(step == lay.multiplier_bits - 1):
                    m.d.sync += shift_left.eq(reg["rq_shift"])
                    m.next = "RQ_SHIFT"
            with m.State("RQ_SHIFT"):   # ⌊(x + 2^(c-1)) / 2^c⌋ = ⌊(⌊x / 2^(c-1)⌋ + 1) / 2⌋
                m.d.sync += shift_left.eq(shift_left - 1)
                with m.If(shift_left == 0):
                    m.d.sync += shift_left.eq(0)
                    m.next = "RQ_CLIP"
                with m.Elif(shift_left == 1):
                    m.d.sync += product.eq((product + 1) >> 1)
                with m.Else():
                    m.d.sync += product.eq(product >> 1)
            with m.State("RQ_CLIP"):
                shifted = product + reg["rq_zero_point"]
                clipped = Mux(shifted < reg["rq_min"], reg["rq_min"],
                              Mux(shifted > reg["rq_max"], reg["rq_max"], shifted))
                m.d.sync += [out_word.eq(clipped.as_unsigned()[:32]), out_left.eq(reg["rq_bytes"])]
                m.next = "READ_EMIT"
            with m.State("READ_EMIT"):
                with m.If(out_left == 0):
                    with m.If(reg["rq_enable"] & (lane != lay.lanes - 1)):
                        m.d.sync += lane.eq(lane + 1)
                        m.next = "RQ_MUL"
                    with m.Elif(cursor == words):
                        m.next = "SENDING"
                    with m.Else():
                        m.next = "READ_FETCH"
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
