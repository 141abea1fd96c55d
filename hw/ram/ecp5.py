"""The ECP5 block RAM with its output register: DP16KD instances with ``REGMODE_B="OUTREG"``.

Yosys maps an Amaranth ``Memory`` to DP16KD without the output register (its
``share/lattice/brams_16kd.txt`` never uses it), so the block's slow clock-to-out of an
unregistered read sets the clock of every design with a block RAM; with the register the
block's read is as fast as the fabric. The word is cut into slices
(:func:`lowbit.models.blockram.dp16kd_tiling`): port A of each block writes, port B reads
(ports in the data-width modes 1/2/4/9/18), or, at 36 bits, the pseudo-dual-port mode (A
writes, B reads all 36; both ``REGMODE``\\ s set, ``OCEA`` = ``OCEB``, the way nextpnr turns a
``PDPW16KD`` into a DP16KD). Pins follow Yosys's own mapping (``share/lattice/brams_map_16kd.v``):
the word address in the high address bits, ``ADx[1:0]`` the byte enables at 18 bits and
``ADA[3:0]`` at 36, the low 18 bits of a 36-bit word on ``DIA``/``DOA``. Every gate of a write
(``CEA``, ``WEA``, byte enables) is driven by the block's write enable or high.

Blocks stacked along the depth take the write enable decoded from the high address bits; the
read picks their output with those bits, registered through both read stages. Read-during-write
transparency is done in the fabric, never by the block (whose result for a read of the word
port A writes at the same edge is undefined): the written word and the address comparison go
through two registers beside the block's and replace its output on a hit, one LUT after the
block. The simulation model is the
project's own, ``hw/primitives/DP16KD.v`` (:mod:`lowbit.hw.sim_models`): Yosys ships DP16KD
as a black box only.
"""

from __future__ import annotations

from amaranth.hdl import (
    Array,
    Cat,
    ClockSignal,
    Const,
    Instance,
    Module,
    Mux,
    Shape,
    Signal,
    Value,
)

from lowbit.hw.ram.shape import BlockRam
from lowbit.models.blockram import DP16KD_SHAPES, Slice, dp16kd_tiling, equal_parts

ADDRESS_PINS = 14
DATA_PINS = 18


def _low_address_bits(width: int) -> int:
    """Address pins below the word address in a data-width mode (0 at 1 bit ... 5 at 36)."""
    return ADDRESS_PINS - (DP16KD_SHAPES[width] - 1).bit_length()


def _address_pins(port: str, word: Value, width: int, enables: bool) -> dict[str, Value]:
    """``ADx0..13`` of a word address; below it the byte enables (all on) of the write port
    at 18 and 36 bits, else 0."""
    low = _low_address_bits(width)
    byte_enables = {18: 2, 36: 4}.get(width, 0) if enables else 0
    pins = {}
    for i in range(ADDRESS_PINS):
        if i >= low:
            bit = word[i - low] if i - low < len(word) else Const(0)
        else:
            bit = Const(int(i < byte_enables))
        pins[f"i_AD{port}{i}"] = bit
    return pins


class Dp16kdRam(BlockRam):
    """A ``shape`` × ``depth`` memory in DP16KD blocks, read latency 2 (address register and
    output register inside the block)."""

    def __init__(self, shape, depth: int):
        super().__init__(shape, depth, 2)
        self.width = Shape.cast(shape).width
        self.slices = dp16kd_tiling(self.width, depth)

    @property
    def blocks(self) -> int:
        return sum(s.stack for s in self.slices)

    def elaborate(self, platform) -> Module:
        m = Module()
        read = Signal(self.width)
        selects: dict[tuple[int, int], Signal] = {}
        for i, piece in enumerate(self.slices):
            outputs = [self._block(m, piece, i, j) for j in range(piece.stack)]
            if piece.stack == 1:
                m.d.comb += read[piece.at:piece.at + piece.bits].eq(outputs[0])
                continue
            key = (piece.width, piece.select_bits)
            if key not in selects:
                selects[key] = self._select(m, piece)
            m.d.comb += read[piece.at:piece.at + piece.bits].eq(Array(outputs)[selects[key]])
        m.d.comb += Value.cast(self.r_data).eq(self._transparent(m, read))
        return m

    def _transparent(self, m: Module, read: Value) -> Value:
        """The blocks' word, or the word written at the read's own edge. It goes through both
        stages, and so does the address comparison, split between them (one LUT4 per two
        address bits before the first register, their AND before the second) so that neither
        stage has more than two levels of logic."""
        w_addr, r_addr = Value.cast(self.w_addr), Value.cast(self.r_addr)
        parts = [Signal(name=f"hit_part{k}") for k in range(equal_parts(self.depth))]
        bypass = Signal(self.width, name="bypass_read")
        hit_out, bypass_out = Signal(name="hit_out"), Signal(self.width, name="bypass_out")
        with m.If(self.r_en):
            m.d.sync += [parts[0].eq(self.w_en), bypass.eq(Value.cast(self.w_data))]
            for k, part in enumerate(parts[1:]):
                m.d.sync += part.eq(w_addr[2 * k:2 * k + 2] == r_addr[2 * k:2 * k + 2])
        with m.If(self.r_out_en):
            m.d.sync += [hit_out.eq(Cat(*parts).all()), bypass_out.eq(bypass)]
        return Mux(hit_out, bypass_out, read)

    def _select(self, m: Module, piece: Slice) -> Signal:
        """The stack's block of the word read, at the output stage."""
        shift = (piece.words - 1).bit_length()
        address = Signal(piece.select_bits, name=f"select_read_w{piece.width}")
        output = Signal(piece.select_bits, name=f"select_out_w{piece.width}")
        with m.If(self.r_en):
            m.d.sync += address.eq(self.r_addr >> shift)
        with m.If(self.r_out_en):
            m.d.sync += output.eq(address)
        return output

    def _block(self, m: Module, piece: Slice, i: int, j: int) -> Signal:
        """Block ``j`` of the stack of slice ``i``; its read word (after OUTREG)."""
        shift = (piece.words - 1).bit_length()
        if piece.stack == 1:
            write = self.w_en
        else:
            write = Signal(name=f"write_{i}_{j}")
            m.d.comb += write.eq(self.w_en & ((self.w_addr >> shift) == j))
        data = Value.cast(self.w_data)[piece.at:piece.at + piece.bits]
        out = Signal(piece.bits, name=f"read_{i}_{j}")
        zero, one = Const(0), Const(1)
        pdp = piece.width == 36

        def data_pin(index: int) -> Value:
            return data[index] if index < piece.bits else zero

        pins = {
            **_address_pins("A", Value.cast(self.w_addr)[:shift], piece.width, True),
            **_address_pins("B", Value.cast(self.r_addr)[:shift], piece.width, False),
            **{f"i_DIA{k}": data_pin(k) for k in range(DATA_PINS)},
            **{f"i_DIB{k}": data_pin(DATA_PINS + k) if pdp else zero for k in range(DATA_PINS)},
        }
        # the read word: DOB at 1..18 bits; DOA (low 18) and DOB (high) at 36
        for k in range(piece.bits):
            port, pin = ("A", k) if pdp and k < DATA_PINS else ("B", k % DATA_PINS if pdp else k)
            pins[f"o_DO{port}{pin}"] = out[k]
        m.submodules[f"block_{i}_{j}"] = Instance(
            "DP16KD",
            p_DATA_WIDTH_A=piece.width, p_DATA_WIDTH_B=piece.width,
            p_REGMODE_A="OUTREG" if pdp else "NOREG", p_REGMODE_B="OUTREG",
            p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL",
            p_CSDECODE_A="0b000", p_CSDECODE_B="0b000", p_RESETMODE="SYNC",
            i_CLKA=ClockSignal(), i_CEA=write, i_WEA=write, i_RSTA=zero,
            i_OCEA=self.r_out_en if pdp else one,
            i_CLKB=ClockSignal(), i_CEB=self.r_en, i_OCEB=self.r_out_en, i_WEB=zero,
            i_RSTB=zero,
            **{f"i_CS{p}{k}": zero for p in "AB" for k in range(3)},
            **pins)
        return out
