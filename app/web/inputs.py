"""Checking what a user sent: program text, hex bytes and numbers, against the configured limits.

The page's form and the JSON API share these checks so that both say the same thing about the same input.
Each failure is a ``FieldError`` naming the field as the caller calls it (``mem`` on the form,
``input.mem`` in the API), with a message meant for a person.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


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
    ``input_bytes``: largest input memory or single packet; ``run_insns``: most instructions one run may
    execute; ``packets``: most packets one request may run (one after another, on the same maps);
    ``packet_bytes``: all those packets together; ``pcap_bytes``: largest capture file an upload may be;
    ``verify_insns``: most instructions one verifier check may process (the kernel allows 1,000,000, which
    our verifier needs about a minute for; past this limit the answer is "incomplete", not a verdict);
    ``run_seconds``: most wall-clock seconds the engine work of one playground request may take (0: no
    limit; past it the request is refused with 503, see ``progress.py``, never given a partial result).
    ``setup_bytes`` (derived) is the largest setup a share may store.
    """

    source_bytes: int
    input_bytes: int
    run_insns: int
    packets: int = 64
    packet_bytes: int = 128 * 1024
    pcap_bytes: int = 256 * 1024
    verify_insns: int = 100_000
    run_seconds: float = 30.0

    @property
    def setup_bytes(self) -> int:
        """Largest setup a share stores, as canonical JSON: the program, its packets as hex, 16 KiB more."""
        return self.source_bytes + 2 * max(self.packet_bytes, self.input_bytes) + 16 * 1024

    @classmethod
    def from_config(cls, config: Mapping) -> Limits:
        return cls(int(config["MAX_SOURCE_BYTES"]), int(config["MAX_INPUT_BYTES"]), int(config["MAX_RUN_INSNS"]),
                   int(config.get("MAX_PACKETS", 64)), int(config.get("MAX_PACKET_BYTES", 128 * 1024)),
                   int(config.get("MAX_PCAP_BYTES", 256 * 1024)), int(config.get("MAX_VERIFY_INSNS", 100_000)),
                   float(config.get("MAX_RUN_SECONDS", 30.0)))


_NOT_HEX = re.compile(r"[^0-9a-fA-F\s]")
_DIGITS = re.compile(r"[0-9]{1,15}")
_INTEGER = re.compile(r"-?(0[xX][0-9a-fA-F]{1,16}|0[bB][01]{1,64}|0[oO][0-7]{1,22}|[0-9]{1,20})")


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


def parse_int(field: str, text: str, size: int = 8, *, signed_ok: bool = True) -> int:
    """A number for a ``size``-byte field: decimal (``-100``), hex (``0x41``), octal (``0o644``) or binary
    (``0b101``), with
    ``_`` or ``,`` allowed between digits. Negative numbers are stored in two's complement, so the value
    returned is always the unsigned ``size``-byte value (``-1`` -> ``0xffffffff`` for 4 bytes)."""
    cleaned = text.strip().replace("_", "").replace(",", "")
    bits = 8 * size
    lowest = -(1 << (bits - 1)) if signed_ok else 0
    highest = (1 << bits) - 1
    if not _INTEGER.fullmatch(cleaned):
        raise FieldError(field, f"must be a number (decimal, 0x hex, 0o octal or 0b binary) from {lowest:,} to "
                                f"{highest:,}")
    digits = cleaned.lstrip("-")
    value = int(cleaned, 0) if len(digits) > 1 and digits[1] in "xXbBoO" else int(cleaned, 10)
    if not lowest <= value <= highest:
        raise FieldError(field, f"{value:,} does not fit in {size} byte{'s' if size > 1 else ''} "
                                f"({lowest:,} to {highest:,})")
    return value & highest
