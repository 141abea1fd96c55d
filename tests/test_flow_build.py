"""Board builds to a bitstream, one per FPGA family, and the self-test they carry.

The bitstreams are checked byte by byte for what each family's configuration logic needs (the
self-test itself is ``test_selftest.py``'s).
"""

import pytest

ECP5_IDCODE = {"ecp5-25f": 0x41111043, "ecp5-85f": 0x41113043}   # Lattice TN1260


def test_ice40_bitstream(bitstream_ice40):
    r, path = bitstream_ice40.report, bitstream_ice40.bitstream
    assert r["mode"] == "board" and r["board"] == "ice40-hx8k-evb" and path.suffix == ".bin"
    data = path.read_bytes()
    # icepack: a comment block FF 00 .. 00 FF, then the sync word 7E AA 99 7E
    assert data[:4] == bytes.fromhex("FF0000FF") and data[4:8] == bytes.fromhex("7EAA997E")
    assert len(data) == r["bitstream"]["bytes"] == 135100   # every CRAM bank of an HX8K
    assert r["bitstream"]["preamble_offset"] == 4


def test_ecp5_bitstream(bitstream_ecp5):
    r, path = bitstream_ecp5.report, bitstream_ecp5.bitstream
    assert r["board"] == "ulx3s-25f" and path.suffix == ".bit"
    data = path.read_bytes()
    # ecppack: FF 00, a NUL-terminated comment naming the part, FF, the preamble FF FF BD B3
    assert data[:2] == bytes.fromhex("FF00")
    comment_end = data.index(b"\x00\xff", 2)
    assert data[2:comment_end] == b"Part: LFE5U-25F-6CABGA381"
    preamble = data.index(bytes.fromhex("FFFFBDB3"))
    assert preamble == comment_end + 2 == r["bitstream"]["preamble_offset"]
    # VERIFY_ID (0xE2) carries the part's JTAG IDCODE: the bitstream is for this device
    verify = data.index(b"\xe2\x00\x00\x00", preamble)
    assert int.from_bytes(data[verify + 4:verify + 8], "big") == ECP5_IDCODE["ecp5-25f"]
    assert 500_000 < len(data) < 600_000


@pytest.mark.slow      # ~30 s: nextpnr-himbaechel and gowin_pack on the Tang Nano 9K
def test_gowin_bitstream(bitstream_gowin):
    """gowin_pack's .fs: ASCII bits; after 20 bytes of FF padding, FF FF and the sync word
    A5 C3, then the ID-code command (06) with the GW1NR-9C's JTAG IDCODE."""
    r, path = bitstream_gowin.report, bitstream_gowin.bitstream
    assert r["board"] == "tang-nano-9k" and path.suffix == ".fs"
    lines = [x for x in path.read_text().splitlines() if not x.startswith("//")]
    assert set("".join(lines[:10])) == {"0", "1"}
    head = b"".join(int(x, 2).to_bytes(len(x) // 8, "big") for x in lines[:4])
    assert head == bytes.fromhex("FF" * 22 + "A5C3" + "06000000" + "1100481B")
    assert r["bitstream"]["preamble_offset"] == 20 and r["bitstream"]["bytes"] == len(
        path.read_bytes())
    assert r["device"]["part_number"] == "GW1NR-LV9QN88PC6/I5"
    assert r["device"]["speed"] == "C6/I5"


def test_gowin_bitstream_check_refuses_other_files(tmp_path):
    from lowbit.boards.devices import GOWIN
    from lowbit.boards.steps import FlowError, check_bitstream

    fake = tmp_path / "x.fs"
    fake.write_text("//comment\n" + "1" * 16 + "\n" + "0" * 16 + "\n")
    with pytest.raises(FlowError, match="no preamble FFFFA5C3"):
        check_bitstream(fake, GOWIN.preamble, GOWIN.text_bitstream)


@pytest.mark.parametrize("run", ["bitstream_ice40", "bitstream_ecp5",
                                 pytest.param("bitstream_gowin", marks=pytest.mark.slow)])
def test_board_report(run, request, flow_config):
    impl = request.getfixturevalue(run)
    r = impl.report
    assert r["target_enforced"] and r["top"] == "top"
    (clock,) = r["clocks"].values()
    board_mhz = {"ice40-hx8k-evb": 12, "ulx3s-25f": 25, "tang-nano-9k": 27}[r["board"]]
    assert clock["target_mhz"] == board_mhz and clock["met"]
    assert r["resources"]["cells"]    # the core's own cells, not the board top's
    # clock and LEDs placed (the Tang Nano 9K has 6 LEDs, the others 8); the constraints
    # come from the amaranth-boards platform
    leds = 6 if r["board"] == "tang-nano-9k" else 8
    assert r["resources"]["io"] == r["utilization"]["io"]["used"] == 1 + leds
    suffix = {"ice40": "pcf", "ecp5": "lpf", "gowin": "cst"}[r["device"]["family"]]
    assert "led_0__io" in (impl.path / f"top.{suffix}").read_text()
    st = r["selftest"]
    assert st["source"] == "golden model" and st["params"] == {"k": 16, "clear": 0}
    assert st["gemm"] == "4x8x16" and st["results"] == [32] and st["beats"] == {"operands": 512}
    assert {"selftest", "pack"} <= set(r["steps"])


def test_cli_build(cli, tmp_path):
    code, out, _ = cli("build", "mac", "--a", "int8", "--w", "int4", "--acc", "24",
                       "--board", "ice40-hx8k-evb", "-o", tmp_path / "b")
    assert code == 0, out
    assert "bitstream:" in out and "expected checksum 0x" in out
    assert (tmp_path / "b" / "ice40-hx8k-evb.bin").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("board", ["icebreaker", "ice40-hx8k-evb", "ulx3s-85f", "ulx3s-45f",
                                   "ulx3s-25f", "orangecrab-25f", "tang-nano-9k",
                                   "tang-primer-20k"])
def test_every_board_builds(board, flow_config, tmp_path):
    from lowbit.boards.steps import Target, decode_text_bitstream
    from lowbit.flow import implement

    impl = implement(flow_config, Target.parse(board=board), out=tmp_path / board)
    family = impl.report["device"]["family"]
    preamble = {"ice40": "7EAA997E", "ecp5": "FFFFBDB3", "gowin": "FFFFA5C3"}[family]
    data = impl.bitstream.read_bytes()
    if family == "gowin":
        data = decode_text_bitstream(data)
    assert bytes.fromhex(preamble) in data[:64]
    assert all(c["met"] for c in impl.report["clocks"].values())

