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
