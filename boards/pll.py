"""PLL settings for a core clock: the dividers of an iCE40 ``SB_PLL40`` or an ECP5 ``EHXPLLL``
that make a requested frequency from a board's clock.

The rule is the same for both: the fastest output the PLL can make **not above** the request
(the request is what timing was met at, so the clock must not exceed it), accepted when it is
within :data:`TOLERANCE` of the request; otherwise a :class:`~lowbit.errors.ConfigError` says
which range the PLL reaches and the nearest frequency it makes. The limits are the
datasheets', as Project IceStorm's ``icepll`` and Project Trellis' ``ecppll`` use them:

* iCE40 (simple feedback): input 10–133 MHz; PFD = in / (DIVR+1), 10–133 MHz; VCO = PFD ·
  (DIVF+1), 533–1066 MHz; out = VCO / 2^DIVQ, 16–275 MHz; DIVR 0–15, DIVF 0–127, DIVQ 1–6;
  the loop filter range follows the PFD (below 17, 26, 44, 66, 101 MHz: 1–5, else 6).
* ECP5 (feedback from CLKOP): input 8–400 MHz; PFD = in / CLKI_DIV, 3.125–400 MHz; out = PFD ·
  CLKFB_DIV, 10–400 MHz; VCO = out · CLKOP_DIV, 400–800 MHz; CLKI_DIV 1–128, CLKFB_DIV 1–80,
  CLKOP_DIV 1–128. Among equal outputs the VCO nearest 600 MHz is taken.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from typing import Any

from lowbit.errors import ConfigError

#: how far below the request the achieved frequency may be
TOLERANCE = 0.02


def _mhz(value: float) -> Fraction:
    return Fraction(value).limit_denominator(10**6)


@dataclass(frozen=True)
class Ice40Pll:
    """``SB_PLL40`` dividers for ``input_mhz`` → ``output_mhz`` (simple feedback)."""

    #: bits of each parameter as the primitive declares it
    WIDTHS = {"DIVR": 4, "DIVF": 7, "DIVQ": 3, "FILTER_RANGE": 3}

    input_mhz: Fraction
    divr: int
    divf: int
    divq: int

    @property
    def pfd_mhz(self) -> Fraction:
        return self.input_mhz / (self.divr + 1)

    @property
    def vco_mhz(self) -> Fraction:
        return self.pfd_mhz * (self.divf + 1)

    @property
    def output_mhz(self) -> Fraction:
        return self.vco_mhz / 2**self.divq

    @property
    def filter_range(self) -> int:
        return 1 + sum(self.pfd_mhz >= edge for edge in (17, 26, 44, 66, 101))

    @property
    def parameters(self) -> dict[str, int]:
        return {"DIVR": self.divr, "DIVF": self.divf, "DIVQ": self.divq,
                "FILTER_RANGE": self.filter_range}

    @classmethod
    def candidates(cls, input_mhz: Fraction):
        if not 10 <= input_mhz <= 133:
            return
        for divr in range(16):
            if not 10 <= input_mhz / (divr + 1) <= 133:
                continue
            for divf in range(128):
                for divq in range(1, 7):
                    pll = cls(input_mhz, divr, divf, divq)
                    if 533 <= pll.vco_mhz <= 1066 and 16 <= pll.output_mhz <= 275:
                        yield pll

    def preference(self) -> tuple:
        return (self.divr, self.divf)       # the highest PFD (least jitter), then small DIVF


@dataclass(frozen=True)
class Ecp5Pll:
    """``EHXPLLL`` dividers for ``input_mhz`` → ``output_mhz`` (CLKOP fed back internally)."""

    input_mhz: Fraction
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def pfd_mhz(self) -> Fraction:
        return self.input_mhz / self.clki_div

    @property
    def output_mhz(self) -> Fraction:
        return self.pfd_mhz * self.clkfb_div

    @property
    def vco_mhz(self) -> Fraction:
        return self.output_mhz * self.clkop_div

    @property
    def parameters(self) -> dict[str, int]:
        # CLKOP's phase counter at half its period, as Lattice's tools set it
        return {"CLKI_DIV": self.clki_div, "CLKFB_DIV": self.clkfb_div,
                "CLKOP_DIV": self.clkop_div, "CLKOP_CPHASE": self.clkop_div // 2,
                "CLKOP_FPHASE": 0}

    @classmethod
    def candidates(cls, input_mhz: Fraction):
        if not 8 <= input_mhz <= 400:
            return
        for clki_div in range(1, 129):
            pfd = input_mhz / clki_div
            if not Fraction(3125, 1000) <= pfd <= 400:
                continue
            for clkfb_div in range(1, 81):
                out = pfd * clkfb_div
                if not 10 <= out <= 400:
                    continue
                for clkop_div in range(max(1, -(-400 // out)), min(128, 800 // out) + 1):
                    yield cls(input_mhz, clki_div, clkfb_div, clkop_div)

    def preference(self) -> tuple:
        return (abs(self.vco_mhz - 600), self.clki_div, self.clkfb_div)


PLLS = {"ice40": Ice40Pll, "ecp5": Ecp5Pll}


@dataclass(frozen=True)
class CoreClock:
    """The PLL that makes a core clock: what was asked, what it makes and its settings."""

    family: str
    requested_mhz: float
    pll: Ice40Pll | Ecp5Pll

    @property
    def mhz(self) -> float:
        return float(self.pll.output_mhz)

    def to_dict(self) -> dict[str, Any]:
        return {"requested_mhz": self.requested_mhz, "achieved_mhz": round(self.mhz, 6),
                "input_mhz": float(self.pll.input_mhz), "pfd_mhz": float(self.pll.pfd_mhz),
                "vco_mhz": float(self.pll.vco_mhz), "parameters": self.pll.parameters}


@cache
def _settings(family: str, input_mhz: Fraction) -> tuple[Ice40Pll | Ecp5Pll, ...]:
    """The preferred legal setting of the family's PLL for every output frequency it makes
    from ``input_mhz``, slowest first."""
    best: dict[Fraction, Ice40Pll | Ecp5Pll] = {}
    for pll in PLLS[family].candidates(input_mhz):
        out = pll.output_mhz
        if out not in best or pll.preference() < best[out].preference():
            best[out] = pll
    return tuple(best[out] for out in sorted(best))


def core_clock(family: str, input_mhz: float, requested_mhz: float) -> CoreClock:
    """The PLL of ``family`` making the fastest clock not above ``requested_mhz`` from
    ``input_mhz``; a ConfigError when nothing within :data:`TOLERANCE` below it exists."""
    if family not in PLLS:
        raise ConfigError("core_mhz", requested_mhz, f"a PLL core clock on {', '.join(PLLS)} "
                          f"boards; this is a {family} board", context="engine")
    f_in, want = _mhz(input_mhz), _mhz(requested_mhz)
    options = _settings(family, f_in)
    if not options:
        raise ConfigError("core_mhz", requested_mhz, f"the {family} PLL takes no {input_mhz:g} "
                          "MHz input clock", context="engine")
    below = bisect_right(options, want, key=lambda p: p.output_mhz)
    best = options[below - 1] if below else None
    if best is None or best.output_mhz < want * (1 - Fraction(TOLERANCE)):
        lo, hi = options[0].output_mhz, options[-1].output_mhz
        nearest = min(options[max(below - 1, 0):below + 1],
                      key=lambda p: abs(p.output_mhz - want)).output_mhz
        raise ConfigError("core_mhz", requested_mhz, (
            f"a frequency the {family} PLL makes from the {input_mhz:g} MHz board clock "
            f"({float(lo):.6g}–{float(hi):.6g} MHz) at most {TOLERANCE:.0%} below it; the "
            f"nearest it makes is {float(nearest):.6g} MHz"), context="engine")
    return CoreClock(family, requested_mhz, best)
