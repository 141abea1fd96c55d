"""Every kind's testbench fails against a golden model of another unit: the checks compare
something real. One build per case (the core in its bulk harness, as ``lowbit simulate``
builds it); the testbench is told a config that differs from the built one in a way that
changes results (the L-Mul case also changes the register's width). The array kinds' cases
run one test of each path: a per-beat or full-rate bulk test, and ``bulk_backpressure``."""

import pytest

from lowbit.hw.verilog import generate
from lowbit.registry import config_from_dict
from lowbit.sim import bench, bulk, runner
from lowbit.sim.testbenches import TESTBENCHES

#: the array kinds' GEMM test on the bulk path with random gaps and stalls
BULK = "bulk_backpressure"

#: (built config, the config the testbench is told, run options, tests that must fail)
CASES = {
    "mac-wrap-told-saturate": (
        {"kind": "mac", "a": "int8", "w": "int4", "acc": 24}, {"overflow": "saturate"}, {},
        "overflow_runs"),
    "systolic-wrap-told-saturate": (
        {"kind": "systolic", "rows": 2, "cols": 3, "dataflow": "os", "a": "uint4", "w": "int2",
         "acc": 7, "k_bits": 5}, {"overflow": "saturate"}, {}, ("corner_values", BULK)),
    "lut-int8-told-uint8": (
        {"kind": "lut", "a": "int8", "w_bits": 4, "g": 4, "cols": 8, "acc": 18, "k_bits": 10},
        {"a": "uint8"}, {}, ("corner_values", BULK)),
    "bitserial-int8-told-uint8": (
        {"kind": "bitserial", "a": "int8", "w": "int8", "lanes": 4, "cols": 3, "acc": 24,
         "scale": "int", "scale_fmt": "int5"}, {"a": "uint8"}, {}, ("every_setting", BULK)),
    "fmac-lmul-told-exact": (
        {"kind": "fmac", "a": "fp8_e4m3", "w": "fp8_e4m3", "mul": "lmul"}, {"mul": "exact"},
        {"pairs": [[0, 0]]}, "random_dots"),
    "fmac-format-order": (
        {"kind": "fmac", "a": "fp8_e4m3,fp8_e5m2", "w": "fp8_e4m3"},
        {"a": "fp8_e5m2,fp8_e4m3"}, {"pairs": [[0, 0]]}, "random_dots"),
    "fusion-wrap-told-saturate": (
        {"kind": "fusion", "acc": 18}, {"overflow": "saturate"}, {}, "every_mode_overflows"),
    "blockdot-one-expected-bit-flipped": (
        {"kind": "blockdot", "a": "mxfp4", "w": "mxfp4", "lanes": 8}, {}, {"corrupt": True},
        "corner_cases"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_testbench_catches_a_wrong_golden_model(case, tmp_path):
    built, told, options, tests = CASES[case]
    tests = (tests,) if isinstance(tests, str) else tests
    config = config_from_dict(built)
    claimed = config_from_dict({**config.to_dict(), **told})
    _, build = bulk.build(generate(config), opt="O0")
    run = runner.run(build, TESTBENCHES[config.KIND], tmp_path,
                     env=bench.environment(claimed, {"seed": 1, **options}), testcase=tests)
    assert sorted(o.name for o in run.outcomes) == sorted(tests)
    assert not any(o.passed for o in run.outcomes)
    assert all("differ" in failure for failure in run.failures), run.failures


def test_every_array_kind_has_a_bulk_case():
    kinds = {config_from_dict(built).KIND for built, *_, tests in CASES.values() if BULK in tests}
    assert kinds == {"systolic", "lut", "bitserial"}


def test_every_kind_has_a_case():
    assert {config_from_dict(built).KIND for built, *_ in CASES.values()} == set(TESTBENCHES)
