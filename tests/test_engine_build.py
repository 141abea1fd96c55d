"""Bitstreams of the GEMM engine around a systolic array sized for each board, on the board's
clock and with the core on a PLL clock (slow: Yosys and nextpnr on the whole design; run with
``pytest -m slow``)."""

import pytest

from lowbit.boards.steps import FlowOptions, Target
from lowbit.flow import implement
from lowbit.hw.protocol import EngineOptions
from lowbit.registry import config_from_dict

BUILDS = {
    # UP5K: 8 DSPs = 6 for the 2×3 array, 1 for a READ's byte count
    "icebreaker": ({"rows": 2, "cols": 3, "a": "int8", "w": "int4", "acc": 20, "depth": 128}, 256),
    "ulx3s-85f": ({"rows": 8, "cols": 8, "a": "int8", "w": "int8", "acc": 24, "depth": 256}, 512),
    # Gowin: Yosys maps each int8×int4 product to a MULT9X9 (half an 18×18 block)
    "tang-nano-9k": ({"rows": 4, "cols": 4, "a": "int8", "w": "int4", "acc": 20, "depth": 128},
                     256),
    "tang-primer-20k": ({"rows": 6, "cols": 6, "a": "int8", "w": "int4", "acc": 20,
                         "depth": 256}, 512),
}
#: core clocks the PLL makes and the cores meet (board clocks: 12 and 25 MHz); Gowin boards have
#: no PLL core clock yet (tests/test_flow_gowin.py checks the error)
CORE_MHZ = {"icebreaker": 24, "ulx3s-85f": 50}


@pytest.mark.slow
@pytest.mark.parametrize("board, pll", [(b, False) for b in sorted(BUILDS)]
                         + [(b, True) for b in sorted(CORE_MHZ)])
def test_engine_bitstream(board, pll, tmp_path):
    values, depth = BUILDS[board]
    config = config_from_dict({"kind": "systolic", "k_bits": 12, **values})
    options = EngineOptions(depth=depth, core_mhz=CORE_MHZ[board] if pll else None)
    impl = implement(config, Target.parse(board=board), FlowOptions(engine=options),
                     out=tmp_path)
    r = impl.report
    assert impl.bitstream.exists() and r["bitstream"]["bytes"] > 0
    assert all(c["met"] for c in r["clocks"].values())
    assert r["utilization"]["bram"]["used"] > 0 and r["engine"]["depth"] == depth
    if pll:
        core = r["core_clock"]
        assert core["achieved_mhz"] == CORE_MHZ[board]
        assert r["clocks"][core["clock"]]["target_mhz"] == CORE_MHZ[board]
        assert sorted(c["target_mhz"] for c in r["clocks"].values()) == \
            sorted([CORE_MHZ[board], r["target_mhz"]])
    else:
        assert r["core_clock"] is None and len(r["clocks"]) == 1
