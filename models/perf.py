"""What every core's performance model answers (one piece of the contract, docs/design.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lowbit.errors import ConfigError


@dataclass(frozen=True)
class GemmShape:
    """An M×N×K GEMM: C (M×N) = A (M×K) @ W (K×N)."""

    m: int
    n: int
    k: int

    @classmethod
    def parse(cls, text: str) -> GemmShape:
        """``"64x48x100"`` → GemmShape(64, 48, 100); every dimension at least 1."""

        parts = str(text).lower().replace("×", "x").split("x")
        try:
            m, n, k = (int(p) for p in parts)
        except ValueError:
            raise ConfigError("gemm", text, "expected MxNxK, e.g. 64x48x100") from None
        if min(m, n, k) < 1:
            raise ConfigError("gemm", text, "every dimension of MxNxK must be at least 1")
        return cls(m, n, k)

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k

    def __str__(self) -> str:
        return f"{self.m}x{self.n}x{self.k}"


class PerfModel(Protocol):
    """Analytical cycles and resources of one core configuration."""

    def gemm_cycles(self, shape: GemmShape) -> int:
        """Cycles from the first operand handshake to the last result handshake, no stalls."""

    @property
    def peak_macs_per_cycle(self) -> float:
        """MACs per cycle in steady state."""

    @property
    def storage_bits(self) -> int:
        """Register/RAM bits the core holds (operands, partial sums, results)."""
