"""Dependencies point one way (docs/design.md): every import of every module, at top level or inside
a function, goes to its own layer or one below. ``if TYPE_CHECKING:`` imports are exempt.

Layers, bottom to top; ``host`` and ``boards`` are peers that do not import each other::

    base       lowbit.errors, lowbit.cache, lowbit.tools, lowbit.wasm_stack
    models     lowbit.models
    kinds      lowbit.config, lowbit.registry, lowbit.kinds
    hw         lowbit.hw
    host       lowbit.host        boards   lowbit.boards
    sim        lowbit.sim
    pipelines  lowbit.simulate, lowbit.flow, lowbit.sweep, lowbit.compare, lowbit.workload,
               lowbit.fit
    commands   lowbit.commands, lowbit.cli
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ("base", ("lowbit.errors", "lowbit.cache", "lowbit.tools", "lowbit.wasm_stack")),
    ("models", ("lowbit.models",)),
    ("kinds", ("lowbit.config", "lowbit.registry", "lowbit.kinds")),
    ("hw", ("lowbit.hw",)),
    ("host", ("lowbit.host",)),
    ("boards", ("lowbit.boards",)),
    ("sim", ("lowbit.sim",)),
    ("pipelines", ("lowbit.simulate", "lowbit.flow", "lowbit.sweep", "lowbit.compare",
                   "lowbit.workload", "lowbit.fit")),
    ("commands", ("lowbit.commands", "lowbit.cli")),
]
#: layers on one level: neither may import the other
PEERS = {"host": "boards", "boards": "host"}
RANK = {"base": 0, "models": 1, "kinds": 2, "hw": 3, "host": 4, "boards": 4, "sim": 5,
        "pipelines": 6, "commands": 7}


def layer_of(module: str) -> str | None:
    """The layer of a ``lowbit`` module (the package itself is base), None outside Lowbit."""
    if module == "lowbit":
        return "base"
    for name, prefixes in LAYERS:
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return name
    return None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in ``source`` outside TYPE_CHECKING blocks."""
    tree = ast.parse(source)
    skip = _type_checking_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from lowbit.sim import bench` imports the module lowbit.sim.bench
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def violations(module: str, source: str) -> list[str]:
    """The upward (or peer) imports of one module's source."""
    here = layer_of(module)
    out = []
    for line, target in imports(source):
        there = layer_of(target)
        if here is None or there is None or there == here:
            continue
        if RANK[there] > RANK[here] or PEERS.get(here) == there:
            out.append(f"{module}:{line} ({here}) imports {target} ({there})")
    return out


def modules() -> dict[str, Path]:
    """Every module of the package, by import name, from pyproject's package-dir mapping."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    found = {}
    for package, folder in mapping.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def test_every_import_points_down():
    bad = [v for name, path in modules().items() for v in violations(name, path.read_text())]
    assert not bad, "imports from a layer above:\n" + "\n".join(bad)


def test_every_module_has_a_layer():
    assert [name for name in modules() if layer_of(name) is None] == []


@pytest.mark.parametrize("module, source", [
    ("lowbit.models.lut", "from lowbit.kinds.lut import LutConfig\n"),
    ("lowbit.hw.engine", "def f():\n    from lowbit.host import driver\n"),
    ("lowbit.boards.steps", "import lowbit.sim.runner\n"),
    ("lowbit.host.driver", "from lowbit.boards import report\n"),
    ("lowbit.kinds.mac", "from lowbit import flow\n"),
])
def test_an_upward_import_is_caught(module, source):
    assert violations(module, source)


def test_type_checking_imports_are_exempt():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lowbit.hw import x\n"
    assert violations("lowbit.models.qgemm", source) == []
