"""What the core verbs (generate, simulate, and later synth/build) share: the kind
sub-commands with their config flags, ``--config FILE`` merging, and the consoles."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import cache

from rich.console import Console

from lowbit.config import CoreConfig, read_config_file
from lowbit.errors import ConfigError, UsageError
from lowbit.registry import get_kind, kinds

#: verbs whose first argument is a core kind
CORE_VERBS = ("generate", "simulate", "synth", "build", "run")


def _width(stream) -> int | None:
    """Rich's terminal width on a terminal; 120 columns in logs, where rich would pick 80."""
    return None if stream.isatty() else 120


@cache
def seed(text: str) -> int:
    """An argparse type for seeds: a non-negative integer (numpy's generators take no other)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed; a seed is an integer >= 0")
    return value


def console() -> Console:
    return Console(highlight=False, width=_width(sys.stdout))


@cache
def error_console() -> Console:
    return Console(stderr=True, highlight=False, width=_width(sys.stderr))


def add_core_verb(verbs, name: str, help: str, func: Callable[[argparse.Namespace], int],
                  extra: Callable[[argparse.ArgumentParser], None] = lambda p: None) -> None:
    """``lowbit <name> KIND [config flags] [--config FILE] [verb options]`` for every kind."""
    parser = verbs.add_parser(name, help=help, description=help)
    sub = parser.add_subparsers(dest="kind", metavar="KIND", parser_class=type(parser))
    sub.required = True
    for kind in kinds().values():
        p = sub.add_parser(kind.name, help=kind.summary, description=f"{help}: {kind.summary}")
        p.add_argument("--config", metavar="FILE",
                       help="TOML or JSON file of config fields; flags given here override it")
        kind.config.add_arguments(p)
        extra(p)
        p.set_defaults(func=func)


def config_from_args(args: argparse.Namespace) -> CoreConfig:
    """The config of ``args.kind``: the ``--config`` file's fields, then the flags over them."""
    kind = get_kind(args.kind)
    base = {}
    if args.config:
        base = read_config_file(args.config)
        file_kind = base.pop("kind", kind.name)
        if file_kind != kind.name:
            raise ConfigError("kind", file_kind, f"{args.config} is not a {kind.name} config")
    return kind.config.from_args(args, base)


def insert_kind_from_config(argv: list[str]) -> list[str]:
    """Let ``lowbit generate --config core.toml`` work without naming the kind: take it from
    the file's ``kind`` key and insert it after the verb."""
    if len(argv) < 2 or argv[0] not in CORE_VERBS or not argv[1].startswith("-"):
        return argv
    if argv[1] in ("-h", "--help"):
        return argv
    path = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if path is None and "--config" in argv:
        i = argv.index("--config")
        path = argv[i + 1] if i + 1 < len(argv) else None
    if path is None:
        raise UsageError(f"`lowbit {argv[0]}` needs a core kind ({', '.join(sorted(kinds()))}) "
                         "or --config FILE with a `kind` key")
    values = read_config_file(path)
    if "kind" not in values:
        raise UsageError(f"config file {path} has no `kind` key; known core kinds: "
                         f"{', '.join(sorted(kinds()))}")
    get_kind(values["kind"])
    return [argv[0], str(values["kind"]), *argv[1:]]
