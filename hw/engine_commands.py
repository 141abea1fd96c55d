"""The engine's command executor: checked frames → registers, buffers, the run controller and
one response each (the protocol of :mod:`lowbit.hw.protocol`).

INFO and GET_REG are answered at once. Every other valid command first asks the run
controller for its state (a :class:`~lowbit.hw.engine_control.RunOp` request and its answer):
RESET aborts the run, STATUS reports state and cycles, and WRITE, READ, SET_REG and START are
refused with ``BUSY`` during a run. Only the executor starts runs, so the state it was told
stays true until it acts on it. A READ streams result words through the
:class:`~lowbit.hw.engine_requant.Requantizer`, which sends the bytes.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from lowbit.hw.engine_control import RUN_STATUS, RunOp
from lowbit.hw.engine_requant import Requantizer
from lowbit.hw.frames import FRAME, REPLY
from lowbit.hw.protocol import MAGIC, MAX_DATA, Cmd, EngineLayout, State, Status


def register_shape(register):
    return signed(register.width) if register.signed else register.width


class CommandExecutor(wiring.Component):
    """Executes the frames of ``frame`` and answers each on ``reply``.

    ``registers`` holds every register of the layout (by name), ``writes`` the host-side write
    port of every input buffer, ``results`` the host-side read port of the result buffer;
    ``run``/``run_status`` are the run controller's request and answer streams. ``error`` is
    high after a frame was rejected until one is accepted.
    """

    def __init__(self, layout: EngineLayout):
        self.layout = layout
        addr_width = ceil_log2(layout.depth)
        super().__init__({
            "frame": In(FRAME),
            "reply": Out(REPLY),
            "run": Out(stream.Signature(RunOp)),
            "run_status": In(stream.Signature(RUN_STATUS)),
            "registers": Out(wiring.Signature({r.name: Out(register_shape(r))
                                               for r in layout.registers})),
            # the executor drives the ports
            "writes": Out(wiring.Signature({
                b.name: In(WritePort.Signature(addr_width=addr_width, shape=b.width))
                for b in layout.inputs})),
            "results": In(ReadPort.Signature(addr_width=addr_width, shape=layout.result.width)),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        lay, rcv, snd = self.layout, self.frame, self.reply
        res = lay.result
        regs = [getattr(self.registers, r.name) for r in lay.registers]
        reg = {r.name: s for r, s in zip(lay.registers, regs)}
        m.submodules.requantizer = rq = Requantizer(lay.lanes, lay.lane_bits, lay.lane_signed,
                                                    lay.multiplier_bits)
        m.d.comb += [rq.enable.eq(reg["rq_enable"]), rq.multiplier.eq(reg["rq_multiplier"]),
                     rq.shift.eq(reg["rq_shift"]), rq.zero_point.eq(reg["rq_zero_point"]),
                     rq.min.eq(reg["rq_min"]), rq.max.eq(reg["rq_max"]),
                     rq.nbytes.eq(reg["rq_bytes"])]

        cmd, arg, length = rcv.cmd, rcv.arg, rcv.length
        index, addr, words = arg[:8], arg[8:24], arg[24:40]
        reply_status, reply_length = Signal(8), Signal(16)
        out_word = Signal(64)                 # INFO, STATUS, GET_REG: bytes to send, lowest first
        out_left = Signal(range(9))
        reading = Signal()                    # a READ's bytes come from the requantizer
        m.d.comb += [snd.status.eq(reply_status), snd.length.eq(reply_length)]
        with m.If(reading):
            wiring.connect(m, rq.out, wiring.flipped(snd.data))
        with m.Else():
            m.d.comb += [snd.data.payload.eq(out_word[:8]), snd.data.valid.eq(out_left != 0)]
            with m.If(snd.data.ready & (out_left != 0)):
                m.d.sync += [out_word.eq(out_word >> 8), out_left.eq(out_left - 1)]
        last_error = Signal()
        m.d.comb += self.error.eq(last_error)

        op = Signal(RunOp)                    # the request in flight
        state = Signal(2)                     # the run's state, as the controller answered
        m.d.comb += self.run.payload.eq(op)

        # WRITE: staging bytes → words → an input buffer
        cursor = Signal(16)           # byte (WRITE) or word (READ) position
        word_bytes = max(b.word_bytes for b in lay.inputs)
        word = Signal(8 * word_bytes)
        byte_in_word = Signal(range(word_bytes + 1))
        waddr = Signal(16)
        m.d.comb += [rcv.stage_addr.eq(cursor), self.results.addr.eq(addr + cursor),
                     rq.words.payload.eq(self.results.data)]

        # WRITE: the frame's bytes counted off in words of the buffer's size, one word a cycle
        # in MEASURE (at most MAX_DATA cycles): a divider by the word size would be the
        # design's longest path (GW2A-18: 43 ns through a chain of subtractors)
        left = Signal(range(MAX_DATA + 1))    # bytes not yet counted (at most MAX_DATA)
        end = Signal(17)                      # the buffer word after the counted ones
        buffer_bytes = Signal(range(word_bytes + 1))
        with m.Switch(index):
            for i, b in enumerate(lay.inputs):
                with m.Case(i):
                    m.d.comb += buffer_bytes.eq(b.word_bytes)

        # READ: its argument check, registered every cycle from the frame's fields (fixed from
        # its ``done``, two states before EXECUTE) and registers only EXECUTE changes, so that
        # the byte count's product and the compares do not decide EXECUTE's next state
        read_ok = Signal()
        rq_bytes_ok = (reg["rq_bytes"] >= 1) & (reg["rq_bytes"] <= 4)
        bytes_per_word = Mux(reg["rq_enable"], lay.lanes * reg["rq_bytes"], res.word_bytes)
        read_length = words * bytes_per_word
        m.d.sync += read_ok.eq((index == len(lay.inputs)) & (addr + words <= lay.depth)
                               & (~reg["rq_enable"] | rq_bytes_ok) & (read_length < 1 << 16))

        def reply(status, nbytes=0, then="REPLY"):
            m.d.sync += [reply_status.eq(status), reply_length.eq(nbytes)]
            m.next = then

        def ask(request):
            m.d.sync += op.eq(request)
            m.next = "ASK"

        with m.FSM():
            with m.State("WAIT"):
                m.d.sync += [cursor.eq(0), byte_in_word.eq(0), waddr.eq(addr), word.eq(0),
                             reading.eq(0), left.eq(length), end.eq(addr)]
                with m.If(rcv.done):
                    m.d.sync += last_error.eq(rcv.status != Status.OK)
                    with m.If(rcv.status != Status.OK):
                        reply(rcv.status)
                    with m.Elif(cmd == Cmd.INFO):
                        m.d.sync += [out_word.eq(Cat(Const(int.from_bytes(MAGIC, "little"), 32),
                                                     Const(lay.signature, 32))), out_left.eq(8)]
                        reply(Status.OK, 8)
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
                    with m.Elif(cmd == Cmd.RESET):
                        ask(RunOp.ABORT)
                    with m.Else():
                        ask(RunOp.STATUS)

            with m.State("ASK"):
                m.d.comb += self.run.valid.eq(1)
                with m.If(self.run.ready):
                    m.next = "ANSWER"
            with m.State("ANSWER"):
                m.d.comb += self.run_status.ready.eq(1)
                with m.If(self.run_status.valid):
                    answer = self.run_status.payload
                    m.d.sync += [state.eq(answer.state),     # and STATUS's bytes, in case
                                 out_word.eq(Cat(answer.state, Const(0, 6), answer.cycles))]
                    m.next = "EXECUTE"

            with m.State("EXECUTE"):
                with m.If(op != RunOp.STATUS):       # RESET, or START after its check
                    reply(Status.OK)
                with m.Elif(cmd == Cmd.STATUS):
                    m.d.sync += out_left.eq(5)
                    reply(Status.OK, 5)
                with m.Elif(state == State.BUSY):
                    reply(Status.BUSY)
                with m.Elif(cmd == Cmd.START):
                    ask(RunOp.START)
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
                    with m.If(index < len(lay.inputs)):
                        m.next = "MEASURE"
                    with m.Else():
                        reply(Status.BAD_ARGUMENT)
                with m.Else():   # READ
                    with m.If(read_ok):
                        m.d.sync += reading.eq(1)
                        reply(Status.OK, read_length, then="READ_START")
                    with m.Else():
                        reply(Status.BAD_ARGUMENT)

            with m.State("MEASURE"):        # whole words that fit from addr, or refused
                with m.If(left >= buffer_bytes):
                    m.d.sync += [left.eq(left - buffer_bytes), end.eq(end + 1)]
                with m.Elif((left == 0) & (end <= lay.depth)):
                    m.next = "COPY_ADDR"
                    with m.If(length == 0):
                        reply(Status.OK)
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
                for i, b in enumerate(lay.inputs):
                    port = getattr(self.writes, b.name)
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
            with m.State("READ_FETCH"):     # word address set; the word arrives next cycle
                m.next = "READ_OFFER"
            with m.State("READ_OFFER"):
                m.d.comb += rq.words.valid.eq(1)
                with m.If(rq.words.ready):
                    m.d.sync += cursor.eq(cursor + 1)
                    m.next = "READ_FETCH"
                    with m.If(cursor + 1 == words):
                        m.next = "SENDING"
        return m
