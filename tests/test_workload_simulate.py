"""``lowbit workload ... --simulate LAYER``: one real layer's GEMM through the RTL, bit-exact.

The testbench side is ``simulate(config, options={"operands": NPZ}, testcase="gemm_tiled")``
with ``a`` (M×K) and ``w`` (K×N) as integer values of the config's formats. The Lowbit side (the
.npz, the options, the checks on the run) is tested against a stand-in simulator, and one layer
end to end through the RTL.
"""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from tiny_bert import write_tiny_bert

import lowbit.workload
from lowbit.errors import SimulationError, UsageError
from lowbit.models.bert import Bert
from lowbit.registry import config_from_dict
from lowbit.workload import layer_operands, reference, rules_for, simulate_layer

CORE = {"kind": "systolic", "rows": 4, "cols": 4, "a": "int8", "w": "int4", "acc": 24,
        "k_bits": 10, "depth": 64}
LAYER = "encoder.layer.1.output.dense"
SENTENCE = "The cat sat on the warm mat."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def operands(model_dir):
    model = Bert.load(model_dir)
    config = config_from_dict(CORE)
    return layer_operands(model, config, rules_for(config), reference(model, [SENTENCE]), LAYER,
                          SENTENCE)


def _fake_simulate(calls, gemm=None, passed=True):
    def simulate(config, **kw):
        calls.append((config, kw))
        with np.load(kw["options"]["operands"]) as f:
            shape = f"{f['a'].shape[0]}x{f['w'].shape[1]}x{f['a'].shape[1]}"
        record = {"test": "gemm_tiled", "gemm": gemm or shape, "cycles": 123}
        return SimpleNamespace(passed=passed, run=SimpleNamespace(records=[record], log="log"))
    return simulate


def test_operands_reach_the_testbench_as_stated(operands, tmp_path, monkeypatch):
    config = config_from_dict(CORE)
    calls = []
    monkeypatch.setattr(lowbit.workload, "simulate", _fake_simulate(calls))
    monkeypatch.setattr("lowbit.workload.operands_supported", lambda c: True)
    result = simulate_layer(config, operands, tmp_path)
    ((cfg, kw),) = calls
    assert cfg is config and kw["testcase"] == "gemm_tiled"
    with np.load(kw["options"]["operands"]) as f:
        a, w = f["a"], f["w"]
    assert a.dtype == w.dtype == np.int64
    assert a.shape == (operands.a.shape[0], 64) and w.shape == (64, 32)
    assert a.min() >= -128 and a.max() <= 127 and w.min() >= -8 and w.max() <= 7
    np.testing.assert_array_equal(a, operands.a)
    assert result.passed and result.cycles == 123 and result.model_cycles > 0
    # a testbench that ran some other GEMM did not use the operands
    monkeypatch.setattr(lowbit.workload, "simulate", _fake_simulate([], gemm="1x1x1"))
    with pytest.raises(SimulationError, match="ignored the operands"):
        simulate_layer(config, operands, tmp_path)


def test_refusals(operands, model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("lowbit.workload.operands_supported", lambda c: False)
    with pytest.raises(UsageError, match="takes no given operands"):
        simulate_layer(config_from_dict(CORE), operands, tmp_path)
    with pytest.raises(UsageError, match="K must be at most 31"):
        simulate_layer(config_from_dict({**CORE, "k_bits": 5}), operands, tmp_path)
    model = Bert.load(model_dir)
    block = config_from_dict({"kind": "blockdot", "a": "mxfp8_e4m3", "w": "mxfp4"})
    with pytest.raises(UsageError, match="does not take integers"):
        layer_operands(model, block, rules_for(block), reference(model, [SENTENCE]), LAYER,
                       SENTENCE)
    assert not list(tmp_path.iterdir())   # nothing written


def test_simulate_one_layer_bit_exact(cli, model_dir, tmp_path):
    core = tmp_path / "core.toml"
    core.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in CORE.items()))
    code, text, err = cli("workload", model_dir, "--config", core, "--simulate", LAYER,
                          "-o", tmp_path / "out")
    assert code == 0, err
    assert "bit-exact" in text
    (sim,) = json.loads((tmp_path / "out" / "workload.json").read_text())["simulate"]
    assert sim["passed"] and sim["cycles"] == sim["model_cycles"]
