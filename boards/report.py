"""Reading the tools' JSON outputs into one normalized report per run.

Cell counts come from Yosys' ``stat -json`` of the core's own module (the harness or board top
around it is not counted); device totals, placed utilization, Fmax per clock and critical paths
come from nextpnr's ``--report`` JSON. No human-readable log is parsed.

A report is a JSON object with ``"schema": SCHEMA``; ``lowbit compare`` reads any number of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lowbit.boards.devices import Family
from lowbit.errors import UsageError

SCHEMA = "lowbit-report/1"
REPORT_FILE = "report.json"


def module_cells(stat: Mapping[str, Any], module: str) -> dict[str, int]:
    """Cells by type of one module in Yosys' ``stat -json`` output."""
    modules = stat["modules"]
    entry = modules.get(f"\\{module}", modules.get(module))
    if entry is None:
        raise KeyError(f"module {module} not in Yosys' statistics ({', '.join(modules)})")
    return {t: int(n) for t, n in entry["num_cells_by_type"].items()}


def placed(family: Family, nextpnr: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Used and available cells of each normalized resource after placement.

    Where two resources share a cell type (an iCE40 logic cell holds a LUT and a flip-flop),
    only the first gets its ``used`` count; the other's is None, since nextpnr does not say.
    """
    util = nextpnr["utilization"]
    none = {"used": 0, "available": 0}      # a part without the cell type (HX8K: no DSPs)
    out, seen = {}, set()
    for res, bel in family.bels.items():
        u = util.get(bel, none)
        out[res] = {"used": None if bel in seen else int(u["used"]),
                    "available": int(u["available"])}
        seen.add(bel)
    return out


def clock_name(net: str) -> str:
    """The clock as the design names it; nextpnr decorates global nets with buffer names
    (``clk$SB_IO_IN_$glb_clk``, ``$glbnet$cd_sync.clk``)."""
    return next((part for part in net.split("$") if part and part != "glbnet"), net)


def clocks(nextpnr: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Fmax per clock with its target and its critical path (start cell, end cell, delay)."""
    paths = {}
    for p in nextpnr.get("critical_paths", []):
        edge_from, _, net_from = p["from"].partition(" ")
        edge_to, _, net_to = p["to"].partition(" ")
        if net_from == net_to and p["path"]:   # a register-to-register path within one clock
            steps = p["path"]
            paths[net_from] = {
                "from": steps[0]["from"]["cell"],
                "to": steps[-1]["to"]["cell"],
                "delay_ns": round(sum(s["delay"] for s in steps), 3),
                "logic_levels": sum(s["type"] == "logic" for s in steps),
            }
    out = {}
    for net, f in nextpnr.get("fmax", {}).items():
        achieved, target = float(f["achieved"]), float(f["constraint"])
        out[clock_name(net)] = {"net": net, "achieved_mhz": round(achieved, 2),
                                "target_mhz": round(target, 2), "met": achieved >= target,
                                "critical_path": paths.get(net)}
    return out


def fmax_mhz(report: Mapping[str, Any]) -> float | None:
    """The rate the core runs at: its own clock's Fmax where it has one (an engine with a PLL
    core clock), else the slowest clock's."""
    if core := (report.get("core_clock") or {}).get("clock"):
        return report["clocks"][core]["achieved_mhz"]
    achieved = [c["achieved_mhz"] for c in report["clocks"].values()]
    return min(achieved) if achieved else None


def load(path: str | Path) -> dict[str, Any]:
    """A report file (or the report in a run directory), checked to be one of ours."""
    path = Path(path)
    if path.is_dir():
        path = path / REPORT_FILE
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise UsageError(f"cannot read report {path}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise UsageError(f"report {path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UsageError(f"{path} is not a Lowbit report (expected schema {SCHEMA!r})")
    data["path"] = str(path)
    return data
