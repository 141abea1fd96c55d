"""Importing this package registers every core kind with :mod:`lowbit.registry`."""

from lowbit.kinds import mac  # noqa: F401
from lowbit.kinds import systolic  # noqa: F401
from lowbit.kinds import lut  # noqa: F401
from lowbit.kinds import bitserial  # noqa: F401
from lowbit.kinds import fmac  # noqa: F401
from lowbit.kinds import fusion  # noqa: F401
from lowbit.kinds import blockdot  # noqa: F401
