"""``lowbit build KIND ... --board B``: a core in its self-test board top, to a bitstream;
with ``--engine``, the GEMM engine around the core (host interface on the board's UART).

The timing target is the board's clock, and missing it fails the build; with ``--engine
--core-mhz F`` the core runs on a PLL clock of about F and both clocks must meet their targets."""

from __future__ import annotations

import argparse

from lowbit.boards.platforms import BOARDS
from lowbit.boards.steps import Target
from lowbit.commands.common import add_core_verb
from lowbit.commands.run import add_engine_options
from lowbit.commands.synth import add_flow_options, run_flow


def register(verbs) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--board", required=True, metavar="BOARD",
                       help=f"board: {', '.join(BOARDS)} (see `lowbit boards`)")
        p.add_argument("--engine", action="store_true",
                       help="build the GEMM engine around the core (run GEMMs with `lowbit run`) "
                            "instead of its self-test")
        add_engine_options(p)
        p.add_argument("--core-mhz", type=float, metavar="MHZ",
                       help="with --engine: run the core in its own clock domain at this "
                            "frequency, from the board's PLL (the fastest it makes, at most 2%% "
                            "below); timing is checked for both clocks (default: the board's "
                            "clock, no PLL)")
        add_flow_options(p)
    add_core_verb(verbs, "build", "build a bitstream of a core's self-test for a board", run,
                  extra)


def run(args: argparse.Namespace) -> int:
    return run_flow(args, Target.parse(board=args.board), "build")
