"""Gowin through Apicula: what Yosys maps where, the netlist nextpnr times, the fabric cost
model, the device bound and ``lowbit fit``'s choices on a Gowin part."""

import csv
import json

import pytest
from amaranth.back import verilog

from lowbit.boards.bounds import device_bound, products_per_dsp
from lowbit.boards.devices import GOWIN, get_device
from lowbit.boards.steps import Steps, Target, synth, tools_for
from lowbit.fit import SystolicStrategy
from lowbit.hw.mul.fabric import FabricMultiplier
from lowbit.hw.mul.shape import InferredMultiplier
from lowbit.models.fabric import multiplier_luts, multiplier_rows
from lowbit.models.formats import IntFormat

S = IntFormat
GW1N = get_device("gw1nr-9")


def U(bits: int) -> IntFormat:
    return IntFormat(bits, signed=False)


def _cells(tmp_path, component, name: str) -> dict[str, int]:
    """The component's cells after the flow's Gowin synthesis (the component as the top)."""
    work = tmp_path / name
    work.mkdir()
    (work / f"{name}.v").write_text(verilog.convert(component, name=name, emit_src=False))
    run = Steps(work, tools_for(Target(GW1N), "pypi"), lambda m: None)
    return synth(run, name, name, [f"{name}.v"], GW1N)


SLOW = pytest.mark.slow    # a few seconds each: the cases past the first few run with -m slow


@pytest.mark.parametrize("a, w, dsp", [
    (S(2), S(2), None),            # too small: Yosys keeps it in LUTs
    (S(8), S(4), "MULT9X9"), (S(12), S(8), "MULT18X18"),
    pytest.param(S(4), S(4), "MULT9X9", marks=SLOW),
    pytest.param(U(8), U(8), "MULT9X9", marks=SLOW),
    pytest.param(S(9), S(9), "MULT9X9", marks=SLOW),
    pytest.param(S(16), S(16), "MULT18X18", marks=SLOW),
])
def test_inferred_products_map_to_gowin_dsp(tmp_path, a, w, dsp):
    """``mul=infer`` on Gowin: synth_gowin puts a product that fits 9×9 into a MULT9X9 (half an
    18×18 block) and up to 18×18 into a MULT18X18."""
    cells = _cells(tmp_path, InferredMultiplier(a, w), f"m{a.bits}x{w.bits}")
    multipliers = {t: n for t, n in cells.items() if t in GOWIN.dsp_cells}
    assert multipliers == ({dsp: 1} if dsp else {})
    assert GOWIN.count(cells)["dsp"] == (1 if dsp else 0)


@pytest.mark.parametrize("a, w", [(S(8), S(4)), pytest.param(S(4), S(4), marks=SLOW),
                                  pytest.param(U(8), U(8), marks=SLOW),
                                  pytest.param(S(12), S(8), marks=SLOW)])
def test_fabric_rows_on_gowin_match_the_cost_model(tmp_path, a, w):
    """``mul=lut`` with ``family=generic``: every partial-product AND a LUT4, every chain bit
    an ALU (one fewer than the chains' bits), as models/fabric.py counts them."""
    cells = _cells(tmp_path, FabricMultiplier(a, w, 0, "generic"), f"f{a.bits}x{w.bits}")
    assert cells["ALU"] == sum(b for b, _ in multiplier_rows(a, w)) - 1
    assert cells["LUT4"] == a.bits * w.bits
    assert GOWIN.count(cells)["luts"] == multiplier_luts(a, w, "gowin")
    assert not {"LUT1", "LUT2", "LUT3"} & set(cells)   # the flow's LUT4 mapping


def test_out_of_context_netlist_is_timed_lut4s(ooc_gw1n, ooc_ecp5):
    """Every LUT nextpnr sees on Gowin is a LUT4 (its only timed LUT); the report names the
    cells it cannot time: the MAC's MULT9X9. ECP5's timing covers everything."""
    stat = json.loads((ooc_gw1n.path / "stat.json").read_text())
    for entry in stat["modules"].values():
        assert not {"LUT1", "LUT2", "LUT3"} & set(entry["num_cells_by_type"])
    assert ooc_gw1n.report["untimed_cells"] == ["MULT9X9"]
    assert ooc_ecp5.report["untimed_cells"] == []
    assert (ooc_gw1n.path / "harness.cst").read_text().count("IO_LOC") == 3


def test_gowin_dsp_bound_and_fit_choices():
    """Two 9×9 products per 18×18 block; lowbit fit reaches the blocks through inference only
    (``dsp`` = ``mul=infer``, sized to the products the blocks hold) and has no ``auto``."""
    int8, int4 = S(8), S(4)
    assert products_per_dsp(GW1N, int8, int4) == 2
    assert products_per_dsp(GW1N, S(12), int8) == 1 == products_per_dsp(GW1N, S(16), S(16))
    bound = device_bound(GW1N, int8, int4, 20)
    assert bound.dsp_macs == 40 and bound.speed == "C6/I5"
    strategy = SystolicStrategy({"a": "int8", "w": "int4", "acc": 20}, GW1N)
    assert strategy.choices == ("lut", "dsp") and strategy.dsp_pes == 40
    probes = strategy.probes(quick=False)
    assert {(c.choice, c.config.mul, c.config.family) for c in probes} == {
        ("lut", "lut", "generic"), ("dsp", "infer", "generic")}
    assert max(c.config.rows * c.config.cols for c in probes if c.choice == "dsp") <= 40


def test_compare_and_sweep_take_gowin_runs(cli, tmp_path, ooc_gw1n, ooc_ice40, ooc_ecp5):
    """`lowbit compare` puts Gowin runs beside the others, figures from their reports; a sweep
    over Gowin devices expands and validates like any other."""
    from lowbit.sweep import load_sweep

    out = tmp_path / "c.csv"
    code, text, _ = cli("compare", ooc_gw1n.path, ooc_ice40.path, ooc_ecp5.path, "--csv", out)
    assert code == 0 and {"gw1nr-9", "ice40-up5k", "ecp5-85f"} <= set(text.split())
    with open(out) as f:
        rows = {r["device"]: r for r in csv.DictReader(f)}
    for run in (ooc_gw1n, ooc_ice40, ooc_ecp5):
        r = run.report
        row = rows[r["device"]["name"]]
        assert int(row["luts"]) == r["resources"]["luts"] and int(row["dsp"]) == 1
        assert float(row["fmax_mhz"]) == r["clocks"]["clk"]["achieved_mhz"]
    sweep = tmp_path / "s.toml"
    sweep.write_text('kind = "mac"\ndevices = ["gw1nr-9", "gw2a-18"]\n[base]\nacc = 16\n'
                     '[grid]\na = ["int4", "int6"]\n')
    points = load_sweep(sweep).points
    assert {p.target for p in points} == {"gw1nr-9", "gw2a-18"} and len(points) == 4


@pytest.mark.parametrize("args, match", [
    # instantiated ECP5 / iCE40 cells: refused on Gowin before any tool runs
    (["synth", "mac", "--mul", "dsp", "--family", "ecp5", "--device", "gw1nr-9"],
     "family='ecp5' is not allowed; gw1nr-9 is in the gowin family, and family=ecp5 "
     "instantiates ecp5 cells; allowed there: generic (no Gowin DSP block is instantiated yet: "
     "mul=infer maps products to MULT9X9 / MULT18X18"),
    (["synth", "systolic", "--mul", "auto", "--dsp-blocks", "2", "--family", "ice40",
      "--device", "gw2a-18"], "family='ice40' is not allowed; gw2a-18 is in the gowin family"),
    (["synth", "systolic", "--mul", "lut", "--family", "ecp5", "--device", "gw1nr-9"],
     "family='ecp5' is not allowed"),
    (["synth", "mac", "--mul", "lut", "--family", "ecp5", "--device", "ice40-up5k"],
     "ice40-up5k is in the ice40 family, and family=ecp5 instantiates ecp5 cells; allowed "
     "there: generic or ice40"),
    (["synth", "mac", "--mul", "dsp", "--family", "gowin", "--device", "gw1nr-9"],
     "family='gowin' is not allowed; one of generic, ecp5, ice40"),
    (["build", "systolic", "--board", "tang-nano-9k", "--engine", "--core-mhz", "50"],
     "core_mhz=50.0 is not allowed; a PLL core clock (--core-mhz) is built on ice40 and ecp5 "
     "boards only; on this gowin board it is not supported yet"),
])
def test_what_cannot_map_on_gowin_is_one_clear_error(cli, tmp_path, args, match):
    """The multiplier choices that instantiate another family's cells, and a PLL core clock on
    a Gowin board, fail with one line naming what is allowed, before Yosys runs."""
    code, _, err = cli(*args, "-o", tmp_path / "out")
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
