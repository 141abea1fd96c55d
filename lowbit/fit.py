"""``lowbit fit``: the largest, fastest configuration of a kind that fits a device's budget.

Two stages, both run on the sweep machinery (:mod:`lowbit.sweep`: cached by content hash,
resumable, local processes or a Dask cluster):

1. **Probes.** Small configs of every multiplier choice the formats allow (for ``systolic``:
   the fabric, the DSP blocks packed as far as they go, and both mixed) are implemented out of
   context. From each pair of probes of one choice comes a linear area model (LUTs = fixed +
   per MAC slot) and a clock estimate (the slower probe's Fmax).
2. **Fill.** For every choice, the largest config the model predicts to fit the LUT budget and
   the device's DSP blocks; the ``runs`` with the highest predicted GMAC/s are implemented.

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
from typing import Any

from lowbit.boards.bounds import DeviceBound, device_bound, products_per_dsp
from lowbit.boards.devices import Device
from lowbit.boards.report import fmax_mhz
from lowbit.config import CoreConfig
from lowbit.errors import ConfigError, UsageError
from lowbit.kinds.systolic import DEFAULT_FANOUT, DEFAULT_STAGES
from lowbit.kinds.systolic import FAMILIES as SYSTOLIC_FAMILIES
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
    def macs(self) -> float:
        return float(self.report["perf"]["peak_macs_per_cycle"])

    @property
    def gmacs(self) -> float:
        return self.macs * self.fmax / 1000


@dataclass(frozen=True)
class AreaModel:
    """LUTs ≈ ``fixed + per_mac · MACs`` and the clock, from two probes of one choice."""

    fixed: float
    per_mac: float
    mhz: float

    @classmethod
    def of(cls, points: list[Implemented]) -> AreaModel:
        ordered = sorted(points, key=lambda p: p.macs)
        small, large = ordered[0], ordered[-1]
        if large.macs > small.macs:
            per = (large.luts - small.luts) / (large.macs - small.macs)
        else:
            per = large.luts / large.macs
        return cls(max(0.0, small.luts - per * small.macs), max(per, 1e-9),
                   min(p.fmax for p in points))

    def macs_within(self, luts: float) -> int:
        return max(0, int((luts - self.fixed) / self.per_mac))


def square(pes: int, pack: int, limit: int) -> tuple[int, int]:
    """(rows, cols) of an array of at most ``pes`` PEs of ``pack`` columns each, as square in
    MACs as the counts allow (cols a multiple of ``pack``; both at most ``limit``)."""
    rows = max(1, min(limit, round(math.sqrt(pes * pack))))
    wide = max(1, min(limit // pack, pes // rows))
    return rows, wide * pack


class SystolicStrategy:
    """``systolic``: the fabric (``lut``), the DSP blocks (``dsp``, packed), both (``auto``).

    A family whose DSP block the kind instantiates (ECP5, iCE40) gets all three; elsewhere
    (Gowin) the kind's cells are ``generic`` and the DSP blocks are reached through Yosys'
    inference alone: ``dsp`` is then ``mul=infer``, one product per PE, sized to the products
    the blocks hold, and nothing mixes fabric and DSP PEs (``auto`` needs an instantiated
    block).
    """

    CHOICES = ("lut", "dsp", "auto")
    PROBE_SIDES = (4, 8)

    def __init__(self, base: Mapping[str, Any], device: Device):
        self.base, self.device = dict(base), device
        probe = config_from_dict({"kind": "systolic", **self.base})
        if not probe.integer:
            raise UsageError("lowbit fit sizes integer systolic arrays (its multipliers are "
                             f"integer); {probe.a} × {probe.w} is not")
        self.a, self.w = probe.a, probe.w
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
        self.limit = get_kind("systolic").config.__dataclass_fields__["rows"].metadata["hi"]

    def config(self, choice: str, rows: int, cols: int, dsp_blocks: int = 0) -> CoreConfig:
        mul = {"lut": "lut", "dsp": "infer" if self.inferred else "dsp", "auto": "auto"}[choice]
        pack = 1 if choice == "lut" else self.pack
        # fabric rows of the family's own cells exist for ECP5 only (CCU2C); elsewhere generic
        family = "generic" if choice == "lut" and self.family != "ecp5" else self.family
        # generic cells keep the device family's pipelining (generic's own default is none,
        # which leaves an iCE40 fabric array at half the clock of its DSP one)
        piped = {"mul_stages": DEFAULT_STAGES[self.family], "fanout": DEFAULT_FANOUT[self.family]}
        fields = {**piped, **self.base, "rows": rows, "cols": cols, "mul": mul, "pack": pack,
                  "family": family, "dsp_blocks": dsp_blocks if choice == "auto" else 0}
        return config_from_dict({"kind": "systolic", **fields})

    def probes(self, quick: bool) -> list[Candidate]:
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
            if choice == "dsp":
                rows, cols = square(self.dsp_pes, self.pack, self.limit)
                macs = rows * cols
                luts = models["dsp"].fixed + models["dsp"].per_mac * macs
                out.append(self._fill(choice, rows, cols, 0, luts, macs, models["dsp"].mhz))
                continue
            if choice == "lut":
                macs = models["lut"].macs_within(budget_luts)
                rows, cols = square(macs, 1, self.limit)
                luts = models["lut"].fixed + models["lut"].per_mac * rows * cols
                out.append(self._fill(choice, rows, cols, 0, luts, rows * cols,
                                      models["lut"].mhz))
                continue
            # auto: every DSP block, the fabric for the PEs the rest of the budget holds
            dsp_macs = d * self.pack
            dsp_luts = models["dsp"].per_mac * dsp_macs
            fabric_macs = models["lut"].macs_within(budget_luts - dsp_luts)
            pes = d + fabric_macs // self.pack
            rows, cols = square(pes, self.pack, self.limit)
            macs = rows * cols
            luts = (models["lut"].fixed + dsp_luts
                    + models["lut"].per_mac * max(0, macs - dsp_macs))
            out.append(self._fill(choice, rows, cols, min(d, rows * cols // self.pack), luts,
                                  macs, min(models["dsp"].mhz, models["lut"].mhz)))
        return [c for c in out if c is not None]

    def _fill(self, choice, rows, cols, blocks, luts, macs, mhz) -> Candidate | None:
        if rows < 1 or cols < 1:
            return None
        try:
            config = self.config(choice, rows, cols, blocks)
        except ConfigError:
            return None
        return Candidate(config, choice, "fill", int(luts), macs * mhz * FILL_DERATE / 1000)


STRATEGIES: dict[str, Callable[[Mapping[str, Any], Device], SystolicStrategy]] = {
    "systolic": SystolicStrategy,
}


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


def check_budget(budget: float) -> float:
    if not 0 < budget <= 1:
        raise UsageError(f"budget={budget:g} is not allowed; a share of the device's LUTs "
                         "above 0 and at most 1, e.g. 0.85")
    return budget


def fit(kind: str, base: Mapping[str, Any], device: Device, *, budget: float = 0.85,
        quick: bool = False, runs: int = 3, out: Path, workers: int | None = None,
        scheduler: str | None = None,
        progress: Callable[[str], None] = lambda m: None) -> FitResult:
    """Probe, model and fill ``device`` with ``kind`` configs from the fields ``base``.

    Parameters
    ----------
    kind
        The kind to size (``systolic``).
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
    if kind not in STRATEGIES:
        raise UsageError(f"lowbit fit sizes {', '.join(STRATEGIES)}; {kind} has no size to fit")
    strategy = STRATEGIES[kind](base, device)
    a, w = strategy.a, strategy.w
    acc = config_from_dict({"kind": kind, **base}).acc
    bound = device_bound(device, a, w, acc, lut_share=budget)

    points, failed = probe(kind, base, device, quick=quick, out=out, workers=workers,
                           scheduler=scheduler, progress=progress)
    models = {}
    for choice in strategy.choices:
        mine = [p for p in points if p.candidate.choice == choice]
        if not mine:
            raise UsageError(f"every {choice} probe failed on {device.name}; see {out}/probes")
        models[choice] = AreaModel.of(mine)
    fills = sorted(strategy.fills(models, budget * device.luts),
                   key=lambda c: -c.predicted_gmacs)[:1 if quick else runs]
    progress(f"implementing {len(fills)} full configs (predicted "
             + ", ".join(f"{c.choice} {c.predicted_gmacs:.1f} GMAC/s" for c in fills) + ")")
    _implement(fills, device, out / "fills", workers, scheduler, points, failed, progress)
    return FitResult(device, budget, bound, points, failed)


def probe(kind: str, base: Mapping[str, Any], device: Device, *, quick: bool = False,
          out: Path, workers: int | None = None, scheduler: str | None = None,
          progress: Callable[[str], None] = lambda m: None
          ) -> tuple[list[Implemented], list[tuple[Candidate, Mapping[str, Any]]]]:
    """The probe stage of :func:`fit` alone: small configs of every multiplier choice the
    formats allow on ``device``, implemented (``quick``: one size per choice). The family
    benchmarks take the best of them as the MAC array a design of similar size competes with."""
    if kind not in STRATEGIES:
        raise UsageError(f"lowbit fit sizes {', '.join(STRATEGIES)}; {kind} has no size to fit")
    probes = STRATEGIES[kind](base, device).probes(quick)
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
