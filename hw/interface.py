"""A generated core's ports, grouped the way docs/design.md names the streaming interface.

Every core kind speaks valid/ready streams (Verilog ports ``<s>__valid``, ``<s>__ready``,
``<s>__payload``) plus run-time parameters; reading that from the manifest of
:func:`lowbit.hw.verilog.generate` lets the board top and the out-of-context harness wrap any
kind without knowing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from amaranth.hdl import ClockSignal, Instance, ResetSignal
from amaranth.lib import stream, wiring

CLOCK_PORTS = ("clk", "rst")


@dataclass(frozen=True)
class Port:
    name: str
    width: int
    input: bool


@dataclass(frozen=True)
class Stream:
    """A valid/ready stream; ``input`` when the core receives it."""

    name: str
    width: int        # payload bits (0 for a stream without payload)
    input: bool


@dataclass(frozen=True)
class CoreInterface:
    """The Verilog module ``name`` of a core: its streams, parameters and other outputs."""

    name: str
    ports: tuple[Port, ...]            # every port except clk/rst, in manifest order
    streams: tuple[Stream, ...]
    params: tuple[Port, ...]           # inputs that are not part of a stream
    outputs: tuple[Port, ...]          # outputs that are not part of a stream

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> CoreInterface:
        ports = tuple(Port(p["name"], p["width"], p["dir"] == "in")
                      for p in manifest["ports"] if p["name"] not in CLOCK_PORTS)
        by_name = {p.name: p for p in ports}
        streams, members = [], set()
        for p in ports:
            if not p.name.endswith("__valid"):
                continue
            base = p.name.removesuffix("__valid")
            if f"{base}__ready" not in by_name:
                continue
            payload = by_name.get(f"{base}__payload")
            streams.append(Stream(base, payload.width if payload else 0, p.input))
            members |= {f"{base}__valid", f"{base}__ready", f"{base}__payload"}
        rest = [p for p in ports if p.name not in members]
        return cls(manifest["name"], ports, tuple(streams),
                   tuple(p for p in rest if p.input), tuple(p for p in rest if not p.input))

    @property
    def inputs(self) -> tuple[Stream, ...]:
        return tuple(s for s in self.streams if s.input)

    @property
    def results(self) -> tuple[Stream, ...]:
        return tuple(s for s in self.streams if not s.input)

    def instance(self, connections: dict[str, Any], *, rst: Any = None, domain: str = "sync"):
        """An Amaranth ``Instance`` of the core, clocked by ``domain``.

        ``connections`` maps port names to Amaranth values; a port it leaves out is an output
        left open (an input left out is an error: an undriven input would be optimized away).
        ``rst`` is the core's reset, the domain's unless given.
        """
        missing = [p.name for p in self.ports if p.input and p.name not in connections]
        if missing:
            raise ValueError(f"inputs of {self.name} left undriven: {', '.join(missing)}")
        kwargs: dict[str, Any] = {"i_clk": ClockSignal(domain),
                                  "i_rst": ResetSignal(domain) if rst is None else rst}
        for p in self.ports:
            if p.name in connections:
                kwargs[("i_" if p.input else "o_") + p.name] = connections[p.name]
        return Instance(self.name, **kwargs)


def port_bits(ports: Sequence[Port]) -> int:
    return sum(p.width for p in ports)


def payload_layouts(component: wiring.Component) -> dict[str, Any]:
    """The payload layout (or shape) of each stream of a core, by stream name, from its
    signature: what :func:`lowbit.hw.payload.pack_beats` packs a tiler's beats with."""
    return {name: member.signature.members["payload"].shape
            for name, member in component.signature.members.items()
            if member.is_signature and isinstance(member.signature, stream.Signature)}
