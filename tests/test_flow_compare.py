"""`lowbit compare`: throughput figures, Pareto flags, the table, CSV and plot."""

import csv
import json

import pytest

from lowbit import compare


def _report(name, device, luts, fmax, peak=1.0, **config):
    return {"name": name, "kind": "mac", "board": None, "seed": 1, "config_hash": name,
            "device": {"name": device}, "config": {"kind": "mac", **config},
            "resources": {"luts": luts, "ffs": 10, "dsp": 0, "bram": 0},
            "clocks": {"clk": {"achieved_mhz": fmax}}, "perf": {"peak_macs_per_cycle": peak}}


def test_throughput_formulas_and_pareto():
    reports = [
        _report("small", "ecp5-85f", 100, 200.0, a="int4"),
        _report("big", "ecp5-85f", 400, 150.0, peak=4, a="int8"),
        _report("worse", "ecp5-85f", 150, 150.0, a="int2"),      # more LUTs, less GMAC/s
        _report("other", "ice40-up5k", 1000, 20.0, a="int4"),    # alone on its device
    ]
    rows = {r.report["name"]: r for r in compare.rows(reports)}
    assert rows["big"].gmacs == pytest.approx(4 * 150 / 1000)
    assert rows["big"].gmacs_per_klut == pytest.approx(0.6 / 0.4)
    assert rows["small"].gmacs == pytest.approx(0.2)
    assert rows["small"].pareto and rows["big"].pareto and rows["other"].pareto
    assert not rows["worse"].pareto
    assert rows["small"].config == "a=int4"     # only the fields that differ label a row


def test_cli_compare_writes_table_csv_and_plot(cli, tmp_path, ooc_ice40, ooc_ecp5):
    code, out, _ = cli("compare", ooc_ice40.path, ooc_ecp5.path / "report.json",
                       "--csv", tmp_path / "c.csv", "--plot", tmp_path / "p.png")
    assert code == 0
    for header in ("LUTs", "FFs", "DSPs", "BRAM", "Fmax MHz", "MACs/cycle", "GMAC/s",
                   "GMAC/s per kLUT", "ice40-up5k", "ecp5-85f"):
        assert header in out
    rows = {r["device"]: r for r in csv.DictReader((tmp_path / "c.csv").open())}
    ecp5 = ooc_ecp5.report
    fmax = ecp5["clocks"]["clk"]["achieved_mhz"]
    assert float(rows["ecp5-85f"]["fmax_mhz"]) == fmax
    assert int(rows["ecp5-85f"]["luts"]) == ecp5["resources"]["luts"]
    assert float(rows["ecp5-85f"]["gmacs"]) == pytest.approx(fmax / 1000)
    assert json.loads(rows["ecp5-85f"]["config_json"]) == ecp5["config"]
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_compare_finds_reports_in_directories(cli, ooc_ice40):
    code, out, _ = cli("compare", ooc_ice40.path.parent, "--sort", "gmacs")
    assert code == 0 and "ice40-up5k" in out


def test_compare_rejects_a_file_that_is_not_a_report(cli, tmp_path):
    other = tmp_path / "x.json"
    other.write_text('{"a": 1}')
    code, _, err = cli("compare", other)
    assert code == 2 and "is not a Lowbit report" in err
