"""The ``systolic`` core in simulation, bit-exact against the golden GEMM and cycle-exact
against the performance model.

Eight Verilator builds cover the acceptance matrix: both dataflows on 1×1, 2×3, 4×4 and 8×8
arrays; int8×int8, int8×int4, uint4×int2 and int16×int16 operands (each format in both
dataflows); wrap and saturate; with and without the product register. Accumulators are narrow
enough for the overflow runs to overflow them. Each build runs every cocotb test of
``lowbit.sim.tb_systolic`` in one simulator call (the GEMM skeleton of
:mod:`lowbit.sim.gemm_bench`): the tiled GEMM (M, N, K over 4·max(R, C)), shapes around every
edge through run-time K and M, extreme values and overflow runs, back-pressure.
"""

import shutil

import pytest
from array_checks import GEMM_TESTS, simulate_checked

from lowbit.kinds.systolic import SystolicConfig
from lowbit.models.perf import GemmShape
from lowbit.sim.tb_systolic import SystolicBench
from lowbit.simulate import simulate

S = SystolicConfig
CONFIGS = [
    S(rows=1, cols=1, dataflow="ws", a="uint4", w="int2", acc=8, overflow="saturate", depth=8,
      k_bits=4),
    S(rows=1, cols=1, dataflow="os", a="int16", w="int16", acc=40),
    S(rows=2, cols=3, dataflow="ws", a="int8", w="int4", acc=16, overflow="saturate",
      mul_reg=True, depth=8),
    S(rows=2, cols=3, dataflow="os", a="uint4", w="int2", acc=7, k_bits=5),
    S(rows=4, cols=4, dataflow="ws", a="int16", w="int16", acc=36, depth=16),
    S(rows=4, cols=4, dataflow="os", a="int8", w="int8", acc=17, overflow="saturate", mul_reg=True),
    S(rows=8, cols=8, dataflow="ws", a="int8", w="int8", acc=20, depth=24, k_bits=12),
    S(rows=8, cols=8, dataflow="os", a="int8", w="int4", acc=16, overflow="saturate"),
]
#: the multipliers that fill an FPGA: DSP blocks instantiated with their registers and packed
#: two products per block, carry-chain fabric multipliers, a mix of both, the pipelined enable;
#: the ws arrays on ECP5 keep their partial sums in DP16KDs with the output register
#: (lowbit.hw.ram.ecp5), the last one with a product latency of 1 (the block's output register
#: feeds the top of the array directly) in 18-bit blocks
FILL = [
    S(rows=3, cols=4, dataflow="ws", a="int8", w="int4", acc=16, overflow="saturate", depth=8,
      mul="dsp", family="ecp5", pack=2),
    S(rows=2, cols=4, dataflow="os", a="int8", w="int4", acc=15, mul="dsp", family="ecp5",
      pack=2, mul_stages=3, fanout=1),
    S(rows=3, cols=2, dataflow="ws", a="int8", w="uint8", acc=17, depth=8, mul="lut",
      family="ecp5", mul_stages=2, mul_reg=True),
    S(rows=2, cols=3, dataflow="os", a="uint4", w="int3", acc=9, overflow="saturate",
      mul="lut", family="generic", mul_stages=1, fanout=3),
    S(rows=4, cols=4, dataflow="ws", a="int8", w="int4", acc=16, depth=16, mul="auto",
      family="ecp5", dsp_blocks=3, pack=2),
    S(rows=2, cols=4, dataflow="os", a="uint4", w="int4", acc=12, overflow="saturate",
      mul="auto", family="ice40", dsp_blocks=2, pack=2),
    S(rows=3, cols=4, dataflow="ws", a="int8", w="int4", acc=18, depth=600, mul="dsp",
      family="ecp5", pack=2, mul_stages=1, fanout=0),
]


@pytest.mark.parametrize("config", CONFIGS + FILL, ids=lambda c: c.name)
def test_systolic_bit_exact(config, tmp_path):
    side = 4 * max(config.rows, config.cols)
    simulate_checked(config, SystolicBench, GemmShape(side + 1, side + 2, side + 3), tmp_path,
                     seed=11, overflows=True)


@pytest.mark.skipif(shutil.which("iverilog") is None,
                    reason="Icarus is optional: apt-get install iverilog")
@pytest.mark.parametrize("config", [CONFIGS[2], CONFIGS[3]], ids=lambda c: c.name)
def test_icarus_agrees(config, tmp_path):
    """Every GEMM test under Icarus but ``bulk_backpressure``, whose rings turn over in tens of
    thousands of cycles (minutes at Icarus's speed; Verilator runs it above)."""
    tests = sorted(GEMM_TESTS - {"bulk_backpressure"})
    result = simulate(config, simulator="icarus", run_dir=tmp_path, testcase=tests)
    assert result.passed, "\n".join(result.run.failures)
    assert sorted(o.name for o in result.run.outcomes) == tests
