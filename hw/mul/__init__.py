"""Multipliers the generators choose from, all of one component shape (:mod:`.shape`).

=================  ==========================================================================
:mod:`.shape`      the shared ports (``a``, ``w``, ``en`` → ``p``), ``latency``, the inferred
                   ``a * w`` and the register stages every multiplier moves with ``en``
:mod:`.fabric`     carry-chain array multipliers in LUTs: one carry chain per partial-product
                   row, portable or with the AND terms inside ECP5 CCU2C cells
:mod:`.ecp5`       the ECP5 MULT18X18D instantiated with its own input/pipeline/output registers
:mod:`.ice40`      the iCE40 SB_MAC16 in 8×8 mode: two independent 8×8 products per block
:mod:`.packed`     several products sharing ``a`` from one wide multiplier
                   (:mod:`lowbit.models.packing`)
=================  ==========================================================================

Latency is counted in enabled cycles: the product of inputs sampled at a rising edge with
``en`` high appears on ``p`` after ``latency`` such edges (0: combinational). Every register
holds while ``en`` is low (arrays stall as one) and clears on the domain's reset.
"""
