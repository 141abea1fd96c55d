"""The core registry: every core kind and the five things it brings (see DESIGN.md).

Entries name their generator, golden model, performance model and testbench by import path so
that listing kinds or parsing a config never imports Amaranth or cocotb.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from lowbit.config import CoreConfig
from lowbit.errors import ConfigError


@dataclass(frozen=True)
class CoreKind:
    """One core kind.

    ``generator(config)`` returns an ``amaranth.lib.wiring.Component``; ``golden`` is the numpy
    model of what it computes; ``perf(config)`` returns a performance model (see
    :class:`lowbit.models.perf.PerfModel`); ``testbench`` is the cocotb test module that drives
    the generated Verilog against the golden model. ``selftest(config)``, when a kind has one,
    returns the :class:`lowbit.boards.selftest.SelfTest` a board build runs on chip: run-time
    parameters and the golden model's results for the board's stimulus.
    """

    name: str
    summary: str
    config: type[CoreConfig]
    generator: str
    golden: str
    perf: str
    testbench: str
    selftest: str | None = None

    @staticmethod
    def _load(path: str) -> Any:
        module, _, attr = path.partition(":")
        return getattr(importlib.import_module(module), attr)

    def build(self, config: CoreConfig):
        """The Amaranth component for ``config``."""
        return self._load(self.generator)(config)

    def perf_model(self, config: CoreConfig):
        return self._load(self.perf)(config)

    def golden_model(self):
        return self._load(self.golden)

    def board_selftest(self, config: CoreConfig):
        return self._load(self.selftest)(config)


_KINDS: dict[str, CoreKind] = {}


def register(kind: CoreKind) -> CoreKind:
    if kind.name in _KINDS or kind.config.KIND != kind.name:
        raise ValueError(f"core kind {kind.name!r} registered twice or with a mismatched config")
    _KINDS[kind.name] = kind
    return kind


def kinds() -> dict[str, CoreKind]:
    import lowbit.kinds  # noqa: F401  (registers every kind)
    return dict(_KINDS)


def get_kind(name: str) -> CoreKind:
    """The kind called ``name``, or a ConfigError listing the known kinds."""
    known = kinds()
    if name not in known:
        raise ConfigError("kind", name, f"known core kinds: {', '.join(sorted(known))}")
    return known[name]


def config_from_dict(values: dict[str, Any], kind: str | None = None) -> CoreConfig:
    """A validated config from file/CLI values; ``kind`` comes from ``values['kind']`` if not given."""
    kind = kind or values.get("kind")
    if not kind:
        raise ConfigError("kind", None, f"say which core kind: {', '.join(sorted(kinds()))}")
    return get_kind(kind).config.from_dict({k: v for k, v in values.items() if k != "kind"})
