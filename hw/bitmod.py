"""BitMoD's two stages around the bit-serial datapath (:mod:`lowbit.hw.bitserial`).

* **In front, the decode stage** (:func:`decode_terms`, :func:`shifted`): each weight code is
  read under its group's data type into the unified representation ``(-1)^s · m · 2^e``
  (:meth:`lowbit.models.bitmod.BitmodFormat.terms`, the table every code and type comes from);
  the parallel operand becomes ``±(a << e)`` per lane and column, and the odd mantissa ``m``
  is what the serial datapath consumes bit by bit. Behind this stage the datapath is the plain
  "AND-select, adder tree, shift-accumulate" of any bit-serial weight.
* **Behind, the bit-serial dequantization** (:class:`SerialScale`): a group's exact sum is
  multiplied by the group's integer scale one scale bit per cycle, MSB first
  (``prod = 2·prod ± (bit ? sum : 0)``, the top bit of a signed scale subtracted), so each
  column needs one adder instead of a multiplier. It takes D = scale bits cycles per group and
  accepts the next group's sum in the cycle after its last bit; a group that ends sooner holds
  the datapath (``hold``) until then.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned

from lowbit.models.bitmod import BitmodFormat
from lowbit.models.formats import IntFormat


def decode_terms(m: Module, fmt: BitmodFormat, code, type_id, name: str):
    """``(sign, mantissa, shift)`` signals of ``code`` read under ``type_id`` (combinational,
    from the format's table of terms)."""
    sign_t, man_t, shift_t = fmt.terms()
    sign = Signal(name=f"{name}_s")
    man = Signal(range(int(man_t.max()) + 1), name=f"{name}_m")
    shift = Signal(range(int(shift_t.max()) + 1), name=f"{name}_e")
    key = type_id.as_unsigned() << fmt.bits | code.as_unsigned()
    with m.Switch(key):
        for t in range(sign_t.shape[0]):
            for c in range(sign_t.shape[1]):
                with m.Case(t << fmt.bits | c):
                    m.d.comb += [sign.eq(int(sign_t[t, c])), man.eq(int(man_t[t, c])),
                                 shift.eq(int(shift_t[t, c]))]
    return sign, man, shift


def shifted(a, sign, shift, width: int):
    """``±(a << shift)`` as a ``width``-bit signed value (wide enough for every case)."""
    x = (a << shift).as_signed() if a.shape().signed else (a << shift)
    out = Mux(sign, -x, x)
    return out.as_signed()[:width].as_signed() if out.shape().width > width else out


class SerialScale:
    """Per column, ``sum × scale`` formed bit-serially; one unit for all columns.

    ``accept(m, en, sums, scales, tile_last)`` starts it (when ``ready``), ``step`` runs the
    remaining bits; ``valid`` is high for one enabled cycle with the finished ``products``
    and the group's ``tile_last``. Every register moves only while ``en`` is high.
    """

    def __init__(self, fmt: IntFormat, sum_width: int, cols: int):
        self.fmt, self.cols = fmt, cols
        self.width = sum_width + fmt.bits
        d = fmt.bits
        self.count = Signal(range(d), name="dq_count")
        self.valid = Signal(name="dq_valid")
        self.tile_last = Signal(name="dq_tile_last")
        self.sums = [Signal(signed(sum_width), name=f"dq_sum{c}") for c in range(cols)]
        self.scales = [Signal(unsigned(fmt.bits), name=f"dq_scale{c}") for c in range(cols)]
        self.products = [Signal(signed(self.width), name=f"dq_prod{c}") for c in range(cols)]

    @property
    def ready(self):
        """Free to take a group sum this cycle (no bit of the previous one left)."""
        return self.count == 0

    def _term(self, total, scale, bit):
        """The partial product of scale bit ``bit`` (a constant, or a signal counting down;
        the sign bit's weight is negative)."""
        top = self.fmt.bits - 1
        if isinstance(bit, int):
            term = Mux(scale[bit], total, 0)
            return -term if self.fmt.signed and bit == top else term
        term = Mux(scale.bit_select(bit, 1), total, 0)
        return Mux(bit == top, -term, term) if self.fmt.signed else term

    def elaborate(self, m: Module, en, start, sums, scales, tile_last) -> None:
        """``start`` (with ``ready``) loads ``sums`` × ``scales``; the bits follow, MSB first."""
        d, top = self.fmt.bits, self.fmt.bits - 1
        with m.If(en):
            m.d.sync += self.valid.eq((start & (d == 1)) | (self.count == 1))
            with m.If(start):
                m.d.sync += [self.tile_last.eq(tile_last), self.count.eq(top)]
                for c in range(self.cols):
                    scale = scales[c].as_unsigned()
                    m.d.sync += [self.sums[c].eq(sums[c]), self.scales[c].eq(scale),
                                 self.products[c].eq(self._term(sums[c], scale, top))]
            with m.Elif(self.count != 0):
                m.d.sync += self.count.eq(self.count - 1)
                bit = (self.count - 1).as_unsigned()[:len(self.count)]
                for c in range(self.cols):
                    m.d.sync += self.products[c].eq(
                        (self.products[c] << 1) + self._term(self.sums[c], self.scales[c], bit))
