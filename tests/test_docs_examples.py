"""The shell examples of the README's tour and of the docs run as they are shown.

The convention (README.md and docs/**/*.md): a fenced ``console`` block is a transcript. A line
starting with ``$ `` is a command (a trailing ``\\`` continues it on the next line); the lines
after it, up to the next command, are output that must appear in the command's output (stdout
and stderr together), in that order, each as a whole line, where ``...`` stands for any text.
Every command must exit 0 (``|| echo "exit $?"`` shows an expected failure). An HTML comment
on the line before a block says more: ``<!-- doctest: slow -->`` runs the block only under
``pytest -m slow`` (place and route of larger designs, board builds); ``<!-- doctest: file
NAME -->`` before any other block writes that block's text to NAME first. Blocks of one
document run in order in one temporary directory, with the user's build cache. ``sh`` blocks
are shown, never run (e.g. commands that need a board on a serial port).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^(`{3,})(\S*)\s*$")
MARKER = re.compile(r"^<!--\s*doctest:\s*(slow|file\s+(\S+))\s*-->\s*$")


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    expected: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    line: int
    slow: bool
    commands: tuple[Command, ...] = ()
    file: tuple[str, str] | None = None     # (name, text) to write


def parse(text: str) -> list[Block]:
    """The console blocks and file blocks of a Markdown document, in order."""
    lines, blocks, i = text.split("\n"), [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        marker = MARKER.match(lines[i - 1]) if i else None
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(fence[1])
                   and not lines[j].strip("`"))
        body = lines[i + 1:end]
        if marker and marker[2]:
            blocks.append(Block(i + 1, False, file=(marker[2], "\n".join(body) + "\n")))
        elif fence[2] == "console":
            blocks.append(Block(i + 1, bool(marker and marker[1] == "slow"),
                                tuple(commands(body, i + 2))))
        i = end + 1
    return blocks


def commands(body: list[str], first_line: int) -> list[Command]:
    out: list[Command] = []
    j = 0
    while j < len(body):
        if not body[j].startswith("$ "):
            raise ValueError(f"line {first_line + j}: output before the first `$ ` command")
        start, text = j, body[j][2:]
        while text.endswith("\\"):
            j += 1
            text = text[:-1] + " " + body[j].strip()
        j += 1
        expected = []
        while j < len(body) and not body[j].startswith("$ "):
            if body[j].strip() and body[j].strip() != "...":
                expected.append(body[j].rstrip())
            j += 1
        out.append(Command(first_line + start, text, tuple(expected)))
    return out


def matches(pattern: str, line: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("..."))
    return re.fullmatch(regex, line.rstrip()) is not None


def missing(expected: tuple[str, ...], output: str) -> str | None:
    """The first expected line not found (in order) in ``output``, or None."""
    lines = output.splitlines()
    at = 0
    for pattern in expected:
        at = next((n for n in range(at, len(lines)) if matches(pattern, lines[n])), -1)
        if at < 0:
            return pattern
        at += 1
    return None


def run_blocks(doc: Path, blocks: list[Block], cwd: Path) -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for block in blocks:
        if block.file:
            (cwd / block.file[0]).write_text(block.file[1])
        for cmd in block.commands:
            where = f"{doc.relative_to(ROOT)}:{cmd.line}: $ {cmd.text}"
            done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd.text], cwd=cwd, env=env,
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=1800)
            output = done.stdout
            assert done.returncode == 0, f"{where}\nexit {done.returncode}\n{output}"
            line = missing(cmd.expected, output)
            assert line is None, f"{where}\nexpected line not in the output: {line!r}\n{output}"


def cases():
    for doc in DOCUMENTS:
        blocks = parse(doc.read_text())
        name = str(doc.relative_to(ROOT))
        if any(b.commands and not b.slow for b in blocks):
            yield pytest.param(doc, False, id=name)
        if any(b.commands and b.slow for b in blocks):
            yield pytest.param(doc, True, id=f"{name}[slow]", marks=pytest.mark.slow)


@pytest.mark.parametrize(("doc", "slow"), list(cases()))
def test_examples_run_as_shown(doc: Path, slow: bool, tmp_path: Path):
    """Quick blocks in the default suite; with ``slow``, every block of the document."""
    run_blocks(doc, [b for b in parse(doc.read_text()) if slow or not b.slow], tmp_path)


def test_the_tour_and_the_tutorials_are_checked():
    """The convention is in use where the docs promise it (a block turned into ``sh`` by
    mistake would silently stop being run)."""
    checked = {str(p[0][0].relative_to(ROOT)) for p in cases()}
    assert {"README.md", "docs/tutorials/first-core.md"} <= checked
    tour = [c.text for b in parse((ROOT / "README.md").read_text()) for c in b.commands]
    assert [t.split()[1] for t in tour][:4] == ["generate", "simulate", "synth", "synth"]


def test_parse_and_match():
    doc = "\n".join([
        "<!-- doctest: file a.toml -->", "```toml", "x = 1", "```",
        "<!-- doctest: slow -->", "```console", "$ echo one \\", "  two", "one two", "...",
        "$ true", "```", "```sh", "$ never run", "```"])
    file, console = parse(doc)
    assert file.file == ("a.toml", "x = 1\n") and console.slow
    assert [(c.text, c.expected) for c in console.commands] == \
        [("echo one  two", ("one two",)), ("true", ())]
    assert missing(("a ... c", "d"), "a b c\nd\n") is None
    assert missing(("d", "a ... c"), "a b c\nd\n") == "a ... c"


#: folder → import name of the packages the API reference documents
PACKAGES = {"lowbit": "lowbit", "models": "lowbit.models", "hw": "lowbit.hw",
            "boards": "lowbit.boards", "sim": "lowbit.sim"}
#: modules with no API page, and where they are documented instead
UNDOCUMENTED = re.compile(r"lowbit\.(cli|commands\..*)"    # the CLI reference, from the parser
                          r"|lowbit\.sim\.tb_.*")           # cocotb tests: the kind pages


def test_api_reference_covers_every_module():
    """A module added without an ``automodule`` directive in docs/ would be missing from the
    API reference without a warning; this names it."""
    documented = set(re.findall(r"^\.\. automodule:: (\S+)$",
                                "\n".join(p.read_text() for p in (ROOT / "docs").rglob("*.md")),
                                re.M))
    modules = {f"{name}.{'.'.join(path.relative_to(ROOT / folder).with_suffix('').parts)}"
               for folder, name in PACKAGES.items()
               for path in (ROOT / folder).rglob("*.py") if path.name != "__init__.py"}
    absent = sorted(m for m in modules if m not in documented and not UNDOCUMENTED.fullmatch(m))
    assert not absent, f"modules missing from the API reference (docs/reference/api): {absent}"
