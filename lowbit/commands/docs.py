"""``lowbit docs``: build the documentation (Sphinx, ``docs/`` of the checkout) and open it.

The sources are the ``docs/`` folder beside the ``lowbit`` package, which exists in a checkout
installed with ``pip install -e '.[dev]'`` (that extra brings Sphinx, its theme and
extensions). The HTML goes to the user cache (``<cache>/docs/html``) unless ``--out`` says
otherwise; Sphinx rebuilds only what changed there.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import webbrowser
from pathlib import Path

import lowbit
from lowbit.cache import cache_root
from lowbit.commands.common import console
from lowbit.errors import LowbitError, ToolError, UsageError

INSTALL = "install a checkout with `pip install -e '.[dev]'`"


def register(verbs) -> None:
    p = verbs.add_parser("docs", help="build the documentation and open it in a browser",
                         description="Build the HTML documentation with Sphinx and open it.")
    p.add_argument("-o", "--out", metavar="DIR",
                   help="where the HTML goes (default: the user cache's docs/html)")
    p.add_argument("--no-open", action="store_true", help="build only; do not open a browser")
    p.set_defaults(func=run)


def sources() -> Path:
    """The ``docs/`` folder of the checkout this ``lowbit`` was installed from."""
    return Path(lowbit.__file__).resolve().parent.parent / "docs"


def build(src: Path, out: Path) -> Path:
    """Build the HTML of ``src`` into ``out``; the path of its front page.

    Raises
    ------
    UsageError
        ``src`` holds no Sphinx sources (e.g. a non-editable install).
    ToolError
        Sphinx is not installed.
    LowbitError
        Sphinx failed (its own messages are printed above).
    """
    if not (src / "conf.py").is_file():
        raise UsageError(f"the documentation's sources are not here ({src}/conf.py is missing): "
                         f"`lowbit docs` builds them from a checkout; {INSTALL}")
    if importlib.util.find_spec("sphinx") is None:
        raise ToolError(f"Sphinx is not installed; {INSTALL}")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", str(src),
                           str(out)], stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise LowbitError(f"sphinx-build failed (exit {done.returncode}) on {src}")
    return out / "index.html"


def run(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else cache_root() / "docs" / "html"
    with console().status("building the documentation"):
        index = build(sources(), out)
    console().print(f"docs: {index}")
    if not args.no_open and not webbrowser.open(index.resolve().as_uri()):
        console().print("no browser found; open the file above")
    return 0
