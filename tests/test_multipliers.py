"""lowbit.hw.mul: every multiplier bit-exact, cycle by cycle, with stalls and a reset.

Multipliers sit in banks (:mod:`lowbit.sim.multiplier_bank`): one Verilator build and one run
per bank. The 8-bit bank is driven with all 2^16 values of its operand bits, so every 4×4,
8×4 and 8×8 pair (signed, unsigned, mixed) and every combination of the packed lanes reaches
every multiplier; the wide bank (16×16, 12×8, 18×18) gets random operands with every pair of
extreme values forced in. The MULT18X18D model is also checked against Yosys's own mapping of
``a * b`` (its netlist simulated with the model).
"""

import gc
import json
import warnings

import pytest
from amaranth.back import verilog
from amaranth.hdl import UnusedElaboratable
from reference import run_yosys

from lowbit.hw.mul.ecp5 import Mult18x18d
from lowbit.hw.mul.fabric import FabricMultiplier, chains
from lowbit.hw.mul.ice40 import SbMac16x8
from lowbit.hw.mul.packed import PackedMultiplier
from lowbit.hw.mul.shape import InferredMultiplier
from lowbit.hw.sim_models import PRIMITIVES, models_for
from lowbit.models.formats import IntFormat
from lowbit.models.packing import MULT18X18, Packing, cheapest, packings
from lowbit.sim import runner
from lowbit.sim.multiplier_bank import Entry, MultiplierBank, spec

S, U = IntFormat, (lambda bits: IntFormat(bits, False))
SIZES = [(8, 8), (8, 4), (4, 4), (4, 8)]
SIGNS = [(True, True), (False, False), (True, False), (False, True)]


def fmt(bits, signed):
    return IntFormat(bits, signed)


def narrow_entries() -> list[Entry]:
    """Every multiplier with operands of at most 8 bits (a at pool bit 0, w at bit 8), except
    the CCU2C arrays (:func:`ccu2c_entries`: slow to compile, so a bank of their own)."""
    out = []
    for (na, nw) in SIZES:
        for sa, sw in SIGNS:
            a, w = fmt(na, sa), fmt(nw, sw)
            tag = f"{a}x{w}"
            for stages in (0, chains(a, w), chains(a, w) + 1):
                out.append(Entry(f"fab_{tag}_s{stages}", FabricMultiplier(a, w, stages)))
            out.append(Entry(f"infer_{tag}", InferredMultiplier(a, w, 1)))
            out.append(Entry(f"dsp_{tag}_io", Mult18x18d(a, w, reg_inputs=True, reg_output=True)))
            out.append(Entry(f"mac16_{tag}_i", SbMac16x8(a, w, reg_inputs=True)))
            # both halves of one block, the second fed the first's operands swapped
            if na == nw:
                out.append(Entry(f"mac16x2_{tag}_io",
                                 SbMac16x8(a, w, lanes=2, reg_inputs=True, reg_output=True),
                                 a_at=(0, 8), w_at=(8, 0)))
    for regs in [(False, False, False), (True, False, False), (False, False, True),
                 (False, True, False), (True, True, True)]:
        i, p, o = regs
        out.append(Entry(f"dsp_int8xint8_{''.join('ipo'[k] for k in range(3) if regs[k])}",
                         Mult18x18d(S(8), S(8), reg_inputs=i, reg_pipeline=p, reg_output=o)))
    out.append(Entry("mac16x2_int8xint8_comb", SbMac16x8(S(8), S(8), lanes=2),
                     a_at=(0, 8), w_at=(8, 0)))
    out.append(Entry("mac16_uint8xint8_o", SbMac16x8(U(8), S(8), reg_output=True)))
    for a, w in [(S(1), S(8)), (U(1), S(4)), (S(1), S(1)), (S(8), S(1)), (S(2), U(3))]:
        out.append(Entry(f"fab_{a}x{w}", FabricMultiplier(a, w, 1)))
    return out + packed_entries()


def ccu2c_entries() -> list[Entry]:
    """The CCU2C arrays: every size and signedness once, the stage counts varied over them."""
    out = []
    for k, ((na, nw), (sa, sw)) in enumerate([(size, sign) for size in SIZES for sign in SIGNS]):
        a, w = fmt(na, sa), fmt(nw, sw)
        if na == 8 and nw == 8 and sa != sw:
            continue            # the mixed 8×8 arrays add compile time and no new structure
        stages = k % (chains(a, w) + 2)
        out.append(Entry(f"ccu2c_{a}x{w}_s{stages}", FabricMultiplier(a, w, stages, "ecp5")))
    for a, w in [(S(1), S(8)), (U(1), S(4)), (S(1), S(1)), (S(8), S(1)), (S(2), U(3))]:
        out.append(Entry(f"ccu2c_{a}x{w}", FabricMultiplier(a, w, 1, "ecp5")))
    return out


def packed_entries() -> list[Entry]:
    """Packings on every core; their lanes' weights fill the pool's bits 8..15."""
    cores = {
        "dsp": lambda a, w: Mult18x18d(a, w, reg_inputs=True, reg_output=True),
        "infer": lambda a, w: InferredMultiplier(a, w),
        "fab": lambda a, w: FabricMultiplier(a, w, 2),
    }
    chosen = [Packing(S(8), S(4), 2, 12, "sign"), Packing(U(8), U(4), 2, 12, "none"),
              Packing(S(8), U(4), 2, 12, "sign"), Packing(S(8), S(4), 2, 11, "offset"),
              Packing(U(4), S(4), 2, 8, "sign"), Packing(S(4), S(2), 4, 5, "offset"),
              Packing(S(8), S(2), 2, 10, "sign"), Packing(U(2), U(2), 4, 4, "none")]
    out = []
    for pk in chosen:
        lanes = tuple(8 + k * pk.w.bits for k in range(pk.count))
        for name, core in cores.items():
            out.append(Entry(f"packed_{name}_{pk.a}x{pk.count}{pk.w}_{pk.correction}",
                             PackedMultiplier(pk, core), w_at=lanes))
    return out


def wide_entries() -> list[Entry]:
    """Operands beyond 8 bits: a at pool bit 0, w at bit 18."""
    out = []
    for na, nw in [(16, 16), (12, 8), (16, 1), (3, 16)]:
        for sa, sw in SIGNS:
            a, w = fmt(na, sa), fmt(nw, sw)
            out.append(Entry(f"fab_{a}x{w}", FabricMultiplier(a, w, 3), w_at=(18,)))
            out.append(Entry(f"dsp_{a}x{w}", Mult18x18d(a, w, reg_inputs=True), w_at=(18,)))
    for a, w in [(S(16), S(16)), (U(12), S(8)), (S(3), U(16))]:
        out.append(Entry(f"ccu2c_{a}x{w}", FabricMultiplier(a, w, 4, "ecp5"), w_at=(18,)))
    for sa, sw in SIGNS:
        out.append(Entry(f"dsp_18x18_{sa}{sw}", Mult18x18d(fmt(18, sa), fmt(18, sw),
                                                           reg_output=True), w_at=(18,)))
    pk = packings(U(2), U(2), MULT18X18)[0]
    out.append(Entry("packed_dsp_uint2x5", PackedMultiplier(pk, lambda a, w: Mult18x18d(a, w)),
                     w_at=tuple(18 + 2 * k for k in range(pk.count))))
    return out


def run_bank(name, entries, stimulus, run_dir, claimed=None):
    """Build the bank (at -O0: the build is most of the cost, and the run steps Python every
    cycle, which the model's optimization barely changes) and run its testbench."""
    bank = MultiplierBank(entries)
    build = runner.build(verilog.convert(bank, name=name, emit_src=False), name, opt="O0")
    return runner.run(build, "lowbit.sim.tb_multipliers", run_dir, env={
        "LOWBIT_BANK": json.dumps(claimed(spec(bank)) if claimed else spec(bank)),
        "LOWBIT_STIMULUS": json.dumps(stimulus)})


@pytest.mark.parametrize("bank", ["narrow", "ccu2c"])
def test_every_8bit_pair_of_every_multiplier(bank, tmp_path):
    entries = narrow_entries() if bank == "narrow" else ccu2c_entries()
    assert len({e.name for e in entries}) == len(entries)
    run = run_bank(f"mul_bank_{bank}", entries, {"exhaustive": 16, "stall": 0.1}, tmp_path)
    assert run.passed, "\n".join(run.failures) + f"\nlog: {run.log}"
    (record,) = run.records
    assert record["vectors"] == 1 << 16 and record["cycles"] > record["vectors"]


def test_wide_multipliers_random_with_extremes(tmp_path):
    run = run_bank("mul_bank_wide", wide_entries(), {"random": 20000, "seed": 3}, tmp_path)
    assert run.passed, "\n".join(run.failures) + f"\nlog: {run.log}"


def test_the_testbench_catches_a_wrong_latency_and_a_wrong_format(tmp_path):
    entries = [Entry("dsp", Mult18x18d(S(8), S(8), reg_inputs=True)),
               Entry("fab", FabricMultiplier(S(8), U(4), 1, "ecp5"))]

    def claim_latency(s):
        s[0]["latency"] = 2
        return s

    def claim_format(s):
        s[1]["w"] = "int4"
        return s

    for claimed, name in ((claim_latency, "dsp"), (claim_format, "fab")):
        run = run_bank("mul_bank_wrong", entries, {"random": 300}, tmp_path / name, claimed)
        assert not run.passed
        assert len(run.failures) == 1 and f"{name} lane 0" in run.failures[0]
        assert "cycles differ" in run.failures[0]


def test_mult18x18d_model_agrees_with_yosys_mapping(tmp_path):
    """Yosys maps a plain ``a * b`` to MULT18X18D (unregistered, its own parameters and
    wiring); that netlist, simulated with Lowbit's model, must give the exact products."""
    entries = [Entry(f"mul_{a}x{w}", InferredMultiplier(a, w), w_at=(18,))
               for a, w in [(S(18), S(18)), (U(18), U(18)), (S(18), U(17)), (U(12), S(8)),
                            (S(9), S(9)), (U(16), U(16))]]
    entries.append(Entry("mul_reg", InferredMultiplier(S(10), S(10), 1), w_at=(18,)))
    bank = MultiplierBank(entries)
    (tmp_path / "bank.v").write_text(verilog.convert(bank, name="bank", emit_src=False))
    run_yosys(tmp_path, "read_verilog bank.v\nsynth_ecp5 -top bank\n"
                     "tee -q -o stat.json stat -json\nwrite_verilog -noattr netlist.v\n")
    cells = json.loads((tmp_path / "stat.json").read_text())["modules"]["\\bank"]
    assert cells["num_cells_by_type"].get("MULT18X18D") == len(entries)
    netlist = (tmp_path / "netlist.v").read_text()
    assert PRIMITIVES / "MULT18X18D.v" in models_for(netlist)
    build = runner.build(netlist, "bank", opt="O0")
    run = runner.run(build, "lowbit.sim.tb_multipliers", tmp_path / "run", env={
        "LOWBIT_BANK": json.dumps(spec(bank)),
        "LOWBIT_STIMULUS": json.dumps({"random": 5000, "seed": 5})})
    assert run.passed, "\n".join(run.failures) + f"\nlog: {run.log}"


def test_int8_by_int4_fabric_is_15_ccu2c_on_ecp5(tmp_path):
    """The AND terms sit in the carry cells' LUT4s: 15 CCU2C (30 LUT4s) and no other LUT,
    where the portable rows take 32 LUT4s more."""
    counts = {}
    for cells in ("ecp5", "generic"):
        (tmp_path / f"{cells}.v").write_text(verilog.convert(
            FabricMultiplier(S(8), S(4), cells=cells), name="m", emit_src=False))
        run_yosys(tmp_path, f"read_verilog {cells}.v\nsynth_ecp5 -top m\n"
                         f"tee -q -o {cells}.json stat -json\n")
        counts[cells] = json.loads((tmp_path / f"{cells}.json").read_text())[
            "modules"]["\\m"]["num_cells_by_type"]
    assert counts["ecp5"] == {"CCU2C": 15}
    assert counts["generic"]["CCU2C"] == 15 and counts["generic"]["LUT4"] > 0


def test_models_for_finds_each_primitive_once():
    text = ("module t;\n  MULT18X18D #(\n  ) dsp (\n  );\n  CCU2C #(.INIT0(1)) c0 ();\n"
            "  CCU2C c1 ();\n  SB_MAC16 \\mac (\n  );\nendmodule\n")
    files = models_for(text)
    assert files[0] == PRIMITIVES / "MULT18X18D.v" and files[0].exists()
    assert [f.name for f in files[1:]] == ["common_sim.vh", "ccu2c_sim.vh", "cells_sim.v"]
    assert all(f.exists() for f in files)
    assert models_for("module t;\n  wire MULT18X18D_x;\nendmodule\n") == ()


@pytest.fixture
def unelaborated():
    """Multipliers made here are only looked at, never elaborated: no warning when they go."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        yield
        gc.collect()


def test_latency_is_the_registers_used(unelaborated):
    assert FabricMultiplier(S(8), S(4), 2).latency == 2
    assert Mult18x18d(S(8), S(4), reg_inputs=True, reg_pipeline=True, reg_output=True).latency == 3
    assert SbMac16x8(S(8), S(8), reg_output=True).latency == 1
    assert PackedMultiplier(cheapest(S(8), S(4), 2, MULT18X18),
                            lambda a, w: Mult18x18d(a, w, reg_inputs=True)).latency == 1
    assert chains(S(8), S(4)) == 3 and chains(S(4), S(8)) == 3 and chains(S(8), S(1)) == 1


@pytest.mark.parametrize("make, message", [
    (lambda: Mult18x18d(S(19), S(8)), "at most 18 bits"),
    (lambda: SbMac16x8(S(8), U(9)), "at most 8 bits"),
    (lambda: SbMac16x8(S(8), S(8), lanes=3), "1 or 2"),
    (lambda: FabricMultiplier(S(8), S(8), -1), "at least 0"),
    (lambda: FabricMultiplier(S(8), S(8), 0, "gowin"), "one of generic, ecp5"),
    (lambda: InferredMultiplier(S(8), S(8), -2), "at least 0"),
])
def test_impossible_multipliers_are_refused(make, message, unelaborated):
    with pytest.raises(ValueError, match=message):
        make()
