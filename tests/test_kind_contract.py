"""The one contract every core kind keeps (docs/design.md): a validated config, a generator that
elaborates, a golden model, a performance model, a beat layout whose runs drive exactly the
core's streams and parameters, a testbench and a board self-test, all by the kind's name."""

import importlib

import numpy as np
import pytest

from lowbit.hw.generators import GENERATORS, build
from lowbit.hw.interface import CoreInterface, payload_layouts
from lowbit.hw.verilog import generate
from lowbit.kinds.kind import CoreKind
from lowbit.models.perf import GemmShape
from lowbit.models.tiling import Tiler
from lowbit.registry import get_kind, kinds
from lowbit.sim.testbenches import TESTBENCHES

KINDS = sorted(kinds())


def test_every_layer_knows_every_kind():
    assert set(GENERATORS) == set(TESTBENCHES) == set(KINDS)


@pytest.mark.parametrize("name", KINDS)
def test_kind_record(name):
    kind = get_kind(name)
    assert isinstance(kind, CoreKind) and kind.name == name == kind.config.KIND
    assert kind.summary and callable(kind.golden) and issubclass(kind.tiler, Tiler)
    config = kind.config()
    assert kind.config.from_dict(config.to_dict()) == config
    importlib.import_module(TESTBENCHES[name])


@pytest.mark.parametrize("name", KINDS)
def test_generator_elaborates_and_ports_match_the_tiler(name):
    kind = get_kind(name)
    config = kind.config()
    core = generate(config)
    iface = CoreInterface.from_manifest(core.manifest)
    assert iface.results and len(iface.results) == 1
    plan = kind.selftest(config)
    tiler = kind.tiler_for(config, **plan.runtime)
    (run,) = tiler.runs(plan.shape)
    assert set(run.params) == {p.name for p in iface.params}
    operands = tiler.padded(tiler.random(np.random.default_rng(0), plan.shape))
    beats = tiler.beats(run, operands)
    assert set(beats) == {s.name for s in iface.inputs}
    layouts = payload_layouts(build(config))
    assert set(layouts) == {s.name for s in iface.streams}
    golden = tiler.gather(run, tiler.golden(operands))
    count = len(next(iter(golden.values()))) if isinstance(golden, dict) else len(golden)
    assert count == tiler.result_beats(run)


@pytest.mark.parametrize("name", KINDS)
def test_performance_model(name):
    kind = get_kind(name)
    config = kind.config()
    perf = kind.perf_model(config)
    shape = GemmShape(5, 7, 2 * config.k_max // 3 or 1) if name != "blockdot" else \
        GemmShape(5, 7, 64)
    assert perf.peak_macs_per_cycle > 0 and perf.storage_bits > 0
    cycles = perf.gemm_cycles(shape)
    assert cycles * perf.peak_macs_per_cycle >= shape.macs, "faster than the peak rate"
