"""Lowbit's own Sphinx glue: a config class's parameters come from its field declarations.

A kind's config fields are declared once with :func:`lowbit.config.option` (default, help,
allowed values); the CLI flags and the TOML keys come from that declaration, and so does the
``Parameters`` section of the config class in the API reference, so the docs cannot drift from
the flags either.
"""

from __future__ import annotations

import dataclasses

from lowbit.config import CoreConfig


def field_lines(cls: type[CoreConfig]) -> list[str]:
    """``:param:`` fields of every config field of ``cls``: its help, default and range."""
    lines = [""]
    for f in dataclasses.fields(cls):
        meta = f.metadata
        default = getattr(f.default, "name", f.default)
        text = f"{meta['help']} (default: ``{default}``"
        if meta.get("choices"):
            text += "; one of " + ", ".join(f"``{c}``" for c in meta["choices"])
        if meta.get("lo") is not None or meta.get("hi") is not None:
            text += f"; {meta.get('lo')}..{meta.get('hi')}"
        allowed = getattr(meta.get("check"), "allowed", None)
        if allowed:
            text += f"; {allowed}"
        lines.append(f":param {f.name}: {text})")
    return lines


def add_config_fields(app, what, name, obj, options, lines) -> None:
    if what == "class" and isinstance(obj, type) and issubclass(obj, CoreConfig) \
            and obj is not CoreConfig and obj.KIND:
        lines.extend(field_lines(obj))


def setup(app):
    app.connect("autodoc-process-docstring", add_config_fields)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
