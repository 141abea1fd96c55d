"""A compiler wrapper that caches Verilator's run-time library objects across builds.

Every Verilator model compiles the same run-time library (``verilated.cpp``,
``verilated_vpi.cpp``, ...: about 20 CPU-seconds) next to its own, design-specific code; only
the latter changes between designs. Verilator's makefile runs each compile as
``$(OBJCACHE) $(CXX) ...``, so :mod:`lowbit.sim.runner` sets ``OBJCACHE`` to this module: a
compile of a run-time library source is looked up by the hash of its command line, the
compiler's identity and the Verilator sources, and copied from the cache when present; every
other compile runs untouched. (``ccache`` would do the same but is not on PyPI.)

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


def _key(argv: list[str], source: Path) -> str:
    include = source.parent
    contents = hashlib.sha256()
    for path in sorted(include.glob("verilated*")):  # the library's sources and headers
        if path.is_file():
            contents.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest("verilator-runtime", argv, _compiler_id(argv[0]), contents.hexdigest())


def main(argv: list[str]) -> int:
    found = _runtime_source(argv)
    if found is None:
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
