"""``lowbit simulate`` on every kind: the summary table, the measured-vs-model line, exit 0."""

import re

import pytest

from lowbit.commands.simulate import CYCLES_LEGEND
from lowbit.registry import kinds

#: per kind: config flags and the GEMM test with its shape
CASES = {
    "mac": (["--a", "int3", "--w", "uint5", "--acc", "12", "--overflow", "saturate"],
            "gemm_full_rate", "5x3x9"),
    "systolic": (["--rows", "2", "--cols", "3", "--dataflow", "os", "--a", "uint4", "--w", "int2",
                  "--acc", "7"], "gemm_tiled", "9x7x13"),
    "lut": (["--w-bits", "4", "--g", "4", "--cols", "8", "--acc", "18", "--k-bits", "10"],
            "gemm_tiled", "64x64x256"),
    "bitserial": (["--lanes", "4", "--cols", "3", "--scale", "int", "--scale-fmt", "int5",
                   "--acc", "24"], "gemm_tiled", "17x13x19"),
    "fmac": (["--a", "fp4_e2m1", "--w", "fp4_e2m1"], "gemm_full_rate", "3x5x7"),
    "fusion": (["--acc", "20"], "gemm_full_rate", "4x3x64"),
    "blockdot": (["--a", "mxfp4", "--w", "mxfp4", "--lanes", "8"], "quantized_gemm", "2x3x64"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_cli_simulate_summary(cli, kind, tmp_path):
    flags, test, shape = CASES[kind]
    code, out, _ = cli("simulate", kind, *flags, "--gemm", shape, "--test", test,
                       "--run-dir", tmp_path)
    assert code == 0, out
    assert f"GEMM {shape}" in out and "measured/model 1.000" in out and "utilization" in out
    assert "1 passed" in out


def test_every_kind_has_a_case():
    assert set(CASES) == set(kinds())


def test_the_two_cycle_counts_are_labelled_and_consistent(cli, tmp_path):
    """The table's sim cycles (the whole test) and a GEMM's cycles (first input to last result
    handshake, both counted) are named apart, and the whole test is never the shorter."""
    flags, test, shape = CASES["mac"]
    code, out, _ = cli("simulate", "mac", *flags, "--gemm", shape, "--test", test,
                       "--run-dir", tmp_path)
    assert code == 0, out
    assert " ".join(CYCLES_LEGEND.split()) in " ".join(out.split())
    sim = int(re.search(rf"{test}\s*│\s*pass\s*│\s*([\d,]+)", out).group(1).replace(",", ""))
    gemm = int(re.search(r"took ([\d,]+) GEMM cycles", out).group(1).replace(",", ""))
    assert sim > gemm > 0


def test_unknown_test_name_exits_2_before_building(cli, tmp_path):
    code, _, err = cli("simulate", "systolic", "--test", "gemm_tiled,bogus", "--run-dir",
                       tmp_path)
    assert code == 2 and "test='bogus' is not allowed" in err and "paths_agree" in err
    assert not any(tmp_path.iterdir())
