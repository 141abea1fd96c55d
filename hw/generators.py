"""Every core kind's generator, by kind name: config → ``amaranth.lib.wiring.Component``."""

from __future__ import annotations

from collections.abc import Callable

from amaranth.lib import wiring

from lowbit.config import CoreConfig
from lowbit.errors import ConfigError
from lowbit.hw.bitserial import BitSerialArray
from lowbit.hw.blockdot import BlockDot
from lowbit.hw.fmac import FMAC
from lowbit.hw.fusion import Fusion
from lowbit.hw.lut_core import LutCore
from lowbit.hw.mac import MAC
from lowbit.hw.systolic import Systolic

GENERATORS: dict[str, Callable[[CoreConfig], wiring.Component]] = {
    "mac": MAC, "systolic": Systolic, "lut": LutCore, "bitserial": BitSerialArray,
    "fmac": FMAC, "fusion": Fusion, "blockdot": BlockDot,
}


def build(config: CoreConfig) -> wiring.Component:
    """The component of ``config``'s kind.

    Parameters
    ----------
    config
        Any kind's config.

    Returns
    -------
    amaranth.lib.wiring.Component
        The kind's generator applied to ``config`` (elaborate it, or convert it with
        :func:`lowbit.hw.verilog.generate`).
    """
    if config.KIND not in GENERATORS:
        raise ConfigError("kind", config.KIND, f"kinds with a generator: {', '.join(GENERATORS)}")
    return GENERATORS[config.KIND](config)
