"""Sweeps: a grid of configs × targets × seeds, implemented in parallel, cached, resumable.

A sweep file (TOML)::

    kind = "mac"
    devices = ["ice40-up5k", "ecp5-85f"]   # out of context; or boards = [...] for bitstreams
    seeds = [1, 2]                          # optional, default [1]
    freq = 100                              # optional enforced target in MHz (devices only)

    [base]                                  # fields every point shares
    acc = 24

    [grid]                                  # every combination of these lists
    a = ["int8", "int4"]
    w = ["int4", "int2"]

Each point runs :func:`lowbit.flow.implement`, whose results are cached by content hash,
so a repeated or interrupted sweep re-runs only what is missing. Points run in local processes
or, given a scheduler address, on a Dask distributed cluster; a point's task returns its report
(or its failure) as plain data, so workers need no shared filesystem with the client.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from lowbit.boards.steps import FlowError, FlowOptions, Target
from lowbit.cache import atomic_write, digest
from lowbit.config import read_config_file
from lowbit.errors import ConfigError, LowbitError, UsageError
from lowbit.flow import implement, lookup
from lowbit.registry import config_from_dict

KEYS = ("kind", "devices", "boards", "seeds", "freq", "tools", "base", "grid")


@dataclasses.dataclass(frozen=True)
class Point:
    """One implementation of a sweep: a config on a target with a seed."""

    config: dict[str, Any]
    device: str | None
    board: str | None
    seed: int
    freq: float | None
    tools: str

    @property
    def id(self) -> str:
        return digest(self.config, self.device, self.board, self.seed, self.freq)[:12]

    @property
    def target(self) -> str:
        return self.board or self.device

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Sweep:
    name: str
    points: tuple[Point, ...]


def _list(data: dict, key: str, default: list | None = None) -> list:
    value = data.get(key, default)
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise UsageError(f"sweep key {key!r} must be a non-empty list, got {value!r}")
    return value


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file: every point's config is validated before anything runs.

    Parameters
    ----------
    path
        A TOML (or JSON) sweep file: ``kind``, ``devices`` or ``boards``, optional ``seeds``,
        ``freq``, ``tools``, a ``[base]`` table and a ``[grid]`` of lists.

    Returns
    -------
    Sweep
        Every point (config × target × seed), validated.
    """
    path = Path(path)
    data = read_config_file(path)
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise UsageError(f"sweep {path}: unknown key {unknown[0]!r}; allowed: {', '.join(KEYS)}")
    if "kind" not in data:
        raise UsageError(f"sweep {path} has no `kind` key")
    devices, boards = _list(data, "devices"), _list(data, "boards")
    if not devices and not boards:
        raise UsageError(f"sweep {path} names no `devices` (out of context) or `boards`")
    seeds = _list(data, "seeds", [1])
    base, grid = data.get("base", {}), data.get("grid", {})
    if not isinstance(base, dict) or not isinstance(grid, dict):
        raise UsageError(f"sweep {path}: [base] and [grid] must be tables")
    for key in grid:
        _list(grid, key)
    freq, tools = data.get("freq"), data.get("tools", "pypi")
    if boards and freq is not None:
        raise UsageError(f"sweep {path}: `freq` applies to devices only; a board's clock is "
                         "its target")
    options = FlowOptions(freq_mhz=freq, tools=tools)   # checks freq and tools
    targets = [Target.parse(device=d) for d in devices] + [Target.parse(board=b) for b in boards]
    names = list(grid)
    points = []
    for combo in itertools.product(*(grid[k] for k in names)):
        values = {**base, **dict(zip(names, combo))}
        try:
            config = config_from_dict(values, kind=data["kind"])
        except ConfigError as e:
            point = ", ".join(f"{k}={v}" for k, v in zip(names, combo))
            raise ConfigError(e.field, e.value, e.allowed,
                              context=f"sweep {path.name}, point {point}") from None
        for target in targets:
            for seed in seeds:
                points.append(Point(config.to_dict(), None if target.board else target.name,
                                    target.board.name if target.board else None, int(seed),
                                    options.freq_mhz, options.tools))
    return Sweep(path.stem, tuple(points))


def _unpack(point: Point):
    config = config_from_dict(dict(point.config))
    target = Target.parse(device=point.device, board=point.board)
    return config, target, FlowOptions(seed=point.seed, freq_mhz=point.freq, tools=point.tools)


def run_point(point: dict[str, Any], failed_dir: str | None = None) -> dict[str, Any]:
    """Implement one point (in a worker process or on a Dask worker); never raises for a
    failed implementation: the failure is returned as data."""
    p = Point(**point)
    config, target, options = _unpack(p)
    try:
        impl = implement(config, target, options,
                         failed_out=Path(failed_dir) / p.id if failed_dir else None)
    except FlowError as e:
        return {"id": p.id, "status": "failed", "error": e.to_dict()}
    except LowbitError as e:
        return {"id": p.id, "status": "failed", "error": {"step": "setup", "message": str(e),
                                                         "lines": [], "log": None}}
    return {"id": p.id, "status": "ok", "cached": impl.cached, "report": impl.report}


def cached_result(point: Point) -> dict[str, Any] | None:
    """The point's result when the local cache already has it (no worker needed)."""
    impl = lookup(*_unpack(point))
    return impl and {"id": point.id, "status": "ok", "cached": True, "report": impl.report}


def _local(points: list[Point], workers: int, failed_dir: Path) -> Iterator[dict[str, Any]]:
    # Workers start from a clean process (forkserver), not a fork of this one, whose progress
    # bar runs a thread that may hold a lock at the moment of the fork.
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["lowbit.sweep", "lowbit.flow"])
    else:
        context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_point, p.to_dict(), str(failed_dir)): p for p in points}
        try:
            for done in as_completed(futures):
                yield _result(futures[done], done)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _dask(points: list[Point], address: str, failed_dir: Path) -> Iterator[dict[str, Any]]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:   # waits as long as Dask's distributed.comm.timeouts.connect says
        client = Client(address)
    except (OSError, TimeoutError) as e:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    with client:
        futures = {client.submit(run_point, p.to_dict(), str(failed_dir), pure=False,
                                 key=f"lowbit-{p.id}-{os.getpid()}"): p for p in points}
        try:
            for done in dask_completed(futures):
                yield _result(futures[done], done)
        except BaseException:
            client.cancel(list(futures))
            raise


def _result(point: Point, future) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as e:  # the worker itself died or could not run the task
        return {"id": point.id, "status": "failed",
                "error": {"step": "worker", "message": f"{type(e).__name__}: {e}", "lines": [],
                          "log": None}}


def run_sweep(sweep: Sweep, out: Path, *, workers: int | None = None,
              scheduler: str | None = None,
              on_result: Callable[[Point, dict[str, Any]], None] = lambda p, r: None
              ) -> list[tuple[Point, dict[str, Any]]]:
    """Run every point (cached ones without a worker); write each report as it arrives and
    ``sweep.json`` (the status of every point) at the end, even when interrupted.

    Parameters
    ----------
    sweep
        The points, from :func:`load_sweep`.
    out
        The output directory: ``reports/<point>.json``, ``sweep.json``, ``failed/<point>/``.
    workers
        Local worker processes (default: one per CPU).
    scheduler
        A Dask distributed scheduler's address (``tcp://host:8786``) to run the points on.
    on_result
        Called with each point and its result as it arrives.

    Returns
    -------
    list of (Point, dict)
        Every point with its result: ``{"status": "ok", "report": ...}`` or the failure's step,
        message and log.
    """
    out = Path(out)
    by_id = {p.id: p for p in sweep.points}
    results: dict[str, dict[str, Any]] = {}

    def record(point: Point, result: dict[str, Any]) -> None:
        results[point.id] = result
        if result["status"] == "ok":
            file = out / "reports" / f"{point.id}.json"
            report = {k: v for k, v in result["report"].items() if k != "path"}
            atomic_write(file, json.dumps(report, indent=2) + "\n")
            result["report"] = {**report, "path": str(file)}
        on_result(point, result)

    try:
        todo = []
        for point in sweep.points:
            hit = cached_result(point)
            if hit:
                record(point, hit)
            else:
                todo.append(point)
        if todo:
            failed_dir = (out / "failed").absolute()
            stream = (_dask(todo, scheduler, failed_dir) if scheduler else
                      _local(todo, workers or os.cpu_count() or 1, failed_dir))
            for result in stream:
                record(by_id[result["id"]], result)
    finally:
        summary = [{"id": p.id, "target": p.target, "seed": p.seed, "config": p.config,
                    **{k: v for k, v in results.get(p.id, {"status": "not run"}).items()
                       if k != "report"},
                    **({"report": f"reports/{p.id}.json"} if p.id in results
                       and results[p.id]["status"] == "ok" else {})}
                   for p in sweep.points]
        atomic_write(out / "sweep.json", json.dumps({"name": sweep.name, "points": summary},
                                                    indent=2) + "\n")
    return [(p, results[p.id]) for p in sweep.points]
