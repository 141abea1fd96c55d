"""Config objects: coercion, validation messages, files, hashes."""

import pytest

from lowbit.config import read_config_file
from lowbit.errors import ConfigError, UsageError
from lowbit.kinds.mac import MacConfig
from lowbit.models.formats import IntFormat
from lowbit.registry import config_from_dict, get_kind


def test_strings_become_typed_values():
    c = MacConfig.from_dict({"a": "uint5", "w": "int3", "acc": "12", "in_reg": "true"})
    assert c.a == IntFormat(5, False) and c.w == IntFormat(3) and c.acc == 12 and c.in_reg is True


def test_round_trip_and_stable_hash():
    c = MacConfig(a="int8", w="int4", acc=24)
    d = c.to_dict()
    assert d["kind"] == "mac" and d["a"] == "int8"
    again = config_from_dict(d)
    assert again == c and again.hash == c.hash
    assert MacConfig(acc=25).hash != MacConfig(acc=24).hash


@pytest.mark.parametrize("values,field,allowed", [
    ({"a": "int17"}, "a", "int1..int16"),
    ({"w": "int0"}, "w", "int1..int16"),
    ({"acc": 11, "a": "int8", "w": "int4"}, "acc", "at least 12 bits"),
    ({"acc": 0}, "acc", "allowed 1..64"),
    ({"acc": 64, "a": "uint8", "w": "uint8"}, "acc", "at most 63"),
    ({"overflow": "clamp"}, "overflow", "one of wrap, saturate"),
    ({"k_bits": 1}, "k_bits", "2..32"),
    ({"in_reg": "maybe"}, "in_reg", "true or false"),
    ({"bogus": 1}, "bogus", "fields are"),
])
def test_errors_name_field_value_and_allowed(values, field, allowed):
    with pytest.raises(ConfigError) as e:
        MacConfig.from_dict(values)
    assert e.value.field == field
    assert allowed in str(e.value) and field in str(e.value) and "mac" in str(e.value)


def test_unknown_kind():
    with pytest.raises(ConfigError, match=r"known core kinds: .*\bmac\b"):
        get_kind("sparse")


def test_config_files(tmp_path):
    good = tmp_path / "core.toml"
    good.write_text('kind = "mac"\na = "int4"\nacc = 16\n')
    assert config_from_dict(read_config_file(good)).acc == 16
    (tmp_path / "core.json").write_text('{"kind": "mac", "w": "uint2"}')
    assert config_from_dict(read_config_file(tmp_path / "core.json")).w == IntFormat(2, False)
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "mac"\na = "int4\n')
    with pytest.raises(UsageError, match="not valid TOML"):
        read_config_file(bad)
    with pytest.raises(UsageError, match="cannot read"):
        read_config_file(tmp_path / "missing.toml")


@pytest.mark.parametrize("name", ["fp8_e4m3", "mxfp4", "ternary"])
def test_a_format_of_another_kind_is_refused_for_an_integer_field(name):
    """parse_format knows minifloats and block formats; an IntFormat field still takes only
    integers, with the field's own list of what is allowed."""
    with pytest.raises(ConfigError, match=f"a='{name}' is not allowed; allowed: int1..int16"):
        MacConfig(a=name)
