"""Sweeps: the grid, validation before anything runs, failed points recorded while the rest go
on, interrupted sweeps resuming from the cache, and the same sweep on a local Dask cluster."""

import csv
import json

import pytest

from lowbit.errors import ConfigError, UsageError
from lowbit.sweep import load_sweep, run_sweep


def _write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


GRID = '''kind = "mac"
devices = ["ice40-up5k"]
[base]
acc = 10
[grid]
a = ["int2", "int3"]
w = ["int2", "uint3"]
'''


def test_grid_expansion(tmp_path):
    sweep = load_sweep(_write(tmp_path, GRID.replace('["ice40-up5k"]', '["ice40-up5k", "ecp5-25f"]')
                              + "\n", "g.toml"))
    assert len(sweep.points) == 8 and sweep.name == "g"
    assert {p.config["a"] for p in sweep.points} == {"int2", "int3"}
    assert {p.target for p in sweep.points} == {"ice40-up5k", "ecp5-25f"}
    assert all(p.config["acc"] == 10 for p in sweep.points)
    assert len({p.id for p in sweep.points}) == 8
    seeded = load_sweep(_write(tmp_path, GRID.replace("[base]", "seeds = [1, 2, 3]\n[base]")))
    assert len(seeded.points) == 12


@pytest.mark.parametrize("text,error,message", [
    ("colour = 1\n" + GRID, UsageError, "unknown key 'colour'"),
    (GRID.replace('kind = "mac"\n', ""), UsageError, "has no `kind` key"),
    (GRID.replace('devices = ["ice40-up5k"]\n', ""), UsageError, "names no `devices`"),
    (GRID.replace('["ice40-up5k"]', '"ice40-up5k"'), UsageError,
     "'devices' must be a non-empty list"),
    (GRID.replace('["ice40-up5k"]', '["ice40-up9k"]'), ConfigError, "device='ice40-up9k'"),
    (GRID.replace("acc = 10", "acc = 5"), ConfigError, "point a=int3, w=uint3: acc=5"),
    (GRID.replace('devices = ["ice40-up5k"]', 'boards = ["icebreaker"]\nfreq = 30'), UsageError,
     "`freq` applies to devices only"),
])
def test_bad_sweep_files(tmp_path, text, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_sweep(_write(tmp_path, text))


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))


def test_interrupted_sweep_resumes(tmp_path, private_cache):
    sweep = load_sweep(_write(tmp_path, GRID.replace('"uint3"', '"uint3", "int4"')
                                         .replace('"int3"]', '"int3", "int4"]')))
    seen = []

    def interrupt(point, result):
        seen.append(result)
        raise KeyboardInterrupt

    # One worker, interrupted at the first result: the point in progress and the two in the
    # executor's call queue still finish, and the worker may run ahead of this process by a few
    # more on a loaded machine, so of the nine points some are always left for the resume.
    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, tmp_path / "out", workers=1, on_result=interrupt)
    summary = json.loads((tmp_path / "out" / "sweep.json").read_text())["points"]
    assert sum(p["status"] == "ok" for p in summary) == 1
    assert sum(p["status"] == "not run" for p in summary) == 8
    results = run_sweep(sweep, tmp_path / "out", workers=2)
    assert all(r["status"] == "ok" for _, r in results)
    cached = {p.id for p, r in results if r["cached"]}
    assert {r["id"] for r in seen} <= cached        # finished before the interrupt: not re-run
    assert len(cached) < len(results)
    again = run_sweep(sweep, tmp_path / "out", workers=2)
    assert all(r["cached"] for _, r in again)
    assert len(list((tmp_path / "out" / "reports").glob("*.json"))) == 9


def test_failed_point_is_recorded_and_the_rest_go_on(cli, tmp_path):
    # An enforced 70 MHz target: the MAC makes it on ECP5 (~100 MHz), not on the UP5K (~45).
    path = _write(tmp_path, 'kind = "mac"\ndevices = ["ice40-up5k", "ecp5-85f"]\nfreq = 70\n'
                            '[base]\nacc = 24\n[grid]\na = ["int8"]\nw = ["int4"]\n')
    code, out, _ = cli("sweep", path, "-o", tmp_path / "out", "-j", "2")
    assert code == 1 and "1 of 2 points failed" in out
    assert "failed ice40-up5k" in out and "timing" in out
    points = {p["target"]: p for p in
              json.loads((tmp_path / "out" / "sweep.json").read_text())["points"]}
    assert points["ecp5-85f"]["status"] == "ok"
    failed = points["ice40-up5k"]
    assert failed["status"] == "failed" and failed["error"]["step"] == "timing"
    assert failed["error"]["log"].endswith("nextpnr.log")
    assert (tmp_path / "out" / "failed").is_dir()
    rows = list(csv.DictReader((tmp_path / "out" / "compare.csv").open()))
    assert [r["device"] for r in rows] == ["ecp5-85f"]


def test_sweep_on_a_local_dask_cluster(cli, tmp_path, private_cache):
    from distributed import LocalCluster

    path = _write(tmp_path, GRID)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        code, out, _ = cli("sweep", path, "-o", tmp_path / "out", "--scheduler",
                           cluster.scheduler_address)
    assert code == 0, out
    assert "4 points on Dask scheduler tcp://" in out and "4 run, 0 cached, 0 failed" in out
    summary = json.loads((tmp_path / "out" / "sweep.json").read_text())["points"]
    assert [p["status"] for p in summary] == ["ok"] * 4
    assert not any(p["cached"] for p in summary)
    rows = list(csv.DictReader((tmp_path / "out" / "compare.csv").open()))
    assert sorted(r["config"] for r in rows) == sorted(
        ["a=int2 w=int2", "a=int2 w=uint3", "a=int3 w=int2", "a=int3 w=uint3"])
    assert all(float(r["fmax_mhz"]) > 0 and int(r["luts"]) > 0 for r in rows)
    assert (tmp_path / "out" / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = cli("sweep", path, "-o", tmp_path / "out")   # warm: no cluster needed
    assert code == 0 and "0 run, 4 cached" in out


def test_unreachable_scheduler(cli, tmp_path, private_cache):
    path = _write(tmp_path, GRID.replace('["int2", "int3"]', '["int2"]').replace(
        '["int2", "uint3"]', '["int2"]'))
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code, _, err = cli("sweep", path, "-o", tmp_path / "out", "--scheduler",
                           "tcp://127.0.0.1:9")
    assert code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in err
