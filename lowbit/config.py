"""Core configs: frozen dataclasses that load from TOML/JSON/CLI flags and validate on construction.

Every core kind declares its config as a subclass of :class:`CoreConfig` whose fields are made
with :func:`option`. From that one declaration come the CLI flags, the TOML/JSON keys, the
coercion of strings to values, the range checks and the content hash; so a field is described
once and the CLI, the files and the Python API cannot drift apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import tomllib
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from lowbit.errors import ConfigError, UsageError
from lowbit.models.formats import Format, FormatError, IntFormat, parse_format

Check = Callable[[Any], "str | None"]


def option(default: Any, help: str, *, choices: tuple | None = None,
           lo: int | None = None, hi: int | None = None, check: Check | None = None) -> Any:
    """A config field: its default, one line of help, and what values are allowed.

    ``choices`` lists allowed values, ``lo``/``hi`` bound an integer, and ``check`` returns a
    description of what is allowed when a value is not (``None`` when it is).
    """
    return dataclasses.field(default=default, metadata={
        "help": help, "choices": choices, "lo": lo, "hi": hi, "check": check})


@dataclasses.dataclass(frozen=True)
class int_format:
    """A ``check`` for an integer-format field limited to ``min_bits..max_bits``."""

    min_bits: int
    max_bits: int

    @property
    def allowed(self) -> str:
        lo, hi = self.min_bits, self.max_bits
        return f"allowed: int{lo}..int{hi} or uint{lo}..uint{hi}"

    def __call__(self, fmt: IntFormat) -> str | None:
        return None if self.min_bits <= fmt.bits <= self.max_bits else self.allowed


def _coerce(name: str, typ: Any, value: Any, check: Check | None = None) -> Any:
    """A TOML/JSON/CLI value to the field's type, or a ConfigError saying what is expected."""
    if isinstance(typ, type) and issubclass(typ, Format):
        if isinstance(value, typ):
            return value
        allowed = getattr(check, "allowed", None)
        try:
            fmt = parse_format(str(value))
        except FormatError as e:
            raise ConfigError(name, value, allowed or str(e).split("; ", 1)[-1]) from None
        if not isinstance(fmt, typ):
            raise ConfigError(name, value, allowed or f"{fmt} is not a {typ.__name__}")
        return fmt
    if typ is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(name, value, "expected true or false")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(name, value, "expected an integer")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip(), 0)
        except ValueError:
            raise ConfigError(name, value, "expected an integer") from None
    if typ is str:
        return str(value)
    raise TypeError(f"config field {name}: unsupported type {typ!r}")


def _field_type(cls: type, f: dataclasses.Field) -> Any:
    typ = typing.get_type_hints(cls)[f.name]
    if typing.get_origin(typ) is typing.Literal:
        return str
    return typ


@dataclasses.dataclass(frozen=True)
class CoreConfig:
    """Base of every core kind's config. Subclasses set ``KIND`` and may add :meth:`check`."""

    KIND: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            meta = f.metadata
            try:
                value = _coerce(f.name, _field_type(type(self), f), getattr(self, f.name),
                                meta.get("check"))
            except ConfigError as e:
                raise ConfigError(e.field, e.value, e.allowed, context=self.KIND) from None
            object.__setattr__(self, f.name, value)
            if meta.get("choices") is not None and value not in meta["choices"]:
                raise ConfigError(f.name, value, f"one of {', '.join(map(str, meta['choices']))}",
                                  context=self.KIND)
            lo, hi = meta.get("lo"), meta.get("hi")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ConfigError(f.name, value, f"allowed {lo}..{hi}", context=self.KIND)
            if meta.get("check") and (allowed := meta["check"](value)):
                raise ConfigError(f.name, value, allowed, context=self.KIND)
        self.check()

    def check(self) -> None:
        """Rules across fields; raise :class:`ConfigError` naming the field that breaks one."""

    def check_gemm(self, shape) -> None:
        """Raise a ConfigError when this core cannot run an M×N×K GEMM of ``shape`` at run time."""

    def fail(self, field: str, allowed: str) -> typing.NoReturn:
        raise ConfigError(field, getattr(self, field), allowed, context=self.KIND)

    @property
    def name(self) -> str:
        """A short name for files and the Verilog top module; unique per config."""
        return f"{self.KIND}_{self.hash[:10]}"

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML/JSON values (formats by name), with the kind."""
        out: dict[str, Any] = {"kind": self.KIND}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.name if isinstance(v, Format) else v
        return out

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of :meth:`to_dict`."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CoreConfig:
        """Build from TOML/JSON/CLI values; unknown keys are an error naming the allowed ones."""
        values = dict(values)
        kind = values.pop("kind", cls.KIND)
        if kind != cls.KIND:
            raise ConfigError("kind", kind, f"this is a {cls.KIND} config")
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(key, values[key], f"unknown field; {cls.KIND} fields are "
                                  f"{', '.join(sorted(known))}", context=cls.KIND)
        return cls(**values)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One CLI flag per field; unset flags stay ``None`` so file values are not overridden."""
        group = parser.add_argument_group(f"{cls.KIND} config (also settable in --config FILE)")
        for f in dataclasses.fields(cls):
            flag = "--" + f.name.replace("_", "-")
            typ = _field_type(cls, f)
            default = getattr(f.default, "name", f.default)
            help_text = f"{f.metadata['help']} (default: {default})"
            if typ is bool:
                group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                   default=None, help=help_text)
            else:
                choices = f.metadata.get("choices")
                metavar = "{" + ",".join(map(str, choices)) + "}" if choices else f.name.upper()
                group.add_argument(flag, dest=f.name, default=None, metavar=metavar, help=help_text)

    @classmethod
    def from_args(cls, args: argparse.Namespace,
                  base: Mapping[str, Any] | None = None) -> CoreConfig:
        """Merge CLI flags over ``base`` (e.g. a config file's values) and build the config."""
        values = dict(base or {})
        for f in dataclasses.fields(cls):
            v = getattr(args, f.name, None)
            if v is not None:
                values[f.name] = v
        return cls.from_dict(values)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The table of a TOML (or JSON) config file; a clear UsageError when it cannot be used."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read config file {path}: {e.strerror or e}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as e:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise UsageError(f"config file {path} is not valid {kind}: {e}") from None
    if not isinstance(data, dict):
        raise UsageError(f"config file {path} must hold a table of fields")
    return data
