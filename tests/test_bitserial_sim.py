"""The ``bitserial`` core in simulation, bit-exact against the golden model and cycle-exact
against the performance model.

Five Verilator builds cover the acceptance matrix: w-, a- and both-serial; MSB- and LSB-first;
signed, unsigned and mixed operands; no scale, pow2 (shift) and int (multiplier, signed and
unsigned) group scales; 1×1 up to 8×3 arrays (tree depths 0 to 3 levels, with and without an
inner tree register); generic cells and ECP5 CCU2C carry chains. Each build runs every cocotb
test of ``lowbit.sim.tb_bitserial`` in one simulator call (the GEMM skeleton of
:mod:`lowbit.sim.gemm_bench`): the tiled GEMM (over 4× the array each way), every run-time
precision 1..max (both-serial: every pair) with codes carrying bits above the precision, group
sizes 1, 2, 3, 9 slices (partial last groups), extreme values at every precision, random idle
inputs and stalled results.
"""

import pytest
from array_checks import simulate_checked

from lowbit.kinds.bitserial import BitserialConfig
from lowbit.models.perf import GemmShape
from lowbit.sim.tb_bitserial import BitserialBench

B = BitserialConfig
CONFIGS = [
    B(serial="w", order="msb", a="int8", w="int8", lanes=8, cols=3, acc=24, scale="int",
      scale_fmt="int5", family="ecp5"),
    B(serial="a", order="lsb", a="uint8", w="int4", lanes=3, cols=2, acc=20, scale="pow2",
      scale_fmt="uint3"),
    B(serial="both", order="msb", a="int8", w="uint8", lanes=5, cols=2, acc=28, family="ecp5"),
    B(serial="both", order="lsb", a="uint8", w="int8", lanes=2, cols=3, acc=30, scale="int",
      scale_fmt="uint4"),
    B(serial="w", order="lsb", a="int4", w="uint8", lanes=1, cols=1, acc=14, k_bits=6, g_bits=2),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_bitserial_bit_exact(config, tmp_path):
    side = 4 * max(config.lanes, config.cols)
    shape = GemmShape(side + 1, side + 2, side + 3)
    records = simulate_checked(config, BitserialBench, shape, tmp_path, seed=5, overflows=False)
    # cycles scale with the bits used: the 1-bit runs are (nearly) P times faster
    every = [r for r in records if r["test"] == "every_setting" and "g" not in r]
    by_bits = {(r.get("pa", 1), r.get("pw", 1)): r["cycles"] for r in every}
    assert by_bits[min(by_bits)] < by_bits[max(by_bits)] / 3
    if config.scale != "none":
        assert len([r for r in records if r["test"] == "every_setting" and "g" in r]) >= 2
