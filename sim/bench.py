"""Testbench plumbing every core's cocotb driver shares.

* :func:`context` gives the test the core's config and run options (sent by the runner).
* :class:`Source` / :class:`Sink` drive and collect valid/ready streams as Amaranth names their
  ports (``<stream>__valid``, ``__ready``, ``__payload``), with optional random idle cycles and
  back-pressure; :func:`transfer` steps any number of them together, one coroutine per clock,
  and measures cycles from the first input handshake to the last output handshake.
* :func:`through` streams a reduction unit's operand beats and takes its results: in bulk
  through the stream harness around the core (:mod:`lowbit.sim.bulk`) when the simulated top
  has one, else beat by beat.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lowbit.config import CoreConfig
from lowbit.hw.interface import CoreInterface, Stream
from lowbit.registry import config_from_dict

CLOCK_PERIOD_NS = 10


def environment(config: CoreConfig, options: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The environment that hands a config and run options to a testbench (:func:`context`
    reads it on the other side)."""
    return {"LOWBIT_CONFIG": json.dumps(config.to_dict()),
            "LOWBIT_OPTIONS": json.dumps(dict(options or {}), default=_plain)}


def _plain(value: Any) -> Any:
    """JSON for numpy scalars and dataclasses in run options."""
    if hasattr(value, "item"):
        return value.item()
    return vars(value)


def context() -> tuple[CoreConfig, dict[str, Any]]:
    """The config under test and the run options, from the runner's environment."""
    config = config_from_dict(json.loads(os.environ["LOWBIT_CONFIG"]))
    options = json.loads(os.environ.get("LOWBIT_OPTIONS", "{}"))
    return config, options


def rng(options: Mapping[str, Any], salt: int) -> np.random.Generator:
    """A generator seeded from the run's seed and a per-test salt (reproducible per test)."""
    return np.random.default_rng([int(options.get("seed", 1)), salt])


def record(**fields: Any) -> None:
    """Append one JSON record (cycles, counts, ...) to the run's report for the CLI and pytest."""
    path = os.environ.get("LOWBIT_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(fields, default=int) + "\n")


def clock(signal, period: float = CLOCK_PERIOD_NS, unit: str = "ns") -> None:
    """Start a free-running clock on ``signal`` that toggles inside the simulator: no Python
    runs per edge, and each edge is written at once (``Immediate``), so the simulator
    evaluates the design once per edge. cocotb's default clock without trusted inertial
    writes is a Python coroutine whose writes land in a later evaluation of the same time
    step: two evaluations and two entries into Python per edge. Testbench writes after an
    edge still land in that edge's read-write phase, as with the default clock."""
    import cocotb
    from cocotb.clock import Clock
    from cocotb.handle import Immediate

    cocotb.start_soon(Clock(signal, period, unit=unit, impl="gpi", set_action=Immediate).start())


async def start(dut, cycles: int = 2) -> None:
    """Start the clock (:func:`clock`) and hold the synchronous reset for ``cycles`` cycles (a
    bulk harness's controls are put at rest first)."""
    await reset(dut, cycles, start_clock=True)


async def reset(dut, cycles: int = 2, *, start_clock: bool = False) -> None:
    """Hold the synchronous reset for ``cycles`` cycles (a bulk harness's controls at rest
    first); ``start_clock``: start the clock too, else it runs on."""
    from cocotb.triggers import ClockCycles

    from lowbit.sim import bulk

    if bulk.has_harness(dut):
        bulk.quiet(dut)
    dut.rst.value = 1
    if start_clock:
        clock(dut.clk)
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0


class Source:
    """Drives beats into an input stream; ``idle`` is the chance of a cycle without a beat."""

    def __init__(self, dut, name: str, beats: Sequence[int], *,
                 rng: np.random.Generator | None = None, idle: float = 0.0):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.beats, self.index = beats, 0
        self._rng, self._idle = rng, idle
        self._offered = False   # a beat is on the wire and not yet taken
        self._valid = False     # what the valid wire holds
        self.valid.value = 0

    @property
    def done(self) -> bool:
        return self.index >= len(self.beats)

    def drive(self) -> None:
        if self.done:
            want = False
        elif self._offered:  # a valid beat stays until it is taken
            want = True
        else:
            want = not (self._idle and self._rng.random() < self._idle)
        if want and not self._offered:
            self.payload.value = self.beats[self.index]
        if want != self._valid:
            self.valid.value = int(want)
            self._valid = want
        self._offered = want

    def sample(self) -> bool:
        """In the read-only phase: whether a beat is handshaked at the coming edge."""
        if self._offered and self.ready.value:
            self.index += 1
            self._offered = False
            return True
        return False


class Sink:
    """Collects beats from an output stream; ``stall`` is the chance of not being ready."""

    def __init__(self, dut, name: str, expect: int, *,
                 rng: np.random.Generator | None = None, stall: float = 0.0):
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")
        self.expect = expect
        self.values: list[int] = []
        self._rng, self._stall = rng, stall
        self._ready = None

    @property
    def done(self) -> bool:
        return len(self.values) >= self.expect

    def drive(self) -> None:
        want = not (self._stall and self._rng.random() < self._stall)
        if want != self._ready:
            self.ready.value = int(want)
            self._ready = want

    def sample(self) -> bool:
        if self._ready and self.valid.value:
            self.values.append(self.payload.value.to_unsigned())
            return True
        return False


#: the longest :func:`transfer` (a watchdog: a stuck handshake fails instead of hanging)
MAX_CYCLES = 10_000_000


async def transfer(clk, sources: Sequence[Source], sinks: Sequence[Sink], *,
                   max_cycles: int = MAX_CYCLES) -> int:
    """Run until every source is empty and every sink has its beats; returns the cycles.

    Cycles count from the edge of the first input handshake to the edge of the last output
    handshake, both included, which is what the performance models predict.
    """
    from cocotb.triggers import ReadOnly, RisingEdge

    edge_trigger, settle = RisingEdge(clk), ReadOnly()
    for port in (*sources, *sinks):
        port.drive()
    first = last = None
    edge = 0
    while not (all(s.done for s in sources) and all(k.done for k in sinks)):
        await settle
        for s in sources:
            if s.sample() and first is None:
                first = edge
        for k in sinks:
            if k.sample():
                last = edge
        await edge_trigger
        edge += 1
        if edge > max_cycles:
            raise AssertionError(
                f"transfer did not finish in {max_cycles} cycles: "
                f"sources at {[s.index for s in sources]}, sinks have "
                f"{[len(k.values) for k in sinks]} of {[k.expect for k in sinks]} beats")
        for port in (*sources, *sinks):
            port.drive()
    for k in sinks:
        k.ready.value = 0
        k._ready = False
    if first is None or last is None:
        return 0
    return last - first + 1


async def start_unit(dut, **inputs: int) -> tuple[CoreConfig, dict[str, Any]]:
    """Idle the ``operands``/``result`` streams and ``clear`` of a reduction unit, set the given
    run-time inputs, then clock and reset it; returns :func:`context`."""
    dut.clear.value = 0
    dut.operands__valid.value = 0
    dut.result__ready.value = 0
    for name, value in inputs.items():
        getattr(dut, name).value = value
    await start(dut)
    return context()


async def through(dut, beats: Sequence[int], results: int, *, rng=None, idle: float = 0.0,
                  stall: float = 0.0, per_beat: bool = False) -> tuple[list[int], int]:
    """Feed ``beats`` into ``operands`` and take ``results`` beats from ``result``; returns
    (result payloads, cycles).

    On a core in its bulk harness the beats move in bulk (idle inputs and stalls drawn in the
    harness, seeded from ``rng``) unless ``per_beat``; else through :class:`Source` and
    :class:`Sink`, a cocotb access per beat.
    """
    from lowbit.sim import bulk  # bulk builds on this module

    if not per_beat and bulk.has_harness(dut):
        width, out = len(dut.operands__payload), len(dut.result__payload)
        streams = CoreInterface(dut._name, (), (Stream("operands", width, True),
                                                Stream("result", out, False)), (), ())
        words, cycles = await bulk.BulkStreams(dut, streams).transfer(
            {"operands": bulk.words_of_ints(beats, width)}, {"result": results}, rng=rng,
            idle=idle, stall=stall)
        return bulk.ints_of_words(words["result"]), cycles
    src = Source(dut, "operands", beats, rng=rng, idle=idle)
    sink = Sink(dut, "result", results, rng=rng, stall=stall)
    cycles = await transfer(dut.clk, [src], [sink])
    return sink.values, cycles


async def pulse_clear(dut) -> None:
    """Hold a reduction unit's ``clear`` high for one clock edge."""
    from cocotb.triggers import RisingEdge

    dut.clear.value = 1
    await RisingEdge(dut.clk)
    dut.clear.value = 0


async def send_then_clear(dut, beats: Sequence[int]) -> None:
    """Stream ``beats`` into ``operands`` with no result taken, then pulse ``clear``: the
    partial sums, flags and pipeline those beats left must be dropped."""
    if beats:
        await transfer(dut.clk, [Source(dut, "operands", beats)], [])
    await pulse_clear(dut)


def assert_equal(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Bit-exact comparison with a message naming the first mismatches."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: got {got.shape} results, golden model has {want.shape}")
    bad = np.argwhere(got != want)
    if bad.size:
        shown = ", ".join(f"{tuple(i)}: rtl {got[tuple(i)]} golden {want[tuple(i)]}"
                          for i in bad[:5])
        raise AssertionError(f"{what}: {len(bad)} of {got.size} results differ ({shown})")
