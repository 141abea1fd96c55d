"""``lowbit run KIND ... --port DEV``: a GEMM on a board running the engine's bitstream.

Random operands (or ``--a/--w-file`` .npy files) of ``--gemm MxNxK`` go through
:class:`lowbit.host.driver.Engine`, tiled over the on-board buffers; ``--check`` compares
with the golden model, ``-o`` saves the result (.npy, written atomically). Also holds the
engine flags ``lowbit build --engine`` shares.
"""

import argparse
import io
import time

import numpy as np

from lowbit.cache import atomic_write
from lowbit.commands.common import add_core_verb, config_from_args, console, seed
from lowbit.errors import UsageError
from lowbit.host.driver import Engine
from lowbit.host.transport import SerialTransport
from lowbit.hw.protocol import EngineOptions
from lowbit.models.perf import GemmShape

_DEFAULTS = EngineOptions()


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--buffer-depth", type=int, default=_DEFAULTS.depth,
                   help=f"words per engine buffer, a power of two (default {_DEFAULTS.depth})")
    p.add_argument("--baud", type=int, default=_DEFAULTS.baud,
                   help=f"UART baud rate (default {_DEFAULTS.baud})")
    p.add_argument("--multiplier-bits", type=int, default=_DEFAULTS.multiplier_bits,
                   help=f"requantizer multiplier width (default {_DEFAULTS.multiplier_bits})")


def engine_options(args: argparse.Namespace) -> EngineOptions:
    return EngineOptions(depth=args.buffer_depth, baud=args.baud,
                         multiplier_bits=args.multiplier_bits,
                         core_mhz=getattr(args, "core_mhz", None))


def register(verbs) -> None:
    def extra(p: argparse.ArgumentParser) -> None:
        p.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyUSB0")
        p.add_argument("--gemm", default="64x64x64", metavar="MxNxK",
                       help="shape of a random GEMM (default 64x64x64)")
        p.add_argument("--a-file", help="activations, an M×K integer .npy (instead of random)")
        p.add_argument("--w-file", help="weights, a K×N integer .npy (instead of random)")
        p.add_argument("--seed", type=seed, default=1, help="seed of the random operands")
        p.add_argument("--check", action="store_true",
                       help="compare the result with the golden model (exit 1 on a mismatch)")
        p.add_argument("--timeout", type=float, default=1.0,
                       help="seconds to wait for an answer (default 1)")
        p.add_argument("-o", "--out", help="write the result here (.npy)")
        add_engine_options(p)
    add_core_verb(verbs, "run", "run a GEMM on a board running the engine's bitstream", run,
                  extra)


def _operands(args, config):

    if bool(args.a_file) != bool(args.w_file):
        raise UsageError("give both --a-file and --w-file, or neither (random operands)")
    if args.a_file:
        try:
            return np.load(args.a_file), np.load(args.w_file)
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read the operands: {e}") from None
    shape = GemmShape.parse(args.gemm)
    gen = np.random.default_rng(args.seed)
    return config.a.random(gen, (shape.m, shape.k)), config.w.random(gen, (shape.k, shape.n))


def run(args: argparse.Namespace) -> int:

    config = config_from_args(args)
    options = engine_options(args)
    a, w = _operands(args, config)
    out = console()
    transport = SerialTransport(args.port, options.baud)
    try:
        engine = Engine(transport, config, options, timeout=args.timeout)
        started = time.monotonic()
        with out.status(f"GEMM {a.shape[0]}x{w.shape[1]}x{a.shape[1]} on {args.port}"):
            c = engine.gemm(a, w, check=args.check)
        seconds = time.monotonic() - started
    finally:
        transport.close()
    macs = a.shape[0] * w.shape[1] * a.shape[1]
    out.print(f"{config.name}: C = A·W, {a.shape[0]}x{w.shape[1]}x{a.shape[1]} "
              f"({macs:,} MACs) in {seconds:.2f} s over the serial link; "
              f"{engine.last_cycles:,} engine cycles of compute")
    if args.check:
        out.print("[green]bit-exact against the golden model[/]")
    if args.out:
        buf = io.BytesIO()
        np.save(buf, c)
        atomic_write(args.out, buf.getvalue())
        out.print(f"result: {args.out}")
    return 0
