"""The engine's serial protocol under garbage: random and adversarial byte streams into the
frame parser (:class:`lowbit.hw.frames.FrameReceiver`, in Amaranth's simulator) give exactly the
frames and error reports the protocol (:mod:`lowbit.hw.protocol`) says, and never hang; the
response framer and the host's response check round-trip and reject every corruption."""

from __future__ import annotations

import pytest
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lowbit.host.driver import BadFrame, Engine, EngineError, Rejected
from lowbit.hw.frames import HEADER_BYTES, FrameReceiver, ResponseSender
from lowbit.hw.protocol import (
    ARG_BYTES,
    CMD_SYNC,
    MAX_DATA,
    Cmd,
    Status,
    command_frame,
    crc16,
    response_frame,
)

#: the receiver's timeout in cycles; bytes come at least GAP cycles apart (a UART byte takes
#: ten bit times), a pause is well past the timeout
TIMEOUT = 24
GAP = 3


def reference(events: list[tuple[int, int]]) -> list[tuple]:
    """What the protocol says of ``events`` ((cycle, byte), then a long quiet): one entry per
    frame, ``(OK, cmd, arg, length, data)`` or ``(status,)`` for a discarded one."""
    out: list[tuple] = []
    state, frame, last = "SYNC", b"", None
    for t, byte in events:
        quiet = last is not None and t - last > TIMEOUT + 1
        if state in ("HEADER", "DATA", "CRC") and quiet:
            out.append((Status.TIMEOUT,))
            state = "SYNC"
        if state == "DRAIN" and quiet:
            out.append((Status.TOO_LONG,))
            state = "SYNC"
        last = t
        if state == "SYNC":
            if byte == CMD_SYNC:
                state, frame = "HEADER", b""
            continue
        if state == "DRAIN":
            continue
        frame += bytes([byte])
        length = int.from_bytes(frame[1 + ARG_BYTES:HEADER_BYTES], "little")
        if state == "HEADER" and len(frame) == HEADER_BYTES:
            state = "DRAIN" if length > MAX_DATA else "CRC" if length == 0 else "DATA"
        elif state == "DATA" and len(frame) == HEADER_BYTES + length:
            state = "CRC"
        elif state == "CRC" and len(frame) == HEADER_BYTES + length + 2:
            body, crc = frame[:-2], int.from_bytes(frame[-2:], "big")
            if crc16(body) == crc:
                out.append((Status.OK, body[0], body[1:1 + ARG_BYTES], length,
                            body[HEADER_BYTES:]))
            else:
                out.append((Status.BAD_CRC,))
            state = "SYNC"
    if state in ("HEADER", "DATA", "CRC"):
        out.append((Status.TIMEOUT,))
    elif state == "DRAIN":
        out.append((Status.TOO_LONG,))
    return out


def receive(events: list[tuple[int, int]]) -> list[tuple]:
    """Run ``events`` through the RTL receiver, then a quiet and one good INFO frame; returns
    what it reported before that frame and checks the frame came through (no hang)."""
    dut = FrameReceiver(TIMEOUT)
    probe = command_frame(Cmd.INFO)
    end = (events[-1][0] if events else 0) + TIMEOUT + 8
    schedule = dict(events) | {end + GAP * i: b for i, b in enumerate(probe)}
    stop = max(schedule) + 8
    seen: list[tuple] = []

    async def bench(ctx):
        for cycle in range(stop):
            byte = schedule.get(cycle)
            ctx.set(dut.rx.valid, byte is not None)
            ctx.set(dut.rx.payload, byte or 0)
            await ctx.tick()
            if ctx.get(dut.frame.done):
                status = Status(ctx.get(dut.frame.status))
                if status != Status.OK:
                    seen.append((status,))
                    continue
                length = ctx.get(dut.frame.length)
                arg = ctx.get(dut.frame.arg).to_bytes(ARG_BYTES, "little")
                seen.append([status, ctx.get(dut.frame.cmd), arg, length, length])

    async def stage_reader(ctx):
        """Reads an OK frame's data out of the staging memory as soon as it is reported."""
        while True:
            await ctx.tick()
            if not ctx.get(dut.frame.done) or Status(ctx.get(dut.frame.status)) != Status.OK:
                continue
            data = bytearray()
            for i in range(ctx.get(dut.frame.length)):
                ctx.set(dut.frame.stage_addr, i)
                await ctx.tick()
                await ctx.delay(1e-9)
                data.append(ctx.get(dut.frame.stage_data))
            staged.append(bytes(data))

    staged: list[bytes] = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_testbench(stage_reader, background=True)
    sim.run()
    oks = [s for s in seen if s[0] == Status.OK]
    for entry, data in zip(oks, staged):
        entry[4] = data
    *before, last = [tuple(s) for s in seen]
    assert last == (Status.OK, Cmd.INFO, bytes(ARG_BYTES), 0, b""), "the receiver hung"
    return before


# --- what goes on the line -------------------------------------------------------------------

frames = st.builds(lambda cmd, arg, data: command_frame(cmd, arg, data),
                   st.integers(0, 255), st.binary(max_size=ARG_BYTES), st.binary(max_size=40))


@st.composite
def corrupted(draw) -> bytes:
    """A good frame with one bit flipped, a byte dropped or added, or cut short."""
    frame = bytearray(draw(frames))
    how = draw(st.sampled_from(["flip", "drop", "add", "cut"]))
    i = draw(st.integers(1, len(frame) - 1))
    if how == "flip":
        frame[i] ^= 1 << draw(st.integers(0, 7))
    elif how == "drop":
        del frame[i]
    elif how == "add":
        frame.insert(i, draw(st.integers(0, 255)))
    else:
        frame = frame[:i]
    return bytes(frame)


@st.composite
def too_long(draw) -> bytes:
    """A header announcing more than MAX_DATA bytes, then some of them."""
    length = draw(st.integers(MAX_DATA + 1, 0xFFFF))
    head = bytes([CMD_SYNC, draw(st.integers(0, 255))]) + bytes(ARG_BYTES) + \
        length.to_bytes(2, "little")
    return head + draw(st.binary(max_size=20))


junk = st.binary(min_size=1, max_size=30)
#: junk full of sync bytes and lengths near the limits
sync_heavy = st.lists(st.sampled_from([CMD_SYNC, 0x00, 0xFF, 0x01, MAX_DATA & 0xFF]),
                      min_size=1, max_size=30).map(bytes)
segments = st.lists(st.one_of(frames, corrupted(), too_long(), junk, sync_heavy),
                    min_size=1, max_size=6)


@st.composite
def line(draw) -> list[tuple[int, int]]:
    """Segments of bytes at random gaps, with pauses past the timeout between some."""
    events, t = [], 0
    for segment in draw(segments):
        if draw(st.booleans()):
            t += draw(st.integers(TIMEOUT + 3, TIMEOUT + 12))
        for byte in segment:
            t += draw(st.integers(GAP, TIMEOUT - 1))
            events.append((t, byte))
    return events


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line())
def test_receiver_reports_what_the_protocol_says(events):
    assert receive(events) == reference(events)


def test_receiver_reference_agrees_on_plain_cases():
    t = iter(range(GAP, 10 ** 6, GAP))
    good = command_frame(Cmd.WRITE, b"\x01\x02\x00", b"\xaa\xbb")
    events = [(next(t), b) for b in good]
    assert reference(events) == [(Status.OK, Cmd.WRITE, b"\x01\x02\x00\x00\x00\x00", 2,
                                  b"\xaa\xbb")]
    assert receive(events) == reference(events)
    bad = bytearray(good)
    bad[-1] ^= 1
    assert receive([(next(t), b) for b in bad]) == [(Status.BAD_CRC,)]
    assert receive([(next(t), b) for b in good[:5]]) == [(Status.TIMEOUT,)]


# --- responses: the RTL framer and the host's check ------------------------------------------

def send(status: int, data: bytes, stalls: list[bool]) -> bytes:
    """The bytes :class:`ResponseSender` puts on ``tx`` for one response (``stalls``: cycles
    the line is not ready)."""
    dut = ResponseSender()
    out = bytearray()

    async def bench(ctx):
        ctx.set(dut.reply.status, status)
        ctx.set(dut.reply.length, len(data))
        ctx.set(dut.reply.start, 1)
        await ctx.tick()
        ctx.set(dut.reply.start, 0)
        i, cycle = 0, 0
        while len(out) < len(data) + 6:
            ctx.set(dut.reply.data.valid, i < len(data))
            ctx.set(dut.reply.data.payload, data[i] if i < len(data) else 0)
            ready = not stalls[cycle % len(stalls)]
            ctx.set(dut.tx.ready, ready)
            await ctx.delay(1e-9)
            if ctx.get(dut.reply.data.ready) and ctx.get(dut.reply.data.valid):
                i += 1
            if ready and ctx.get(dut.tx.valid):
                out.append(ctx.get(dut.tx.payload))
            await ctx.tick()
            cycle += 1
            assert cycle < 20 * (len(data) + 6) + 100, "the sender hung"
        assert not ctx.get(dut.reply.busy), "busy after the last byte"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return bytes(out)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(list(Status)), st.binary(max_size=24),
       st.lists(st.booleans(), min_size=1, max_size=5))
def test_response_sender_frames_like_the_protocol(status, data, stalls):
    assert send(status, data, [False] + stalls) == response_frame(status, data)


class Line:
    """A transport that hands the host a fixed answer."""

    name = "test line"

    def __init__(self, answer: bytes):
        self.answer = bytearray(answer)

    def write(self, data: bytes) -> None:
        pass

    def read(self, n: int, timeout: float) -> bytes:
        got, self.answer = bytes(self.answer[:n]), self.answer[n:]
        return got


@pytest.fixture(scope="module")
def engine_args():
    from lowbit.registry import get_kind

    return get_kind("mac").config.from_dict({"a": "int4", "w": "int4", "acc": 12})


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=40), how=st.sampled_from(["none", "flip", "cut", "junk"]),
       where=st.integers(0, 1000), bit=st.integers(0, 7))
def test_host_accepts_exactly_the_answers_sent(engine_args, data, how, where, bit):
    """The host's response check returns the data of an intact OK answer and raises an
    EngineError for every flipped bit, truncation or junk in front (never wrong data)."""
    frame = bytearray(response_frame(Status.OK, data))
    if how == "flip":
        frame[where % len(frame)] ^= 1 << bit
    elif how == "cut":
        frame = frame[:where % len(frame)]
    elif how == "junk":
        frame = bytearray([where % 256 | 1]) + frame if where % 256 != 0x5A else frame[1:]
    engine = Engine(Line(bytes(frame)), engine_args, timeout=0.01)
    if how == "none":
        assert engine.answer(Cmd.READ) == data
        return
    try:
        got = engine.answer(Cmd.READ)
    except EngineError as e:
        assert isinstance(e, BadFrame | Rejected) or "no answer" in str(e)
        return
    pytest.fail(f"a corrupted answer was accepted: {bytes(frame).hex()} gave {got.hex()}")
