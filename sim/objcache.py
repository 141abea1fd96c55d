"""A compiler wrapper that caches what Verilator's builds have in common.

Every Verilator model compiles the same run-time library (``verilated.cpp``,
``verilated_vpi.cpp``, ...: about 20 CPU-seconds) next to its own, design-specific code; only
the latter changes between designs. Verilator's makefile runs each compile as
``$(OBJCACHE) $(CXX) ...``, so :mod:`lowbit.sim.runner` sets ``OBJCACHE`` to this module: a
compile of a run-time library source is looked up by the hash of its command line, the
compiler's identity and the Verilator sources, and copied from the cache when present. (``ccache``
would do the same but is not on PyPI.)

The design's own compiles (its ``Vtop__ALL.cpp`` and cocotb's ``verilator.cpp``) spend most of
their time parsing the run-time library's headers (about 0.8 of 0.9 CPU-seconds each for a small
core at ``-O0``). They get those headers as a precompiled header (``-include``; GCC's ``.gch``),
made once per command line (less its source, output and dependency flags), compiler and Verilator
sources, and cached like the objects. GCC takes a ``.gch`` only when the flags it was made with
agree and else reads the header itself, so a build never depends on it being used. (Verilator's
own precompiled headers are per design and switched off in the PyPI wheel.)

Usage (by make): ``python -m lowbit.sim.objcache c++ <flags> -c -o verilated.o .../verilated.cpp``
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from lowbit.cache import cached_dir, digest


def _runtime_source(argv: list[str]) -> tuple[Path, Path] | None:
    """``(source, object)`` when ``argv`` compiles a file of Verilator's run-time library."""
    if "-c" not in argv or "-o" not in argv:
        return None
    out = Path(argv[argv.index("-o") + 1])
    source = Path(argv[-1])
    include = source.parent
    if not (out.name.startswith("verilated") and source.name.startswith("verilated")
            and (include / "verilated_config.h").is_file()):
        return None
    return source, out


@cache
def _compiler_id(compiler: str) -> str:
    return subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout


def _headers_hash(include: Path) -> str:
    """The hash of the run-time library's sources and headers in ``include``."""
    contents = hashlib.sha256()
    for path in sorted(include.glob("verilated*")):
        if path.is_file():
            contents.update(path.name.encode() + b"\0" + path.read_bytes())
    return contents.hexdigest()


def _key(argv: list[str], source: Path) -> str:
    return digest("verilator-runtime", argv, _compiler_id(argv[0]), _headers_hash(source.parent))


#: the run-time library's headers that every design compile includes (``verilator.cpp`` includes
#: the VPI one; the design's code the DPI one)
PCH_HEADERS = ("verilated.h", "verilated_dpi.h", "verilated_vpi.h")
PCH = "lowbit_verilated.h"


def _design_compile(argv: list[str]) -> tuple[list[str], Path] | None:
    """``(flags, include dir)`` when ``argv`` compiles one C++ source of a design (not of the
    run-time library): ``flags`` is the command line less the source, ``-c``, ``-o`` and the
    dependency flags (what a precompiled header must be made with)."""
    if "-c" not in argv or "-o" not in argv or not argv[-1].endswith(".cpp"):
        return None
    includes = [Path(a[2:]) for a in argv if a.startswith("-I")]
    include = next((i for i in includes if (i / "verilated_config.h").is_file()), None)
    if include is None:
        return None
    out = argv.index("-o")
    flags = [a for i, a in enumerate(argv[:-1])
             if a not in ("-c", "-o", "-MMD") and i != out + 1]
    return flags, include


def _precompiled(flags: list[str], include: Path) -> Path:
    """The cached precompiled header for design compiles with ``flags``."""
    def compile_into(tmp: Path) -> None:
        header = tmp / PCH
        header.write_text("".join(f'#include "{h}"\n' for h in PCH_HEADERS))
        code = subprocess.run([*flags, "-x", "c++-header", str(header),
                               "-o", str(tmp / f"{PCH}.gch")]).returncode
        if code:
            raise SystemExit(code)

    entry, _ = cached_dir("verilator-pch", _pch_key(flags, include), compile_into)
    return entry / PCH


def _pch_key(flags: list[str], include: Path) -> str:
    return digest("verilator-pch", flags, _compiler_id(flags[0]), _headers_hash(include))


def main(argv: list[str]) -> int:
    found = _runtime_source(argv)
    if found is None:
        design = _design_compile(argv)
        if design is not None:
            argv = [*argv[:-1], "-include", str(_precompiled(*design)), argv[-1]]
        return subprocess.run(argv).returncode
    source, out = found

    def compile_into(tmp: Path) -> None:
        args = list(argv)
        args[args.index("-o") + 1] = str(tmp / out.name)
        code = subprocess.run(args, cwd=Path.cwd()).returncode
        if code:
            raise SystemExit(code)

    entry, _ = cached_dir("verilator-runtime", _key(argv, source), compile_into)
    shutil.copyfile(entry / out.name, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
