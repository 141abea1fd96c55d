"""Integer formats: ranges, codes, round trips and name parsing."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lowbit.models.formats import FormatError, IntFormat, parse_format


@pytest.mark.parametrize("bits", [1, 2, 3, 8, 16, 32])
@pytest.mark.parametrize("signed", [True, False])
def test_range_and_codes(bits, signed):
    fmt = IntFormat(bits, signed)
    assert fmt.max - fmt.min + 1 == 1 << bits
    assert fmt.min == (-(1 << (bits - 1)) if signed else 0)
    if bits <= 16:
        values = fmt.values()
        codes = fmt.encode(values)
        assert sorted(codes.tolist()) == list(range(1 << bits))
        np.testing.assert_array_equal(fmt.decode(codes), values)
        np.testing.assert_array_equal(fmt.decode(fmt.codes()), np.sort(values) if not signed else
                                      np.concatenate([values[values >= 0], values[values < 0]]))


def test_twos_complement_codes():
    fmt = IntFormat(4)
    np.testing.assert_array_equal(fmt.encode([-8, -1, 0, 7]), [8, 15, 0, 7])
    np.testing.assert_array_equal(IntFormat(1).values(), [-1, 0])


@given(st.integers(1, 32), st.booleans(), st.data())
def test_round_trip(bits, signed, data):
    fmt = IntFormat(bits, signed)
    values = data.draw(st.lists(st.integers(fmt.min, fmt.max), min_size=1, max_size=20))
    np.testing.assert_array_equal(fmt.decode(fmt.encode(values)), values)


def test_out_of_range_is_an_error_not_a_wrap():
    with pytest.raises(FormatError, match="does not fit int4"):
        IntFormat(4).encode([8])
    with pytest.raises(FormatError, match="integers only"):
        IntFormat(8).encode([1.5])


@pytest.mark.parametrize("name,bits,signed", [("int8", 8, True), ("uint5", 5, False),
                                              ("INT1", 1, True), ("uint32", 32, False)])
def test_parse(name, bits, signed):
    assert parse_format(name) == IntFormat(bits, signed)
    assert parse_format(name).name == name.lower()


@pytest.mark.parametrize("name", ["int0", "int33", "uint-3", "float8", "int", ""])
def test_parse_errors_say_what_is_allowed(name):
    with pytest.raises(FormatError, match="(allowed|widths are)"):
        parse_format(name)
