"""The GEMM testbench skeleton: a GEMM through any core by its kind's tiler, checked bit for bit
against the golden model and cycle for cycle against the performance model.

:func:`run_gemm` streams the beats of every run of a GEMM (:class:`lowbit.models.tiling.Tiler`)
and places the result beats where the tiler says, either in bulk through the stream harness
around the core (:mod:`lowbit.sim.bulk`: whole rings of beats per file, no VPI access per beat;
the default for GEMMs) or beat by beat through the cocotb drivers of :mod:`lowbit.sim.bench`
(the run option ``streams`` = ``"beats"``). :class:`GemmBench` holds one build's
tests; the array kinds (``systolic``, ``lut``, ``bitserial``) specialize its few hooks (which
run-time settings exist, the value formats at a setting, the shapes around the tiling's
edges) and take every test from :func:`gemm_tests`:

* ``gemm_tiled`` — the requested GEMM (``--gemm`` or the run option ``operands``, an ``.npz``
  of integer values ``a`` M×K and ``w`` K×N), cycles equal to the model;
* ``every_setting`` — every run-time setting the build offers on one shape;
* ``gemm_shapes`` — shapes around every edge of the tiling, cycle-exact each;
* ``corner_values`` — every pair of extreme values, all zeros, and (integer accumulators) runs
  that overflow it, also turning halfway so only a per-step rule gets them right;
* ``backpressure`` — idle inputs and a stalling result sink, beat by beat;
* ``bulk_backpressure`` — the same from the harness's seeded generators, on shapes long enough
  that every ring is refilled or read out between segments;
* ``paths_agree`` — one GEMM through both paths at full rate: the same results and cycles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import cocotb
import numpy as np

from lowbit.hw.generators import build
from lowbit.hw.interface import payload_layouts
from lowbit.hw.payload import pack_beats, pack_words, unpack_beats, unpack_words
from lowbit.models.perf import GemmShape
from lowbit.models.tiling import Operands, Results, Tiler
from lowbit.registry import get_kind
from lowbit.sim import bench
from lowbit.sim.bulk import BulkStreams, interface_of, ring_depth
from lowbit.sim.testbenches import OPERANDS_OPTION

#: how a GEMM's beats move: through the bulk harness, or one cocotb driver per stream
STREAMS = ("bulk", "beats")
#: chances of an idle input cycle and of a stalled result cycle in the back-pressure tests
IDLE, STALL = 0.3, 0.4
#: the ring size (beats) of ``bulk_backpressure``: small, so a short GEMM turns every ring over
BULK_RING = 256


def _empty(template: Results, shape: tuple[int, int]) -> Results:
    if isinstance(template, Mapping):
        return {name: np.zeros(shape, dtype=object) for name in template}
    return np.zeros(shape, dtype=object)


def _crop(results: Results, m: int, n: int) -> Results:
    if isinstance(results, Mapping):
        return {name: np.asarray(v)[:m, :n] for name, v in results.items()}
    return np.asarray(results)[:m, :n]


async def run_gemm(dut, tiler: Tiler, layouts: Mapping[str, Any], operands: Operands, *,
                   rng: np.random.Generator | None = None, idle: float = 0.0,
                   stall: float = 0.0, junk: np.random.Generator | None = None,
                   bulk: BulkStreams | None = None, ring: int | None = None,
                   max_cycles: int = bench.MAX_CYCLES) -> tuple[Results, int]:
    """Stream a GEMM of operand codes through the core; returns (result codes M×N, cycles).

    With ``junk`` (and a tiler whose core masks padding) the padding around the operands is
    random codes instead of zeros, which the core must ignore. With ``bulk`` each run's beats
    go through the stream harness in bulk (idle inputs and stalls drawn in the harness, seeded
    from ``rng``; rings of at most ``ring`` beats), else beat by beat through
    :class:`lowbit.sim.bench.Source` / ``Sink``.
    """
    (m, k), n = operands["a"].shape, operands["w"].shape[1]
    shape = GemmShape(m, n, k)
    fill = None
    if junk is not None and tiler.masks_padding:
        fill = tiler.random(junk, tiler.padded_shape(shape))
    padded = tiler.padded(operands, fill)
    out, cycles = None, 0
    for run in tiler.runs(shape):
        for name, value in run.params.items():
            getattr(dut, name).value = value
        beats = tiler.beats(run, padded)
        if bulk is not None:
            words, took = await bulk.transfer(
                {name: pack_words(layouts[name], b) for name, b in beats.items()},
                {"result": tiler.result_beats(run)}, rng=rng, idle=idle, stall=stall, ring=ring)
            lanes = unpack_words(layouts["result"], words["result"])
        else:
            sources = [bench.Source(dut, name, pack_beats(layouts[name], b), rng=rng, idle=idle)
                       for name, b in beats.items()]
            sink = bench.Sink(dut, "result", tiler.result_beats(run), rng=rng, stall=stall)
            took = await bench.transfer(dut.clk, sources, [sink], max_cycles=max_cycles)
            lanes = unpack_beats(layouts["result"], sink.values)
        cycles += took
        if out is None:
            out = _empty(lanes, tiler.result_shape(tiler.padded_shape(shape)))
        tiler.place(run, lanes, out)
    return _crop(out, *tiler.result_shape(shape)), cycles


def assert_results(got: Results, want: Results, what: str,
                   decode: Callable[[np.ndarray], np.ndarray] = lambda x: x) -> None:
    """Bit-exact comparison of result codes (per field for struct results)."""
    if isinstance(want, Mapping):
        for name in want:
            bench.assert_equal(np.asarray(got[name]).astype(object),
                               np.asarray(want[name]).astype(object), f"{what} ({name})")
        return
    bench.assert_equal(decode(np.asarray(got, dtype=np.uint64)),
                       decode(np.asarray(want, dtype=np.uint64)), what)


class GemmBench:
    """One build's GEMM tests from its kind's tiler, golden and performance model.

    The hooks (:meth:`settings`, :meth:`full`, :meth:`sides`, :meth:`edge_shapes`) are what
    a kind specializes; a run-time setting is the keyword arguments of the kind's tiler and
    performance model.
    """

    def __init__(self, dut, config, options: Mapping[str, Any]):
        self.dut, self.config, self.options = dut, config, options
        self.kind = get_kind(config.KIND)
        component = build(config)
        self.layouts = payload_layouts(component)
        self.interface = interface_of(component, config.name)
        self.streams = options.get("streams", "bulk")
        if self.streams not in STREAMS:
            raise ValueError(f"run option streams={self.streams!r} is not allowed; "
                             f"allowed: {', '.join(STREAMS)}")
        self._bulk: BulkStreams | None = None

    @property
    def bulk(self) -> BulkStreams:
        """The bulk harness's driver (the simulated top must be the harness)."""
        if self._bulk is None:
            self._bulk = BulkStreams(self.dut, self.interface)
        return self._bulk

    # --- hooks ------------------------------------------------------------------------------

    def settings(self) -> list[dict[str, Any]]:
        """Every run-time setting of the build (each gets a GEMM in ``every_setting``)."""
        return [{}]

    def full(self) -> dict[str, Any]:
        """The setting of the widest operands: the default of ``gemm_tiled``."""
        return {}

    def sides(self, runtime: Mapping[str, Any]) -> dict[str, Any]:
        """The value formats of ``a`` and ``w`` at a setting (their ranges and extremes)."""
        return {"a": self.config.a, "w": self.config.w}

    def encode(self, runtime: Mapping[str, Any], values: Mapping[str, np.ndarray]) -> dict:
        """Operand values to the codes the tiler streams."""
        return {side: self.sides(runtime)[side].encode(v) for side, v in values.items()}

    def extra(self, runtime: Mapping[str, Any], gen, shape: GemmShape) -> dict[str, np.ndarray]:
        """Operands besides ``a`` and ``w`` (random codes), e.g. per-group scales."""
        return {}

    def default_shape(self) -> GemmShape:
        tm, tn, tk = self.tiler(self.full()).tile()
        side = 4 * max(tm, tn, tk)
        return GemmShape(side + 3, side + 1, min(side + 5, self.config.k_max))

    def edge_shapes(self) -> list[GemmShape]:
        """Shapes around every edge of the tiling: 1s, K below/at/above one tile, partial
        blocks, and the longest K the register holds when it is short."""
        tm, tn, tk = self.tiler(self.full()).tile()
        r = max(tm, tk)
        shapes = [(1, 1, 1), (1, tn + 1, 2), (r + 1, 1, r + 1), (2, 2 * tn, 2 * r + 1),
                  (3, tn, r), (2 * r + 1, 2 * tn + 1, 3 * r + 2), (r, tn, 1), (5, 3, 4 * r + 7)]
        if self.config.k_max <= 1000:
            shapes.append((2, tn + 1, self.config.k_max))
        return [GemmShape(m, n, min(k, self.config.k_max)) for m, n, k in shapes]

    # --- runs ---------------------------------------------------------------------------------

    def tiler(self, runtime: Mapping[str, Any]) -> Tiler:
        return self.kind.tiler_for(self.config, **runtime)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        acc = getattr(self.config, "accumulator", None)
        return acc.decode(codes) if acc is not None else codes

    def idle(self) -> None:
        """No input beat offered, no result taken."""
        for name in self.layouts:
            getattr(self.dut, f"{name}__ready" if name == "result" else f"{name}__valid"
                    ).value = 0

    async def start(self) -> None:
        """Idle every stream, hold the parameters of a first run, clock and reset."""
        dut, tiler = self.dut, self.tiler(self.full())
        self.idle()
        for name, value in tiler.runs(GemmShape(1, 1, 1))[0].params.items():
            getattr(dut, name).value = value
        await bench.start(dut)

    async def cut_by_reset(self, runtime: Mapping[str, Any], operands: Operands) -> None:
        """Stream a GEMM beat by beat, stop it halfway through its first run (by the model's
        cycles), idle the streams and reset."""
        tiler = self.tiler(runtime)
        (m, k), n = operands["a"].shape, operands["w"].shape[1]
        first = tiler.runs(GemmShape(m, n, k))[0]
        cycles = max(self.kind.perf_model(self.config, **runtime).run_cycles(first) // 2, 1)
        try:
            await run_gemm(self.dut, tiler, self.layouts, operands, max_cycles=cycles)
        except AssertionError as e:
            if not str(e).startswith("transfer did not finish"):
                raise
        else:
            raise AssertionError(f"the GEMM ended within {cycles} cycles: no reset mid-run")
        self.idle()
        await bench.reset(self.dut)

    async def gemm(self, runtime: Mapping[str, Any], operands: Operands, *, rng=None,
                   idle: float = 0.0, stall: float = 0.0, what: str = "",
                   streams: str | None = None, ring: int | None = None
                   ) -> tuple[Results, int]:
        """A GEMM of operand codes at a setting, checked against the golden model; its beats
        move as ``streams`` says (default: the run option, else the bulk harness; ``ring``:
        :meth:`lowbit.sim.bulk.BulkStreams.transfer`)."""
        tiler = self.tiler(runtime)
        bulk = self.bulk if (streams or self.streams) == "bulk" else None
        got, cycles = await run_gemm(self.dut, tiler, self.layouts, operands, rng=rng,
                                     idle=idle, stall=stall, junk=np.random.default_rng(
                                         [*operands["a"].shape, operands["w"].shape[1]]),
                                     bulk=bulk, ring=ring)
        (m, k), n = operands["a"].shape, operands["w"].shape[1]
        label = " ".join(f"{key}={value}" for key, value in runtime.items())
        want = _crop(tiler.golden(tiler.padded(operands)), *tiler.result_shape(GemmShape(m, n, k)))
        assert_results(got, want, f"GEMM {GemmShape(m, n, k)} {label} {what}".strip(),
                       self.decode)
        return got, cycles

    def operands(self, runtime: Mapping[str, Any], gen, shape: GemmShape) -> dict:
        return self.tiler(runtime).random(gen, shape)

    async def checked(self, shape: GemmShape, runtime: Mapping[str, Any], gen, test: str,
                      operands: Operands | None = None, streams: str | None = None
                      ) -> tuple[Results, int]:
        """A GEMM at full rate; its cycles must equal the performance model's. Its record
        holds the CPU seconds it took (stimulus, simulation, read-back and check)."""
        operands = self.operands(runtime, gen, shape) if operands is None else operands
        streams = streams or self.streams
        cpu = time.process_time()     # the simulator's and the testbench's (one process)
        got, cycles = await self.gemm(runtime, operands, streams=streams)
        cpu = time.process_time() - cpu
        perf = self.kind.perf_model(self.config, **runtime)
        model = perf.gemm_cycles(shape)
        util = shape.macs / (cycles * perf.peak_macs_per_cycle) if cycles else 0.0
        bench.record(test=test, gemm=str(shape), cycles=cycles, model_cycles=model,
                     macs=shape.macs, utilization=util, streams=streams, cpu_s=round(cpu, 3),
                     **runtime)
        assert cycles == model, f"GEMM {shape} {runtime}: measured {cycles} cycles, the model " \
                                f"says {model}"
        return got, cycles

    def given_operands(self, runtime: Mapping[str, Any]) -> dict | None:
        """The run option ``operands``: an ``.npz`` of values ``a`` and ``w``, as codes."""
        path = self.options.get(OPERANDS_OPTION)
        if path is None:
            return None
        with np.load(path) as data:
            values = {side: np.asarray(data[side]) for side in ("a", "w")}
        codes = self.encode(runtime, values)
        m, k = values["a"].shape
        return {**codes, **self.extra(runtime, bench.rng(self.options, 9),
                                      GemmShape(m, values["w"].shape[1], k))}

    # --- corner operands ----------------------------------------------------------------------

    async def corner_values(self) -> dict[str, int]:
        """Extreme operands at every setting: every pair of extremes as a one-deep product,
        all zeros, and (integer accumulators) long runs of the largest products that overflow
        the register, the other columns turning to the negated weight halfway."""
        gen = bench.rng(self.options, 3)
        overflowed = 0
        for runtime in self.corner_settings():
            fa, fw = self.sides(runtime)["a"], self.sides(runtime)["w"]
            tm, tn, tk = self.tiler(runtime).tile()
            pairs = {"a": fa.extremes()[:, None], "w": fw.extremes()[None, :]}
            w0 = 0 if 0 in fw.extremes() else fw.extremes()[0]  # binary weights have no 0
            zeros = {"a": np.zeros((tm + 1, 3), np.int64), "w": np.full((3, tn + 1), w0)}
            for what, values in (("extreme pairs", pairs), ("all zero", zeros)):
                shape = GemmShape(values["a"].shape[0], values["w"].shape[1], values["a"].shape[1])
                await self.gemm(runtime, {**self.encode(runtime, values),
                                          **self.extra(runtime, gen, shape)}, what=what)
            for values in self.long_runs(runtime, tn + 1):
                shape = GemmShape(2, tn + 1, values["a"].shape[1])
                await self.gemm(runtime, {**self.encode(runtime, values),
                                          **self.extra(runtime, gen, shape)}, what="long run")
                if fa.is_integer and fw.is_integer:
                    overflowed += self.config.accumulator.overflows(
                        values["a"].astype(object) @ values["w"].astype(object))
        return {"overflowed": overflowed}

    def corner_settings(self) -> list[dict[str, Any]]:
        return self.settings()

    # --- back-pressure ------------------------------------------------------------------------

    def backpressure_runs(self) -> list[tuple[dict[str, Any], GemmShape]]:
        """(setting, shape) of the back-pressure GEMMs: partial blocks, K = 1, one column."""
        tm, tn, tk = self.tiler(self.full()).tile()
        shapes = [GemmShape(2 * tm + 1, tn + 2, 2 * tk + 3), GemmShape(3, 2 * tn, 1),
                  GemmShape(tm + 2, 1, 5)]
        settings = self.settings()
        return [(settings[i * 7 % len(settings)],
                 GemmShape(shape.m, shape.n, min(shape.k, self.config.k_max)))
                for i, shape in enumerate(shapes)]

    def ring_shape(self, runtime: Mapping[str, Any], ring: int) -> GemmShape:
        """A GEMM with more than two rings (of at most ``ring`` beats) on the result stream and
        on an input stream (so the harness refills and reads out rings mid-run): M doubled from
        one tile until it is, at most 2^14 tiles."""
        tiler = self.tiler(runtime)
        tm, tn, tk = tiler.tile()
        shape = GemmShape(tm + 1, tn + 1, min(2 * tk + 3, self.config.k_max))
        widths = {st.name: st.width for st in self.interface.streams}
        gen = np.random.default_rng(0)
        for _ in range(14):
            padded = tiler.padded(self.operands(runtime, gen, shape))
            beats = dict.fromkeys(widths, 0)
            for run in tiler.runs(shape):
                beats["result"] += tiler.result_beats(run)
                for name, b in tiler.beats(run, padded).items():
                    beats[name] += len(next(iter(b.values())) if isinstance(b, Mapping) else b)
            turns = {name: n > 2 * min(ring, ring_depth(widths[name]))
                     for name, n in beats.items()}
            if turns.pop("result") and any(turns.values()):
                break
            shape = GemmShape(2 * shape.m, shape.n, shape.k)
        return shape

    def long_runs(self, runtime: Mapping[str, Any], cols: int) -> list[dict[str, np.ndarray]]:
        """Operand values whose sums pass the accumulator's range, at the widest setting with
        integer operands: column 0 adds K equal products, the others turn to the negated
        weight halfway (up past the limit, then down: saturating at each step differs from
        clamping once)."""
        acc = getattr(self.config, "accumulator", None)
        fa, fw = self.sides(runtime)["a"], self.sides(runtime)["w"]
        if acc is None or dict(runtime) != self.full() or not (fa.is_integer and fw.is_integer):
            return []
        k_cap = min(self.config.k_max, int(self.options.get("max_overflow_k", 4096)))
        runs = []
        for x, y in ((fa.min, fw.min), (fa.max, fw.max), (fa.min, fw.max), (fa.max, fw.min)):
            p = x * y
            if p == 0:
                continue
            half = (acc.max if p > 0 else -acc.min) // abs(p) + 2
            if 2 * half > k_cap:        # the register is too wide to overflow within k_cap
                continue
            a = np.full((2, 2 * half), x, dtype=np.int64)
            w = np.full((2 * half, cols), y, dtype=np.int64)
            if fw.min <= -y <= fw.max:
                w[half:, 1:] = -y
            runs.append({"a": a, "w": w})
        return runs


def gemm_tests(bench_class: type[GemmBench]) -> tuple:
    """The cocotb tests of a kind's :class:`GemmBench`: gemm_tiled, every_setting,
    gemm_shapes, corner_values, backpressure (assign them in the testbench module)."""

    async def setup(dut) -> GemmBench:
        config, options = bench.context()
        tb = bench_class(dut, config, options)
        await tb.start()
        return tb

    @cocotb.test(name="gemm_tiled")
    async def gemm_tiled(dut):
        """The requested GEMM (``--gemm``, or the ``operands`` file) at the widest setting."""
        tb = await setup(dut)
        runtime = tb.full()
        given = tb.given_operands(runtime)
        if given is not None:
            (m, k), n = given["a"].shape, given["w"].shape[1]
            shape = GemmShape(m, n, k)
        else:
            shape = GemmShape(*tb.options.get("gemm", tuple(vars(tb.default_shape()).values())))
        await tb.checked(shape, runtime, bench.rng(tb.options, 1), "gemm_tiled", given)

    @cocotb.test(name="every_setting")
    async def every_setting(dut):
        """Every run-time setting of the build on one GEMM with partial blocks."""
        tb = await setup(dut)
        gen = bench.rng(tb.options, 2)
        tm, tn, tk = tb.tiler(tb.full()).tile()
        shape = GemmShape(2 + tm, tn + 1, min(2 * tk + 1, tb.config.k_max))
        for runtime in tb.settings():
            await tb.checked(shape, runtime, gen, "every_setting")

    @cocotb.test(name="gemm_shapes")
    async def gemm_shapes(dut):
        """Many GEMM shapes on one build (run-time K, M): bit- and cycle-exact each."""
        tb = await setup(dut)
        gen = bench.rng(tb.options, 4)
        for shape in tb.edge_shapes():
            await tb.checked(shape, tb.full(), gen, "gemm_shapes")

    @cocotb.test(name="corner_values")
    async def corner_values(dut):
        """Extreme operands, all zeros, and accumulator overflow at every setting."""
        tb = await setup(dut)
        counts = await tb.corner_values()
        bench.record(test="corner_values", overflow=getattr(tb.config, "overflow", "exact"),
                     **counts)

    @cocotb.test(name="backpressure")
    async def backpressure(dut):
        """Random idle inputs and a stalling result sink, beat by beat: still bit-exact."""
        tb = await setup(dut)
        gen = bench.rng(tb.options, 5)
        for runtime, shape in tb.backpressure_runs():
            await tb.gemm(runtime, tb.operands(runtime, gen, shape), rng=gen, idle=IDLE,
                          stall=STALL, what="with back-pressure", streams="beats")
        bench.record(test="backpressure")

    @cocotb.test(name="bulk_backpressure")
    async def bulk_backpressure(dut):
        """Random input gaps and result stalls drawn by the harness's seeded generators, on
        the shapes of ``backpressure`` and one whose every ring (cut to :data:`BULK_RING`
        beats) turns over mid-run (refills and read-outs under back-pressure): still
        bit-exact, and slower than full rate."""
        tb = await setup(dut)
        gen = bench.rng(tb.options, 6)
        for runtime, shape in tb.backpressure_runs():
            await tb.gemm(runtime, tb.operands(runtime, gen, shape), rng=gen, idle=IDLE,
                          stall=STALL, what="with back-pressure (bulk)", streams="bulk")
        full = tb.full()
        shape = tb.ring_shape(full, BULK_RING)
        _, cycles = await tb.gemm(full, tb.operands(full, gen, shape), rng=gen, idle=IDLE,
                                  stall=STALL, what="with back-pressure (bulk)", streams="bulk",
                                  ring=BULK_RING)
        model = tb.kind.perf_model(tb.config, **full).gemm_cycles(shape)
        bench.record(test="bulk_backpressure", gemm=str(shape), cycles=cycles,
                     model_cycles=model)
        assert cycles > model, f"GEMM {shape} with idle inputs and stalls took {cycles} " \
                               f"cycles, no more than at full rate: the generators did nothing"

    @cocotb.test(name="paths_agree")
    async def paths_agree(dut):
        """One GEMM at full rate beat by beat and in bulk: the same result codes and the
        same cycles (each the model's)."""
        tb = await setup(dut)
        gen = bench.rng(tb.options, 7)
        tm, tn, tk = tb.tiler(tb.full()).tile()
        shape = GemmShape(2 * tm + 1, tn + 2, min(2 * tk + 3, tb.config.k_max))
        operands = tb.operands(tb.full(), gen, shape)
        (beats, by_beat), (bulk, in_bulk) = [
            await tb.checked(shape, tb.full(), gen, "paths_agree", operands, streams=s)
            for s in ("beats", "bulk")]
        assert_results(bulk, beats, f"GEMM {shape} in bulk against beat by beat")
        assert in_bulk == by_beat, f"GEMM {shape}: {in_bulk} cycles in bulk, {by_beat} by beat"

    @cocotb.test(name="reset_mid_run")
    async def reset_mid_run(dut):
        """A reset halfway through a GEMM drops it; the same GEMM after it is bit- and
        cycle-exact: nothing of the cut run is left in the core."""
        tb = await setup(dut)
        gen = bench.rng(tb.options, 8)
        runtime = tb.full()
        tm, tn, tk = tb.tiler(runtime).tile()
        shape = GemmShape(2 * tm + 1, tn + 1, min(2 * tk + 1, tb.config.k_max))
        operands = tb.operands(runtime, gen, shape)
        await tb.cut_by_reset(runtime, operands)
        await tb.checked(shape, runtime, gen, "reset_mid_run", operands)

    return (gemm_tiled, every_setting, gemm_shapes, corner_values, backpressure,
            bulk_backpressure, paths_agree, reset_mid_run)


def gemm_full_rate_test(runtime: Callable[[Any, Mapping[str, Any]], dict[str, Any]],
                        default: Callable[[Any, dict[str, Any]], tuple[int, int, int]]):
    """The GEMM test of a reduction unit (``mac``, ``fmac``, ``fusion``): an M×N×K GEMM of
    random codes at the setting ``runtime(config, options)`` (shape ``--gemm`` or
    ``default(config, setting)``), M·N dot products back to back; cycles equal the model."""

    @cocotb.test(name="gemm_full_rate")
    async def gemm_full_rate(dut):
        config, options = bench.context()
        tb = GemmBench(dut, config, options)
        await tb.start()
        setting = runtime(config, options)
        if "gemm" in options:
            shape = GemmShape(*options["gemm"])
        else:   # the default within the run-time K register
            m, n, k = default(config, setting)
            shape = GemmShape(m, n, min(k, tb.tiler(setting).max_k()))
        await tb.checked(shape, setting, bench.rng(options, 4), "gemm_full_rate",
                         tb.given_operands(setting))

    return gemm_full_rate
