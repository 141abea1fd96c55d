"""The device bound: the most MACs per cycle and the fastest clock a device offers an integer
GEMM of given operand formats — what a generated design's throughput is a fraction of.

    MACs/cycle ≤ DSP blocks × products per block + free LUTs ÷ LUTs of the best fabric MAC

Products per block: ECP5 MULT18X18D packs as many products sharing an operand as fit 18×18
(:mod:`lowbit.models.packing`); an iCE40 SB_MAC16 gives two 8×8 products (its 8×8 mode) or one
up to 16×16; a Gowin DSP block (counted in 18×18 multipliers) gives two 9×9 products (two
MULT9X9, as Yosys maps products that fit them) or one up to 18×18. The free LUTs are the
device's (or a budget's share of them) less the adders of the DSP products' accumulators.
The fabric MAC is the carry-chain multiplier and its accumulator (:mod:`lowbit.models.fabric`),
unless a measured figure is given.

The clock ceiling is the device's registered-DSP / block-RAM limit at its speed grade
(:attr:`lowbit.boards.devices.Device.ceiling_mhz`).
"""

from __future__ import annotations

from dataclasses import dataclass

from lowbit.boards.devices import ECP5, GOWIN, ICE40, Device
from lowbit.models.fabric import chain_luts, mac_luts
from lowbit.models.formats import IntFormat
from lowbit.models.packing import (
    GOWIN_9X9,
    GOWIN_18X18,
    MAC16_8X8,
    MAC16_16X16,
    MULT18X18,
    packings,
)


def products_per_dsp(device: Device, a: IntFormat, w: IntFormat) -> int:
    """Products of ``a × w`` one DSP block of ``device`` computes per cycle (0: none fit)."""
    if not device.dsp:
        return 0
    if device.family is ECP5:
        if max(a.bits, w.bits) > MULT18X18.a_bits:
            return 0
        return max([p.count for p in packings(a, w, MULT18X18)], default=1)
    dual, single = {ICE40.name: (MAC16_8X8, MAC16_16X16),
                    GOWIN.name: (GOWIN_9X9, GOWIN_18X18)}[device.family.name]
    if max(a.bits, w.bits) <= dual.a_bits:
        return 2
    return 1 if max(a.bits, w.bits) <= single.a_bits else 0


@dataclass(frozen=True)
class DeviceBound:
    """The ceiling of one device for one operand pair."""

    device: str
    speed: str | None
    dsp_macs: int
    fabric_macs: int
    fabric_mac_luts: int
    ceiling_mhz: float

    @property
    def macs_per_cycle(self) -> int:
        return self.dsp_macs + self.fabric_macs

    @property
    def gmacs(self) -> float:
        return self.macs_per_cycle * self.ceiling_mhz / 1000

    def to_dict(self) -> dict:
        return {"device": self.device, "speed": self.speed, "dsp_macs": self.dsp_macs,
                "fabric_macs": self.fabric_macs, "fabric_mac_luts": self.fabric_mac_luts,
                "macs_per_cycle": self.macs_per_cycle, "ceiling_mhz": self.ceiling_mhz,
                "gmacs": round(self.gmacs, 3)}


def device_bound(device: Device, a: IntFormat, w: IntFormat, acc_bits: int, *,
                 lut_share: float = 1.0, fabric_mac_luts: int | None = None) -> DeviceBound:
    """The bound of ``device`` for ``a × w`` products summed in ``acc_bits``-bit registers,
    using ``lut_share`` of its LUTs; ``fabric_mac_luts`` replaces the modelled fabric MAC."""
    family = device.family.name
    per = fabric_mac_luts or mac_luts(a, w, acc_bits, family)
    dsp_macs = device.dsp * products_per_dsp(device, a, w)
    free = max(0, int(device.luts * lut_share) - dsp_macs * chain_luts(acc_bits, family))
    return DeviceBound(device.name, device.speed, dsp_macs, free // per, per, device.ceiling_mhz)
