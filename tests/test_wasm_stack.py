"""The launcher that gives YoWASP's Yosys a deeper Wasm stack (``lowbit.wasm_stack``)."""

from __future__ import annotations

import subprocess

import pytest
import wasmtime

from lowbit.tools import require_tool
from lowbit.wasm_stack import deepen_wasm_stacks

#: a function that recurses ``n`` deep and returns ``n``
RECURSE = """(module (func $f (export "f") (param i32) (result i32)
  (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $f (i32.sub (local.get 0) (i32.const 1))))))))"""
#: deeper than wasmtime's default 512 KiB of stack allows, within the launcher's limit
DEPTH = 80_000


def recurses(depth: int) -> bool:
    engine = wasmtime.Engine(wasmtime.Config())
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, RECURSE), [])
    try:
        return instance.exports(store)["f"](store, depth) == depth
    except wasmtime.Trap as e:
        assert "call stack exhausted" in str(e)
        return False


def test_deepened_engines_run_a_recursion_the_default_stack_cannot(monkeypatch):
    monkeypatch.setattr(wasmtime.Config, "__init__", wasmtime.Config.__init__)  # undone after
    assert not recurses(DEPTH)
    deepen_wasm_stacks()
    assert recurses(DEPTH)


def test_pypi_yosys_runs_through_the_launcher():
    yosys = require_tool("yosys", "pypi")
    if not yosys.source.startswith("PyPI"):
        pytest.skip("no PyPI Yosys")
    assert yosys.command[1:3] == ("-m", "lowbit.wasm_stack")
    done = subprocess.run([*yosys.command, "-V"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("Yosys ")
