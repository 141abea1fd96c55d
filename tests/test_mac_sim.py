"""The ``mac`` core in simulation, bit-exact against its golden model.

Each config is one cached Verilator build running every cocotb test of ``lowbit.sim.tb_mac``
(full-rate GEMM with cycle check, random operands with back-pressure, extreme values, overflow
runs, clear/restart).
"""

import shutil
from pathlib import Path

import pytest

from lowbit.kinds.mac import MacConfig
from lowbit.models.mac import MacPerf
from lowbit.models.perf import GemmShape
from lowbit.sim import runner
from lowbit.simulate import simulate
from lowbit.tools import require_tool

CONFIGS = [
    MacConfig(a="int8", w="int4", acc=24),
    MacConfig(a="int3", w="uint5", acc=12, overflow="saturate"),
    MacConfig(a="int16", w="int16", acc=40, in_reg=True, mul_reg=True),
    MacConfig(a="uint8", w="uint8", acc=18, overflow="saturate", mul_reg=True),
    MacConfig(a="int1", w="int1", acc=2, overflow="wrap", k_bits=4),
    MacConfig(a="uint1", w="int16", acc=17, overflow="saturate", in_reg=True, k_bits=8),
]
#: one config per new multiplier choice (lowbit.hw.mul), bit- and cycle-exact like the others
MUL_CONFIGS = [
    MacConfig(a="int8", w="int4", acc=24, mul="lut"),
    MacConfig(a="uint8", w="int8", acc=20, mul="lut", family="ecp5", mul_stages=2, in_reg=True,
              overflow="saturate"),
    MacConfig(a="int16", w="int16", acc=40, mul="dsp", family="ecp5", in_reg=True, mul_reg=True),
    MacConfig(a="int4", w="uint3", acc=10, mul="dsp", family="ecp5", mul_reg=True),
    MacConfig(a="int8", w="uint8", acc=20, mul="dsp", family="ice40", in_reg=True, mul_reg=True,
              overflow="saturate"),
]
EXPECTED_TESTS = {"gemm_full_rate", "random_with_backpressure", "corner_values",
                  "overflow_runs", "clear_and_restart"}


@pytest.mark.parametrize("config", CONFIGS + MUL_CONFIGS, ids=lambda c: c.name)
def test_mac_bit_exact(config, tmp_path):
    shape = GemmShape(3, 5, min(21, (1 << config.k_bits) - 1))
    result = simulate(config, run_dir=tmp_path, seed=7,
                      options={"gemm": [shape.m, shape.n, shape.k]})
    assert {o.name for o in result.run.outcomes} == EXPECTED_TESTS
    assert result.passed, "\n".join(result.run.failures) + f"\nlog: {result.run.log}"
    records = {r["test"]: r for r in result.run.records}
    assert records["gemm_full_rate"]["cycles"] == MacPerf(config).gemm_cycles(shape)
    if config.overflow == "saturate" or config.acc <= 24:
        assert records["overflow_runs"]["overflowed"] > 0, "the overflow test never overflowed"


def test_second_run_does_not_rebuild(tmp_path):
    config = CONFIGS[0]
    simulate(config, run_dir=tmp_path / "a")
    again = simulate(config, run_dir=tmp_path / "b", testcase="corner_values")
    assert again.build.cached and again.core.cached and again.passed


def test_verilator_runtime_library_comes_from_the_shared_cache():
    """Every compile of Verilator's run-time library goes through lowbit.sim.objcache and lands
    in one content-addressed entry that the next design's build reuses."""
    from lowbit.cache import cache_root
    from lowbit.hw.verilog import generate
    from lowbit.sim import objcache

    core = generate(CONFIGS[0])
    build = runner.build(core.verilog + "\n// a design of its own: a fresh build\n", core.name)
    lines = [line.split() for line in (build.path / "build.log").read_text().splitlines()]
    runtime = [argv[3:] for argv in lines if argv[2:3] == ["lowbit.sim.objcache"]
               and objcache._runtime_source(argv[3:])]
    assert {objcache._runtime_source(argv)[0].name for argv in runtime} >= {
        "verilated.cpp", "verilated_vpi.cpp"}
    for argv in runtime:
        source, out = objcache._runtime_source(argv)
        entry = cache_root() / "verilator-runtime" / objcache._key(argv, source)
        assert (entry / out.name).stat().st_size > 0
    # the design's compiles (its code, cocotb's main) each found their precompiled header
    design = [objcache._design_compile(argv[3:]) for argv in lines
              if argv[2:3] == ["lowbit.sim.objcache"] and not objcache._runtime_source(argv[3:])]
    assert {Path(argv[-1]).name for argv in lines if argv[2:3] == ["lowbit.sim.objcache"]} >= {
        "Vtop__ALL.cpp", "verilator.cpp"} and all(design)
    for flags, include in design:
        entry = cache_root() / "verilator-pch" / objcache._pch_key(flags, include)
        assert (entry / f"{objcache.PCH}.gch").stat().st_size > 0


def test_objcache_passes_design_compiles_through():
    from lowbit.sim.objcache import _design_compile, _runtime_source

    assert _runtime_source(["c++", "-Os", "-c", "-o", "Vtop__ALL.o", "Vtop__ALL.cpp"]) is None
    assert _runtime_source(["c++", "-E", "x.cpp"]) is None
    include = Path(dict(require_tool("verilator").env)["VERILATOR_ROOT"]) / "include"
    argv = ["c++", "-O0", "-I.", "-MMD", f"-I{include}", "-DVM_TRACE=0", "-c", "-o",
            "Vtop__ALL.o", "Vtop__ALL.cpp"]
    assert _design_compile(argv) == (["c++", "-O0", "-I.", f"-I{include}", "-DVM_TRACE=0"],
                                     include)
    assert _design_compile(["c++", "-I.", "-c", "-o", "x.o", "x.cpp"]) is None  # not Verilator
    assert _design_compile(["c++", "-E", f"-I{include}", "x.cpp"]) is None


@pytest.mark.skipif(shutil.which("iverilog") is None,
                    reason="Icarus is optional: apt-get install iverilog")
def test_icarus_agrees(tmp_path):
    result = simulate(CONFIGS[1], simulator="icarus", run_dir=tmp_path)
    assert result.passed, "\n".join(result.run.failures)


def test_waves_are_written(tmp_path):
    """Waves of one run through both paths: a per-beat protocol test on the core's own ports
    and the bulk GEMM through the harness's rings."""
    result = simulate(CONFIGS[0], waves=True, run_dir=tmp_path,
                      testcase=["clear_and_restart", "gemm_full_rate"])
    assert result.passed and len(result.run.outcomes) == 2 and result.run.waves is not None
    assert result.run.waves.stat().st_size > 0
    if result.run.waves.suffix == ".vcd":       # FST is compressed; VCD names its scopes
        head = result.run.waves.read_text(errors="replace")[:200_000]
        assert result.harness.name in head and "bulk__done" in head and "$scope module core" in head
