"""Carry-chain adders whose summand bits are small logic functions, folded into the carry cells.

``chain(m, name, pairs, carry_in, cells)`` adds ``Σ_i (x_i + y_i)·2^i + carry_in`` over the
pairs ``(x_i, y_i)`` and gives the low ``len(pairs)`` bits of the sum. Each summand bit is a
:class:`Bit`, a function of at most two signals (an AND of a partial product, a bit
complemented by a sign, a register cleared at the start of a sum).

``cells`` says how the chain is written:

``generic``  Amaranth arithmetic on the bits' expressions; Yosys maps the addition to the
             family's carry chain and each function to LUTs of its own.
``ecp5``     ECP5 CCU2C cells, each bit's two functions inside the carry cell's own LUT4: a
             CCU2C half computes ``S = P ^ CIN`` and ``COUT = P ? CIN : G`` with the propagate
             ``P`` = LUT4(A, B, C, D) and the generate ``G`` = the same table at C = D = 0.
             With ``P = X(A, B) ^ Y(C, D)`` and ``Y(0, 0) = 0``, ``G = X``, which is the right
             carry whenever ``P = 0`` (then ``X = Y``). So a bit of ``x + y`` costs one LUT4
             whatever two-input functions ``x`` and ``y`` are, provided one of them is 0 at
             all-zero inputs (it goes on C, D). A carry-in comes from one extra half whose
             propagate is 0 and whose generate is the carry-in (a constant 1, or a signal on A).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from amaranth.hdl import Cat, Const, Instance, Module, Shape, Signal, Value

Cells = Literal["generic", "ecp5"]
CELLS: tuple[Cells, ...] = ("generic", "ecp5")


@dataclass(frozen=True)
class Bit:
    """A summand bit: the function ``table`` of at most two ``inputs`` (bit ``i0 + 2·i1`` of the
    4-bit truth table is the value; a missing input reads 0)."""

    inputs: tuple[Value, ...] = ()
    table: int = 0

    def at(self, bits: Sequence[int]) -> int:
        """The bit's value with its inputs at ``bits``."""
        index = sum(b << j for j, b in enumerate(bits[:len(self.inputs)]))
        return (self.table >> index) & 1

    @property
    def one_at_zero(self) -> bool:
        """Whether the bit is 1 with every input at 0 (it must then sit on LUT inputs A, B)."""
        return bool(self.table & 1)

    def complement(self) -> Bit:
        return Bit(self.inputs, ~self.table & 0xF)

    def value(self) -> Value:
        """The bit as an Amaranth expression."""
        terms = []
        for index in range(1 << len(self.inputs)):
            if not (self.table >> index) & 1:
                continue
            literal = Const(1, 1)
            for j, v in enumerate(self.inputs):
                literal = literal & (Value.cast(v) if (index >> j) & 1 else ~Value.cast(v))
            terms.append(literal)
        out = Const(0, 1)
        for t in terms:
            out = out | t
        return out


ZERO = Bit((), 0x0)
ONE = Bit((), 0xF)


def signal(v: Value) -> Bit:
    """The bit ``v`` itself."""
    return Bit((v,), 0b1010)


def and_(a: Value, b: Value) -> Bit:
    """``a AND b`` (a partial-product bit)."""
    return Bit((a, b), 0b1000)


def and_not(a: Value, b: Value) -> Bit:
    """``a AND NOT b`` (``a``, or 0 while ``b`` clears it)."""
    return Bit((a, b), 0b0010)


def xor(a: Value, b: Value) -> Bit:
    """``a XOR b`` (``a`` complemented while ``b`` is 1)."""
    return Bit((a, b), 0b0110)


def _half(x: Bit, y: Bit) -> tuple[int, list[Value]]:
    """INIT and inputs (A, B, C, D) of a CCU2C half adding two bits: the one that is 1 at zero
    inputs on A, B (the table there is the carry's generate), the other on C, D."""
    if y.one_at_zero:
        x, y = y, x
    assert not y.one_at_zero, "two summand bits that are both 1 at all-zero inputs"
    init = 0
    for index in range(16):
        bits = tuple((index >> b) & 1 for b in range(4))
        init |= (x.at(bits[:2]) ^ y.at(bits[2:])) << index
    ins = list(x.inputs) + [Const(0)] * (2 - len(x.inputs)) + \
        list(y.inputs) + [Const(0)] * (2 - len(y.inputs))
    return init, ins


#: a half whose propagate is 0 (table 0 at D = 1) and generate 1 (table 1 at A = B = 0): its
#: carry-out is 1
_CARRY_ONE = (0x0001, [Const(0), Const(0), Const(0), Const(1)])
_PAD = (0x0000, [Const(0)] * 4)


def _carry_signal(cin: Value) -> tuple[int, list[Value]]:
    """A half with propagate 0 (D = 1) and generate ``cin`` (on A): its carry-out is ``cin``."""
    return 0x0002, [cin, Const(0), Const(0), Const(1)]


def chain(m: Module, name: str, pairs: Sequence[tuple[Bit, Bit]], *,
          carry_in: bool | Value = False, cells: Cells = "generic") -> Value:
    """The low ``len(pairs)`` bits of ``Σ_i (x_i + y_i)·2^i + carry_in``."""
    if cells not in CELLS:
        raise ValueError(f"cells={cells!r}; one of {', '.join(CELLS)}")
    if cells == "generic":
        xs = Cat(*(x.value() for x, _ in pairs))
        ys = Cat(*(y.value() for _, y in pairs))
        total = Signal(len(pairs), name=f"{name}_sum")
        m.d.comb += total.eq(xs + ys + Value.cast(carry_in))
        return total
    if isinstance(carry_in, bool):
        first = [_CARRY_ONE] if carry_in else []
    else:
        first = [_carry_signal(carry_in)]
    halves = first + [_half(x, y) for x, y in pairs]
    if len(halves) % 2:
        halves.append(_PAD)
    sums = []
    cin = Const(0)
    for c in range(0, len(halves), 2):
        (init0, in0), (init1, in1) = halves[c], halves[c + 1]
        s0, s1, cout = Signal(name=f"{name}_s{c}"), Signal(name=f"{name}_s{c + 1}"), \
            Signal(name=f"{name}_co{c // 2}")
        m.submodules[f"{name}_{c // 2}"] = Instance(
            "CCU2C", p_INIT0=Const(init0, 16), p_INIT1=Const(init1, 16),
            p_INJECT1_0="NO", p_INJECT1_1="NO", i_CIN=cin,
            **{f"i_{port}0": v for port, v in zip("ABCD", in0)},
            **{f"i_{port}1": v for port, v in zip("ABCD", in1)},
            o_S0=s0, o_S1=s1, o_COUT=cout)
        sums += [s0, s1]
        cin = cout
    skip = len(first)
    return Cat(*sums[skip:skip + len(pairs)])


def _extended(v: Value, i: int) -> Bit:
    """Bit ``i`` of ``v`` extended by its sign (a constant 0 above an unsigned value)."""
    if i < len(v):
        return signal(v[i])
    return signal(v[len(v) - 1]) if v.shape().signed else ZERO


def add(m: Module, name: str, a: Value, b: Value, *, cells: Cells = "generic") -> Value:
    """``a + b`` exactly (one bit wider than the wider operand, signed if either is), as one
    carry chain of its own: Yosys never merges it into a multi-operand sum (whose carry-save
    cells take two LUT4s a bit)."""
    a, b = Value.cast(a), Value.cast(b)
    signed_ = a.shape().signed or b.shape().signed
    width = max(len(a) + (signed_ and not a.shape().signed),
                len(b) + (signed_ and not b.shape().signed)) + 1
    out = Signal(Shape(width, signed_), name=name)
    if cells == "generic":
        m.d.comb += out.eq(a + b)
        return out
    pairs = [(_extended(a, i), _extended(b, i)) for i in range(width)]
    m.d.comb += out.eq(chain(m, name, pairs, cells=cells))
    return out
