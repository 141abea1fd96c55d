"""Slow, obviously correct references: exact rationals and plain loops, no shortcuts."""

from __future__ import annotations

import math
import subprocess
from fractions import Fraction

import numpy as np

from lowbit.tools import require_tool


def f32(q: Fraction) -> float:
    """The rational ``q`` rounded to FP32, nearest with ties to even, with subnormals and
    overflow to inf, by integer arithmetic."""
    if q == 0:
        return 0.0
    sign, q = (-1.0 if q < 0 else 1.0), abs(q)
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    e = max(e, -126)
    ulp = Fraction(2) ** (e - 23)
    value = round(q / ulp) * ulp  # Python rounds Fractions half to even
    if value >= 2 ** 128:
        return sign * math.inf
    return sign * float(value)


def overflow(total: int, bits: int, signed: bool, mode: str) -> int:
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if mode == "saturate":
        return min(max(total, lo), hi)
    total &= (1 << bits) - 1
    return total - (1 << bits) if signed and total > hi else total


def qgemm(a, w, acc=None, block=None):
    """The stated qgemm order, element by element: returns (out, block sums as Fractions)."""
    ea, ew = a.elements(), w.elements()
    za = a.expand(a.zero_points) if a.zero_points is not None else np.zeros(a.shape, int)
    zw = w.expand(w.zero_points) if w.zero_points is not None else np.zeros(w.shape, int)
    sa, sw = a.expand(a.scales), w.expand(w.scales)
    k = a.shape[1]
    block = block or math.gcd(a.group, w.group)
    m_, n_ = a.shape[0], w.shape[1]
    out = np.zeros((m_, n_), dtype=np.float32)
    sums = np.zeros((k // block, m_, n_), dtype=object)
    for m in range(m_):
        for n in range(n_):
            c = 0.0
            for j in range(k // block):
                ks = range(j * block, (j + 1) * block)
                if math.isnan(sa[m, ks[0]]) or math.isnan(sw[ks[0], n]):  # OCP MX: all NaN
                    s, d = math.nan, None
                elif not all(math.isfinite(ea[m, i]) and math.isfinite(ew[i, n]) for i in ks):
                    s = sum(float(ea[m, i]) * float(ew[i, n]) for i in ks)  # IEEE
                    d = None
                elif acc is not None:
                    raw = 0
                    for i in ks:
                        raw = overflow(raw + int(ea[m, i]) * int(ew[i, n]), acc.bits, acc.signed,
                                       acc.overflow)
                    za_, zw_ = int(za[m, ks[0]]), int(zw[ks[0], n])
                    corr = (-zw_ * sum(int(ea[m, i]) for i in ks)
                            - za_ * sum(int(ew[i, n]) for i in ks) + block * za_ * zw_)
                    d = Fraction(overflow(raw + corr, acc.bits, acc.signed, acc.overflow))
                else:
                    d = sum(Fraction(ea[m, i] - za[m, i]) * Fraction(ew[i, n] - zw[i, n])
                            for i in ks)
                if d is not None:
                    s = f32(d * Fraction(sa[m, ks[0]]) * Fraction(sw[ks[0], n]))
                    sums[j, m, n] = d
                c = f32(Fraction(c) + Fraction(s)) if math.isfinite(c) and math.isfinite(s) \
                    else float(np.float32(c) + np.float32(s))
            if a.tensor_scale != 1 or w.tensor_scale != 1:
                c = f32(Fraction(c) * Fraction(a.tensor_scale) * Fraction(w.tensor_scale)) \
                    if math.isfinite(c) else c
            out[m, n] = c
    return out, sums


def run_yosys(work, script: str) -> None:
    """Run a Yosys ``script`` in ``work``: Yosys's own mapping is the reference the primitive
    models are checked against."""
    tool = require_tool("yosys")
    (work / "run.ys").write_text(script)
    done = subprocess.run([*tool.command, "-q", "run.ys"], cwd=work, env=tool.environ(),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
