"""The block RAMs (:mod:`lowbit.hw.ram`): the DP16KD tiling, both implementations against a
Python model in Verilator (:mod:`lowbit.sim.tb_ram`: random reads and writes, reads of the
word written in the same cycle, both read stages stalling), Lowbit's DP16KD model against
Yosys's own mapping, and a ws array whose partial sums sit in registered DP16KDs after
place-and-route."""

import json
import re

import pytest
from amaranth.back import verilog
from reference import run_yosys

from lowbit.boards.devices import get_device
from lowbit.boards.steps import Target
from lowbit.flow import implement
from lowbit.hw.ram import Dp16kdRam, MemoryRam, block_ram
from lowbit.hw.sim_models import PRIMITIVES, models_for
from lowbit.models.blockram import DP16KD_SHAPES, dp16kd_blocks, dp16kd_tiling, fabric_bits
from lowbit.models.tiling import ceil_div
from lowbit.registry import config_from_dict
from lowbit.sim import runner

SHAPES = [(1, 1), (3, 10), (5, 4096), (6, 2500), (9, 4096), (18, 3000), (20, 1024),
          (21, 1024), (96, 256), (96, 4096), (384, 256), (24, 65536), (73, 600)]


@pytest.mark.parametrize("width, depth", SHAPES)
def test_tiling_holds_every_bit_and_row_in_the_fewest_blocks(width, depth):
    slices = dp16kd_tiling(width, depth)
    assert [s.at for s in slices] == [sum(p.bits for p in slices[:i]) for i in range(len(slices))]
    assert sum(s.bits for s in slices) == width
    for s in slices:
        assert 1 <= s.bits <= s.width and (s.stack - 1) * s.words < depth <= s.stack * s.words
    # no single data width does better, nor any split into a wide part and a narrow rest
    blocks = dp16kd_blocks(width, depth)
    for w, words in DP16KD_SHAPES.items():
        assert blocks <= ceil_div(width, w) * ceil_div(depth, words)
        for rest, rest_words in DP16KD_SHAPES.items():
            whole, left = divmod(width, w)
            split = whole * ceil_div(depth, words) + ceil_div(left, rest) * ceil_div(depth,
                                                                                    rest_words)
            assert blocks <= split


def test_tiling_examples():
    def shape(width, depth):
        return [(s.bits, s.width, s.stack) for s in dp16kd_tiling(width, depth)]
    assert shape(96, 256) == [(24, 36, 1), (36, 36, 1), (36, 36, 1)]   # as Yosys maps it
    assert shape(20, 1024) == [(2, 2, 1), (18, 18, 1)]                 # not two stacked 36s
    assert shape(9, 4096) == [(9, 9, 2)]                               # 4-bit blocks need 3
    assert shape(6, 2500) == [(2, 2, 1), (4, 4, 1)]                    # a stack costs a mux
    assert shape(3, 10) == [(3, 4, 1)]


def test_fabric_bits_are_the_bypass_and_the_block_selects():
    assert fabric_bits("generic", 96, 256) == fabric_bits("ice40", 96, 256) == 0
    # the word twice, the write enable and 4 address-pair equalities, the hit flag
    assert fabric_bits("ecp5", 96, 256) == 2 * 96 + 1 + 4 + 1
    assert fabric_bits("ecp5", 9, 4096) == 2 * 9 + 1 + 6 + 1 + 2 * 1
    assert fabric_bits("ecp5", 18, 3000) == 2 * 18 + 1 + 6 + 1 + 2 * 2
    assert fabric_bits("ecp5", 4, 1) == 2 * 4 + 1 + 0 + 1


def _simulate(text: str, width: int, depth: int, latency: int, run_dir, cycles: int = 3000):
    """A few thousand cycles of random traffic: built at -O0, the quicker build."""
    build = runner.build(text, "ram", opt="O0")
    return runner.run(build, "lowbit.sim.tb_ram", run_dir, env={"LOWBIT_RAM": json.dumps(
        {"width": width, "depth": depth, "latency": latency, "cycles": cycles, "seed": 3})})


@pytest.mark.parametrize("family, width, depth, latency", [
    ("ecp5", 96, 16, 2),      # 36-bit pseudo-dual-port blocks
    ("ecp5", 9, 4096, 2),     # two 9-bit blocks stacked
    ("ecp5", 18, 3000, 2),    # three 18-bit blocks stacked
    ("ecp5", 6, 2500, 2),     # a 2-bit and a 4-bit block
    ("ecp5", 5, 4096, 2),     # a 1-bit and a 4-bit block
    ("generic", 96, 16, 2),
    ("generic", 7, 40, 1),
])
def test_ram_against_the_model(family, width, depth, latency, tmp_path):
    ram = block_ram(family, width, depth, latency)
    text = verilog.convert(ram, name="ram", emit_src=False)
    if family == "ecp5":
        assert isinstance(ram, Dp16kdRam)
        blocks = dp16kd_blocks(width, depth)
        assert text.count("DP16KD #(") == text.count('.REGMODE_B("OUTREG")') == blocks
        assert PRIMITIVES / "DP16KD.v" in models_for(text)
    else:
        assert isinstance(ram, MemoryRam) and "DP16KD" not in text
    run = _simulate(text, width, depth, latency, tmp_path / "run")
    assert run.passed, "\n".join(run.failures) + f"\nlog: {run.log}"


class _NoBypass(Dp16kdRam):
    """The blocks' word as it comes, without the fabric's read-during-write bypass."""

    def _transparent(self, m, read):
        return read


def test_the_bench_catches_a_block_read_during_its_write(tmp_path):
    """Without the fabric's bypass the DP16KD's own result of a read of the word written at
    the same edge shows, which the model makes the inverse of the word: the bench fails."""
    text = verilog.convert(_NoBypass(18, 64), name="ram", emit_src=False)
    run = _simulate(text, 18, 64, 2, tmp_path / "run", cycles=500)
    assert not run.passed
    got, want = (int(v, 16) for v in re.search(r"r_data = 0x(\w+), the model says 0x(\w+)",
                                                run.failures[0]).groups())
    assert got == want ^ ((1 << 18) - 1)


def test_dp16kd_model_agrees_with_yosys_mapping(tmp_path):
    """Yosys maps ``Memory`` (with its own pins, widths, write modes, byte enables and
    read-during-write bypass) to DP16KD; those netlists, simulated with Lowbit's model, must
    behave as the memory does."""
    widths = set()
    for width, depth in [(96, 256), (40, 700), (9, 2000), (3, 5000)]:
        work = tmp_path / f"m{width}x{depth}"
        work.mkdir()
        (work / "ram.v").write_text(verilog.convert(MemoryRam(width, depth, 2), name="ram",
                                                    emit_src=False))
        run_yosys(work, "read_verilog ram.v\nsynth_ecp5 -top ram\nwrite_verilog -noattr net.v\n")
        netlist = (work / "net.v").read_text()
        widths |= {int(w) for w in re.findall(r"\.DATA_WIDTH_A\(32'd(\d+)\)", netlist)}
        run = _simulate(netlist, width, depth, 2, work / "run")
        assert run.passed, "\n".join(run.failures) + f"\nlog: {run.log}"
    assert widths == {36, 18, 9, 2}


def test_ws_array_on_ecp5_places_its_psums_in_registered_dp16kds(tmp_path):
    config = config_from_dict({"kind": "systolic", "rows": 2, "cols": 4, "a": "int8",
                               "w": "int4", "acc": 20, "depth": 128, "mul": "dsp",
                               "family": "ecp5", "pack": 2})
    impl = implement(config, Target(get_device("ecp5-25f")), out=tmp_path / "run")
    netlist = json.loads((impl.path / "netlist.json").read_text())
    blocks = [cell["parameters"] for module in netlist["modules"].values()
              for cell in module["cells"].values() if cell["type"] == "DP16KD"]
    assert len(blocks) == dp16kd_blocks(config.cols * config.acc, config.depth) == 3
    assert all(b["REGMODE_B"] == "OUTREG" for b in blocks)
    assert impl.report["resources"]["bram"] == 3
