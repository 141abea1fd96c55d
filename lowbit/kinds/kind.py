"""What a core kind brings (the contract of docs/design.md), as one frozen record per kind.

The record holds what the kinds layer and the models below it know: the config class, the
golden model, the performance model, the beat layout (:class:`~lowbit.models.tiling.Tiler`)
and the board self-test's choice of GEMM. The generator (:mod:`lowbit.hw.generators`) and the
testbench (:mod:`lowbit.sim.testbenches`) are found by the kind's name in the layers above, so
no layer reaches up; a contract test checks that every kind has all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lowbit.config import CoreConfig
from lowbit.models.perf import GemmShape, PerfModel
from lowbit.models.tiling import Tiler


@dataclass(frozen=True)
class SelfTestPlan:
    """The GEMM a board self-test runs: a shape that fills whole tiles in one run, and the
    run-time setting (keyword arguments of the kind's tiler)."""

    shape: GemmShape
    runtime: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CoreKind:
    """One core kind.

    ``golden`` is the numpy model of what the core computes; ``perf(config, **runtime)`` its
    performance model; ``tiler(config, **runtime, capacity=None)`` its beat layout;
    ``selftest(config)`` the GEMM the board self-test runs.
    """

    name: str
    summary: str
    config: type[CoreConfig]
    golden: Callable[..., Any]
    perf: Callable[..., PerfModel]
    tiler: type[Tiler]
    selftest: Callable[[CoreConfig], SelfTestPlan]

    def perf_model(self, config: CoreConfig, **runtime: Any) -> PerfModel:
        return self.perf(config, **runtime)

    def tiler_for(self, config: CoreConfig, *, capacity: int | None = None,
                  **runtime: Any) -> Tiler:
        return self.tiler(config, capacity=capacity, **runtime)
