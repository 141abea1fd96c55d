"""The GEMM engine's parts one at a time, in Amaranth's own simulator (no Verilator): the input
DMA against random stalls, the result writer, the requantizer against the golden model, the
run controller's states and the command executor's answers."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from lowbit.hw.engine_commands import CommandExecutor
from lowbit.hw.engine_control import RunController, RunOp
from lowbit.hw.engine_dma import InputDMA, ResultWriter
from lowbit.hw.engine_requant import Requantizer
from lowbit.hw.protocol import (
    REQUANT_REGISTERS,
    SHIFT_BITS,
    Buffer,
    Cmd,
    EngineLayout,
    Register,
    State,
    Status,
)
from lowbit.models.formats import IntFormat
from lowbit.models.requant import Dyadic, requantize


def simulate(dut, *benches, processes=()):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for bench in benches:
        sim.add_testbench(bench)
    for process in processes:
        sim.add_process(process)
    sim.run()


# --- input DMA --------------------------------------------------------------------------------

def dma_with_buffer(depth, width, words):
    m = Module()
    m.submodules.buf = buf = Memory(shape=width, depth=depth, init=words)
    m.submodules.dma = dma = InputDMA(depth, width)
    wiring.connect(m, dma.bram, buf.read_port())
    return m, dma


@pytest.mark.parametrize("ready_rate", [1.0, 0.7, 0.2])
@pytest.mark.parametrize("count", [0, 1, 5, 32])
def test_dma_streams_count_words_from_word_0_and_holds_stalled_beats(count, ready_rate):
    depth, width = 32, 12
    gen = np.random.default_rng([count, int(10 * ready_rate)])
    words = [int(x) for x in gen.integers(0, 1 << width, depth)]
    top, dma = dma_with_buffer(depth, width, words)
    runs = []

    async def bench(ctx):
        ctx.set(dma.count, count)
        for _ in range(2):                     # a second run starts from word 0 again
            ctx.set(dma.run, 1)
            got, stalled = [], None
            for _ in range(40 + int(count / ready_rate) * 3):
                ready = bool(gen.random() < ready_rate)
                ctx.set(dma.stream.ready, ready)
                valid, payload = ctx.get(dma.stream.valid), ctx.get(dma.stream.payload)
                if stalled is not None:
                    assert valid and payload == stalled, "a stalled beat changed or vanished"
                assert not (ctx.get(dma.done) and len(got) < count), "done before the last word"
                stalled = None
                if valid and ready:
                    got.append(payload)
                elif valid:
                    stalled = payload
                await ctx.tick()
            assert ctx.get(dma.done)
            runs.append(got)
            ctx.set(dma.run, 0)
            await ctx.tick()
            assert not ctx.get(dma.stream.valid)

    simulate(top, bench)
    assert runs == [words[:count]] * 2


def test_dma_stops_when_the_run_ends_mid_stream():
    depth, width = 16, 8
    top, dma = dma_with_buffer(depth, width, list(range(100, 116)))
    seen = []

    async def bench(ctx):
        ctx.set(dma.count, 10)
        ctx.set(dma.stream.ready, 1)
        ctx.set(dma.run, 1)
        for _ in range(4):
            if ctx.get(dma.stream.valid):
                seen.append(ctx.get(dma.stream.payload))
            await ctx.tick()
        ctx.set(dma.run, 0)                 # aborted: nothing more leaves
        assert not ctx.get(dma.stream.valid)
        await ctx.tick()
        ctx.set(dma.run, 1)
        for _ in range(14):
            if ctx.get(dma.stream.valid):
                seen.append(ctx.get(dma.stream.payload))
            await ctx.tick()

    simulate(top, bench)
    assert seen == [100, 101, 102] + list(range(100, 110))


# --- result writer ----------------------------------------------------------------------------

@pytest.mark.parametrize("valid_rate", [1.0, 0.3])
def test_writer_takes_exactly_count_beats_into_words_0_up(valid_rate):
    depth, width, count = 16, 40, 11
    gen = np.random.default_rng(int(10 * valid_rate))
    beats = [int(x) for x in gen.integers(0, 1 << 40, count + 5, dtype=np.int64)]
    m = Module()
    m.submodules.buf = buf = Memory(shape=width, depth=depth, init=[])
    m.submodules.writer = writer = ResultWriter(depth, width)
    wiring.connect(m, writer.bram, buf.write_port())
    taken = []

    async def bench(ctx):
        ctx.set(writer.count, count)
        ctx.set(writer.run, 1)
        i = 0
        for _ in range(200):
            offer = i < len(beats) and bool(gen.random() < valid_rate)
            ctx.set(writer.stream.valid, offer)
            ctx.set(writer.stream.payload, beats[i] if offer else 0)
            assert ctx.get(writer.done) == (len(taken) == count)
            if offer and ctx.get(writer.stream.ready):
                taken.append(beats[i])
                i += 1
            await ctx.tick()
        assert [ctx.get(buf.data[j]) for j in range(count)] == beats[:count]
        assert all(ctx.get(buf.data[j]) == 0 for j in range(count, depth))
        ctx.set(writer.run, 0)              # the next run writes from word 0 again
        await ctx.tick()
        ctx.set(writer.run, 1)
        ctx.set(writer.stream.valid, 1)
        ctx.set(writer.stream.payload, 7)
        await ctx.tick()
        assert ctx.get(buf.data[0]) == 7 and ctx.get(buf.data[1]) == beats[1]

    simulate(m, bench)
    assert taken == beats[:count]


# --- requantizer ------------------------------------------------------------------------------

def requantizer_bytes(rq: Requantizer, params: dict, words: list[int]) -> bytes:
    """Every byte the requantizer sends for ``words``, offered back to back, taken with random
    back-pressure."""
    out = bytearray()
    gen = np.random.default_rng(len(words))

    async def bench(ctx):
        for name, value in params.items():
            ctx.set(getattr(rq, name), value)
        i = 0
        for _ in range(100_000):
            offer = i < len(words)
            ctx.set(rq.words.valid, offer)
            ctx.set(rq.words.payload, words[i] if offer else 0)
            ready = bool(gen.random() < 0.6)
            ctx.set(rq.out.ready, ready)
            if offer and ctx.get(rq.words.ready):
                i += 1
            if ready and ctx.get(rq.out.valid):
                out.append(ctx.get(rq.out.payload))
            await ctx.tick()
            if i == len(words) and ctx.get(rq.words.ready) and not ctx.get(rq.out.valid):
                return
        raise AssertionError("the requantizer did not finish")

    simulate(rq, bench)
    return bytes(out)


def words_of(lanes: np.ndarray, lane_bits: int) -> list[int]:
    mask = (1 << lane_bits) - 1
    return [sum((int(v) & mask) << (lane_bits * j) for j, v in enumerate(row)) for row in lanes]


def expected_bytes(values: np.ndarray, nbytes: int) -> bytes:
    mask = (1 << 8 * nbytes) - 1
    return b"".join((int(v) & mask).to_bytes(nbytes, "little") for v in values.ravel())


# (lanes, lane_bits, signed lanes, multiplier_bits): every product stays inside the golden
# model's int64 range (|acc · b| < 2**62)
REQUANT_SHAPES = [(3, 20, True, 16), (2, 32, True, 28), (1, 24, False, 16), (4, 9, True, 2)]
OUTPUTS = [IntFormat(8), IntFormat(4, False), IntFormat(16), IntFormat(24, False), IntFormat(32),
           IntFormat(1, False)]


@pytest.mark.parametrize("lanes, lane_bits, signed, mbits", REQUANT_SHAPES)
def test_requantizer_is_the_golden_model_bit_for_bit(lanes, lane_bits, signed, mbits):
    acc = IntFormat(lane_bits, signed)
    gen = np.random.default_rng([lanes, lane_bits, mbits])
    clipped = {"low": 0, "high": 0}
    for case in range(8):
        out = OUTPUTS[case % len(OUTPUTS)]
        nbytes = -(-out.bits // 8)
        shift = [0, 1, 62, int(gen.integers(2, 40))][case % 4]
        b = [0, 1, (1 << mbits) - 1, int(gen.integers(0, 1 << mbits))][(case // 2) % 4]
        zp = int(gen.integers(out.min, out.max + 1)) if out.bits < 32 else -12345
        rows = [np.full(lanes, acc.max), np.full(lanes, acc.min), np.zeros(lanes, np.int64),
                *gen.integers(acc.min, acc.max + 1, (3, lanes))]
        lanes_in = np.array(rows, dtype=np.int64)
        rq = Requantizer(lanes, lane_bits, signed, mbits)
        params = {"enable": 1, "multiplier": b, "shift": shift, "zero_point": zp,
                  "min": out.min, "max": out.max, "nbytes": nbytes}
        got = requantizer_bytes(rq, params, words_of(lanes_in, lane_bits))
        want = requantize(lanes_in, Dyadic(np.int64(b), np.int64(shift), mbits + 1), out, zp)
        assert got == expected_bytes(want, nbytes), (case, out, shift, b, zp)
        clipped["low"] += int((want == out.min).sum())
        clipped["high"] += int((want == out.max).sum())
    assert clipped["high"], "no lane was clipped at the upper bound"
    assert clipped["low"] or not signed, "no lane was clipped at the lower bound"


def test_requantizer_shift_63_beyond_the_model_rounds_everything_to_the_zero_point():
    lanes, lane_bits, mbits = 2, 32, 16
    rq = Requantizer(lanes, lane_bits, True, mbits)
    assert (1 << SHIFT_BITS) - 1 == 63
    lanes_in = np.array([[(1 << 31) - 1, -(1 << 31)], [5, -5]])
    got = requantizer_bytes(rq, {"enable": 1, "multiplier": (1 << mbits) - 1, "shift": 63,
                                 "zero_point": -3, "min": -128, "max": 127, "nbytes": 1},
                            words_of(lanes_in, lane_bits))
    assert got == bytes([0xFD] * 4)


def test_requantizer_off_sends_the_raw_words():
    rq = Requantizer(3, 7, True, 8)         # 21-bit words: 3 bytes each
    words = [0x1FFFFF, 0, 0x12345]
    got = requantizer_bytes(rq, {"enable": 0, "nbytes": 0}, words)
    assert got == b"".join(w.to_bytes(3, "little") for w in words)


# --- run controller ---------------------------------------------------------------------------

def test_run_controller_states_cycles_and_abort():
    ctl = RunController()
    log = []
    busy = [0]                  # cycles with ``run`` high since the last START

    async def tick(ctx):
        busy[0] += ctx.get(ctl.run)
        await ctx.tick()

    async def ask(ctx, op):
        """One request and its answer: (state, cycles)."""
        ctx.set(ctl.request.valid, 1)
        ctx.set(ctl.request.payload, op)
        while not ctx.get(ctl.request.ready):
            await tick(ctx)
        if op == RunOp.START:
            busy[0] = 0
        await tick(ctx)
        ctx.set(ctl.request.valid, 0)
        assert ctx.get(ctl.abort) == (op == RunOp.ABORT), "abort is one cycle after ABORT"
        if op == RunOp.ABORT:
            assert not ctx.get(ctl.run)
        ctx.set(ctl.status.ready, 1)
        while not ctx.get(ctl.status.valid):
            assert not ctx.get(ctl.request.ready), "a second request while one is answered"
            await tick(ctx)
        answer = ctx.get(ctl.status.payload)
        assert not ctx.get(ctl.abort), "abort lasts one cycle"
        await tick(ctx)
        ctx.set(ctl.status.ready, 0)
        return State(answer.state), answer.cycles

    async def bench(ctx):
        log.append(await ask(ctx, RunOp.STATUS))
        log.append(await ask(ctx, RunOp.START))
        for _ in range(9):
            await tick(ctx)
        ctx.set(ctl.done, 1)
        await tick(ctx)
        for _ in range(5):
            assert not ctx.get(ctl.run)
            await tick(ctx)
        log.append(await ask(ctx, RunOp.STATUS) + (busy[0],))
        ctx.set(ctl.done, 0)
        log.append(await ask(ctx, RunOp.START))
        log.append(await ask(ctx, RunOp.STATUS) + (busy[0],))
        log.append(await ask(ctx, RunOp.ABORT))
        assert not ctx.get(ctl.run)
        log.append(await ask(ctx, RunOp.STATUS))

    simulate(ctl, bench)
    idle, started, done, restarted, running, aborted, after = log
    assert idle == (State.IDLE, 0)
    assert started == (State.BUSY, 0) and restarted == (State.BUSY, 0)
    assert done[0] == State.DONE and done[1] == done[2] >= 10  # cycles = cycles with run high
    assert running[0] == State.BUSY and 0 < running[1] <= running[2]
    assert aborted[0] == State.IDLE and after == aborted


# --- command executor -------------------------------------------------------------------------

def small_layout(depth=16, a_bits=12) -> EngineLayout:
    buffers = (Buffer("a", a_bits, True), Buffer("w", 8, True), Buffer("result", 2 * 20, False))
    count = depth.bit_length()
    registers = (Register("k", 8), *(Register(f"beats_{b.name}", count) for b in buffers),
                 Register("rq_enable", 1), Register("rq_multiplier", 8),
                 Register("rq_shift", SHIFT_BITS), Register("rq_zero_point", 32, True),
                 Register("rq_min", 32, True), Register("rq_max", 32, True),
                 Register("rq_bytes", 3))
    assert tuple(r.name for r in registers[-len(REQUANT_REGISTERS):]) == REQUANT_REGISTERS
    return EngineLayout("core", buffers, registers, depth, 2, 20, True, 8)


class Host:
    """Plays the frame receiver and the response sender around a CommandExecutor."""

    def __init__(self, ex: CommandExecutor):
        self.ex, self.stage = ex, bytes(256)

    async def stage_memory(self, ctx):      # stage_addr → stage_data one cycle later
        async for _, _, addr in ctx.tick().sample(self.ex.frame.stage_addr):
            ctx.set(self.ex.frame.stage_data, self.stage[addr])

    async def command(self, ctx, cmd, arg: bytes = b"", data: bytes = b"",
                      status=Status.OK) -> tuple[Status, bytes]:
        frame, reply = self.ex.frame, self.ex.reply
        self.stage = data.ljust(256, b"\0")
        ctx.set(frame.cmd, cmd)
        ctx.set(frame.arg, int.from_bytes(arg.ljust(6, b"\0"), "little"))
        ctx.set(frame.length, len(data))
        ctx.set(frame.status, status)
        ctx.set(frame.done, 1)
        await ctx.tick()
        ctx.set(frame.done, 0)
        for _ in range(10_000):
            if ctx.get(reply.start):
                break
            await ctx.tick()
        else:
            raise AssertionError(f"no reply to {cmd!r}")
        answer, length = Status(ctx.get(reply.status)), ctx.get(reply.length)
        ctx.set(reply.busy, 1)
        out = bytearray()
        await ctx.tick()
        ctx.set(reply.data.ready, 1)      # the header went out; now the data
        for _ in range(100_000):
            if len(out) == length:
                break
            if ctx.get(reply.data.valid):
                out.append(ctx.get(reply.data.payload))
            await ctx.tick()
        else:
            raise AssertionError(f"{cmd!r}: {len(out)} of {length} bytes")
        ctx.set(reply.data.ready, 0)
        ctx.set(reply.busy, 0)
        await ctx.tick()
        return answer, bytes(out)


def executor_system(lay: EngineLayout, results: list[int]):
    """A CommandExecutor with its run controller, input buffers and result buffer."""
    m = Module()
    m.submodules.ex = ex = CommandExecutor(lay)
    m.submodules.ctl = ctl = RunController()
    wiring.connect(m, ex.run, ctl.request)
    wiring.connect(m, ctl.status, ex.run_status)
    bufs = {}
    for b in lay.inputs:
        m.submodules[b.name] = bufs[b.name] = Memory(shape=b.width, depth=lay.depth, init=[])
        wiring.connect(m, getattr(ex.writes, b.name), bufs[b.name].write_port())
    m.submodules.result = rbuf = Memory(shape=lay.result.width, depth=lay.depth, init=results)
    wiring.connect(m, ex.results, rbuf.read_port())
    return m, ex, ctl, bufs


def test_executor_answers_every_command():
    lay = small_layout()
    results = [(i << 20) | (0xFFFFF - i) for i in range(lay.depth)]
    m, ex, ctl, bufs = executor_system(lay, results)
    host = Host(ex)
    seen = {}

    def reg(name, value):
        return bytes([lay.register_index(name)]) + value.to_bytes(4, "little", signed=value < 0)

    async def bench(ctx):
        run = host.command
        info = await run(ctx, Cmd.INFO)
        assert info == (Status.OK, b"LBE1" + lay.signature.to_bytes(4, "little"))
        assert await run(ctx, Cmd.SET_REG, reg("k", 77)) == (Status.OK, b"")
        assert await run(ctx, Cmd.GET_REG, bytes([0])) == (Status.OK, bytes([77, 0, 0, 0]))
        assert await run(ctx, Cmd.SET_REG, reg("rq_min", -2)) == (Status.OK, b"")
        assert (await run(ctx, Cmd.GET_REG, bytes([lay.register_index("rq_min")])))[1] == \
            (-2).to_bytes(4, "little", signed=True)
        # WRITE: two-byte words into buffer a from word 3
        data = b"".join(v.to_bytes(2, "little") for v in (0xABC, 0x123, 0xFFF))
        assert await run(ctx, Cmd.WRITE, bytes([0, 3, 0]), data) == (Status.OK, b"")
        assert [ctx.get(bufs["a"].data[i]) for i in range(2, 7)] == [0, 0xABC, 0x123, 0xFFF, 0]
        assert await run(ctx, Cmd.WRITE, bytes([1, 0, 0]), b"\x05\x06") == (Status.OK, b"")
        assert [ctx.get(bufs["w"].data[i]) for i in range(3)] == [5, 6, 0]
        # READ raw result words (5 bytes each) from word 2
        status, got = await run(ctx, Cmd.READ, bytes([2, 2, 0, 3, 0]))
        assert status == Status.OK
        assert got == b"".join(w.to_bytes(5, "little") for w in results[2:5])
        # READ requantized: lanes · 1, no shift, into int8 bounds
        for name, value in (("rq_multiplier", 1), ("rq_shift", 0), ("rq_zero_point", 0),
                            ("rq_min", -128), ("rq_max", 127), ("rq_bytes", 1),
                            ("rq_enable", 1)):
            await run(ctx, Cmd.SET_REG, reg(name, value))
        status, got = await run(ctx, Cmd.READ, bytes([2, 1, 0, 1, 0]))
        lanes = [(results[1] >> 20 * j) & 0xFFFFF for j in range(2)]
        signed = [v - (1 << 20) if v >> 19 else v for v in lanes]
        assert (status, got) == (Status.OK, bytes(max(-128, min(127, v)) & 0xFF for v in signed))
        # refused, never executed
        seen["bad"] = [(await run(ctx, *args))[0] for args in (
            (Cmd.READ, bytes([0, 0, 0, 1, 0])),            # an input buffer
            (Cmd.READ, bytes([2, 15, 0, 2, 0])),           # past the end
            (Cmd.WRITE, bytes([0, 0, 0]), b"\x01"),       # not whole words
            (Cmd.WRITE, bytes([1, 15, 0]), b"\x01\x02"),   # past the end
            (Cmd.SET_REG, bytes([99])),
            (Cmd.GET_REG, bytes([99])),
            (9,),
            (Cmd.SET_REG, reg("k", 5), b"", Status.BAD_CRC),
        )]
        assert ctx.get(ex.error)
        assert (await run(ctx, Cmd.GET_REG, bytes([0])))[1][0] == 77
        assert not ctx.get(ex.error)
        # a run that cannot finish: BUSY refuses WRITE, READ, SET_REG and START
        await run(ctx, Cmd.SET_REG, reg("beats_result", 1))
        assert await run(ctx, Cmd.START) == (Status.OK, b"")
        status, data = await run(ctx, Cmd.STATUS)
        assert status == Status.OK and data[0] == State.BUSY
        seen["busy"] = [(await run(ctx, *args))[0] for args in (
            (Cmd.WRITE, bytes([0, 0, 0]), b"\x01\x02"), (Cmd.READ, bytes([2, 0, 0, 1, 0])),
            (Cmd.SET_REG, reg("k", 1)), (Cmd.START,))]
        assert (await run(ctx, Cmd.INFO))[0] == Status.OK
        assert await run(ctx, Cmd.RESET) == (Status.OK, b"")
        assert (await run(ctx, Cmd.STATUS))[1][0] == State.IDLE
        await run(ctx, Cmd.SET_REG, reg("beats_result", 0))
        assert await run(ctx, Cmd.START) == (Status.OK, b"")
        ctx.set(ctl.done, 1)
        status, data = await run(ctx, Cmd.STATUS)
        assert data[0] == State.DONE and int.from_bytes(data[1:], "little") >= 1

    simulate(m, bench, processes=[host.stage_memory])
    assert seen["bad"] == [Status.BAD_ARGUMENT] * 6 + [Status.BAD_COMMAND, Status.BAD_CRC]
    assert seen["busy"] == [Status.BUSY] * 4



@pytest.mark.parametrize("a_bits", [8, 20, 48])
def test_executor_writes_only_whole_words_that_fit(a_bits):
    """WRITE into buffer a of 1-, 3- and 6-byte words: a frame of whole words that end at or
    before the buffer's end is written; a partial word or a word past the end is refused and
    writes nothing (the protocol's WRITE rule, modelled here)."""
    lay = small_layout(a_bits=a_bits)
    size, depth = lay.inputs[0].word_bytes, lay.depth
    m, ex, _, bufs = executor_system(lay, [0] * depth)
    host = Host(ex)
    gen = np.random.default_rng(a_bits)
    cases = [(13, 3 * size), (0, depth * size), (13, 4 * size), (0, 2 * size - 1),
             (0, size + 1), (15, 2 * size), (16, 0), (17, 0), (3, 0), (16, size)]
    frames = [(addr, gen.integers(0, 256, n, dtype=np.uint8).tobytes()) for addr, n in cases]
    seen = []

    async def bench(ctx):
        for addr, data in frames:
            status, _ = await host.command(ctx, Cmd.WRITE, bytes([0, addr, 0]), data)
            seen.append((status, [ctx.get(bufs["a"].data[i]) for i in range(depth)]))

    simulate(m, bench, processes=[host.stage_memory])
    model = [0] * depth
    for (addr, data), (status, words) in zip(frames, seen, strict=True):
        ok = len(data) % size == 0 and addr + len(data) // size <= depth
        assert status == (Status.OK if ok else Status.BAD_ARGUMENT), (addr, len(data))
        if ok:
            for i in range(len(data) // size):
                chunk = data[i * size:(i + 1) * size]
                model[addr + i] = int.from_bytes(chunk, "little") & ((1 << a_bits) - 1)
        assert words == model, (addr, len(data))
    assert [status for status, _ in seen].count(Status.OK) >= 4
