"""Every kind's beat layout: runs fit a capacity, cover every output exactly once, and the
performance model counts cycles from those same runs."""

import numpy as np
import pytest

from lowbit.models.perf import GemmShape
from lowbit.models.tiling import ceil_div
from lowbit.registry import config_from_dict, get_kind

CONFIGS = [
    {"kind": "mac", "a": "int8", "w": "int4", "acc": 20},
    {"kind": "systolic", "rows": 3, "cols": 4, "dataflow": "ws", "depth": 8, "acc": 20},
    {"kind": "systolic", "rows": 4, "cols": 2, "dataflow": "os", "acc": 20},
    {"kind": "lut", "g": 3, "tables": 2, "cols": 5},
    {"kind": "bitserial", "lanes": 3, "cols": 2, "scale": "pow2"},
    {"kind": "fmac", "a": "fp8_e4m3,int8", "w": "fp4_e2m1"},
    {"kind": "fusion"},
    {"kind": "blockdot", "a": "mxfp4", "w": "mxfp4", "lanes": 8},
    {"kind": "blockdot", "a": "nvfp4", "w": "nvfp4", "lanes": 4, "output": "block"},
]
SHAPES = [(1, 1, 1), (10, 9, 20), (33, 5, 31), (2, 17, 7)]


def _shape(config, m, n, k):
    block = getattr(config, "block", 1)
    return GemmShape(m, n, ceil_div(k, block) * block)


@pytest.mark.parametrize("values", CONFIGS, ids=lambda v: "-".join(map(str, v.values())))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("capacity", [None, 64])
def test_runs_fit_the_capacity_and_cover_every_output_once(values, shape, capacity):
    config = config_from_dict(values)
    kind = get_kind(config.KIND)
    tiler = kind.tiler_for(config, capacity=capacity)
    shape = _shape(config, *shape)
    if capacity and shape.k > tiler.max_k():
        shape = _shape(config, shape.m, shape.n, tiler.max_k())
    operands = tiler.padded(tiler.random(np.random.default_rng(1), shape))
    rows, cols = tiler.result_shape(tiler.padded_shape(shape))
    hits = np.zeros((rows, cols), dtype=int)
    for run in tiler.runs(shape):
        for beats in tiler.beats(run, operands).values():
            count = len(next(iter(beats.values()))) if isinstance(beats, dict) else len(beats)
            assert capacity is None or count <= capacity
        assert capacity is None or tiler.result_beats(run) <= capacity
        r, c = tiler.result_index(run)
        np.add.at(hits, (r, c), 1)
    m, n = tiler.result_shape(shape)
    assert (hits[:m, :n] == 1).all()


@pytest.mark.parametrize("values", CONFIGS, ids=lambda v: "-".join(map(str, v.values())))
def test_golden_results_gather_and_place_back(values):
    """gather (self-test) is the inverse of place (testbench, host) on the golden results."""
    config = config_from_dict(values)
    tiler = get_kind(config.KIND).tiler_for(config)
    shape = _shape(config, 5, 6, 9)
    operands = tiler.padded(tiler.random(np.random.default_rng(2), shape))
    want = tiler.golden(operands)
    out = ({k: np.zeros_like(np.asarray(v), dtype=object) for k, v in want.items()}
           if isinstance(want, dict) else np.zeros(np.shape(want), dtype=object))
    for run in tiler.runs(shape):
        tiler.place(run, tiler.gather(run, want), out)
    for got, exp in ((out[k], want[k]) for k in want) if isinstance(want, dict) else [(out, want)]:
        assert (np.asarray(got, dtype=object) == np.asarray(exp, dtype=object)).all()
