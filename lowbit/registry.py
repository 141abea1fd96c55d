"""The core registry: every core kind and the five things it brings (see docs/design.md).

Listing kinds or parsing a config imports configs and numpy models only, never Amaranth or
cocotb: the generators and testbenches are looked up by kind name in their own layers.
"""

from __future__ import annotations

from typing import Any

from lowbit.config import CoreConfig
from lowbit.errors import ConfigError
from lowbit.kinds import KINDS
from lowbit.kinds.kind import CoreKind


def kinds() -> dict[str, CoreKind]:
    return dict(KINDS)


def get_kind(name: str) -> CoreKind:
    """The kind called ``name``, or a ConfigError listing the known kinds.

    Parameters
    ----------
    name
        A kind's name: ``mac``, ``systolic``, ``lut``, ...

    Returns
    -------
    CoreKind
        The kind's record: config class, golden model, perf model, tiler, self-test.
    """
    if name not in KINDS:
        raise ConfigError("kind", name, f"known core kinds: {', '.join(sorted(KINDS))}")
    return KINDS[name]


def config_from_dict(values: dict[str, Any], kind: str | None = None) -> CoreConfig:
    """A validated config from file/CLI values; ``kind`` is ``values['kind']`` unless given.

    Parameters
    ----------
    values
        Field names to values as TOML, JSON or the CLI give them (strings are coerced; formats by
        name), optionally with ``kind``.
    kind
        The kind, when ``values`` has no ``kind`` key.

    Returns
    -------
    CoreConfig
        The kind's frozen, validated config; a :class:`~lowbit.errors.ConfigError` names the
        first field that is not allowed.
    """
    kind = kind or values.get("kind")
    if not kind:
        raise ConfigError("kind", None, f"say which core kind: {', '.join(sorted(KINDS))}")
    return get_kind(kind).config.from_dict({k: v for k, v in values.items() if k != "kind"})
