"""Out-of-context implementation on iCE40, ECP5 and Gowin: every report field against the
tools' own outputs (Yosys' statistics, nextpnr's report and log) and the device table."""

import json
import re

import pytest

from lowbit.boards.devices import DEVICES
from lowbit.boards.report import SCHEMA, clock_name
from lowbit.hw.verilog import generate

#: the second ECP5 and Gowin parts add 10-20 s each: slow
RUNS = ["ooc_ice40", "ooc_ecp5", "ooc_gw1n",
        *(pytest.param(r, marks=pytest.mark.slow) for r in ("ooc_ecp5_45f", "ooc_gw2a"))]


@pytest.fixture(params=RUNS)
def run(request):
    return request.getfixturevalue(request.param)


def test_report_is_complete(run, flow_config):
    r = run.report
    assert r["schema"] == SCHEMA and r["status"] == "ok" and r["mode"] == "ooc"
    assert r["config"] == flow_config.to_dict() and r["config_hash"] == flow_config.hash
    assert r["name"] == flow_config.name and r["top"] == "harness" and r["seed"] == 1
    for res in ("luts", "ffs", "carry", "dsp", "bram", "io"):
        assert isinstance(r["resources"][res], int)
    assert {"yosys", "amaranth", "lowbit"} <= set(r["tools"])
    assert any(t.startswith("nextpnr-") for t in r["tools"])
    assert {"generate", "wrap", "synth", "fit", "pnr", "timing"} <= set(r["steps"])
    assert all(s["seconds"] >= 0 for s in r["steps"].values())
    assert r["perf"]["peak_macs_per_cycle"] == 1.0
    assert (run.path / "report.json").is_file()
    # a small netlist: `auto` keeps nextpnr's default router
    assert r["router"] == "router1" and "Router1 time" in (run.path / "nextpnr.log").read_text()


def test_cells_are_yosys_statistics_of_the_core_module(run, flow_config):
    stat = json.loads((run.path / "stat.json").read_text())
    cells = stat["modules"]["\\" + flow_config.name]["num_cells_by_type"]
    r = run.report["resources"]
    assert r["cells"] == cells
    family = run.report["device"]["family"]
    if family == "ice40":
        assert r["luts"] == cells["SB_LUT4"] and r["carry"] == cells.get("SB_CARRY", 0)
        assert r["ffs"] == sum(n for t, n in cells.items() if t.startswith("SB_DFF"))
        assert r["dsp"] == cells.get("SB_MAC16", 0) == 1   # 8×4 multiplier in the UP5K's DSP
    elif family == "ecp5":
        assert r["luts"] == cells["LUT4"] + 2 * cells.get("CCU2C", 0)
        assert r["ffs"] == cells["TRELLIS_FF"] and r["dsp"] == cells.get("MULT18X18D", 0) == 1
    else:   # Gowin: LUT1..LUT4 and the ALUs in their LUT positions; 8×4 → one 9×9 multiplier
        assert r["luts"] == sum(cells.get(f"LUT{i}", 0) for i in range(1, 5)) + cells["ALU"]
        assert r["carry"] == cells["ALU"] and cells["MULT9X9"] == 1 and r["dsp"] == 1
        assert r["ffs"] == sum(n for t, n in cells.items() if t.startswith("DFF"))
        assert not any("BUF" in t for t in cells)   # IO buffers on the harness's ports only
    # the core alone: the harness's registers are in another module
    harness = stat["modules"]["\\harness"]["num_cells_by_type"]
    assert sum(n for t, n in harness.items() if "DFF" in t or "FF" in t) > 0
    ports = generate(flow_config).manifest["ports"]
    assert r["io"] == sum(p["width"] for p in ports)   # out of context: the core's port bits


def test_placed_and_device_totals_are_nextpnrs(run):
    nextpnr = json.loads((run.path / "nextpnr.json").read_text())["utilization"]
    r = run.report
    device = DEVICES[r["device"]["name"]]
    bels = device.family.bels
    assert r["utilization"]["luts"]["used"] == nextpnr[bels["luts"]]["used"]
    assert r["utilization"]["luts"]["used"] >= r["resources"]["luts"]  # core + harness
    for res in ("luts", "ffs", "dsp", "bram"):
        assert r["device_totals"][res] == nextpnr[bels[res]]["available"]
        assert r["device_totals"][res] == device.totals()[res], f"datasheet {res} of {device.name}"
    if not device.family.native_ooc:   # the harness's clk, din and dout on pins
        assert r["utilization"]["io"]["used"] == 3


def test_report_names_the_speed_grade(run):
    """Every device is timed at a named speed grade; iCE40 parts have none (None)."""
    device = DEVICES[run.report["device"]["name"]]
    speed = run.report["device"]["speed"]
    assert speed == device.speed == {"ice40": None, "ecp5": "6"}.get(device.family.name, speed)
    log = (run.path / "nextpnr.log").read_text()
    if device.family.name == "gowin":   # the part number carries it: GW1NR-LV9QN88PC6/I5
        part = run.report["device"]["part_number"]
        assert part.endswith(speed) and f"for device '{part}'" in log


def test_fmax_and_critical_path_match_the_log(run):
    log = (run.path / "nextpnr.log").read_text()
    # the last "Max frequency" line of each clock is the post-route figure
    logged = dict(re.findall(r"Max frequency for clock '([^']+)': ([\d.]+) MHz", log))
    clocks = run.report["clocks"]
    assert set(clocks) == {clock_name(net) for net in logged} == {"clk"}
    for c in clocks.values():
        assert c["achieved_mhz"] == pytest.approx(float(logged[c["net"]]), abs=0.01)
        assert c["target_mhz"] == DEVICES[run.report["device"]["name"]].default_mhz
        assert c["met"] == (c["achieved_mhz"] >= c["target_mhz"])
        path = c["critical_path"]
        assert path["delay_ns"] == pytest.approx(1000 / c["achieved_mhz"], rel=0.05)
        assert path["from"] and path["to"] and path["logic_levels"] > 0
    assert run.report["target_enforced"] is False


def test_second_run_is_cached(ooc_ice40, flow_config, tmp_path):
    """The session's iCE40 run is in the cache (its fixture waited for it in this process,
    whatever another worker is building): the same implementation again is a cache hit."""
    from lowbit.boards.steps import Target
    from lowbit.flow import implement, lookup

    target = Target.parse(device="ice40-up5k")
    again = implement(flow_config, target, out=tmp_path / "again")
    assert again.cached and lookup(flow_config, target).report["clocks"] == again.report["clocks"]


def test_cli_synth_summary(cli, tmp_path):
    code, out, _ = cli("synth", "mac", "--a", "int8", "--w", "int4", "--acc", "24",
                       "--device", "ecp5-85f", "-o", tmp_path / "s")
    assert code == 0, out
    assert "ecp5-85f, out of context" in out and "Fmax" in out and "critical path" in out
    assert json.loads((tmp_path / "s" / "report.json").read_text())["status"] == "ok"


def test_array_layout_core_synthesizes(cli, tmp_path):
    """A kind whose streams are array layouts (lane views named `payload[0]`) goes through
    Yosys' ABC too; its peak rate comes from its own performance model."""
    code, out, _ = cli("synth", "systolic", "--rows", "2", "--cols", "2", "--dataflow", "os",
                       "--a", "int4", "--w", "int4", "--acc", "12", "--device", "ecp5-25f",
                       "-o", tmp_path / "s")
    assert code == 0, out
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert report["kind"] == "systolic" and report["perf"]["peak_macs_per_cycle"] == 4
    assert report["resources"]["luts"] > 0


def test_harness_of_a_core_with_more_output_than_input_bits():
    """The reset comes from the input chain's last bit, however wide the outputs are (a 4×4
    int8×int1 systolic array has 56 input and 130 output bits)."""
    from amaranth.back import rtlil

    from lowbit.boards.harness import Harness
    from lowbit.hw.interface import CoreInterface
    from lowbit.hw.verilog import generate
    from lowbit.kinds.systolic import SystolicConfig

    config = SystolicConfig(rows=4, cols=4, dataflow="os", a="int8", w="int1", acc=32)
    iface = CoreInterface.from_manifest(generate(config).manifest)
    widths = {direction: sum(p.width for p in iface.ports if p.input == direction)
              for direction in (True, False)}
    assert widths[False] > widths[True]
    harness = Harness(iface)
    assert "rst" in rtlil.convert(harness, name="harness", ports=harness.ports())


def test_router_is_chosen_by_size_or_by_the_user(cli, tmp_path):
    """``auto`` takes router2 above ROUTER2_CELLS LUTs and flip-flops; ``--router`` overrides
    it, and is in the report and nextpnr's log."""
    from lowbit.boards.steps import ROUTER2_CELLS, router_for

    assert router_for("auto", {"luts": 16_159, "ffs": 21_368}) == "router2"
    assert router_for("auto", {"luts": ROUTER2_CELLS // 2, "ffs": ROUTER2_CELLS // 2}) == \
        "router1"
    assert router_for("router2", {"luts": 1, "ffs": 1}) == "router2"
    args = ("synth", "mac", "--a", "int4", "--w", "int4", "--acc", "12", "--device",
            "ice40-up5k", "--router", "router2", "-o", tmp_path / "r2")
    code, out, _ = cli(*args)
    assert code == 0 and "nextpnr router2" in out
    report = json.loads((tmp_path / "r2" / "report.json").read_text())
    assert report["router"] == "router2"
    assert "Router2 time" in (tmp_path / "r2" / "nextpnr.log").read_text()
