"""``lowbit fit`` for every kind: which kinds compute a format pair, each strategy's size
ladder and its sizing arithmetic (the largest rung the area model fits the LUT budget, the DSP
blocks and the block RAMs), MACs at the formats' run-time precision, the device bound of
floating formats, and the CLI's errors; one slow end-to-end fit per new strategy."""

import json

import pytest

from lowbit.boards.devices import get_device
from lowbit.errors import UsageError
from lowbit.fit import (
    STRATEGIES,
    AreaModel,
    BitserialStrategy,
    BlockdotStrategy,
    FusionStrategy,
    LutStrategy,
    SystolicStrategy,
    bound_operand,
    strategy,
)
from lowbit.models.formats import IntFormat, parse_format

UP5K, ECP5 = get_device("ice40-up5k"), get_device("ecp5-85f")
PAIRS = {"W2A8": ("int8", "int2"), "W8A8": ("int8", "int8"), "FP8": ("fp8_e4m3", "fp8_e4m3"),
         "MXFP4": ("mxfp4", "mxfp4"), "MXINT8": ("mxint8", "mxint8")}


def supporting(label: str) -> set[str]:
    a, w = (parse_format(f) for f in PAIRS[label])
    return {k for k, s in STRATEGIES.items() if s.base(a, w, 24) is not None}


def sized(kind: str, label: str, device=UP5K):
    a, w = (parse_format(f) for f in PAIRS[label])
    s = STRATEGIES[kind]
    return strategy(kind, s.base(a, w, 24), device, s.runtime(a, w))


def test_which_kinds_compute_which_pairs():
    assert supporting("W2A8") == supporting("W8A8") == {"systolic", "lut", "bitserial",
                                                        "fusion", "mac"}
    assert supporting("FP8") == {"systolic", "fmac"}
    assert supporting("MXFP4") == supporting("MXINT8") == {"blockdot"}


@pytest.mark.parametrize("kind, label, probes", [
    ("lut", "W2A8", [(4, 2), (8, 2)]), ("lut", "W8A8", [(4, 2), (8, 2)]),
    ("bitserial", "W2A8", [(8, 4), (16, 8)]), ("blockdot", "MXFP4", [2, 4])])
def test_ladders_ascend_and_probe_two_small_rungs(kind, label, probes):
    s = sized(kind, label, ECP5)
    macs = [s.macs(c) for c in s.ladder]
    assert macs == sorted(macs) and len(set(macs)) == len(macs) > 2
    shape = {"lut": lambda c: (c.cols, c.tables), "bitserial": lambda c: (c.lanes, c.cols),
             "blockdot": lambda c: c.lanes}[kind]
    assert [shape(c.config) for c in s.probes(quick=True)] == probes


def test_lut_rungs_hide_the_fill_at_the_formats_weight_bits():
    """blocks·W ≥ 16 entries, so the rate is cols·G/W: W2 → 8 blocks, 4× W8's rate."""
    w2, w8 = sized("lut", "W2A8", ECP5), sized("lut", "W8A8", ECP5)
    assert {c.blocks for c in w2.ladder} == {8} and {c.blocks for c in w8.ladder} == {2}
    assert {c.family for c in w2.ladder} == {"ecp5"} and w2.ladder[0].tables == 2
    first = w2.ladder[0]
    assert w2.macs(first) == first.cols * first.group / 2 == 4 * w8.macs(w8.ladder[0])
    up5k = sized("lut", "W2A8", UP5K)
    assert {c.family for c in up5k.ladder} == {"ice40"} and up5k.ladder[0].tables == 1


@pytest.mark.parametrize("kind, label", [("lut", "W2A8"), ("bitserial", "W2A8"),
                                         ("blockdot", "MXINT8")])
def test_fill_is_the_largest_rung_the_model_fits(kind, label):
    s = sized(kind, label, UP5K)
    model = AreaModel(fixed=500, per_mac=150, mhz=50)
    budget = 0.85 * UP5K.luts
    fits = [c for c in s.ladder if 500 + 150 * s.macs(c) <= budget]
    assert fits and len(fits) < len(s.ladder)
    fills = s.fills({s.CHOICE: model}, budget)
    assert [f.config for f in fills] == fits[::-1] and all(f.role == "fill" for f in fills)
    assert fills[0].predicted_luts == int(500 + 150 * s.macs(fits[-1]))
    assert fills[0].predicted_gmacs == pytest.approx(s.macs(fits[-1]) * 50 * 0.85 / 1000)
    # one block RAM per MAC: the UP5K's 30 stop it before the LUTs do
    ram = AreaModel(fixed=0, per_mac=1, mhz=50, bram_per_mac=1)
    assert max(s.macs(f.config) for f in s.fills({s.CHOICE: ram}, budget)) <= UP5K.bram
    dsp = AreaModel(fixed=0, per_mac=1, mhz=50, dsp_per_mac=1)
    assert max(s.macs(f.config) for f in s.fills({s.CHOICE: dsp}, budget)) <= UP5K.dsp
    # placed cells twice the LUTs (iCE40 flip-flops that share no cell): the device's cells
    cells = AreaModel(fixed=0, per_mac=60, mhz=50, cell_per_mac=240)
    assert max(s.macs(f.config) for f in s.fills({s.CHOICE: cells}, budget)) <= UP5K.luts / 240


def test_units_have_one_rung_and_fusion_counts_its_mode():
    """fusion's MACs/cycle are its perf model in the formats' mode: W2A8 = 8×2 = 4 per
    beat; int1 weights run as 2 bits; the bound counts the mode's operands."""
    w2 = sized("fusion", "W2A8")
    assert len(w2.ladder) == 1 and w2.macs(w2.ladder[0]) == 4
    assert FusionStrategy.runtime(IntFormat(8), IntFormat(1)) == {"a_bits": 8, "w_bits": 2}
    assert (w2.a, w2.w) == (IntFormat(8), IntFormat(2))
    assert len(sized("fmac", "FP8").ladder) == len(sized("mac", "W8A8").ladder) == 1


def test_floating_formats_are_bounded_by_their_significands():
    assert bound_operand(parse_format("fp8_e4m3")) == IntFormat(5)
    assert bound_operand(parse_format("mxfp4")) == IntFormat(3)
    assert bound_operand(parse_format("mxint8")) == IntFormat(8)
    s = sized("systolic", "FP8")
    assert s.choices == ("infer",) and s.acc >= 49
    assert {(c.config.mul, c.config.rows) for c in s.probes(quick=False)} == {("infer", 2),
                                                                                ("infer", 4)}
    fills = s.fills({"infer": AreaModel(fixed=0, per_mac=300, mhz=40)}, 0.85 * UP5K.luts)
    assert fills[0].config.rows * fills[0].config.cols <= 0.85 * UP5K.luts / 300


def test_strategies_refuse_what_they_do_not_size():
    with pytest.raises(UsageError, match="integer or minifloat"):
        SystolicStrategy({"a": "int8", "w": "fp8_e4m3", "acc": 64}, UP5K)
    with pytest.raises(UsageError, match="no run-time precision"):
        SystolicStrategy({"a": "int8", "w": "int4", "acc": 24}, UP5K, {"pw": 2})
    with pytest.raises(UsageError, match="not a run-time setting of bitserial"):
        BitserialStrategy({"a": "int8", "w": "int4", "acc": 24}, UP5K, {"pw": 9})
    assert LutStrategy.base(IntFormat(8), IntFormat(4, signed=False), 24) is None
    assert BlockdotStrategy.base(IntFormat(8), IntFormat(8), 24) is None


@pytest.mark.parametrize("args, message", [
    (["lut", "--cols", "8"], "cols='8' is not allowed; chosen by lowbit fit"),
    (["blockdot", "--lanes", "4"], "lanes='4' is not allowed; chosen by lowbit fit"),
    (["lut", "--w-bits", "9"], "w_bits"),
    (["blockdot", "--a", "mxfp4", "--w", "nvfp4"], "a block format pair"),
    (["fusion", "--budget", "1.5"], "budget=1.5 is not allowed"),
])
def test_fit_bad_input_exits_2(cli, tmp_path, args, message):
    code, _, err = cli("fit", *args, "--device", "ice40-up5k", "-o", tmp_path)
    assert code == 2 and message in err
    assert not (tmp_path / "fit.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind, flags", [
    ("lut", ["--w-bits", "2", "--acc", "20"]),
    ("bitserial", ["--w", "int2", "--acc", "20"]),
    ("blockdot", ["--a", "mxint8", "--w", "mxint8"]),
    ("fmac", []),
])
def test_fit_kind_end_to_end(cli, tmp_path, kind, flags):
    """The probes (one unit for fmac), any fill the model fits, and the best point within 30 %
    of the UP5K after place and route, in the summary."""
    code, out, _ = cli("fit", kind, "--device", "ice40-up5k", *flags, "--budget", "0.3",
                       "--quick", "-j", "1", "-o", tmp_path)
    summary = json.loads((tmp_path / "fit.json").read_text())
    assert code == 0 and summary["best"]["kind"] == kind and "best" in out
    points = summary["points"]
    assert all(p["luts"] > 0 and p["fmax_mhz"] > 0 for p in points)
    assert sum(p["role"] == "probe" for p in points) == (1 if kind == "fmac" else 2)
    best = next(p for p in points if p["config"] == summary["best"])
    assert best["luts"] <= 0.3 * 5280
    assert best["gmacs"] == max(p["gmacs"] for p in points if p["luts"] <= 0.3 * 5280)


def test_systolic_dsp_fills_shrink_to_a_small_budget():
    """At a tenth of the ECP5-85F the DSP arrays hold what the LUTs allow, not all 156 blocks;
    at 85% every block."""
    s = sized("systolic", "W2A8", ECP5)
    models = {"lut": AreaModel(0, 125, 138), "dsp": AreaModel(0, 119, 133),
              "auto": AreaModel(0, 118, 141)}
    small = {c.choice: c for c in s.fills(models, 0.1 * ECP5.luts)}
    for c in small.values():
        assert c.predicted_luts <= 0.1 * ECP5.luts
        assert c.config.rows * c.config.cols <= 0.1 * ECP5.luts / 118
    big = {c.choice: c for c in s.fills(models, 0.85 * ECP5.luts)}
    assert big["dsp"].config.rows * big["dsp"].config.cols // 2 > 100
    assert big["auto"].config.dsp_blocks == ECP5.dsp


def test_systolic_fabric_fill_stays_within_the_logic_cells():
    """On iCE40 a fabric array's placed cells, not its LUT4s, run out first."""
    s = sized("systolic", "W2A8", UP5K)
    lean = AreaModel(0, 80, 40)
    cells = AreaModel(0, 80, 40, cell_per_mac=160)
    wide = next(c for c in s.fills({"lut": lean, "dsp": lean}, 0.85 * UP5K.luts)
                if c.choice == "lut")
    held = next(c for c in s.fills({"lut": cells, "dsp": lean}, 0.85 * UP5K.luts)
                if c.choice == "lut")
    assert wide.config.rows * wide.config.cols > UP5K.luts / 160
    assert held.config.rows * held.config.cols <= UP5K.luts / 160
