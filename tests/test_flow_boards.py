"""Board files: every board on its amaranth-boards platform, the device table, `lowbit boards`."""

import json

import pytest
from amaranth.hdl import Elaboratable, Module

from lowbit.boards.devices import DEVICES, get_device, without_dsp
from lowbit.boards.platforms import BOARDS, get_board
from lowbit.errors import ConfigError


class _Empty(Elaboratable):
    def elaborate(self, platform):
        return Module()


@pytest.mark.parametrize("board", BOARDS.values(), ids=lambda b: b.name)
def test_board_matches_its_platform(board):
    platform = board.make_platform()
    assert board.device.part == (getattr(platform, "device", None) or platform.family)
    assert board.device.family.nextpnr_package(platform.package) == board.package
    assert board.speed == getattr(platform, "speed", None)
    assert board.clock_mhz == platform.default_clk_frequency / 1e6
    for led in (board.pass_led, board.fail_led, *board.checksum_leds):
        assert (led[0], led[1]) in platform.resources, f"{board.name} has no LED {led}"
    if board.device.family.name == "gowin":
        # nextpnr selects the part by its full number, which names package and speed grade
        assert board.part_number == platform.part == board.device.full_part_number(
            platform.package, platform.speed)
        # the packer flags are the ones the platform's own Apicula build passes gowin_pack
        plan = platform.build(_Empty(), name="top", do_build=False)
        commands = json.loads(plan.files["build_top.json"])["commands"]
        (pack,) = [c for c in commands if c[0] == "gowin_pack"]
        assert board.pack_options == tuple(a for a in pack if a.startswith("--"))
    else:
        assert board.pack_options == () and board.part_number == ""


def test_required_boards_exist():
    parts = {b.device.part for b in BOARDS.values()}
    assert {"iCE40UP5K", "iCE40HX8K", "LFE5U-85F", "LFE5U-45F", "LFE5U-25F", "GW1NR-9C",
            "GW2A-18C"} <= parts
    assert BOARDS["icebreaker"].device.name == "ice40-up5k"
    assert BOARDS["ulx3s-85f"].device.name == "ecp5-85f"
    assert BOARDS["tang-nano-9k"].device.name == "gw1nr-9"
    assert BOARDS["tang-primer-20k"].device.name == "gw2a-18"


def test_every_device_names_its_speed_grade():
    """ECP5 parts at grade 6 (as on the ULX3S), Gowin parts at their boards' grades; iCE40
    parts have no speed grades at all, which the device says with None."""
    speeds = {d.name: d.speed for d in DEVICES.values()}
    assert speeds == {"ice40-up5k": None, "ice40-hx8k": None, "ecp5-25f": "6", "ecp5-45f": "6",
                      "ecp5-85f": "6", "gw1nr-9": "C6/I5", "gw2a-18": "C8/I7"}


@pytest.mark.parametrize("name, synth", [("ecp5-85f", "synth_ecp5 -nodsp"),
                                         ("ice40-up5k", "synth_ice40"),
                                         ("gw2a-18", "synth_gowin -noiopads -family gw2a -nodsp")])
def test_without_dsp_turns_dsp_inference_off(name, synth):
    """The same part under its own name (its own cache entries), synthesized without DSPs."""
    device = without_dsp(get_device(name))
    assert (device.name, device.synth_command) == (f"{name}-nodsp", synth)


def test_gowin_totals_come_from_the_chip_database():
    """Apicula's database of the GW1NR-9C and GW2A-18C, as their datasheets also give them
    (LUT4s, flip-flops, 18×18 multipliers, 18-kbit BSRAMs)."""
    assert DEVICES["gw1nr-9"].totals() == {"luts": 8640, "ffs": 6480, "dsp": 20, "bram": 26}
    assert DEVICES["gw2a-18"].totals() == {"luts": 20736, "ffs": 15552, "dsp": 48, "bram": 46}
    pins = DEVICES["gw1nr-9"].chip_facts()["pins"]
    assert set(pins) == {"clk", "din", "dout"} and len(set(pins.values())) == 3


@pytest.mark.parametrize("run", [
    "ooc_ice40", "ooc_ecp5", "ooc_gw1n", "bitstream_ice40", "bitstream_ecp5",
    # 10-30 s each on top of the runs the default suite has anyway
    *(pytest.param(r, marks=pytest.mark.slow)
      for r in ("ooc_ecp5_45f", "ooc_gw2a", "bitstream_gowin"))])
def test_datasheet_totals_are_nextpnrs(run, request):
    """The table `lowbit boards` prints agrees with nextpnr's device database (every part)."""
    report = request.getfixturevalue(run).report
    device = DEVICES[report["device"]["name"]]
    for res, total in device.totals().items():
        assert report["device_totals"][res] == total, f"{device.name} {res}"


@pytest.mark.parametrize("lookup, name, known", [
    (get_device, "gw1n-9", "known devices: ice40-up5k, ice40-hx8k, ecp5-25f, ecp5-45f, ecp5-85f, "
                           "gw1nr-9, gw2a-18"),
    (get_board, "tang-nano-20k", "tang-nano-9k, tang-primer-20k"),
])
def test_unknown_names_list_the_known_ones(lookup, name, known):
    with pytest.raises(ConfigError, match=known):
        lookup(name)


def test_cli_unknown_board(cli, tmp_path):
    code, _, err = cli("build", "mac", "--board", "tang-nano-1k", "-o", tmp_path / "b")
    assert code == 2 and "board='tang-nano-1k' is not allowed; known boards: " in err
    assert "tang-nano-9k, tang-primer-20k" in err and len(err.strip().splitlines()) == 1


def test_cli_boards(cli):
    code, out, _ = cli("boards")
    assert code == 0
    for text in ("icebreaker", "ice40-hx8k-evb", "ulx3s-85f", "ulx3s-25f", "orangecrab-25f",
                 "ulx3s-45f", "tang-nano-9k", "tang-primer-20k", "sg48", "CABGA381", "QN88P",
                 "83,640", "156", "208 × 18 kbit", "12 MHz", "25 MHz", "27 MHz",
                 "ICEBreakerPlatform", "TangNano9kPlatform", "ice40-up5k", "ecp5-25f",
                 "gw1nr-9", "8,640", "20,736", "C6/I5", "C8/I7", "none (single grade)"):
        assert text in out, text
