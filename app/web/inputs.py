"""Checking what a user sent: program text, hex bytes and numbers, against the configured limits.

The page's form and the JSON API share these checks so that both say the same thing about the same input.
Each failure is a ``FieldError`` naming the field as the caller calls it (``mem`` on the form,
``input.mem`` in the API), with a message meant for a person.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping


class FieldError(ValueError):
    """One field of a request that cannot be used."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limits:
    """The bounds every request is held to, shown on the page and enforced here.

    ``source_bytes``: largest program, as UTF-8 assembly text or as raw bytecode;
    ``input_bytes``: largest input memory; ``run_insns``: most instructions one run may execute.
    """

    source_bytes: int
    input_bytes: int
    run_insns: int

    @classmethod
    def from_config(cls, config: Mapping) -> "Limits":
        return cls(int(config["MAX_SOURCE_BYTES"]), int(config["MAX_INPUT_BYTES"]), int(config["MAX_RUN_INSNS"]))


_NOT_HEX = re.compile(r"[^0-9a-fA-F\s]")
_DIGITS = re.compile(r"[0-9]{1,15}")


def normalise_source(text: str) -> str:
    """Browsers send textarea lines ending in CRLF; the program is the same with LF."""
    return text.replace("\r\n", "\n")


def check_source(field: str, text: str, limit: int) -> str:
    size = len(text.encode("utf-8"))
    if size > limit:
        raise FieldError(field, f"the program is {size:,} bytes; at most {limit:,} are allowed")
    return text


def parse_hex(field: str, text: str, limit: int) -> bytes:
    """Hex digits, optionally separated by whitespace (``de ad be ef``, ``deadbeef``), to bytes."""
    bad = _NOT_HEX.search(text)
    if bad:
        raise FieldError(field, f"not hex: {bad.group()!r} at character {bad.start() + 1} "
                                f"(use the digits 0-9 and a-f, optionally separated by spaces)")
    digits = "".join(text.split())
    if len(digits) % 2:
        raise FieldError(field, f"not whole bytes: {len(digits)} hex digits (each byte takes two)")
    if len(digits) // 2 > limit:
        raise FieldError(field, f"{len(digits) // 2:,} bytes; at most {limit:,} are allowed")
    return bytes.fromhex(digits)


def parse_count(field: str, text: str, lowest: int, highest: int) -> int:
    """A whole number written in decimal (``1000000`` or ``1,000,000``) between the bounds."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not _DIGITS.fullmatch(cleaned):
        raise FieldError(field, f"must be a whole number from {lowest:,} to {highest:,}")
    return check_count(field, int(cleaned), lowest, highest)


def check_count(field: str, value: int, lowest: int, highest: int) -> int:
    if not lowest <= value <= highest:
        raise FieldError(field, f"must be a whole number from {lowest:,} to {highest:,} (got {value:,})")
    return value
