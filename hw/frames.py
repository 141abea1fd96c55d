"""Command and response frames of the engine's serial protocol (see :mod:`lowbit.hw.protocol`).

:class:`FrameReceiver` turns received bytes into one checked command at a time: the header
into registers, the data into a staging memory, then the CRC. Only a frame whose CRC matched
is reported with ``Status.OK``; a wrong CRC, a frame that stalls for ``timeout`` cycles or one
longer than the staging memory is reported with its error status and must not be executed.
:class:`ResponseSender` frames a status and data bytes with their CRC.
"""


from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.crc import catalog
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lowbit.hw.protocol import ARG_BYTES, CMD_SYNC, MAX_DATA, RSP_SYNC, Status

HEADER_BYTES = 1 + ARG_BYTES + 2      # cmd, arg, len

#: one checked command, the receiver's side: ``done`` pulses once per frame with ``status``,
#: ``cmd``, ``arg`` and ``length``; the frame's data stays readable at ``stage_addr`` (→
#: ``stage_data`` one cycle later) until the next frame's data arrives
FRAME = wiring.Signature({
    "done": Out(1), "status": Out(8), "cmd": Out(8), "arg": Out(8 * ARG_BYTES),
    "length": Out(16), "stage_addr": In(range(MAX_DATA)), "stage_data": Out(8)})

#: one response, the side that asks for it: ``start`` with ``status`` and ``length`` sends the
#: header, then ``length`` bytes taken from ``data``, then the CRC; ``busy`` until all went out
REPLY = wiring.Signature({
    "start": Out(1), "status": Out(8), "length": Out(16), "data": Out(stream.Signature(8)),
    "busy": In(1)})


def _crc():
    return catalog.CRC16_CCITT_FALSE(data_width=8).create()


class FrameReceiver(wiring.Component):
    """Bytes in, one checked command at a time out (:data:`FRAME`); the frame's data goes to
    the staging memory."""

    rx: In(stream.Signature(8, always_ready=True))
    frame: Out(FRAME)

    def __init__(self, timeout: int):
        self.timeout = timeout
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = _crc()
        m.submodules.stage = stage = Memory(shape=8, depth=MAX_DATA, init=[])
        wr, rd = stage.write_port(), stage.read_port()
        out = self.frame
        m.d.comb += [rd.addr.eq(out.stage_addr), out.stage_data.eq(rd.data)]

        byte, got = self.rx.payload, self.rx.valid
        index = Signal(16)
        idle = Signal(range(self.timeout + 1))
        timed_out = idle == self.timeout
        error = Signal(8)
        # the last data byte's index, set in LENGTH: DATA comparing with length - 1 had a carry
        # chain before its next state (the iCE40 engine's critical path)
        last = Signal(range(MAX_DATA))
        header = Signal(8 * HEADER_BYTES)
        m.d.comb += [out.cmd.eq(header[:8]), out.arg.eq(header[8:8 + 8 * ARG_BYTES]),
                     out.length.eq(header[8 + 8 * ARG_BYTES:])]
        m.d.sync += out.done.eq(0)
        with m.If(got):
            m.d.sync += idle.eq(0)
        with m.Elif(~timed_out):
            m.d.sync += idle.eq(idle + 1)
        m.d.comb += [crc.data.eq(byte), wr.addr.eq(index), wr.data.eq(byte)]

        def finish(status):
            m.d.sync += [out.done.eq(1), out.status.eq(status)]
            m.next = "SYNC"

        with m.FSM():
            with m.State("SYNC"):
                m.d.comb += crc.start.eq(1)
                with m.If(got & (byte == CMD_SYNC)):
                    m.d.sync += index.eq(0)
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += crc.valid.eq(got)
                with m.If(got):
                    top = byte << 8 * (HEADER_BYTES - 1)
                    m.d.sync += [header.eq(header.shift_right(8) | top), index.eq(index + 1)]
                    with m.If(index == HEADER_BYTES - 1):
                        m.d.sync += index.eq(0)
                        m.next = "LENGTH"
                with m.Elif(timed_out):
                    finish(Status.TIMEOUT)
            with m.State("LENGTH"):
                with m.If(out.length > MAX_DATA):
                    m.d.sync += error.eq(Status.TOO_LONG)
                    m.next = "DRAIN"
                with m.Elif(out.length == 0):
                    m.next = "CRC"
                with m.Else():
                    m.d.sync += last.eq(out.length - 1)
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [crc.valid.eq(got), wr.en.eq(got)]
                with m.If(got):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == last):
                        m.d.sync += index.eq(0)
                        m.next = "CRC"
                with m.Elif(timed_out):
                    finish(Status.TIMEOUT)
            with m.State("CRC"):
                m.d.comb += crc.valid.eq(got)
                with m.If(got):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == 1):
                        m.next = "CHECK"
                with m.Elif(timed_out):
                    finish(Status.TIMEOUT)
            with m.State("CHECK"):
                with m.If(crc.match_detected):
                    finish(Status.OK)
                with m.Else():
                    finish(Status.BAD_CRC)
            with m.State("DRAIN"):      # drop bytes until the line has been quiet a while
                with m.If(timed_out):
                    finish(error)
        return m


class ResponseSender(wiring.Component):
    """On ``reply.start``: ``5A``, the status, the length (2 bytes), that many bytes taken from
    ``reply.data``, then the CRC, to ``tx`` (:data:`REPLY`)."""

    reply: In(REPLY)
    tx: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = _crc()
        req = self.reply
        status, length, left = Signal(8), Signal(16), Signal(16)
        sent = self.tx.valid & self.tx.ready
        m.d.comb += crc.data.eq(self.tx.payload)

        def fixed(name, value, following, checked=True):
            with m.State(name):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(value),
                             crc.valid.eq(sent & checked)]
                with m.If(sent):
                    m.next = following

        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += crc.start.eq(1)
                with m.If(req.start):
                    m.d.sync += [status.eq(req.status), length.eq(req.length),
                                 left.eq(req.length)]
                    m.next = "SYNC"
            fixed("SYNC", RSP_SYNC, "STATUS", checked=False)
            fixed("STATUS", status, "LEN0")
            fixed("LEN0", length[:8], "LEN1")
            with m.State("LEN1"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(length[8:]),
                             crc.valid.eq(sent)]
                with m.If(sent):
                    m.next = "DATA"
                    with m.If(left == 0):
                        m.next = "CRC_HI"
            with m.State("DATA"):
                m.d.comb += [self.tx.valid.eq(req.data.valid), self.tx.payload.eq(req.data.payload),
                             req.data.ready.eq(self.tx.ready), crc.valid.eq(sent)]
                with m.If(sent):
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.next = "CRC_HI"
            fixed("CRC_HI", crc.crc[8:], "CRC_LO", checked=False)
            fixed("CRC_LO", crc.crc[:8], "IDLE", checked=False)
        m.d.comb += req.busy.eq(~fsm.ongoing("IDLE"))
        return m
