"""The content-hash cache: hits, atomic entries, interrupted builds leave nothing."""

import pytest

from lowbit.cache import atomic_write, cache_root, cached_dir, digest


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOWBIT_CACHE", str(tmp_path / "cache"))


def test_build_once_then_hit():
    calls = []

    def build(tmp):
        calls.append(tmp)
        (tmp / "out").write_text("x")

    key = digest("thing", 1)
    path, hit = cached_dir("things", key, build)
    assert not hit and (path / "out").read_text() == "x"
    path2, hit2 = cached_dir("things", key, build)
    assert hit2 and path2 == path and len(calls) == 1


def test_interrupted_build_leaves_no_entry():
    def build(tmp):
        (tmp / "half").write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached_dir("things", "k1", build)
    assert list((cache_root() / "things").iterdir()) == []


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write(target, "old")

    with pytest.raises(TypeError):      # neither text nor bytes: the write fails midway
        atomic_write(target, object())
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_digest_is_order_independent_for_dicts():
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert digest("a", 1) != digest("a", 2)


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write(target, "x")
    (tmp_path / "plain.txt").write_text("x")
    assert target.stat().st_mode == (tmp_path / "plain.txt").stat().st_mode


def test_a_killed_builders_temporary_directory_is_cleaned_up():
    """A builder killed mid-build (SIGKILL: no cleanup) leaves its temporary directory; the next
    build of that key deletes it, and leaves a live builder's alone."""
    import os
    import subprocess

    from lowbit.cache import _tmp_prefix

    dead = subprocess.Popen(["true"])
    dead.wait()
    folder = cache_root() / "things"
    folder.mkdir(parents=True)
    orphan = folder / f"{_tmp_prefix('k2')}{dead.pid}.abc.tmp"
    alive = folder / f"{_tmp_prefix('k2')}{os.getpid()}.def.tmp"
    for d in (orphan, alive):
        d.mkdir()
        (d / "half").write_text("x")
    path, hit = cached_dir("things", "k2", lambda tmp: (tmp / "out").write_text("y"))
    assert not hit and (path / "out").read_text() == "y"
    assert not orphan.exists() and alive.exists()
