"""Hex dumps of memory regions for the step view: 8 bytes a row (one stack slot), changed and read bytes
marked, long dull stretches folded into one line (as ``hexdump`` folds repeats into ``*``) so that a 512-byte stack
or a 64 KiB input stays readable.

A row is shown when it holds a byte the last step changed or read, or when it holds a non-zero byte and fewer than
``max_rows`` rows have been shown; every other stretch of rows becomes one ``HexGap``.
"""
from __future__ import annotations

from dataclasses import dataclass

ROW_BYTES = 8


@dataclass(frozen=True)
class HexByte:
    """One byte: ``text`` is two hex digits; ``changed`` when the last step (or the run) wrote a new value
    here; ``read`` when the last step loaded it; ``layer`` names the packet header it belongs to (``eth``,
    ``ipv4`` ...; empty outside packets)."""

    text: str
    changed: bool
    layer: str = ""
    read: bool = False


@dataclass(frozen=True)
class HexRow:
    """Up to 8 bytes as ``cells``. ``offset`` is from the start of the region; ``label`` is how the page shows
    it (``+0x10``, or ``fp-16`` for a stack, whose offsets count down from the frame pointer); ``ascii`` is
    the printable rendering; ``changed`` when any byte in it changed."""

    offset: int
    label: str
    cells: tuple[HexByte, ...]
    ascii: str
    changed: bool


@dataclass(frozen=True)
class HexGap:
    """Rows not shown: ``size`` bytes from ``offset``, ``label`` naming the first and last byte as rows are
    labelled; ``zero`` when they are all zero bytes."""

    offset: int
    size: int
    label: str
    zero: bool


def hexdump(data: bytes, changed: frozenset[int] = frozenset(), *, read: frozenset[int] = frozenset(),
            from_end: bool = False, max_rows: int = 32) -> tuple[HexRow | HexGap, ...]:
    """Rows and gaps covering ``data``. ``changed`` and ``read`` hold offsets of changed and loaded bytes; with
    ``from_end`` rows are labelled by their distance below the end of the region (``fp-16``), as stack slots
    are named."""
    out: list[HexRow | HexGap] = []
    shown = 0
    gap_start: int | None = None
    gap_zero = True
    for start in range(0, len(data), ROW_BYTES):
        chunk = data[start:start + ROW_BYTES]
        marked = any(start + i in changed or start + i in read for i in range(len(chunk)))
        if marked or (any(chunk) and shown < max_rows):
            if gap_start is not None:
                out.append(_gap(data, gap_start, start, gap_zero, from_end))
                gap_start, gap_zero = None, True
            out.append(_row(data, start, changed, read, from_end))
            shown += 1
            continue
        if gap_start is None:
            gap_start = start
        gap_zero = gap_zero and not any(chunk)
    if gap_start is not None:
        out.append(_gap(data, gap_start, len(data), gap_zero, from_end))
    return tuple(out)


def _label(data: bytes, offset: int, from_end: bool) -> str:
    return f"fp-{len(data) - offset}" if from_end else f"+0x{offset:x}"


def _gap(data: bytes, start: int, end: int, zero: bool, from_end: bool) -> HexGap:
    return HexGap(start, end - start, f"{_label(data, start, from_end)} to {_label(data, end - 1, from_end)}", zero)


def _row(data: bytes, start: int, changed: frozenset[int], read: frozenset[int], from_end: bool) -> HexRow:
    chunk = data[start:start + ROW_BYTES]
    cells = tuple(HexByte(f"{b:02x}", start + i in changed, read=start + i in read) for i, b in enumerate(chunk))
    label = _label(data, start, from_end)
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
    return HexRow(start, label, cells, text, any(c.changed for c in cells))


PACKET_ROW_BYTES = 16


def packet_dump(data: bytes, changed: frozenset[int] = frozenset(), layers: list[str] | None = None, *,
                read: frozenset[int] = frozenset(), max_rows: int = 96,
                first_offset: int = 0) -> tuple[HexRow | HexGap, ...]:
    """A packet as 16-byte rows labelled by offset (``0x0010``) as tcpdump and Wireshark show them, every
    byte tagged with its header (``layers[i]``) and marked when ``changed`` or ``read`` holds its offset.
    Nothing is folded except rows past ``max_rows`` that hold no marked byte. ``first_offset`` is the label
    of the first byte (the packet's offset in a buffer)."""
    out: list[HexRow | HexGap] = []
    gap_start: int | None = None
    for n, start in enumerate(range(0, len(data), PACKET_ROW_BYTES)):
        chunk = data[start:start + PACKET_ROW_BYTES]
        row_changed = any(start + i in changed for i in range(len(chunk)))
        if n >= max_rows and not row_changed and not any(start + i in read for i in range(len(chunk))):
            gap_start = start if gap_start is None else gap_start
            continue
        if gap_start is not None:
            out.append(HexGap(gap_start, start - gap_start, f"0x{first_offset + gap_start:04x} to "
                                                            f"0x{first_offset + start - 1:04x}", False))
            gap_start = None
        cells = tuple(HexByte(f"{b:02x}", start + i in changed, layers[start + i] if layers else "", start + i in read)
                      for i, b in enumerate(chunk))
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        out.append(HexRow(start, f"0x{first_offset + start:04x}", cells, text, row_changed))
    if gap_start is not None:
        out.append(HexGap(gap_start, len(data) - gap_start, f"0x{first_offset + gap_start:04x} to "
                                                             f"0x{first_offset + len(data) - 1:04x}", False))
    return tuple(out)
