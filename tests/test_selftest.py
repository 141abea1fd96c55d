"""The board self-test of every kind: one GEMM of the kind's choice streamed from ROMs by its
tiler; the board-independent top must reach the golden model's checksum in simulation, and a
wrong expectation must fail."""

import dataclasses

import pytest
from selftest_sim import simulate_top

from lowbit.boards.selftest import checksum, expectation, fold32, rotl
from lowbit.errors import ConfigError
from lowbit.hw.interface import CoreInterface
from lowbit.hw.verilog import generate
from lowbit.registry import config_from_dict, get_kind, kinds

CONFIGS = {
    "mac": {"kind": "mac", "a": "int8", "w": "int4", "acc": 24},
    "systolic-ws": {"kind": "systolic", "rows": 2, "cols": 3, "a": "int8", "w": "int4",
                    "acc": 20, "k_bits": 12, "depth": 8},
    "systolic-ws-shallow": {"kind": "systolic", "rows": 4, "cols": 2, "a": "uint4", "w": "int2",
                            "acc": 8, "depth": 2, "overflow": "saturate", "k_bits": 5},
    "systolic-os": {"kind": "systolic", "rows": 3, "cols": 2, "dataflow": "os", "a": "uint4",
                    "w": "int2", "acc": 12, "overflow": "saturate"},
    "lut": {"kind": "lut", "cols": 4, "w_bits": 2, "acc": 16},
    "bitserial": {"kind": "bitserial", "serial": "both", "order": "lsb", "a": "uint8",
                  "w": "int8", "lanes": 2, "cols": 3, "acc": 30, "scale": "int",
                  "scale_fmt": "uint4"},
    "fmac": {"kind": "fmac", "a": "fp8_e4m3,fp4_e2m1", "w": "fp8_e5m2"},
    "fusion": {"kind": "fusion", "overflow": "saturate"},
    "blockdot": {"kind": "blockdot", "a": "nvfp4", "w": "nvfp4", "lanes": 4},
}


def _expect(config):
    return expectation(config, CoreInterface.from_manifest(generate(config).manifest))


def test_every_kind_is_covered():
    assert {v["kind"] for v in CONFIGS.values()} == set(kinds())


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_self_test_top_reaches_the_golden_checksum(case, tmp_path):
    config = config_from_dict(CONFIGS[case])
    expect = _expect(config)
    plan = get_kind(config.KIND).selftest(config)
    assert expect.gemm == str(plan.shape) and expect.results[0] > 0
    run = simulate_top(config, expect, tmp_path)
    assert run.passed, "\n".join(run.failures)
    assert run.records[0]["checksum"] == expect.checksum


def test_self_test_top_catches_a_wrong_result(tmp_path):
    config = config_from_dict(CONFIGS["mac"])
    good = _expect(config)
    bad = simulate_top(config, dataclasses.replace(good, checksum=good.checksum ^ 1),
                       tmp_path / "bad")
    assert not bad.passed and bad.records[0]["failed"] == 1
    assert bad.records[0]["checksum"] == good.checksum
    short = simulate_top(config, dataclasses.replace(good, results=(good.results[0] - 1,)),
                         tmp_path / "extra")   # the core gives one more result than expected
    assert not short.passed and short.records[0]["failed"] == 1


def test_blockdot_self_test_needs_fp32_output():
    config = config_from_dict({"kind": "blockdot", "output": "block"})
    with pytest.raises(ConfigError, match="fp32 for a board self-test"):
        get_kind("blockdot").selftest(config)


def test_checksum_reference():
    assert rotl(0x8000_0001, 5) == 0x30 and fold32(0x1_0000_0002, 40) == 3
    assert checksum([[1, 2]], [24]) == (rotl(1, 5) ^ 2)
    assert checksum([[1, 2]], [24]) != checksum([[2, 1]], [24])   # order matters
    assert checksum([[1], [1]], [8, 8]) == 1 ^ rotl(1, 1)
