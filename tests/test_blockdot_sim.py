"""The ``blockdot`` core in simulation: random blocks with extreme scales, the largest blocks,
and a quantized GEMM whose FP32 result (from the unit's block results) is qgemm's, for MX and
NVFP4 at several lane counts."""

import pytest

from lowbit.errors import ConfigError
from lowbit.kinds.blockdot import BlockdotConfig as B
from lowbit.models.blockdot import BlockdotPerf
from lowbit.models.perf import GemmShape
from lowbit.simulate import simulate

CONFIGS = [
    B(a="mxfp8_e4m3", w="mxfp8_e5m2", lanes=8),
    B(a="nvfp4", w="nvfp4", lanes=4, mul_reg=True),
    B(a="mxint8", w="mxfp4", lanes=32, output="block"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_blockdot_bit_exact(config, tmp_path):
    result = simulate(config, run_dir=tmp_path, seed=6)
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = {r["test"]: r for r in result.run.records}
    assert records["quantized_gemm"]["cycles"] == records["quantized_gemm"]["model_cycles"]
    assert 0 < records["random_blocks_extreme_scales"]["specials"] < 300


@pytest.mark.parametrize("fields, message", [
    ({"a": "mxfp8_e4m3", "w": "nvfp4"}, "MX with MX, NVFP4 with NVFP4"),
    ({"a": "nvfp4", "w": "nvfp4", "lanes": 3}, "a divisor of the block size 16: 1, 2, 4, 8, 16"),
    ({"lanes": 12}, "a divisor of the block size 32"),
    ({"a": "fp8_e4m3"}, "fp8_e4m3 is not a BlockFormat"),
])
def test_bad_configs(fields, message):
    with pytest.raises(ConfigError, match=message):
        B.from_dict(fields)


def test_cli_lanes_not_dividing_the_block_exits_2(cli):
    code, _, err = cli("generate", "blockdot", "--a", "nvfp4", "--w", "nvfp4", "--lanes", "6")
    assert code == 2 and "divisor of the block size 16" in err


def test_perf_model():
    assert BlockdotPerf(CONFIGS[0]).gemm_cycles(GemmShape(2, 2, 64)) == 4 * 8 + 1
    assert BlockdotPerf(CONFIGS[2]).peak_macs_per_cycle == 32.0
