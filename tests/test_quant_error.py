"""``lowbit quant-error``: the table, the PNG, one-line errors; and the SQNR model itself."""

import numpy as np
import pytest

from lowbit.models.quant_error import DEFAULT_QUANTIZERS, quant_error, sqnr_db


def test_default_report_writes_table_and_png(cli, tmp_path):
    plot = tmp_path / "deep" / "sqnr.png"
    code, out, err = cli("quant-error", "--shape", "64x256", "--plot", plot)
    assert code == 0, err
    for name in DEFAULT_QUANTIZERS:
        assert name in out
    for column in ("bits/elem", "gaussian", "student-t", "outliers"):
        assert column in out
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert not [p for p in plot.parent.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("args,message", [
    (["-q", "int8:g48", "--shape", "4x100"], "group size 48 does not divide K=100"),
    (["-q", "fp9"], "unknown number format 'fp9'"),
    (["-q", "int4:weird"], "quantizer option 'weird'"),
    (["--shape", "0x4"], "--shape '0x4' is not allowed"),
    (["--plot", "chart.svg"], "the chart is a PNG"),
    (["-q", ","], "--quantizers is empty"),
])
def test_bad_input_one_line_and_no_plot(cli, tmp_path, args, message):
    plot = tmp_path / "x.png"
    code, out, err = cli("quant-error", "--plot", plot, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not plot.exists()


def test_sqnr_orders_formats_as_expected():
    rows = {r.quantizer: r for r in quant_error(
        ["int8:channel", "int4:channel", "int4:g32", "mxfp4", "nvfp4", "mxint8"], (64, 512))}
    g = {name: r.sqnr["gaussian"] for name, r in rows.items()}
    assert g["int8:channel"] > g["int4:channel"] + 20  # ~6 dB per bit
    assert g["int4:g32"] > g["int4:channel"]
    assert g["nvfp4"] > g["mxfp4"]
    assert rows["int4:channel"].sqnr["outliers"] < rows["int4:g32"].sqnr["outliers"]
    assert rows["mxfp4"].bits_per_element == 4.25 and rows["nvfp4"].bits_per_element == 4.5


def test_sqnr_db():
    x = np.array([3.0, 4.0])
    assert sqnr_db(x, x) == float("inf")
    assert sqnr_db(x, np.array([3.0, 3.0])) == pytest.approx(10 * np.log10(25))


def test_lmul_report_table_and_png(cli, tmp_path):
    plot = tmp_path / "lmul.png"
    code, out, err = cli("quant-error", "--mul", "lmul", "--formats", "fp6_e2m3,fp4_e2m1",
                         "--shape", "8x64", "--plot", plot)
    assert code == 0, err
    for row in ("fp6_e2m3×fp6_e2m3", "fp6_e2m3×fp4_e2m1", "fp4_e2m1×fp4_e2m1"):
        assert row in out
    assert "lmul mean" in out and "rnd mean" in out
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_lmul_errors_follow_the_papers_analysis():
    """L-Mul's relative error is |xm·ym - 2**-l| / ((1+xm)(1+ym)): 1×1 is off by 2**-l (50% at
    m=1, 25% at m=2), a finer mantissa gives a smaller error, and on these formats it does not
    beat rounding the exact product to the same mantissa width."""
    from lowbit.models.quant_error import mul_error

    rows = {(r.a, r.w): r for r in mul_error(["fp8_e4m3", "fp8_e5m2", "fp4_e2m1"], (16, 128))}
    e4, e5, e2 = (rows[(f, f)] for f in ("fp8_e4m3", "fp8_e5m2", "fp4_e2m1"))
    assert (e4.l_m, e5.l_m, e2.l_m) == (3, 2, 1)
    assert e4.lmul_mean < e5.lmul_mean < e2.lmul_mean
    assert e2.lmul_max == 0.5  # 1 × 1 → 1.5
    assert e5.lmul_max == 0.25 and e4.lmul_max < 0.25
    for r in rows.values():
        assert r.round_mean < r.lmul_mean and r.round_dot < r.lmul_dot


@pytest.mark.parametrize("args,message", [
    (["--mul", "lmul", "--formats", "int8"], "int8 is not a minifloat"),
    (["--mul", "lmul", "--formats", "fp9"], "unknown number format 'fp9'"),
    (["--mul", "lmul", "-q", "int8"], "--quantizers does not apply with --mul"),
    (["--formats", "fp8_e4m3"], "--formats applies with --mul lmul only"),
    (["--mul", "lmul", "--formats", ","], "--formats is empty"),
])
def test_lmul_report_bad_input(cli, tmp_path, args, message):
    plot = tmp_path / "x.png"
    code, out, err = cli("quant-error", "--plot", plot, *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not plot.exists()
