"""The ``systolic`` core kind: an R×C array of multiply-accumulate PEs, weight- or output-stationary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from lowbit.config import option
from lowbit.kinds.int_datapath import INT8, IntDatapathConfig
from lowbit.models.formats import IntFormat, NumberFormat
from lowbit.models.kulisch import kulisch_bits, operand_format
from lowbit.registry import CoreKind, register

MAX_DIM = 64
DATAFLOWS = ("ws", "os")


@dataclass(frozen=True)
class SystolicConfig(IntDatapathConfig):
    """An R×C PE array; see :mod:`lowbit.hw.systolic` for the streams and the beat order."""

    KIND: ClassVar[str] = "systolic"

    a: NumberFormat = option(INT8, "activation format: int8, uint4, ... or a minifloat "
                             "(fp8_e4m3, fp6_e2m3, fp4_e2m1, ...)", check=operand_format())
    w: NumberFormat = option(INT8, "weight format, as --a", check=operand_format())

    rows: int = option(4, "PE rows R (ws: K lanes per activation beat; os: M rows per tile)",
                       lo=1, hi=MAX_DIM)
    cols: int = option(4, "PE columns C (N columns per weight and result beat)", lo=1, hi=MAX_DIM)
    dataflow: Literal["ws", "os"] = option(
        "ws", "ws: weights stay in the PEs; os: partial sums stay in the PEs", choices=DATAFLOWS)
    depth: int = option(256, "ws only: rows of the partial-sum buffer, the largest run-time M",
                        lo=1, hi=1 << 16)
    mul_reg: bool = option(False, "register each PE's product before its adder (+1 cycle latency)")

    def check(self) -> None:
        if self.integer:
            return super().check()
        need = kulisch_bits(self.a, self.w, self.k_max)
        if self.acc < need:
            self.fail("acc", f"at least {need} bits: {self.a} × {self.w} products accumulate "
                             f"exactly (Kulisch register) over K up to {self.k_max}")

    @property
    def integer(self) -> bool:
        """Integer operands (the accumulator's overflow rule applies); else minifloat operands
        decoded to exact fixed point and summed exactly, inf and NaN counting as 0."""
        return isinstance(self.a, IntFormat) and isinstance(self.w, IntFormat)

    @property
    def m_bits(self) -> int:
        """Width of the run-time M register (ws): holds 1..depth."""
        return self.depth.bit_length()

    @property
    def name(self) -> str:
        extra = f"_d{self.depth}" if self.dataflow == "ws" else ""
        regs = "_mr" if self.mul_reg else ""
        return (f"systolic_{self.dataflow}{self.rows}x{self.cols}_{self.a}_{self.w}_acc{self.acc}_"
                f"{self.overflow}{regs}_k{self.k_bits}{extra}")


def board_selftest(config: SystolicConfig):
    """The board self-test: GEMM tiles of the board's pseudo-random operands, checked against
    :func:`~lowbit.models.systolic.systolic_golden`.

    Both input streams carry the same number of beats, so each block uses as many ``a`` beats
    as ``w`` beats: os tiles of K = min(16, K max); ws passes of K = M = min(R, depth, K max),
    one K-tile each (M activation beats, K weight rows).
    """
    from lowbit.boards.selftest import SelfTest

    R = config.rows
    if config.dataflow == "os":
        k = m = min(16, config.k_max)
        params = {"k": k}
    else:
        k = m = min(R, config.depth, config.k_max)
        params = {"k": k, "m": m}
    blocks = max(4, -(-64 // k))

    def expected(inputs):
        import numpy as np

        from lowbit.hw.systolic import stream_layouts
        from lowbit.models.systolic import systolic_golden
        from lowbit.hw.payload import pack_lanes, unpack_lanes

        layouts = stream_layouts(config)
        a = config.a.decode(unpack_lanes(layouts["a"], inputs["a"])).reshape(blocks, k, R)
        w = config.w.decode(unpack_lanes(layouts["w"], inputs["w"])).reshape(blocks, k, -1)
        # os: beat k is column k of the tile's X; ws: beat i is row i of X (lanes past K unused)
        x = a.transpose(0, 2, 1) if config.dataflow == "os" else a[:, :m, :k]
        y = np.concatenate([systolic_golden(config, x[b], w[b]) for b in range(blocks)])
        return {"result": pack_lanes(layouts["result"], config.accumulator.encode(y))}

    return SelfTest(params=params, beats=blocks * k, expected=expected)


register(CoreKind(
    name="systolic",
    summary="R×C systolic array, weight- or output-stationary (int/uint 1-16, wrap or saturate; "
            "or minifloats, exact)",
    config=SystolicConfig,
    generator="lowbit.hw.systolic:Systolic",
    golden="lowbit.models.systolic:systolic_golden",
    perf="lowbit.models.systolic:SystolicPerf",
    testbench="lowbit.sim.tb_systolic",
    selftest="lowbit.kinds.systolic:board_selftest",
))
