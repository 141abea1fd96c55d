"""Board files: every board on its amaranth-boards platform, and `lowbit boards`."""

import pytest

from lowbit.boards.devices import DEVICES
from lowbit.boards.platforms import BOARDS


@pytest.mark.parametrize("board", BOARDS.values(), ids=lambda b: b.name)
def test_board_matches_its_platform(board):
    platform = board.make_platform()
    assert board.device.part == platform.device
    assert board.device.family.nextpnr_package(platform.package) == board.package
    assert board.clock_mhz == platform.default_clk_frequency / 1e6
    for led in (board.pass_led, board.fail_led, *board.checksum_leds):
        assert (led[0], led[1]) in platform.resources, f"{board.name} has no LED {led}"


def test_required_boards_exist():
    parts = {b.device.part for b in BOARDS.values()}
    assert {"iCE40UP5K", "iCE40HX8K", "LFE5U-85F", "LFE5U-25F"} <= parts
    assert BOARDS["icebreaker"].device.name == "ice40-up5k"
    assert BOARDS["ulx3s-85f"].device.name == "ecp5-85f"


@pytest.mark.parametrize("run", ["ooc_ice40", "ooc_ecp5", "bitstream_ice40", "bitstream_ecp5"])
def test_datasheet_totals_are_nextpnrs(run, request):
    """The table `lowbit boards` prints agrees with nextpnr's device database (all 4 parts)."""
    report = request.getfixturevalue(run).report
    device = DEVICES[report["device"]["name"]]
    for res, total in device.totals().items():
        assert report["device_totals"][res] == total, f"{device.name} {res}"


def test_cli_boards(cli):
    code, out, _ = cli("boards")
    assert code == 0
    for text in ("icebreaker", "ice40-hx8k-evb", "ulx3s-85f", "ulx3s-25f", "orangecrab-25f",
                 "sg48", "CABGA381", "83,640", "156", "208 × 18 kbit", "12 MHz", "25 MHz",
                 "ICEBreakerPlatform", "ice40-up5k", "ecp5-25f"):
        assert text in out, text
