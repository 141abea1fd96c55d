"""Arrays that fill a device: ``mul=auto`` implements more PEs than the device has DSP blocks,
the device bound counts what a device offers, and ``lowbit fit`` runs end to end."""

import json

import pytest

from lowbit.boards.bounds import device_bound, products_per_dsp
from lowbit.boards.devices import get_device
from lowbit.boards.steps import Target
from lowbit.flow import implement
from lowbit.models.fabric import mac_luts, multiplier_luts
from lowbit.models.formats import IntFormat
from lowbit.registry import config_from_dict

INT8, INT4, INT2 = IntFormat(8), IntFormat(4), IntFormat(2)


def test_auto_puts_more_pes_than_dsp_blocks_on_a_small_device(tmp_path):
    device = get_device("ecp5-25f")
    config = config_from_dict({"kind": "systolic", "rows": 6, "cols": 8, "a": "int8",
                               "w": "int4", "acc": 20, "depth": 32, "mul": "auto",
                               "family": "ecp5", "dsp_blocks": device.dsp})
    assert config.rows * config.wide_cols > device.dsp
    impl = implement(config, Target(device), out=tmp_path / "run")
    r = impl.report
    assert r["resources"]["dsp"] == device.dsp
    assert r["perf"]["peak_macs_per_cycle"] == 48 and r["clocks"]["clk"]["achieved_mhz"] > 0


def test_products_per_dsp_block():
    ecp5, up5k, hx8k = (get_device(d) for d in ("ecp5-85f", "ice40-up5k", "ice40-hx8k"))
    assert products_per_dsp(ecp5, INT8, INT4) == 2 and products_per_dsp(ecp5, INT8, INT8) == 1
    assert products_per_dsp(ecp5, INT4, INT2) == 4 and products_per_dsp(up5k, INT8, INT8) == 2
    assert products_per_dsp(up5k, IntFormat(12), INT8) == 1
    assert products_per_dsp(hx8k, INT8, INT4) == 0


def test_device_bound_adds_dsp_and_fabric_macs():
    ecp5 = get_device("ecp5-85f")
    b = device_bound(ecp5, INT8, INT4, 24)
    assert b.dsp_macs == 156 * 2 and b.fabric_mac_luts == mac_luts(INT8, INT4, 24, "ecp5")
    assert b.fabric_macs == (ecp5.luts - b.dsp_macs * 24) // b.fabric_mac_luts
    half = device_bound(ecp5, INT8, INT4, 24, lut_share=0.5, fabric_mac_luts=60)
    assert half.fabric_macs == (ecp5.luts // 2 - b.dsp_macs * 24) // 60
    assert b.gmacs == pytest.approx(b.macs_per_cycle * ecp5.ceiling_mhz / 1000)
    # the structure of hw.mul.fabric: int8 × int4 is three chains of 5 CCU2C on ECP5
    assert multiplier_luts(INT8, INT4, "ecp5") == 30
    assert multiplier_luts(INT8, INT4, "ice40") == 2 * (10 + 9 + 9)


def test_fit_runs_end_to_end(cli, tmp_path):
    code, out, err = cli("fit", "systolic", "--device", "ice40-up5k", "--a", "int8", "--w",
                         "int4", "--acc", "20", "--depth", "16", "--budget", "0.3", "--quick",
                         "-j", "1", "-o", tmp_path)
    summary = json.loads((tmp_path / "fit.json").read_text())
    assert {p["role"] for p in summary["points"]} == {"probe", "fill"}
    assert {p["choice"] for p in summary["points"]} == {"lut", "dsp", "auto"}
    assert summary["bound"]["dsp_macs"] == 16
    if code == 0:
        assert "best" in out and summary["best"] is not None
    assert (tmp_path / "pareto.png").is_file()


@pytest.mark.parametrize("args, message", [
    (["--budget", "0"], "budget=0 is not allowed"),
    (["--rows", "4"], "rows='4' is not allowed; chosen by lowbit fit"),
    (["--a", "int8", "--w", "fp8_e4m3", "--acc", "64"], "integer or minifloat operands"),
    (["--runs", "0"], "runs=0 is not allowed"),
])
def test_fit_bad_input_exits_2(cli, tmp_path, args, message):
    code, _, err = cli("fit", "systolic", "--device", "ecp5-25f", *args, "-o", tmp_path)
    assert code == 2 and message in err
    assert not (tmp_path / "fit.json").exists()
