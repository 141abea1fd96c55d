"""``lowbit``: the command line. Each verb lives in :mod:`lowbit.commands` as one module.

Every error a user can cause ends here as one line on stderr and a non-zero exit code
(2 for bad input or a missing tool, 1 for a failed check); no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lowbit.commands.common import console, error_console, insert_kind_from_config
from lowbit.errors import LowbitError, UsageError

#: verb modules in :mod:`lowbit.commands`, in the order ``lowbit -h`` lists them
VERBS = ("demo", "doctor", "generate", "simulate", "quant_error", "boards", "synth", "build",
         "compare", "sweep", "fit", "run", "workload", "docs")


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors become one-line UsageErrors (exit code 2)."""

    def error(self, message: str):
        raise UsageError(f"{message} (see `{self.prog} -h`)")


def build_parser() -> Parser:
    from importlib.metadata import version

    parser = Parser(prog="lowbit", description="Low-precision GEMM accelerators for open FPGAs: "
                    "generate RTL, simulate it against golden models, implement it on FPGAs.")
    parser.add_argument("--version", action="version", version=f"lowbit {version('lowbit')}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", parser_class=Parser)
    verbs.required = True
    for name in VERBS:
        importlib.import_module(f"lowbit.commands.{name}").register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        argv = insert_kind_from_config(argv)
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except LowbitError as e:
        error_console().print(f"lowbit: error: {e}", markup=False, highlight=False, soft_wrap=True)
        return e.exit_code
    except KeyboardInterrupt:
        console().print("interrupted", style="yellow")
        return 130


if __name__ == "__main__":
    sys.exit(main())
