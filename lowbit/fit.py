"""``lowbit fit``: the largest, fastest configuration of a kind that fits a device's budget.

Two stages, both run on the sweep machinery (:mod:`lowbit.sweep`: cached by content hash,
resumable, local processes or a Dask cluster):

1. **Probes.** Small configs of every choice the kind and formats allow (for ``systolic``:
   the fabric, the DSP blocks packed as far as they go, and both mixed; for the other kinds one
   or two small rungs of their size ladder, :class:`SizedStrategy`) are implemented out of
   context. From each pair of probes of one choice comes a linear area model (LUTs, DSP blocks
   and block RAMs = fixed + per MAC slot) and a clock estimate (the slower probe's Fmax).
2. **Fill.** For every choice, the largest config the model predicts to fit the LUT budget and
   the device's DSP blocks and block RAMs; the ``runs`` with the highest predicted GMAC/s are
   implemented.

MACs per cycle are the kind's perf model at the formats' run-time precision (a ``lut`` or
``bitserial`` core at its weight bits, ``fusion`` in the mode of the formats), as the RTL's
cycles are checked against it; every other figure is the post-route report's.

The result is every implemented point with its GMAC/s, GMAC/s per kLUT and fraction of the
device bound (:mod:`lowbit.boards.bounds`), the Pareto frontier, and the best point that meets
the budget after place and route. A prediction is only a guide to what to implement: every
figure reported comes from nextpnr.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from lowbit.boards.bounds import DeviceBound, device_bound, products_per_dsp
from lowbit.boards.devices import ECP5, ICE40, Device
from lowbit.boards.report import fmax_mhz
from lowbit.config import CoreConfig
from lowbit.errors import ConfigError, UsageError
from lowbit.kinds.bitserial import MAX_COLS as BITSERIAL_COLS
from lowbit.kinds.bitserial import MAX_LANES as BITSERIAL_LANES
from lowbit.kinds.lut import MAX_BLOCKS as LUT_BLOCKS
from lowbit.kinds.lut import MAX_COLS as LUT_COLS
from lowbit.kinds.lut import MAX_TABLES as LUT_TABLES
from lowbit.kinds.lut import MAX_W_BITS as LUT_W_BITS
from lowbit.kinds.systolic import DEFAULT_FANOUT, DEFAULT_STAGES
from lowbit.kinds.systolic import FAMILIES as SYSTOLIC_FAMILIES
from lowbit.models.block_formats import BlockFormat
from lowbit.models.formats import FixedFormat, Format, IntFormat, parse_format
from lowbit.models.fusion import PRECISIONS as FUSION_PRECISIONS
from lowbit.models.kulisch import kulisch_bits
from lowbit.models.minifloat import FloatFormat
from lowbit.registry import config_from_dict, get_kind
from lowbit.sweep import Point, Sweep, run_sweep

#: the probes' clock is derated this much for a full-device fill (longer routes, congestion)
FILL_DERATE = 0.85


@dataclass(frozen=True)
class Candidate:
    """A config to implement: a probe, or a fill with its predicted LUTs and GMAC/s."""

    config: CoreConfig
    choice: str
    role: str
    predicted_luts: int | None = None
    predicted_gmacs: float | None = None
    #: MACs per cycle at the formats' run-time precision (None: the report's, at full precision)
    macs: float | None = None


@dataclass(frozen=True)
class Implemented:
    """One implemented candidate and its figures from the report."""

    candidate: Candidate
    report: Mapping[str, Any]

    @property
    def luts(self) -> int:
        return int(self.report["resources"]["luts"])

    @property
    def fmax(self) -> float:
        return fmax_mhz(self.report) or 0.0

    @property
    def cells(self) -> int:
        """Logic cells placed, harness included: on iCE40 a cell holds a LUT4 and a flip-flop,
        so a flip-flop that cannot share one takes a cell of its own (the report's LUTs count
        the core's LUT4s only)."""
        used = self.report.get("utilization", {}).get("luts", {}).get("used")
        return self.luts if used is None else int(used)

    @property
    def dsps(self) -> int:
        return int(self.report["resources"]["dsp"])

    @property
    def brams(self) -> int:
        return int(self.report["resources"]["bram"])

    @property
    def macs(self) -> float:
        if self.candidate.macs is not None:
            return self.candidate.macs
        return float(self.report["perf"]["peak_macs_per_cycle"])

    @property
    def gmacs(self) -> float:
        return self.macs * self.fmax / 1000


def _line(points: list[Implemented], of: Callable[[Implemented], float]) -> tuple[float, float]:
    """(fixed, per MAC) of a resource through the smallest and largest probe (one probe: all
    of it per MAC, none fixed)."""
    ordered = sorted(points, key=lambda p: p.macs)
    small, large = ordered[0], ordered[-1]
    if large.macs > small.macs:
        per = (of(large) - of(small)) / (large.macs - small.macs)
    else:
        per = of(large) / large.macs
    per = max(per, 0.0)
    return max(0.0, of(small) - per * small.macs), per


@dataclass(frozen=True)
class AreaModel:
    """LUTs ≈ ``fixed + per_mac · MACs`` (placed logic cells, DSP blocks and block RAMs alike)
    and the clock, from the probes of one choice."""

    fixed: float
    per_mac: float
    mhz: float
    dsp_fixed: float = 0.0
    dsp_per_mac: float = 0.0
    bram_fixed: float = 0.0
    bram_per_mac: float = 0.0
    cell_fixed: float = 0.0
    cell_per_mac: float = 0.0

    @classmethod
    def of(cls, points: list[Implemented]) -> AreaModel:
        fixed, per = _line(points, lambda p: p.luts)
        dsp = _line(points, lambda p: p.dsps)
        bram = _line(points, lambda p: p.brams)
        cells = _line(points, lambda p: p.cells)
        return cls(fixed, max(per, 1e-9), min(p.fmax for p in points), *dsp, *bram, *cells)

    def macs_within(self, luts: float) -> int:
        return max(0, int((luts - self.fixed) / self.per_mac))

    def luts(self, macs: float) -> float:
        return self.fixed + self.per_mac * macs

    def fits(self, macs: float, budget_luts: float, device: Device) -> bool:
        """Whether ``macs`` MAC slots are predicted to fit the LUT budget and the device's logic
        cells, DSP blocks and block RAMs."""
        return (self.luts(macs) <= budget_luts
                and self.cell_fixed + self.cell_per_mac * macs <= device.luts
                and self.dsp_fixed + self.dsp_per_mac * macs <= device.dsp + 1e-6
                and self.bram_fixed + self.bram_per_mac * macs <= device.bram + 1e-6)


def square(pes: int, pack: int, limit: int) -> tuple[int, int]:
    """(rows, cols) of an array of at most ``pes`` PEs of ``pack`` columns each, as square in
    MACs as the counts allow (cols a multiple of ``pack``; both at most ``limit``)."""
    rows = max(1, min(limit, round(math.sqrt(pes * pack))))
    wide = max(1, min(limit // pack, pes // rows))
    return rows, wide * pack


def bound_operand(fmt: Format) -> IntFormat:
    """The integer the device bound counts a multiplier operand of ``fmt`` as: an integer
    itself, a fixed-point element its integer, a minifloat its signed significand (hidden bit
    included), a block format its element's. For a floating format the bound is an upper
    one: it leaves out the alignment shifts."""
    if isinstance(fmt, BlockFormat):
        return bound_operand(fmt.element)
    if isinstance(fmt, FixedFormat):
        return fmt.base
    if isinstance(fmt, FloatFormat):
        return IntFormat(fmt.man_bits + 2)
    if isinstance(fmt, IntFormat):
        return fmt
    raise UsageError(f"lowbit fit has no device bound for {fmt} operands")


def _formats(base: Mapping[str, Any], *names: str) -> tuple[Format, ...]:
    return tuple(parse_format(str(base[n])) for n in names)


class Strategy:
    """How ``lowbit fit`` sizes one kind for the formats of ``base`` on ``device``.

    A strategy names its ``choices`` (multiplier or cell choices, each with an area model of
    its own), the ``probes`` to implement first, and the ``fills`` the models predict to fit;
    ``a``, ``w`` and ``acc`` are the integer operands and accumulator its device bound counts.
    ``runtime`` holds the run-time registers (as the kind's perf model takes them) MACs per
    cycle are counted at: the formats' precision on a core built for more.
    """

    kind: ClassVar[str]
    #: config fields the strategy chooses; a base that gives one is an error
    CHOSEN: ClassVar[tuple[str, ...]]
    choices: tuple[str, ...]
    a: IntFormat
    w: IntFormat
    acc: int

    @classmethod
    def base(cls, a: Format, w: Format, acc: int) -> dict | None:
        """The fields of this kind that compute ``a × w`` exactly (integers in ``acc`` bits),
        or None when it does not compute that pair."""
        raise NotImplementedError

    @classmethod
    def runtime(cls, a: Format, w: Format) -> dict:
        """The run-time registers that make a core of :meth:`base` compute ``a × w``."""
        return {}

    def probes(self, quick: bool) -> list[Candidate]:
        raise NotImplementedError

    def fills(self, models: Mapping[str, AreaModel], budget_luts: float) -> list[Candidate]:
        raise NotImplementedError

    def bound(self, device: Device, budget: float) -> DeviceBound:
        return device_bound(device, self.a, self.w, self.acc, lut_share=budget)


class SystolicStrategy(Strategy):
    """``systolic``: the fabric (``lut``), the DSP blocks (``dsp``, packed), both (``auto``).

    A family whose DSP block the kind instantiates (ECP5, iCE40) gets all three; elsewhere
    (Gowin) the kind's cells are ``generic`` and the DSP blocks are reached through Yosys'
    inference alone: ``dsp`` is then ``mul=infer``, one product per PE, sized to the products
    the blocks hold, and nothing mixes fabric and DSP PEs (``auto`` needs an instantiated
    block). Minifloat operands have one choice, ``infer`` (Yosys maps the significand
    products; lut, dsp and auto multiply integers), on 2×2 and 4×4 probes: their PEs carry
    exact (Kulisch) registers.
    """

    kind = "systolic"
    CHOSEN = ("rows", "cols", "mul", "family", "pack", "dsp_blocks")
    CHOICES = ("lut", "dsp", "auto")
    PROBE_SIDES = (4, 8)
    FLOAT_PROBE_SIDES = (2, 4)

    def __init__(self, base: Mapping[str, Any], device: Device,
                 runtime: Mapping[str, Any] | None = None):
        if runtime:
            raise UsageError(f"a systolic array has no run-time precision; runtime={runtime}")
        self.base, self.device = dict(base), device
        probe = config_from_dict({"kind": "systolic", **self.base})
        self.integer = probe.integer
        if not (self.integer or (isinstance(probe.a, FloatFormat)
                                 and isinstance(probe.w, FloatFormat))):
            raise UsageError("lowbit fit sizes systolic arrays of integer or minifloat operands; "
                             f"{probe.a} × {probe.w} is neither")
        self.a, self.w = bound_operand(probe.a), bound_operand(probe.w)
        self.acc = probe.acc
        self.limit = get_kind("systolic").config.__dataclass_fields__["rows"].metadata["hi"]
        if not self.integer:
            self.family, self.inferred, self.pack, self.choices = "generic", True, 1, ("infer",)
            self.dsp_pes = 0
            return
        per_dsp = products_per_dsp(device, self.a, self.w)
        self.family = device.family.name if device.family.name in SYSTOLIC_FAMILIES \
            else "generic"
        self.inferred = self.family == "generic"
        if self.inferred:
            self.pack, self.choices = 1, ("lut", "dsp") if per_dsp else ("lut",)
        else:
            self.pack = per_dsp if self.family == "ecp5" else min(per_dsp, 2)
            self.choices = self.CHOICES if per_dsp else ("lut",)
        #: PEs the DSP blocks hold: one per block, or one per inferred product
        self.dsp_pes = device.dsp * per_dsp if self.inferred else device.dsp

    @classmethod
    def base(cls, a: Format, w: Format, acc: int) -> dict | None:
        """Output-stationary fields for ``a × w``: integers in ``acc`` bits, minifloats in the
        exact register; None for other formats."""
        if isinstance(a, IntFormat) and isinstance(w, IntFormat):
            return {"a": a.name, "w": w.name, "acc": acc, "dataflow": "os"}
        if isinstance(a, FloatFormat) and isinstance(w, FloatFormat):
            k_max = config_from_dict({"kind": "systolic", "a": "int8", "w": "int8"}).k_max
            return {"a": a.name, "w": w.name, "acc": kulisch_bits(a, w, k_max),
                    "dataflow": "os"}
        return None

    def config(self, choice: str, rows: int, cols: int, dsp_blocks: int = 0) -> CoreConfig:
        mul = {"lut": "lut", "dsp": "infer" if self.inferred else "dsp", "auto": "auto",
               "infer": "infer"}[choice]
        pack = 1 if choice in ("lut", "infer") else self.pack
        # fabric rows of the family's own cells exist for ECP5 only (CCU2C); elsewhere generic
        family = "generic" if choice == "lut" and self.family != "ecp5" else self.family
        # generic cells keep the device family's pipelining (generic's own default is none,
        # which leaves an iCE40 fabric array at half the clock of its DSP one)
        piped = {"mul_stages": DEFAULT_STAGES[self.family],
                 "fanout": DEFAULT_FANOUT[self.family]} if family != self.family else {}
        fields = {**piped, **self.base, "rows": rows, "cols": cols, "mul": mul, "pack": pack,
                  "family": family, "dsp_blocks": dsp_blocks if choice == "auto" else 0}
        return config_from_dict({"kind": "systolic", **fields})

    def probes(self, quick: bool) -> list[Candidate]:
        if not self.integer:
            sides = self.FLOAT_PROBE_SIDES[:1] if quick else self.FLOAT_PROBE_SIDES
            return [Candidate(self.config("infer", side, side), "infer", "probe")
                    for side in sides]
        sides = self.PROBE_SIDES[:1] if quick else self.PROBE_SIDES
        out = []
        for choice in self.choices:
            if choice == "dsp" and self.inferred:   # every product in a DSP block
                fitting = sorted({min(side, math.isqrt(self.dsp_pes)) for side in sides})
                out += [Candidate(self.config(choice, side, side), choice, "probe")
                        for side in fitting]
                continue
            for side in sides:
                cols = max(self.pack, side // self.pack * self.pack) if choice != "lut" else side
                pes = side * cols // (1 if choice == "lut" else self.pack)
                blocks = min(self.device.dsp, pes // 2) if choice == "auto" else 0
                out.append(Candidate(self.config(choice, side, cols, blocks), choice, "probe"))
        return out

    def fills(self, models: Mapping[str, AreaModel], budget_luts: float) -> list[Candidate]:
        out = []
        d = self.device.dsp
        for choice in self.choices:
            if choice == "infer":   # minifloat: the largest square the budget and blocks hold
                model = models["infer"]
                rows, cols = square(self._within(model, budget_luts), 1, self.limit)
                out.append(self._fill(choice, rows, cols, 0, model.luts(rows * cols),
                                      rows * cols, model.mhz))
                continue
            # the DSP PEs the budget holds (a small budget cannot take every block's array)
            dsp_pes = min(self.dsp_pes, models["dsp"].macs_within(budget_luts) // self.pack) \
                if "dsp" in models else 0
            if choice == "dsp":
                rows, cols = square(dsp_pes, self.pack, self.limit)
                macs = rows * cols
                luts = models["dsp"].fixed + models["dsp"].per_mac * macs
                out.append(self._fill(choice, rows, cols, 0, luts, macs, models["dsp"].mhz))
                continue
            if choice == "lut":
                rows, cols = square(self._within(models["lut"], budget_luts), 1, self.limit)
                luts = models["lut"].fixed + models["lut"].per_mac * rows * cols
                out.append(self._fill(choice, rows, cols, 0, luts, rows * cols,
                                      models["lut"].mhz))
                continue
            # auto: every DSP block, the fabric for the PEs the rest of the budget holds (none
            # left: the dsp fill already is that array)
            blocks = min(d, dsp_pes)
            dsp_macs = blocks * self.pack
            dsp_luts = models["dsp"].per_mac * dsp_macs
            fabric_macs = models["lut"].macs_within(budget_luts - dsp_luts)
            if fabric_macs < self.pack:
                continue
            pes = blocks + fabric_macs // self.pack
            rows, cols = square(pes, self.pack, self.limit)
            macs = rows * cols
            luts = (models["lut"].fixed + dsp_luts
                    + models["lut"].per_mac * max(0, macs - dsp_macs))
            out.append(self._fill(choice, rows, cols, min(blocks, rows * cols // self.pack),
                                  luts, macs, min(models["dsp"].mhz, models["lut"].mhz)))
        return [c for c in out if c is not None]

    def _within(self, model: AreaModel, budget_luts: float) -> int:
        """MACs of one choice the budget and the device's logic cells, DSP blocks and block
        RAMs hold (iCE40: a 7×8 fabric array of 4,455 predicted LUT4s overflowed the UP5K's
        logic cells)."""
        macs = model.macs_within(budget_luts)
        while macs > 1 and not model.fits(macs, budget_luts, self.device):
            macs -= 1
        return macs

    def _fill(self, choice, rows, cols, blocks, luts, macs, mhz) -> Candidate | None:
        if rows < 1 or cols < 1:
            return None
        try:
            config = self.config(choice, rows, cols, blocks)
        except ConfigError:
            return None
        return Candidate(config, choice, "fill", int(luts), macs * mhz * FILL_DERATE / 1000)


class SizedStrategy(Strategy):
    """A kind sized along one ladder of configs, ascending in MACs per cycle.

    The rungs ``PROBES`` are the probes (both even with ``quick``: a kind's fixed part — a
    table fill unit, an FP32 accumulator — is only told from its per-MAC part by two sizes);
    the fills are the rungs the area model predicts to fit the budget and the device's logic
    cells, DSP blocks and block RAMs, the largest first. A kind without a size (one unit) has
    a ladder of one rung, implemented as its own probe.
    """

    CHOICE: ClassVar[str] = "fabric"
    #: the rungs probed (indices into the ladder; past its end: its last)
    PROBES: ClassVar[tuple[int, ...]] = (0, 1)

    def __init__(self, base: Mapping[str, Any], device: Device,
                 runtime: Mapping[str, Any] | None = None):
        self.base, self.device, self.runtime = dict(base), device, dict(runtime or {})
        self.choices = (self.CHOICE,)
        config_from_dict({"kind": self.kind, **self.base})   # the base fields must be valid
        self.ladder = []
        for fields in self.rungs():
            try:
                self.ladder.append(config_from_dict({"kind": self.kind, **self.base, **fields}))
            except ConfigError:
                continue
        if not self.ladder:
            raise UsageError(f"no {self.kind} size is valid with {self.base}")
        self.macs(self.ladder[0])   # the run-time registers must be valid
        self.a, self.w, self.acc = self.bound_formats(self.ladder[0])

    def rungs(self) -> Iterable[dict]:
        """The size fields of each rung, ascending in MACs per cycle."""
        return ({},)

    def bound_formats(self, config: CoreConfig) -> tuple[IntFormat, IntFormat, int]:
        return bound_operand(config.a), bound_operand(config.w), config.acc

    def macs(self, config: CoreConfig) -> float:
        """MACs per cycle at the formats' run-time precision (the kind's perf model)."""
        try:
            return get_kind(self.kind).perf_model(config, **self.runtime).peak_macs_per_cycle
        except (TypeError, ValueError) as e:
            raise UsageError(f"runtime={self.runtime} is not a run-time setting of {self.kind}: "
                             f"{e}") from None

    def candidate(self, config: CoreConfig, role: str, luts: float | None = None,
                  mhz: float | None = None) -> Candidate:
        macs = self.macs(config)
        return Candidate(config, self.CHOICE, role, None if luts is None else int(luts),
                         None if mhz is None else macs * mhz * FILL_DERATE / 1000, macs)

    def probes(self, quick: bool) -> list[Candidate]:
        rungs = dict.fromkeys(min(i, len(self.ladder) - 1) for i in self.PROBES)
        return [self.candidate(self.ladder[i], "probe") for i in rungs]

    def fills(self, models: Mapping[str, AreaModel], budget_luts: float) -> list[Candidate]:
        model = models[self.CHOICE]
        fitting = [c for c in self.ladder
                   if model.fits(self.macs(c), budget_luts, self.device)]
        return [self.candidate(c, "fill", model.luts(self.macs(c)), model.mhz)
                for c in reversed(fitting)]


def _int_pair(a: Format, w: Format) -> bool:
    return isinstance(a, IntFormat) and isinstance(w, IntFormat)


class LutStrategy(SizedStrategy):
    """``lut``: the table core with tables where the family keeps them best (ECP5 distributed
    RAM, iCE40 block RAM), 4-activation tables, as many column blocks as hide a table's fill at
    the formats' weight bits (blocks·W ≥ 16), then more columns (4 … 128), then more tables."""

    kind = "lut"
    CHOSEN = ("g", "tables", "cols", "blocks", "family")
    G = 4

    @classmethod
    def base(cls, a: Format, w: Format, acc: int) -> dict | None:
        if not (_int_pair(a, w) and a.signed and w.signed and w.bits <= LUT_W_BITS):
            return None
        return {"a": a.name, "w_bits": w.bits, "acc": acc}

    def __init__(self, base: Mapping[str, Any], device: Device,
                 runtime: Mapping[str, Any] | None = None):
        family = {ECP5.name: "ecp5", ICE40.name: "ice40"}.get(device.family.name, "generic")
        super().__init__({**base, "family": family}, device, runtime)

    def rungs(self) -> Iterable[dict]:
        w_bits = int(self.base.get("w_bits", 4))
        blocks = min(LUT_BLOCKS, -(-(1 << self.G) // w_bits))
        tables = 2 if self.base["family"] == "ecp5" else 1
        cols = [c for c in (4, 8, 16, 32, 64) if c <= LUT_COLS] + [LUT_COLS]
        for c in dict.fromkeys(cols):
            yield {"g": self.G, "tables": tables, "cols": c, "blocks": blocks}
        t = tables * 2
        while t <= LUT_TABLES:
            yield {"g": self.G, "tables": t, "cols": LUT_COLS, "blocks": blocks}
            t *= 2

    def bound_formats(self, config):
        return config.a, IntFormat(config.w_bits), config.acc


class BitserialStrategy(SizedStrategy):
    """``bitserial``: weights fed one bit per cycle (Stripes), the ECP5 carry-chain cells
    where the family has them; lanes and columns doubled in turn (8×2 … 64×64). The probes,
    8×4 and 16×8, grow both: a lane (a wider adder tree) and a column cost differently, so two
    probes that differ in columns only mispredict the rungs beyond (on the UP5K at W2, 5,346
    logic cells for the 16×8 that placed in 4,809)."""

    kind = "bitserial"
    CHOSEN = ("lanes", "cols", "serial", "family")
    PROBES = (1, 3)

    @classmethod
    def base(cls, a: Format, w: Format, acc: int) -> dict | None:
        if not _int_pair(a, w):
            return None
        return {"a": a.name, "w": w.name, "acc": acc}

    def __init__(self, base: Mapping[str, Any], device: Device,
                 runtime: Mapping[str, Any] | None = None):
        family = "ecp5" if device.family is ECP5 else "generic"
        super().__init__({**base, "serial": "w", "family": family}, device, runtime)

    def rungs(self) -> Iterable[dict]:
        lanes, cols = 8, 2
        while lanes <= BITSERIAL_LANES and cols <= BITSERIAL_COLS:
            yield {"lanes": lanes, "cols": cols}
            if cols < lanes:
                cols *= 2
            else:
                lanes *= 2


class BlockdotStrategy(SizedStrategy):
    """``blockdot``: FP32 output, lanes every divisor of the block from 2 up (the FP32 adder
    has block/lanes cycles per add, so wide units run slower: the post-route Fmax says how
    much)."""

    kind = "blockdot"
    CHOSEN = ("lanes",)

    @classmethod
    def base(cls, a: Format, w: Format, acc: int) -> dict | None:
        if not (isinstance(a, BlockFormat) and isinstance(w, BlockFormat)):
            return None
        return {"a": a.name, "w": w.name, "output": "fp32"}

    def rungs(self) -> Iterable[dict]:
        block = config_from_dict({"kind": "blockdot", **self.base}).block
        return ({"lanes": n} for n in range(2, block + 1) if block % n == 0)

    def bound_formats(self, config):
        return bound_operand(config.a), bound_operand(config.w), config.sum_bits


class UnitStrategy(SizedStrategy):
    """A kind of one unit and no size: a single design, nothing chosen."""

    CHOICE = "unit"
    CHOSEN = ()


class FmacStrategy(UnitStrategy):
    """``fmac``: one exact (Kulisch) minifloat MAC; the kind has no size."""

    kind = "fmac"

    @classmethod
    def base(cls, a: Format, w: Format, acc: int) -> dict | None:
        if not (isinstance(a, FloatFormat) and isinstance(w, FloatFormat)):
            return None
        return {"a": a.name, "w": w.name}

    def bound_formats(self, config):
        return bound_operand(config.a_set.formats[0]), bound_operand(config.w_set.formats[0]), \
            config.acc_bits


class FusionStrategy(UnitStrategy):
    """``fusion``: one Bit Fusion unit (sixteen BitBricks) in the mode of the formats (int1 runs
    as 2 bits); the kind has no size."""

    kind = "fusion"

    @classmethod
    def base(cls, a: Format, w: Format, acc: int) -> dict | None:
        if not (_int_pair(a, w) and a.signed and w.signed and max(a.bits, w.bits) <= 8):
            return None
        return {"acc": max(acc, 18)}

    @classmethod
    def runtime(cls, a: Format, w: Format) -> dict:
        def bits(fmt):
            return min(b for b in FUSION_PRECISIONS if b >= fmt.bits)
        return {"a_bits": bits(a), "w_bits": bits(w)}

    def bound_formats(self, config):
        return (IntFormat(self.runtime.get("a_bits", 8)), IntFormat(self.runtime.get("w_bits", 8)),
                config.acc)


class MacStrategy(UnitStrategy):
    """``mac``: one multiply-accumulate unit, Yosys' multiplier; the kind has no size."""

    kind = "mac"

    @classmethod
    def base(cls, a: Format, w: Format, acc: int) -> dict | None:
        if not _int_pair(a, w):
            return None
        return {"a": a.name, "w": w.name, "acc": acc}


STRATEGIES: dict[str, type[Strategy]] = {
    s.kind: s for s in (SystolicStrategy, LutStrategy, BitserialStrategy, BlockdotStrategy,
                        FmacStrategy, FusionStrategy, MacStrategy)}


@dataclass(frozen=True)
class FitResult:
    """Every implemented point, the device bound, and the best point within the budget."""

    device: Device
    budget: float
    bound: DeviceBound
    points: list[Implemented]
    failed: list[tuple[Candidate, Mapping[str, Any]]]

    @property
    def best(self) -> Implemented | None:
        fitting = [p for p in self.points
                   if p.luts <= self.budget * self.device.luts
                   and int(p.report["resources"]["dsp"]) <= self.device.dsp]
        return max(fitting, key=lambda p: p.gmacs, default=None)


#: the named format pairs benchmarks compare: activation, weight format and the integer
#: accumulator width (0 where the kind's strategy sizes it: minifloat and block formats)
FORMAT_PAIRS = {"W1A8": ("int8", "int1", 24), "W2A8": ("int8", "int2", 24),
                "W4A8": ("int8", "int4", 24), "W8A8": ("int8", "int8", 32),
                "W4A4": ("int4", "int4", 20), "FP8": ("fp8_e4m3", "fp8_e4m3", 0),
                "MXFP4": ("mxfp4", "mxfp4", 0), "MXINT8": ("mxint8", "mxint8", 0)}


def format_pairs(labels: Iterable[str], allowed: Iterable[str] = FORMAT_PAIRS) -> list[str]:
    """``labels`` checked against ``allowed`` (names of :data:`FORMAT_PAIRS`): one clear error
    for an unknown one."""
    labels, allowed = list(labels), list(allowed)
    for label in labels:
        if label not in allowed:
            raise UsageError(f"format {label!r} is not allowed; one of {', '.join(allowed)}")
    return labels


def check_budget(budget: float) -> float:
    if not 0 < budget <= 1:
        raise UsageError(f"budget={budget:g} is not allowed; a share of the device's LUTs "
                         "above 0 and at most 1, e.g. 0.85")
    return budget


def strategy(kind: str, base: Mapping[str, Any], device: Device,
             runtime: Mapping[str, Any] | None = None) -> Strategy:
    """The sizing strategy of ``kind`` for the fields ``base`` on ``device``."""
    if kind not in STRATEGIES:
        raise UsageError(f"lowbit fit sizes {', '.join(STRATEGIES)}; {kind} has no size to fit")
    return STRATEGIES[kind](base, device, runtime)


def fit(kind: str, base: Mapping[str, Any], device: Device, *, budget: float = 0.85,
        quick: bool = False, runs: int = 3, out: Path, workers: int | None = None,
        scheduler: str | None = None, runtime: Mapping[str, Any] | None = None,
        progress: Callable[[str], None] = lambda m: None) -> FitResult:
    """Probe, model and fill ``device`` with ``kind`` configs from the fields ``base``.

    Parameters
    ----------
    kind
        The kind to size (a key of :data:`STRATEGIES`).
    base
        Config fields every candidate shares (formats, accumulator, dataflow, ...); not the fields
        fit chooses (shape, multipliers).
    device
        The device to fill.
    budget
        The share of the device's LUTs a candidate may take (0 < budget ≤ 1).
    quick
        One probe per choice and one full-size run.
    runs
        Full-size candidates to implement, the best predicted first.
    out
        The output directory (the sweep's reports and the fit's summary).
    workers, scheduler
        Local processes, or a Dask scheduler's address, as for :func:`lowbit.sweep.run_sweep`.
    runtime
        Run-time registers MACs per cycle are counted at (:meth:`Strategy.runtime`).
    progress
        Called with a line of text at every stage.

    Returns
    -------
    FitResult
        Every implemented point, the device bound, and the best point within the budget.
    """
    check_budget(budget)
    if runs < 1:
        raise UsageError(f"runs={runs} is not allowed; at least 1")
    sizing = strategy(kind, base, device, runtime)
    bound = sizing.bound(device, budget)

    points, failed = probe(kind, base, device, quick=quick, out=out, workers=workers,
                           scheduler=scheduler, runtime=runtime, progress=progress)
    models = {}
    for choice in sizing.choices:
        mine = [p for p in points if p.candidate.choice == choice]
        if not mine:
            raise UsageError(f"every {choice} probe failed on {device.name}; see {out}/probes")
        models[choice] = AreaModel.of(mine)
    done = {p.candidate.config.hash for p in points} | {c.config.hash for c, _ in failed}
    fills = sorted((c for c in sizing.fills(models, budget * device.luts)
                    if c.config.hash not in done),
                   key=lambda c: -c.predicted_gmacs)[:1 if quick else runs]
    if fills:
        progress(f"implementing {len(fills)} full configs (predicted "
                 + ", ".join(f"{c.choice} {c.predicted_gmacs:.1f} GMAC/s" for c in fills) + ")")
        _implement(fills, device, out / "fills", workers, scheduler, points, failed, progress)
    return FitResult(device, budget, bound, points, failed)


def probe(kind: str, base: Mapping[str, Any], device: Device, *, quick: bool = False,
          out: Path, workers: int | None = None, scheduler: str | None = None,
          runtime: Mapping[str, Any] | None = None,
          progress: Callable[[str], None] = lambda m: None
          ) -> tuple[list[Implemented], list[tuple[Candidate, Mapping[str, Any]]]]:
    """The probe stage of :func:`fit` alone: small configs of every multiplier choice the
    formats allow on ``device``, implemented (``quick``: one size per choice). The family
    benchmarks take the best of them as the MAC array a design of similar size competes with."""
    probes = strategy(kind, base, device, runtime).probes(quick)
    progress(f"probing {len(probes)} small configs on {device.name}")
    points: list[Implemented] = []
    failed: list = []
    _implement(probes, device, out / "probes", workers, scheduler, points, failed, progress)
    return points, failed


def _implement(candidates: Iterable[Candidate], device: Device, out: Path, workers, scheduler,
               points: list[Implemented], failed: list, progress) -> None:
    candidates = list(candidates)
    by_id = {}
    sweep_points = []
    for c in candidates:
        p = Point(c.config.to_dict(), device.name, None, 1, None, "pypi")
        by_id[p.id] = c
        sweep_points.append(p)

    def on_result(point, result) -> None:
        c = by_id[point.id]
        if result["status"] == "ok":
            figure = Implemented(c, result["report"])
            progress(f"{c.role} {c.choice} {c.config.name}: {figure.luts:,} LUTs, "
                     f"{figure.fmax:.1f} MHz, {figure.gmacs:.2f} GMAC/s")
        else:
            progress(f"{c.role} {c.choice} {c.config.name} failed: {result['error']['message']}")

    for point, result in run_sweep(Sweep("fit", tuple(sweep_points)), out, workers=workers,
                                   scheduler=scheduler, on_result=on_result):
        c = by_id[point.id]
        if result["status"] == "ok":
            points.append(Implemented(c, result["report"]))
        else:
            failed.append((c, result["error"]))
