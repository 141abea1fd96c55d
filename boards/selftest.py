"""The board self-test: one GEMM through any core from on-chip memory, its results folded into
a checksum that the golden model predicts.

Without a host (:mod:`lowbit.hw.engine` is the host-driven build), a board build proves the
core on silicon by itself, with the kind's own beat layout:

* the kind names the GEMM (:attr:`lowbit.kinds.kind.CoreKind.selftest`: a shape and a run-time
  setting); random operand codes of that shape (seed :data:`SEED`) go through the kind's
  tiler, which gives one run's run-time parameters and each input stream's beats;
* every input stream's beats sit in a ROM (block RAM) and are offered back to back;
* every result stream is taken with pseudo-random back-pressure (ready 3 cycles in 4, from an
  xorshift32 generator) and each beat is folded into a 32-bit checksum:
  ``h = rotl(h, 5) ^ fold32(payload)``, where ``fold32`` XORs the payload's 32-bit words; the
  checksums of several result streams are combined as ``XOR rotl(h_i, i)``;
* the expected checksum is that of the result beats the tiler gathers from **the golden
  model's** answer to the same operands.

When every input beat is sent and every expected result beat has arrived, ``passed`` or
``failed`` latches; an extra result beat or a watchdog timeout also fails. The board top shows
both on LEDs and the checksum's low bits on any spare LEDs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from amaranth.hdl import Cat, Const, Elaboratable, Module, Signal
from amaranth.lib.memory import Memory

from lowbit.config import CoreConfig
from lowbit.hw.generators import build
from lowbit.hw.interface import CoreInterface, payload_layouts
from lowbit.hw.payload import pack_beats
from lowbit.registry import get_kind

MASK32 = 0xFFFF_FFFF
SEED_STEP = 0x9E37_79B9      # odd, so every multiple below 2**32 is a non-zero seed
POWER_ON_CYCLES = 15         # the core is held in reset this long after configuration
SEED = 20261201              # the self-test's operands


def xorshift32(x: int) -> int:
    x ^= (x << 13) & MASK32
    x ^= x >> 17
    return x ^ ((x << 5) & MASK32)


def words(width: int) -> int:
    return max(1, -(-width // 32))


def seed(stream: int) -> int:
    """The back-pressure generator's seed of result stream number ``stream``."""
    return (SEED_STEP * (stream + 1)) & MASK32


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
    """The self-test of one core: what the board top streams, and the golden answer."""

    params: Mapping[str, int]
    inputs: Mapping[str, tuple[int, ...]]   # each input stream's payloads, in order
    results: tuple[int, ...]                # result beats per result stream
    checksum: int
    max_cycles: int                         # watchdog: no verdict by then is a failure
    gemm: str = ""
    runtime: Mapping[str, Any] | None = None

    def to_dict(self) -> dict:
        return {"params": dict(self.params), "gemm": self.gemm,
                "runtime": dict(self.runtime or {}),
                "beats": {name: len(p) for name, p in self.inputs.items()},
                "results": list(self.results), "checksum": f"0x{self.checksum:08x}",
                "max_cycles": self.max_cycles, "source": "golden model"}


def expectation(config: CoreConfig, core: CoreInterface) -> Expectation:
    """The kind's self-test GEMM through its tiler: the ROM contents, the parameters and the
    golden checksum."""
    kind = get_kind(config.KIND)
    plan = kind.selftest(config)
    tiler = kind.tiler_for(config, **plan.runtime)
    runs = tiler.runs(plan.shape)
    if len(runs) != 1:
        raise ValueError(f"{config.KIND} self-test GEMM {plan.shape} takes {len(runs)} runs; "
                         "it must take one (one setting of the run-time parameters)")
    run = runs[0]
    wanted = {p.name for p in core.params}
    if set(run.params) != wanted:
        raise ValueError(f"{config.KIND} tiler sets parameters {sorted(run.params)}, the core "
                         f"has {sorted(wanted)}")
    layouts = payload_layouts(build(config))
    operands = tiler.padded(tiler.random(np.random.default_rng(SEED), plan.shape))
    beats = tiler.beats(run, operands)
    if set(beats) != {s.name for s in core.inputs}:
        raise ValueError(f"{config.KIND} tiler gives streams {sorted(beats)}, the core takes "
                         f"{[s.name for s in core.inputs]}")
    inputs = {s.name: tuple(pack_beats(layouts[s.name], beats[s.name])) for s in core.inputs}
    (result,) = core.results
    answer = pack_beats(layouts[result.name], tiler.gather(run, tiler.golden(operands)))
    sent = sum(len(p) for p in inputs.values())
    return Expectation(dict(run.params), inputs, (len(answer),),
                       checksum([answer], [result.width]),
                       max_cycles=16 * (sent + len(answer)) + 4096, gemm=str(plan.shape),
                       runtime=dict(plan.runtime))


class SelfTestTop(Elaboratable):
    """The core between the stimulus ROMs and the checksum; board-independent.

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
    def _xorshift(m: Module, state: Signal) -> None:
        a = state ^ (state << 13)[:32]
        b = a ^ (a >> 17)
        m.d.sync += state.eq(b ^ (b << 5)[:32])

    def _source(self, m: Module, name: str, width: int, payloads: Sequence[int], running):
        """An input stream from a ROM of its payloads: valid/ready connections and ``done``.

        The word on the stream moves on when it is taken or none is shown; the ROM's read
        enable holds the word while the core stalls.
        """
        count = len(payloads)
        rom = Memory(shape=max(width, 1), depth=max(count, 1), init=list(payloads))
        m.submodules[f"{name}_rom"] = rom
        rd = rom.read_port()
        addr = Signal(range(count + 1), name=f"{name}_addr")
        valid, ready = Signal(name=f"{name}_valid"), Signal(name=f"{name}_ready")
        more = addr < count
        take = running & (~valid | ready)
        with m.If(take):
            m.d.sync += [valid.eq(more), addr.eq(addr + more)]
        m.d.comb += [rd.addr.eq(addr), rd.en.eq(take)]
        connections = {f"{name}__valid": valid, f"{name}__ready": ready}
        if width:
            connections[f"{name}__payload"] = rd.data[:width]
        return connections, ~more & ~valid

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
        for s in core.inputs:
            ports, done = self._source(m, s.name, s.width, expect.inputs[s.name], running)
            connections |= ports
            inputs_done.append(done)

        total, results_done, extra = Const(0, 32), [], []
        for i, (s, count) in enumerate(zip(core.results, expect.results)):
            pace = Signal(32, name=f"{s.name}_pace", init=seed(i))
            self._xorshift(m, pace)
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
