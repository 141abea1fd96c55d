"""Whole-system cocotb testbench of the GEMM engine: host driver → UART pins → frames → buffers →
core → requantizer → UART → driver, checked bit-exactly against the golden model.

The simulated top is :func:`lowbit.hw.engine.engine_verilog` (module ``engine_top``) around
the config's core; with ``core_mhz`` in the engine options its core side runs on a second clock
(``core_clk``, that frequency against the board clock's 100 MHz);
:class:`lowbit.host.driver.Engine` runs unchanged in a bridge thread over
:class:`lowbit.sim.engine_transport.SimTransport`. Options (``LOWBIT_OPTIONS``): ``engine``
(EngineOptions fields), ``shapes`` (GEMMs, most larger than the buffers), ``requant_shape``
(a small GEMM for the requantizer, extreme-value and checker tests), ``seed``. Run by
``tests/test_engine_sim.py``.
"""

import dataclasses

import cocotb
import numpy as np
from cocotb.task import bridge
from cocotb.triggers import ClockCycles, RisingEdge

from lowbit.host.driver import (
    Engine,
    Mismatch,
    NoAnswer,
    Rejected,
    Requant,
    ResetDuringRun,
)
from lowbit.hw.protocol import Cmd, EngineOptions, State, Status, command_frame
from lowbit.models.formats import IntFormat
from lowbit.models.int_gemm import int_gemm
from lowbit.models.perf import GemmShape
from lowbit.models.requant import Dyadic
from lowbit.sim import bench
from lowbit.sim.engine_transport import SimTransport

TIMEOUT_S = 200e-6          # simulated: well above the engine's frame timeout


async def _setup(dut):
    config, options = bench.context()
    engine_options = EngineOptions(**options["engine"])
    dut.rx.value = 1
    if engine_options.core_mhz is not None:     # the core side on its own clock
        bench.clock(dut.core_clk, 2 * round(5e5 / engine_options.core_mhz), "ps")
    await bench.start(dut)

    baud = 1e9 / (options["divisor"] * bench.CLOCK_PERIOD_NS)
    engine = Engine(SimTransport(dut, baud), config, engine_options, timeout=TIMEOUT_S)
    engine.read_chunk = 32      # several READ frames per job, as large results take on a board
    return config, options, engine


def golden(config, a, w) -> np.ndarray:
    """What the core's accumulators hold for ``a @ w``, from the integer GEMM reference."""
    return int_gemm(a, w, config.a, config.w, config.accumulator)


def _operands(config, gen, shape, extreme: str | None = None):
    m, n, k = shape
    if extreme == "max":
        return np.full((m, k), config.a.max), np.full((k, n), config.w.max)
    if extreme == "min":
        return np.full((m, k), config.a.min), np.full((k, n), config.w.min)
    return config.a.random(gen, (m, k)), config.w.random(gen, (k, n))


@cocotb.test()
async def gemm_shapes(dut):
    """GEMMs larger than the buffers (several jobs; K split where the accumulator wraps)."""
    config, options, engine = await _setup(dut)
    gen = bench.rng(options, 1)
    small = tuple(options["requant_shape"])
    cases = [(tuple(s), None) for s in options["shapes"]] + [(small, "max"), (small, "min")]

    def run():
        done = []
        for shape, extreme in cases:
            a, w = _operands(config, gen, shape, extreme)
            got = engine.gemm(a, w, check=True)
            bench.assert_equal(got, golden(config, a, w), f"GEMM {shape} {extreme or ''}")
            k_max = engine.tiler.max_k()
            runs = engine.tiler.runs(GemmShape(shape[0], shape[1], min(shape[2], k_max)))
            done.append({"shape": shape, "extreme": extreme, "cycles": engine.last_cycles,
                         "jobs_per_k_chunk": len(runs), "k_chunks": -(-shape[2] // k_max)})
        return done

    for rec in await bridge(run)():
        bench.record(test="gemm_shapes", **rec)


@cocotb.test()
async def requantized(dut):
    """Results requantized on the device: clip(round_half_up(acc·b / 2^c) + z)."""
    config, options, engine = await _setup(dut)
    gen = bench.rng(options, 2)
    m, n, k = options["requant_shape"]

    def run():
        checked = 0
        for out, scale, zp in ((IntFormat(8), 1 / 300, 3), (IntFormat(4, False), 1 / 2000, 7),
                               (IntFormat(16), 0.37, -5)):
            bits = min(engine.layout.multiplier_bits + 1, 32)
            rq = Requant(Dyadic.fit(scale, bits), out, zp)
            a, w = _operands(config, gen, (m, n, k))
            got = engine.gemm(a, w, requant=rq, check=True)
            want = rq.apply(golden(config, a, w))
            bench.assert_equal(got, want, f"requantized to {out}")
            assert len(np.unique(got)) > 2, "requantization test data is degenerate"
            checked += got.size
        return checked

    bench.record(test="requantized", results=await bridge(run)())


@cocotb.test()
async def checker_catches_wrong_answer(dut):
    """``check=True`` against a golden model with the other overflow rule must fail."""
    config, options, engine = await _setup(dut)
    other = "wrap" if config.overflow == "saturate" else "saturate"
    engine.config = dataclasses.replace(config, overflow=other)
    m, n, k = options["requant_shape"]

    def run():
        a, w = _operands(config, None, (m, n, k), "max")
        try:
            engine.gemm(a, w, check=True)
        except Mismatch as e:
            return str(e)
        raise AssertionError(f"a {other} golden model agreed with a {config.overflow} core")

    bench.record(test="checker_catches_wrong_answer", message=await bridge(run)())


@cocotb.test()
async def faults(dut):
    """Corrupted, truncated, over-long and malformed commands are rejected, never executed;
    a hung run is aborted by RESET; a hardware reset during a run is reported."""
    config, options, engine = await _setup(dut)
    t = engine.transport
    gen = bench.rng(options, 3)
    reg = engine.layout.register_index("rq_zero_point")
    seen = {}

    def expect(status, frame, cmd):
        t.write(frame)
        try:
            engine.answer(cmd)
        except Rejected as e:
            assert e.status == status, f"{cmd.name}: {e.status.name}, expected {status.name}"
            seen[status.name] = str(e)
            return
        raise AssertionError(f"{cmd.name} with {status.name} was accepted")

    def small_gemm():
        a, w = _operands(config, gen, (3, 2, 5))
        engine.gemm(a, w, check=True)

    def hang():
        engine.set_reg(f"beats_{engine.layout.result.name}", 5)
        for buf in engine.layout.inputs:
            engine.set_reg(f"beats_{buf.name}", 0)
        engine.start()

    def before_reset():
        engine.info()
        engine.set_reg("rq_zero_point", 11)
        good = command_frame(Cmd.SET_REG, bytes([reg]) + (99).to_bytes(4, "little"))
        bad_crc = good[:-1] + bytes([good[-1] ^ 0x10])
        expect(Status.BAD_CRC, bad_crc, Cmd.SET_REG)
        bad_data = good[:3] + bytes([good[3] ^ 1]) + good[4:]
        expect(Status.BAD_CRC, bad_data, Cmd.SET_REG)
        expect(Status.TIMEOUT, good[:7], Cmd.SET_REG)
        assert engine.get_reg("rq_zero_point") == 11, "a rejected SET_REG changed the register"
        too_long = command_frame(Cmd.WRITE, b"\0\0\0")[:8] + (300).to_bytes(2, "little")
        expect(Status.TOO_LONG, too_long + bytes(302), Cmd.WRITE)
        expect(Status.BAD_COMMAND, command_frame(9), Cmd(0))
        expect(Status.BAD_ARGUMENT, command_frame(Cmd.READ, bytes([0, 0, 0, 1, 0])), Cmd.READ)
        expect(Status.BAD_ARGUMENT, command_frame(Cmd.SET_REG, bytes([200])), Cmd.SET_REG)
        wb = engine.layout.inputs[0].word_bytes
        expect(Status.BAD_ARGUMENT, command_frame(
            Cmd.WRITE, bytes([0]) + (options["engine"]["depth"] - 1).to_bytes(2, "little"),
            bytes(2 * wb)), Cmd.WRITE)
        small_gemm()
        # a run that cannot finish (more results than the core will give) hangs BUSY ...
        hang()
        assert engine.status()[0] == State.BUSY
        expect(Status.BUSY, command_frame(Cmd.START), Cmd.START)
        try:
            engine.wait(max_polls=3)
        except NoAnswer as e:      # ... the driver gives up, RESETs, and says so
            seen["hung"] = str(e)
        assert engine.status()[0] == State.IDLE
        small_gemm()
        # again, and this time the board is reset (the rst pin) during the run
        hang()
        assert engine.status()[0] == State.BUSY
        return True

    await bridge(before_reset)()
    await RisingEdge(dut.clk)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0

    def after_reset():
        try:
            engine.wait()
        except ResetDuringRun as e:
            seen["reset"] = str(e)
        else:
            raise AssertionError("a reset during the run went unnoticed")
        small_gemm()
        return True

    await bridge(after_reset)()
    bench.record(test="faults", **seen)
    assert {"BAD_CRC", "TIMEOUT", "TOO_LONG", "BAD_COMMAND", "BAD_ARGUMENT", "BUSY", "hung",
            "reset"} <= set(seen), sorted(seen)
