"""Hypothesis strategies for every kind's config, read off the config's own field declarations.

Each field made with :func:`lowbit.config.option` says what it takes: ``choices``, ``lo``/``hi``,
a ``check``, and its type (bool, int, str, or a number format). The strategies here draw from
exactly that, with :data:`CAPS` bounding sizes so that every drawn core builds in seconds; rules
across fields are the config's own: a drawn set of values is constructed, and a
:class:`~lowbit.errors.ConfigError` means "rejected". Nothing about a kind is written down a
second time, so a new field or a new kind is fuzzed without touching this file.

:func:`bad_values` gives, per field, values the declaration forbids (out of range, not a choice,
not of the type, a format its check refuses); :func:`simulate_command` prints a config as the
``lowbit simulate`` command that reproduces it.
"""

from __future__ import annotations

import dataclasses
import functools
import shlex
from typing import Any

from hypothesis import strategies as st

from lowbit.config import CoreConfig, _field_type
from lowbit.errors import ConfigError
from lowbit.models.formats import Format, IntFormat, named_formats, parse_format
from lowbit.registry import get_kind

#: upper bounds on sizes (by field name), far below what a config allows, so a build stays small
CAPS: dict[str, int] = {
    "rows": 3, "cols": 4, "lanes": 8, "tables": 2, "g": 4, "depth": 16, "w_bits": 6,
    "k_bits": 8, "g_bits": 4, "blocks_bits": 4, "acc": 40,
}
#: the widest integer format drawn for a format field
FORMAT_BITS_CAP = 10
#: the most formats drawn for a field that takes a comma-separated list
LIST_CAP = 2


def _int_names(max_bits: int) -> list[str]:
    return [f"{'u' if unsigned else ''}int{b}" for b in range(1, max_bits + 1)
            for unsigned in (False, True)]


def format_universe() -> list[str]:
    """Every format name a field could be given: the named formats and the integers up to the
    widest :class:`IntFormat`."""
    return [*named_formats(), *_int_names(IntFormat.MAX_BITS)]


def _accepts(cls: type[CoreConfig], f: dataclasses.Field, name: str) -> bool:
    """Whether a format-typed (or format-list) field takes the format ``name`` on its own."""
    typ, check = _field_type(cls, f), f.metadata.get("check")
    if isinstance(typ, type) and issubclass(typ, Format):
        fmt = parse_format(name)
        return isinstance(fmt, typ) and not (check and check(fmt))
    return check is not None and check(name) is None


def _allowed_formats(cls: type[CoreConfig], f: dataclasses.Field) -> list[str]:
    """The format names the strategy draws for a format field (integers up to the cap)."""
    return [n for n in format_universe() if _accepts(cls, f, n) and not (
        isinstance(fmt := parse_format(n), IntFormat) and fmt.bits > FORMAT_BITS_CAP)]


def _takes_lists(cls: type[CoreConfig], f: dataclasses.Field) -> bool:
    """A ``str`` field whose check takes comma-separated format lists (fmac's operands)."""
    check = f.metadata.get("check")
    names = _allowed_formats(cls, f)
    return _field_type(cls, f) is str and check is not None and len(names) > 1 \
        and check(",".join(names[:2])) is None


def drawn_names(cls: type[CoreConfig], f: dataclasses.Field) -> list:
    """What :func:`field_strategy` samples for a field of choices or formats (names)."""
    meta = f.metadata
    return list(meta["choices"]) if meta.get("choices") is not None else \
        _allowed_formats(cls, f)


def field_strategy(cls: type[CoreConfig], f: dataclasses.Field) -> st.SearchStrategy:
    """Values of one field: its declared default about half the time (when the capped range
    holds it), else anything the declaration allows (:func:`declared_values`).

    Fields are drawn independently and the config's cross-field rules refuse what does not go
    together; with every field drawn from its whole range, a kind with many coupled fields
    (``systolic``: ``pack``, ``dsp_blocks``, ``mul``) had about 1 draw in 100 accepted, too few
    for hypothesis to reach a slow run's count. Drawing the default often lets the rules accept
    most draws while each field still takes every value; a config shrinks towards the defaults
    (a short ``lowbit simulate`` command)."""
    values = declared_values(cls, f)
    default = getattr(f.default, "name", f.default)
    if not _in_range(cls, f, default):
        return values
    return st.one_of(st.just(default), values)


def _in_range(cls: type[CoreConfig], f: dataclasses.Field, value: Any) -> bool:
    """Whether :func:`declared_values` draws ``value`` (False for a missing default)."""
    meta, typ = f.metadata, _field_type(cls, f)
    if value is dataclasses.MISSING:
        return False
    if meta.get("choices") is not None or typ not in (bool, int):
        names = drawn_names(cls, f)
        if _takes_lists(cls, f) and isinstance(value, str):
            parts = value.split(",")
            return len(parts) <= LIST_CAP and all(n in names for n in parts)
        return value in names
    if typ is bool:
        return isinstance(value, bool)
    lo, hi = _int_bounds(f)
    return lo <= value <= hi


def _int_bounds(f: dataclasses.Field) -> tuple[int, int]:
    """The range an integer field is drawn from: its declared ``lo``/``hi``, capped by
    :data:`CAPS`."""
    meta = f.metadata
    lo = meta["lo"] if meta.get("lo") is not None else 0
    hi = meta["hi"] if meta.get("hi") is not None else lo + 64
    return lo, max(lo, min(hi, CAPS.get(f.name, hi)))


def declared_values(cls: type[CoreConfig], f: dataclasses.Field) -> st.SearchStrategy:
    """Values of one field, as the declaration allows them (sizes capped by :data:`CAPS`)."""
    meta, typ = f.metadata, _field_type(cls, f)
    if meta.get("choices") is not None:
        return st.sampled_from(drawn_names(cls, f))
    if typ is bool:
        return st.booleans()
    if typ is int:
        return st.integers(*_int_bounds(f))
    names = drawn_names(cls, f)
    if not names:
        raise TypeError(f"{cls.KIND}.{f.name}: no strategy for a field of type {typ!r}")
    if _takes_lists(cls, f):
        return st.lists(st.sampled_from(names), min_size=1, max_size=LIST_CAP,
                        unique=True).map(",".join)
    return st.sampled_from(names)


@functools.cache
def config_values(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts of field values (formats by name, as in a TOML file) for ``kind``."""
    cls = get_kind(kind).config
    return st.fixed_dictionaries({f.name: field_strategy(cls, f) for f in dataclasses.fields(cls)})


def construct(kind: str, values: dict[str, Any]) -> CoreConfig | ConfigError:
    """The config, or the ConfigError that rejects it (any other exception propagates)."""
    try:
        return get_kind(kind).config.from_dict(values)
    except ConfigError as e:
        return e


@functools.cache
def accepted_configs(kind: str) -> st.SearchStrategy[CoreConfig]:
    """Configs of ``kind`` the validator accepts."""
    return config_values(kind).map(lambda v: construct(kind, v)).filter(
        lambda c: isinstance(c, CoreConfig))


def clear_error(error: ConfigError, kind: str) -> str | None:
    """What is unclear about a rejection (None when it names a field of the kind and the rule)."""
    fields = {f.name for f in dataclasses.fields(get_kind(kind).config)} | {"kind"}
    if error.field not in fields:
        return f"names {error.field!r}, not a field of {kind}"
    if not error.allowed or not str(error.allowed).strip():
        return "does not say what is allowed"
    if f"{error.field}=" not in str(error):
        return "does not show the field and its value"
    return None


def bad_values(cls: type[CoreConfig], f: dataclasses.Field) -> list[Any]:
    """Values the declaration of ``f`` forbids on their own."""
    meta, typ = f.metadata, _field_type(cls, f)
    junk: list[Any] = [[1, 2], {"x": 1}, "", "  ", "\x00", "nan"]
    if meta.get("choices") is not None:
        return [*junk, "not-a-choice", 7, *(str(c).upper() + "x" for c in meta["choices"])]
    if typ is bool:
        return [*junk, "maybe", 2, "tru"]
    if typ is int:
        out = [*junk, 3.5, "3.5", "1e3", True, "0x", "eleven", 10 ** 40, -(10 ** 40)]
        if meta.get("lo") is not None:
            out += [meta["lo"] - 1, str(meta["lo"] - 1), meta["lo"] - 1000]
        if meta.get("hi") is not None:
            out += [meta["hi"] + 1, hex(meta["hi"] + 1)]
        return out
    out = [*junk, "int0", "int33", "uint99", "fp8_e9m9", "int8,", ",", "int-4",
           *(n for n in format_universe() if not _accepts(cls, f, n))]
    if _takes_lists(cls, f):
        first = _allowed_formats(cls, f)[0]
        out += [f"{first},{first}", f"{first},,{first}", f"{first},nope"]
    return out


def simulate_command(config: CoreConfig, *, gemm: tuple[int, int, int] | None = None,
                     seed: int | None = None) -> str:
    """The ``lowbit simulate KIND --flag value ...`` command for ``config`` (fields that differ
    from the defaults only)."""
    cls = type(config)
    words = ["lowbit", "simulate", config.KIND]
    for f in dataclasses.fields(cls):
        value, default = config.to_dict()[f.name], getattr(f.default, "name", f.default)
        if value == default:
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + f.name.replace("_", "-"))
        else:
            words += [flag, str(value)]
    if gemm:
        words += ["--gemm", "x".join(map(str, gemm))]
    if seed is not None:
        words += ["--seed", str(seed)]
    return shlex.join(words)
