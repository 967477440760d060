"""Small pure pieces of the web layer: input checks, hex dumps, and the documented page contexts."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from app.web import contexts, ctxform, decode, errors, forms, inputs, packetform, runs, stepview
from app.web import hexdump as hexdump_module
from app.web.hexdump import HexGap, HexRow, Marks, hexdump
from app.web.inputs import FieldError, check_source, parse_count, parse_hex

# --- inputs -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("", b""), ("deadBEEF", b"\xde\xad\xbe\xef"), (" de ad\nbe\tef ", b"\xde\xad\xbe\xef"),
])
def test_parse_hex(text, expected):
    assert parse_hex("mem", text, 16) == expected


@pytest.mark.parametrize("text, message", [
    ("0x01", "not hex: 'x' at character 2"),
    ("abc", "not whole bytes: 3 hex digits"),
    ("00" * 17, "17 bytes; at most 16 are allowed"),
    ("é0", "not hex: 'é' at character 1"),
])
def test_parse_hex_errors_name_the_field_and_the_problem(text, message):
    with pytest.raises(FieldError) as e:
        parse_hex("input.mem", text, 16)
    assert e.value.field == "input.mem" and e.value.message.startswith(message)


def test_parse_count():
    assert parse_count("n", " 1,000 ", 1, 1000) == 1000
    for bad in ("0", "1001", "-1", "1.5", "x", "²", "9" * 5000, ""):
        with pytest.raises(FieldError):
            parse_count("n", bad, 1, 1000)


def test_check_source_counts_utf8_bytes():
    assert check_source("source", "é" * 5, 10) == "é" * 5
    with pytest.raises(FieldError, match="11 bytes"):
        check_source("source", "é" * 5 + "x", 10)


# --- hex dumps --------------------------------------------------------------------------------------------

def test_hexdump_folds_zero_rows_and_marks_changes():
    data = bytearray(32)
    data[27] = 0x41
    rows = hexdump(bytes(data), Marks(changed=frozenset({27})), from_end=True)
    assert rows == (
        HexGap(0, 24, "fp-32 to fp-9", True),
        HexRow(24, "fp-8", rows[1].cells, "...A....", True),
    )
    assert [c.changed for c in rows[1].cells] == [False, False, False, True, False, False, False, False]
    assert rows[1].cells[3].text == "41"


def test_hexdump_shows_changed_rows_even_when_zero_and_caps_nonzero_rows():
    data = bytes(range(1, 256)) + bytes(1)
    rows = hexdump(data, Marks(changed=frozenset({255})), max_rows=4)
    shown = [r for r in rows if isinstance(r, HexRow)]
    assert [r.label for r in shown] == ["+0x0", "+0x8", "+0x10", "+0x18", "+0xf8"]
    gap = rows[4]
    assert isinstance(gap, HexGap) and gap.label == "+0x20 to +0xf7" and not gap.zero
    assert hexdump(b"") == ()


def test_hexdump_row_width_is_one_stack_slot():
    assert hexdump_module.ROW_BYTES == 8


# --- contexts ---------------------------------------------------------------------------------------------

CONTEXT_CLASSES = [c for module in (contexts, hexdump_module, errors, inputs, decode, forms, packetform, ctxform, runs,
                                    stepview)
                   for _, c in inspect.getmembers(module, inspect.isclass)
                   if dataclasses.is_dataclass(c) and c.__module__ == module.__name__]


@pytest.mark.parametrize("cls", CONTEXT_CLASSES, ids=lambda c: c.__name__)
def test_every_context_field_is_documented(cls):
    doc = inspect.getdoc(cls) or ""
    assert cls.__dataclass_params__.frozen, f"{cls.__name__} should be frozen"
    for field in dataclasses.fields(cls):
        assert f"``{field.name}``" in doc, f"{cls.__name__}.{field.name} is not described in its docstring"
