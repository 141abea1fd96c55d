"""The PLL calculator of the engine's core clock (iCE40 SB_PLL40, ECP5 EHXPLLL), the board top
that instantiates it and the options around it (no synthesis: see test_engine_build)."""

from fractions import Fraction

import pytest

from lowbit.boards.engine_top import engine_board_files, engine_core_clock
from lowbit.boards.platforms import get_board
from lowbit.boards.pll import TOLERANCE, Ecp5Pll, Ice40Pll, core_clock
from lowbit.errors import ConfigError
from lowbit.hw.protocol import EngineOptions
from lowbit.hw.verilog import generate
from lowbit.registry import config_from_dict


@pytest.mark.parametrize("f_in, f_out, divf, divq", [
    # icepll's answers (simple feedback, 12 MHz in)
    (12, 96, 63, 3), (12, 48, 63, 4), (12, 30, 79, 5), (12, 24, 63, 5)])
def test_ice40_settings_are_icepll_s(f_in, f_out, divf, divq):
    clock = core_clock("ice40", f_in, f_out)
    assert clock.mhz == f_out
    assert clock.pll.parameters == {"DIVR": 0, "DIVF": divf, "DIVQ": divq, "FILTER_RANGE": 1}


@pytest.mark.parametrize("f_in, f_out, dividers", [
    # (CLKI_DIV, CLKFB_DIV, CLKOP_DIV) that Lattice's own tool gives (Project Trellis' notes)
    (12, 48, (1, 4, 12)), (12, 60, (1, 5, 10)), (20, 30, (2, 3, 20)), (45, 30, (3, 2, 20)),
    (70, 40, (7, 4, 15)), (90, 40, (9, 4, 15)), (12, 96, (1, 8, 6))])
def test_ecp5_settings_are_lattice_s(f_in, f_out, dividers):
    pll = core_clock("ecp5", f_in, f_out).pll
    assert (pll.clki_div, pll.clkfb_div, pll.clkop_div) == dividers
    assert pll.output_mhz == f_out


def test_ice40_filter_range_follows_the_pfd():
    ranges = {pfd: Ice40Pll(Fraction(pfd), 0, 50, 3).filter_range
              for pfd in (10, 16.9, 17, 25.9, 26, 43, 44, 65, 66, 100, 101, 133)}
    assert list(ranges.values()) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]


@pytest.mark.parametrize("family, f_in", [("ice40", 12), ("ice40", 100), ("ecp5", 25),
                                          ("ecp5", 100)])
def test_every_setting_is_legal_and_at_most_the_request(family, f_in):
    for tenth in range(100, 4000, 71):
        want = tenth / 10
        try:
            clock = core_clock(family, f_in, want)
        except ConfigError as e:
            assert "at most 2% below it" in str(e)
            continue
        p = clock.pll
        assert want * (1 - TOLERANCE) <= clock.mhz <= want
        if family == "ice40":
            assert 0 <= p.divr <= 15 and 0 <= p.divf <= 127 and 1 <= p.divq <= 6
            assert 10 <= p.pfd_mhz <= 133 and 533 <= p.vco_mhz <= 1066
            assert 16 <= p.output_mhz <= 275
        else:
            assert 1 <= p.clki_div <= 128 and 1 <= p.clkfb_div <= 80 and 1 <= p.clkop_div <= 128
            assert Fraction(3125, 1000) <= p.pfd_mhz <= 400 and 400 <= p.vco_mhz <= 800
            assert 10 <= p.output_mhz <= 400


@pytest.mark.parametrize("family, f_in, want, match", [
    ("ice40", 12, 15, r"core_mhz=15 is not allowed; a frequency the ice40 PLL makes from the "
                      r"12 MHz board clock \(16.125–270 MHz\)"),
    ("ice40", 12, 400, "the nearest it makes is 270 MHz"),
    ("ecp5", 25, 5, r"\(10–400 MHz\)"),
    ("ice40", 5, 50, "the ice40 PLL takes no 5 MHz input clock"),
    ("gowin", 27, 50, "a PLL core clock on ice40, ecp5 boards"),
])
def test_impossible_clocks_are_config_errors(family, f_in, want, match):
    with pytest.raises(ConfigError, match=match):
        core_clock(family, f_in, want)


def test_engine_options_core_mhz():
    with pytest.raises(ConfigError, match="core_mhz=0 is not allowed"):
        EngineOptions(core_mhz=0)
    with pytest.raises(ConfigError, match="core_mhz=nan"):
        EngineOptions(core_mhz=float("nan"))
    board = get_board("icebreaker")
    assert engine_core_clock(board, EngineOptions()) is None
    assert engine_core_clock(board, EngineOptions(core_mhz=12)) is None   # the board's clock
    assert engine_core_clock(board, EngineOptions(core_mhz=24)).mhz == 24
    assert isinstance(engine_core_clock(get_board("ulx3s-25f"),
                                        EngineOptions(core_mhz=50)).pll, Ecp5Pll)


@pytest.mark.parametrize("board, mhz, primitive, clock_input", [
    ("icebreaker", 24, "SB_PLL40_2_PAD", "PACKAGEPIN"),   # the clock pin is the PLL's pad
    ("ice40-hx8k-evb", 36, "SB_PLL40_CORE", "REFERENCECLK"),
    ("ulx3s-85f", 50, "EHXPLLL", "CLKI"),
])
def test_board_top_instantiates_the_pll_and_constrains_the_board_clock(board, mhz, primitive,
                                                                       clock_input):
    config = config_from_dict({"kind": "mac", "a": "int8", "w": "int4", "acc": 20})
    b = get_board(board)
    files = engine_board_files(b, config, generate(config), EngineOptions(depth=64, core_mhz=mhz),
                               "core.v")
    top = files["top.il"]
    assert f"cell \\{primitive} \\pll" in top and f"connect \\{clock_input} " in top
    clock = engine_core_clock(b, EngineOptions(core_mhz=mhz))
    for name in clock.pll.parameters:
        assert f"parameter \\{name} " in top, name
    constraints = files["top" + b.device.family.constraints[1]]
    # the board clock's net is constrained; nextpnr derives the PLL output's (checked by the
    # flow against the calculator, see test_engine_build)
    assert (f"set_frequency board_clk {b.clock_mhz}" if b.device.family.name == "ice40" else
            f'FREQUENCY NET "board_clk" {b.clock_mhz * 1e6}') in constraints
    without = engine_board_files(b, config, generate(config), EngineOptions(depth=64), "core.v")
    assert "core_clk" not in without["top.il"] and "PLL" not in without["top.il"]
    assert "board_clk" not in without["top" + b.device.family.constraints[1]]


def test_cli_refuses_a_core_clock_the_pll_cannot_make(cli):
    code, _, err = cli("build", "mac", "--board", "icebreaker", "--core-mhz", "24")
    assert code == 2 and "--core-mhz" in err and "needs --engine" in err
    code, _, err = cli("build", "mac", "--board", "icebreaker", "--engine", "--core-mhz", "500")
    assert code == 2 and "core_mhz=500.0 is not allowed" in err and "16.125–270 MHz" in err


def test_fmax_of_a_pll_build_is_the_core_clock_s():
    from lowbit.boards.report import fmax_mhz

    clocks = {"board_clk": {"achieved_mhz": 60.2}, "core_clk": {"achieved_mhz": 61.6}}
    assert fmax_mhz({"clocks": clocks, "core_clock": {"clock": "core_clk"}}) == 61.6
    assert fmax_mhz({"clocks": clocks, "core_clock": None}) == 60.2    # else the slowest
