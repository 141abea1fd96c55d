"""The reusable pieces of the systolic generator, in Amaranth's own simulator (no Verilator)."""

import pytest
from amaranth.sim import Simulator

from lowbit.hw.skew import Skew


@pytest.mark.parametrize("kind", ["rising", "falling"])
def test_skew_delays_each_lane_and_holds_while_disabled(kind):
    lanes = 4
    dut = getattr(Skew, kind)(8, lanes)
    delays = list(range(lanes)) if kind == "rising" else list(range(lanes - 1, -1, -1))
    assert list(dut.delays) == delays and dut.register_bits == 8 * sum(delays)
    enables = [1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1]
    seen = []

    async def bench(ctx):
        for step, en in enumerate(enables):
            ctx.set(dut.en, en)
            ctx.set(dut.i, [10 * step + lane for lane in range(lanes)])
            seen.append([ctx.get(dut.o[lane]) for lane in range(lanes)])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # lane l shows the input of the enabled step delays[l] enabled steps back (0 before that)
    enabled = [s for s, en in enumerate(enables) if en]
    for step in range(len(enables)):
        for lane, d in enumerate(delays):
            if d == 0:
                want = 10 * step + lane
            else:
                before = [s for s in enabled if s < step]
                want = 10 * before[-d] + lane if len(before) >= d else 0
            assert seen[step][lane] == want, (step, lane)
