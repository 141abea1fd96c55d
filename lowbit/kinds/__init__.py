"""Every core kind's config and contract record; :data:`KINDS` is the table of them."""

from lowbit.kinds import bitserial, blockdot, fmac, fusion, lut, mac, systolic
from lowbit.kinds.kind import CoreKind

KINDS: dict[str, CoreKind] = {k.name: k for k in (
    mac.KIND, systolic.KIND, lut.KIND, bitserial.KIND, fmac.KIND, fusion.KIND, blockdot.KIND)}
