"""The ``blockdot`` core in simulation: FP32 results (MXFP8 E4M3×E5M2, 8 lanes; NVFP4, 4
lanes with tensor scales; MXFP4, 16 lanes, an adder of as many cycles as a block has beats)
bit for bit against qgemm on random blocks with extreme scales at several block counts per
result, constructed FP32 corner cases and quantized GEMMs, at several pipeline depths; exact
block results (MXINT8×MXFP4, 32 lanes) against the block model; the testbench failing when the
expected results are wrong."""

import pytest

from lowbit.errors import ConfigError
from lowbit.kinds.blockdot import BlockdotConfig as B
from lowbit.models.blockdot import BlockdotPerf
from lowbit.models.perf import GemmShape
from lowbit.simulate import simulate

CONFIGS = [
    B(a="mxfp8_e4m3", w="mxfp8_e5m2", lanes=8),                  # 4 beats: a 4-cycle adder
    B(a="nvfp4", w="nvfp4", lanes=4, stages=1, fp32_stages=3),   # 4 beats: a 3-cycle adder
    B(a="mxint8", w="mxfp4", lanes=32, output="block"),
    B(a="mxfp4", w="mxfp4", lanes=16, stages=0),                 # 2 beats: a 2-cycle adder
]

#: FP32 corner sequences the element and scale formats can make (of 22)
CORNER_CASES = {CONFIGS[0].name: 22, CONFIGS[3].name: 17}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_blockdot_bit_exact(config, tmp_path):
    result = simulate(config, run_dir=tmp_path, seed=6)
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = {r["test"]: r for r in result.run.records}
    assert records["quantized_gemm"]["cycles"] == records["quantized_gemm"]["model_cycles"]
    random = records["random_blocks_extreme_scales"]
    if not config.fp32:
        assert 0 < random["specials"] < 300
        return
    # the corners were reached, not only asked for
    corners = records["corner_cases"]
    if config.tensor_scaled:
        assert corners["cases"] >= 7
        assert all(records["tensor_scales"][k] > 0 for k in ("nan", "inf", "zero", "subnormal"))
    else:
        assert corners["cases"] == CORNER_CASES[config.name]
        assert all(corners[k] > 0 for k in ("nan", "inf", "zero", "subnormal"))
        assert all(random[k] > 0 for k in ("nan", "inf", "zero", "subnormal"))


@pytest.mark.parametrize("a, w", [("mxint8", "mxint8"), ("mxfp8_e4m3", "mxint8"),
                                  ("mxint8", "mxfp4")])
def test_fp32_corner_cases_take_mxint8(a, w):
    """The FP32 corner sequences read MXINT8's fixed-point element codes like a float's (every
    code finite, no inf): the slow fuzz found ``lowbit simulate blockdot --w mxint8 ...`` failing
    corner_cases with an AttributeError, so every MXINT8 core with FP32 output did."""
    from lowbit.sim.tb_blockdot import corner_sequences

    assert len(corner_sequences(B(a=a, w=w, lanes=8))) >= 15


def test_corner_cases_with_none_in_reach(tmp_path):
    """NVFP4 with one block per result can make none of the FP32 corner sequences: the test
    says so (0 cases) instead of failing on an empty list, as the slow fuzz found it did."""
    config = B(a="nvfp4", w="nvfp4", lanes=1, stages=0, blocks_bits=1, fp32_stages=1)
    result = simulate(config, run_dir=tmp_path, seed=1, testcase="corner_cases")
    assert result.passed, "\n".join(result.run.failures)
    assert result.run.records == [{"test": "corner_cases", "cases": 0}]


def test_testbench_catches_a_wrong_expected_bit(tmp_path):
    """One flipped bit in the expected FP32 results (run option ``corrupt``) fails the run."""
    result = simulate(CONFIGS[0], run_dir=tmp_path, seed=6, options={"corrupt": True},
                      testcase="corner_cases")
    assert not result.passed and "differ" in result.run.failures[0]


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


def test_gemm_longer_than_the_block_count_exits_2(cli):
    code, _, err = cli("simulate", "blockdot", "--blocks-bits", "2", "--gemm", "2x2x128")
    assert code == 2 and "at most 3 blocks of 32 with blocks_bits=2" in err


def test_perf_model():
    # 4 results of 2 blocks of 4 beats; then the beat pipeline and the block register, RNE32,
    # the adder (+ the tensor scaling)
    assert BlockdotPerf(CONFIGS[0]).gemm_cycles(GemmShape(2, 2, 64)) == 4 * 2 * 4 + 4 + 6 + 4
    assert BlockdotPerf(CONFIGS[1]).gemm_cycles(GemmShape(2, 2, 32)) == 4 * 2 * 4 + 2 + 3 + 3 + 3
    assert BlockdotPerf(CONFIGS[2]).gemm_cycles(GemmShape(2, 2, 64)) == 4 * 2 + 4
    assert BlockdotPerf(CONFIGS[3]).gemm_cycles(GemmShape(2, 2, 64)) == 4 * 2 * 2 + 1 + 6 + 2
    # the old single-stage unit: block register, RNE32 register, accumulator
    one = B(a="mxfp8_e4m3", w="mxfp8_e5m2", lanes=8, stages=0, fp32_stages=1)
    assert BlockdotPerf(one).gemm_cycles(GemmShape(2, 2, 64)) == 4 * 2 * 4 + 3
    assert BlockdotPerf(CONFIGS[2]).peak_macs_per_cycle == 32.0
    exact = BlockdotPerf(B(output="block")).storage_bits
    assert BlockdotPerf(B()).storage_bits > exact + 3 * 32
