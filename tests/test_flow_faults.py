"""Faults injected into the flow: a tool killed mid-run, a damaged cache entry, a full disk while
the report is written, a Dask worker lost mid-sweep. Each leaves no report that claims success,
and the next run recovers. (An interrupted sweep resuming: tests/test_flow_sweep.py.)"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import threading
import time

import pytest

import lowbit.cache
import lowbit.flow as flow
from lowbit.boards import report as rpt
from lowbit.boards import steps
from lowbit.boards.steps import FlowError, FlowOptions, Target
from lowbit.cache import cache_root
from lowbit.registry import get_kind

TARGET = Target.parse(device="ice40-up5k")


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def config():
    return get_kind("mac").config.from_dict({"a": "int3", "w": "int2", "acc": 8})


@pytest.fixture
def fake_flow(monkeypatch):
    """The tool steps replaced by a report made up on the spot (the faults here are in the
    cache and the report writing, not in the tools); counts the runs."""
    runs = []

    def fake(run, config, core, target, options):
        runs.append(config.name)
        return {"schema": rpt.SCHEMA, "status": "ok", "name": core.name, "kind": config.KIND,
                "config": config.to_dict(), "resources": {"luts": 1}, "filler": "x" * 4000}

    monkeypatch.setattr(flow, "_implement", fake)
    return runs


def _leftovers(cache) -> list[str]:
    """Temporary or discarded entries left in the cache's impl folder."""
    folder = cache / flow.CACHE_CATEGORY
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if \
        folder.is_dir() else []


def test_truncated_cached_report_is_discarded_and_run_again(private_cache, config, fake_flow,
                                                             tmp_path):
    first = flow.implement(config, TARGET)
    entry = first.path
    text = (entry / rpt.REPORT_FILE).read_text()
    (entry / rpt.REPORT_FILE).write_text(text[: len(text) // 2])     # damaged after the fact
    assert flow.lookup(config, TARGET) is None                       # not taken as a result
    assert not entry.exists() and _leftovers(private_cache) == []
    again = flow.implement(config, TARGET, out=tmp_path / "out")
    assert not again.cached and len(fake_flow) == 2
    assert json.loads((tmp_path / "out" / rpt.REPORT_FILE).read_text())["status"] == "ok"
    (entry / rpt.REPORT_FILE).unlink()                               # a deleted report too
    third = flow.implement(config, TARGET)
    assert not third.cached and len(fake_flow) == 3 and third.report["status"] == "ok"


def test_full_disk_while_writing_the_report(private_cache, config, fake_flow, monkeypatch,
                                            tmp_path):
    real_fdopen = os.fdopen

    class FullDisk:
        """A file that takes half of what it is given, then reports ENOSPC."""

        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(lowbit.cache.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd,
                                                                                   mode)))
    out = tmp_path / "out"
    out.mkdir()
    (out / rpt.REPORT_FILE).write_text("{}")      # an old report in the output folder
    with pytest.raises(FlowError, match="report failed: cannot write report.json: No space "
                                        "left on device"):
        flow.implement(config, TARGET, out=out)
    assert not (out / rpt.REPORT_FILE).exists()                 # the old one is gone too
    assert flow.lookup(config, TARGET) is None
    assert _leftovers(private_cache) == []                      # no temporary entry left
    assert list(private_cache.rglob("*.tmp")) == []
    monkeypatch.setattr(lowbit.cache.os, "fdopen", real_fdopen)   # the disk has room again
    impl = flow.implement(config, TARGET, out=out)
    assert not impl.cached and impl.report["status"] == "ok"
    assert json.loads((out / rpt.REPORT_FILE).read_text())["status"] == "ok"


def test_tool_killed_mid_run_leaves_no_report_and_the_next_run_recovers(private_cache, config,
                                                                       monkeypatch, tmp_path):
    """nextpnr really starts and is killed with SIGKILL while it loads (a tiny design places
    and routes in under a second, so a later kill could find it finished)."""
    real_run = subprocess.run
    killed = []

    def run(argv, **kwargs):     # only the place and route (not, say, `nextpnr --version`)
        if not (any("nextpnr" in str(a) for a in argv[:2]) and "--json" in argv):
            return real_run(argv, **kwargs)
        proc = subprocess.Popen(argv, **kwargs)
        time.sleep(0.05)
        assert proc.poll() is None, "nextpnr finished before the test could kill it"
        proc.send_signal(signal.SIGKILL)
        killed.append(proc.wait())
        return subprocess.CompletedProcess(argv, proc.returncode)

    monkeypatch.setattr(steps.subprocess, "run", run)
    options = FlowOptions(seed=5)
    with pytest.raises(FlowError, match=r"pnr failed: nextpnr-ice40 was killed by signal 9 "
                                        r"\(SIGKILL\) before it finished") as info:
        flow.implement(config, TARGET, options, out=tmp_path / "run")
    assert killed == [-signal.SIGKILL]
    assert info.value.log == tmp_path / "run" / "nextpnr.log"
    assert (tmp_path / "run" / "yosys.log").is_file()
    assert not (tmp_path / "run" / rpt.REPORT_FILE).exists()
    assert flow.lookup(config, TARGET, options) is None and _leftovers(private_cache) == []
    monkeypatch.setattr(steps.subprocess, "run", real_run)
    impl = flow.implement(config, TARGET, options, out=tmp_path / "run")
    assert not impl.cached and impl.report["clocks"]
    assert (tmp_path / "run" / rpt.REPORT_FILE).is_file()


def test_dask_worker_lost_mid_sweep(private_cache, tmp_path):
    """A worker process running a point is killed (SIGKILL); the scheduler gives the point to
    another worker, and every report the sweep writes is a finished one."""
    from distributed import Client, LocalCluster

    from lowbit.sweep import load_sweep, run_sweep

    path = tmp_path / "s.toml"
    path.write_text('kind = "mac"\ndevices = ["ice40-up5k"]\n[base]\nacc = 8\n'
                    '[grid]\na = ["int3"]\nw = ["int2"]\n')
    sweep = load_sweep(path)
    out = tmp_path / "out"
    done: dict = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        thread = threading.Thread(target=lambda: done.update(results=run_sweep(
            sweep, out, scheduler=cluster.scheduler_address)))
        thread.start()
        victim = None
        for _ in range(600):
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                victim = busy[0]
                break
            time.sleep(0.1)
        assert victim, "no worker ever took the point"
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        thread.join(timeout=900)
        assert not thread.is_alive()
    [(point, result)] = done["results"]
    summary = json.loads((out / "sweep.json").read_text())["points"]
    if result["status"] == "ok":          # rescheduled and finished elsewhere
        report = json.loads((out / "reports" / f"{point.id}.json").read_text())
        assert report["status"] == "ok" and report["clocks"]
        assert summary[0]["status"] == "ok"
    else:                                 # given up: recorded as failed, no report
        assert result["error"]["step"] == "worker"
        assert not (out / "reports" / f"{point.id}.json").exists()
        again = run_sweep(sweep, out, workers=1)
        assert again[0][1]["status"] == "ok"
    assert list(cache_root().rglob("*.tmp")) == []
