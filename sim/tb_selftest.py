"""cocotb test of a board self-test top (:class:`lowbit.boards.selftest.SelfTestTop`).

Runs the top until it latches a verdict and records it with the checksum it computed, so the
flow can prove, before place-and-route, that the checksum baked into the bitstream is the one
the RTL produces from the golden model's point of view.
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from lowbit.sim import bench


@cocotb.test()
async def selftest_verdict(dut):
    """Sleeps until the top latches passed or failed (no Python per cycle), or times out."""
    _, options = bench.context()
    await bench.start(dut)
    started = get_sim_time("ns")
    limit = options["max_cycles"] + 16
    await First(RisingEdge(dut.passed), RisingEdge(dut.failed),
                Timer(limit * bench.CLOCK_PERIOD_NS, "ns"))
    await ReadOnly()
    cycles = round((get_sim_time("ns") - started) / bench.CLOCK_PERIOD_NS)
    bench.record(test="selftest_verdict", cycles=cycles, passed=int(dut.passed.value),
                 failed=int(dut.failed.value), checksum=int(dut.checksum.value))
    await ClockCycles(dut.clk, 1)
    assert dut.passed.value == 1, (
        f"self-test failed after {cycles} cycles: checksum 0x{int(dut.checksum.value):08x}, "
        f"expected {options['checksum']}")
