"""The board self-test: on-chip stimulus into any core, its results folded into a checksum.

Without a host (:mod:`lowbit.hw.engine` is the host-driven build), a board build proves the
core on silicon by itself:

* every input stream gets pseudo-random payloads from xorshift32 generators (one per 32-bit
  word of payload), ``beats`` of them, offered back to back;
* every result stream is taken with pseudo-random back-pressure (ready 3 cycles in 4) and each
  beat is folded into a 32-bit checksum: ``h = rotl(h, 5) ^ fold32(payload)``, where
  ``fold32`` XORs the payload's 32-bit words; the checksums of several result streams are
  combined as ``XOR rotl(h_i, i)``;
* the run-time parameters (non-stream inputs) are held at the values the kind chose;
* the expected checksum and beat counts come from **the kind's golden model**: the kind's
  ``selftest`` hook returns a :class:`SelfTest` whose ``expected`` maps the exact stimulus
  (computed here in Python, bit for bit what the generators emit) to the result beats.

When every input beat is sent and every expected result beat has arrived, ``passed`` or
``failed`` latches; an extra result beat or a watchdog timeout also fails. The board top shows
both on LEDs and the checksum's low bits on any spare LEDs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Elaboratable, Module, Signal

from lowbit.hw.interface import CoreInterface
from lowbit.config import CoreConfig
from lowbit.errors import ConfigError
from lowbit.registry import get_kind

MASK32 = 0xFFFF_FFFF
SEED_STEP = 0x9E37_79B9      # odd, so every multiple below 2**32 is a non-zero seed
POWER_ON_CYCLES = 15         # the core is held in reset this long after configuration


@dataclass(frozen=True)
class SelfTest:
    """What a core kind declares for the board self-test (its ``selftest`` hook returns one).

    ``params`` holds every run-time parameter port; ``beats`` is the number of beats on each
    input stream; ``expected`` maps each input stream's payloads to each result stream's
    payloads (unsigned codes) with the kind's golden model.
    """

    params: Mapping[str, int]
    beats: int
    expected: Callable[[Mapping[str, list[int]]], Mapping[str, Sequence[int]]]


def xorshift32(x: int) -> int:
    x ^= (x << 13) & MASK32
    x ^= x >> 17
    return x ^ ((x << 5) & MASK32)


def words(width: int) -> int:
    return max(1, -(-width // 32))


def seed(stream: int, word: int) -> int:
    return (SEED_STEP * (stream * 64 + word + 1)) & MASK32


def stimulus(stream: int, width: int, beats: int) -> list[int]:
    """The payloads the board top's generators emit on input stream number ``stream``."""
    states = [seed(stream, j) for j in range(words(width))]
    out = []
    for _ in range(beats):
        out.append(sum(s << (32 * j) for j, s in enumerate(states)) & ((1 << width) - 1))
        states = [xorshift32(s) for s in states]
    return out


def rotl(h: int, n: int) -> int:
    n %= 32
    return ((h << n) | (h >> (32 - n))) & MASK32


def fold32(payload: int, width: int) -> int:
    h = 0
    for j in range(words(width)):
        h ^= (payload >> (32 * j)) & MASK32
    return h


def checksum(results: Sequence[Sequence[int]], widths: Sequence[int]) -> int:
    """The checksum the board top computes over the result streams' beats."""
    total = 0
    for i, (beats, width) in enumerate(zip(results, widths)):
        h = 0
        for payload in beats:
            h = rotl(h, 5) ^ fold32(int(payload), width)
        total ^= rotl(h, i)
    return total


@dataclass(frozen=True)
class Expectation:
    """The self-test of one core: the constants baked into the board top and the golden answer."""

    params: Mapping[str, int]
    beats: int
    results: tuple[int, ...]           # result beats per result stream
    checksum: int
    max_cycles: int                    # watchdog: no verdict by then is a failure

    def to_dict(self) -> dict:
        return {"params": dict(self.params), "beats": self.beats, "results": list(self.results),
                "checksum": f"0x{self.checksum:08x}", "max_cycles": self.max_cycles,
                "source": "golden model"}


#: beats per result (at most; less when the run-time K cannot hold it) and results of the
#: self-test of a K-beat reduction unit (:func:`dot_selftest`)
DOT_K, DOT_RESULTS = 16, 32


def dot_selftest(config: CoreConfig, operands, results: Callable[[Mapping, int], Sequence[int]],
                 **params: int) -> SelfTest:
    """The self-test of a unit with an ``operands`` stream (payload layout ``operands``), a
    ``result`` stream and run-time ``k``/``clear``: DOT_RESULTS dot products of
    K = min(DOT_K, k_max) beats. ``results(fields, k)`` gives the result payloads of the
    unpacked operand fields (the kind's golden model); ``params`` are the other run-time inputs.
    """
    k = min(DOT_K, config.k_max)

    def expected(inputs):
        from lowbit.hw.payload import unpack

        return {"result": [int(r) for r in results(unpack(operands, inputs["operands"]), k)]}

    return SelfTest(params={"k": k, "clear": 0, **params}, beats=DOT_RESULTS * k,
                    expected=expected)


def selftest_of(config: CoreConfig) -> SelfTest:
    """The self-test the config's kind declares, or a ConfigError when it declares none."""
    kind = get_kind(config.KIND)
    if kind.selftest is None:
        raise ConfigError("kind", config.KIND, "this core kind declares no board self-test "
                          "(CoreKind.selftest); out-of-context `lowbit synth` works for it")
    return kind.board_selftest(config)


def expectation(config: CoreConfig, core: CoreInterface) -> Expectation:
    """Run the kind's golden model on the board top's stimulus."""
    test = selftest_of(config)
    wanted = {p.name for p in core.params}
    if set(test.params) != wanted:
        raise ValueError(f"{config.KIND} self-test sets parameters {sorted(test.params)}, "
                         f"the core has {sorted(wanted)}")
    inputs = {s.name: stimulus(i, s.width, test.beats) for i, s in enumerate(core.inputs)}
    outputs = test.expected(inputs)
    if set(outputs) != {s.name for s in core.results}:
        raise ValueError(f"{config.KIND} self-test gives streams {sorted(outputs)}, the core has "
                         f"{[s.name for s in core.results]}")
    results = [list(outputs[s.name]) for s in core.results]
    counts = tuple(len(r) for r in results)
    return Expectation(dict(test.params), test.beats, counts,
                       checksum(results, [s.width for s in core.results]),
                       max_cycles=16 * (test.beats + sum(counts)) + 4096)


class SelfTestTop(Elaboratable):
    """The core between the stimulus generators and the checksum; board-independent.

    Outputs: ``passed``, ``failed`` (latched verdicts) and ``checksum``.
    """

    def __init__(self, core: CoreInterface, expect: Expectation):
        self.core = core
        self.expect = expect
        self.passed = Signal()
        self.failed = Signal()
        self.checksum = Signal(32)

    def ports(self) -> list[Signal]:
        return [self.passed, self.failed, self.checksum]

    @staticmethod
    def _xorshift(m: Module, state: Signal, advance) -> None:
        a = state ^ (state << 13)[:32]
        b = a ^ (a >> 17)
        with m.If(advance):
            m.d.sync += state.eq(b ^ (b << 5)[:32])

    def elaborate(self, platform) -> Module:
        m = Module()
        core, expect = self.core, self.expect
        # The core's reset: held for the first cycles after configuration, from flip-flop
        # initial values, since some platforms' clock domains have no reset (ECP5 uses GSR).
        hold = Signal(range(POWER_ON_CYCLES + 1), init=POWER_ON_CYCLES)
        with m.If(hold != 0):
            m.d.sync += hold.eq(hold - 1)
        verdict, running = Signal(), Signal()
        m.d.comb += [verdict.eq(self.passed | self.failed), running.eq((hold == 0) & ~verdict)]
        connections: dict = {p.name: Const(expect.params[p.name], p.width) for p in core.params}

        inputs_done = []
        for i, s in enumerate(core.inputs):
            states = [Signal(32, name=f"{s.name}_gen{j}", init=seed(i, j))
                      for j in range(words(s.width))]
            sent = Signal(range(expect.beats + 1), name=f"{s.name}_sent")
            valid, ready = Signal(name=f"{s.name}_valid"), Signal(name=f"{s.name}_ready")
            m.d.comb += valid.eq(running & (sent < expect.beats))
            for state in states:
                self._xorshift(m, state, valid & ready)
            with m.If(valid & ready):
                m.d.sync += sent.eq(sent + 1)
            connections |= {f"{s.name}__valid": valid, f"{s.name}__ready": ready}
            if s.width:
                connections[f"{s.name}__payload"] = Cat(*states)[:s.width]
            inputs_done.append(sent == expect.beats)

        total, results_done, extra = Const(0, 32), [], []
        for i, (s, count) in enumerate(zip(core.results, expect.results)):
            pace = Signal(32, name=f"{s.name}_pace", init=seed(len(core.inputs) + i, 0))
            self._xorshift(m, pace, 1)
            valid, ready = Signal(name=f"{s.name}_valid"), Signal(name=f"{s.name}_ready")
            payload = Signal(s.width, name=f"{s.name}_payload")
            m.d.comb += ready.eq(running & ~(pace[0] & pace[1]))
            connections |= {f"{s.name}__valid": valid, f"{s.name}__ready": ready}
            if s.width:
                connections[f"{s.name}__payload"] = payload
            h = Signal(32, name=f"{s.name}_checksum")
            got = Signal(range(count + 2), name=f"{s.name}_got")
            folded = Const(0, 32)
            for j in range(words(s.width)):
                folded = folded ^ payload[32 * j:32 * (j + 1)]
            with m.If(valid & ready):
                m.d.sync += [h.eq(h.rotate_left(5) ^ folded), got.eq(got + 1)]
            total = total ^ h.rotate_left(i)
            results_done.append(got == count)
            extra.append(got > count)

        m.submodules.core = core.instance(connections, rst=hold != 0)
        cycles = Signal(range(expect.max_cycles + 1))
        with m.If(running):
            m.d.sync += cycles.eq(cycles + 1)
        m.d.comb += self.checksum.eq(total)
        finished = Cat(*inputs_done, *results_done).all()
        with m.If(running):
            with m.If(Cat(*extra).any() | (cycles == expect.max_cycles)):
                m.d.sync += self.failed.eq(1)
            with m.Elif(finished):
                with m.If(total == expect.checksum):
                    m.d.sync += self.passed.eq(1)
                with m.Else():
                    m.d.sync += self.failed.eq(1)
        return m
