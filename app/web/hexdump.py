"""Hex dumps of memory regions for the step view: 8 bytes a row (one stack slot), bytes the last step and the
run so far wrote and read marked (``BYTE_MARKS``), long dull stretches folded into one line (as ``hexdump``
folds repeats into ``*``) so that a 512-byte stack or a 64 KiB input stays readable.

A row is shown when it holds a byte the last step changed or read, or when it holds a non-zero byte or one the
run has marked and fewer than ``max_rows`` rows have been shown; every other stretch of rows becomes one
``HexGap``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterable

ROW_BYTES = 8


@dataclass(frozen=True)
class ByteMark:
    """One way a byte is marked: the ``HexByte`` flag ``name``, the CSS ``css`` class that draws it, and what
    it means in words (``text``: the legend, and the byte's title). Each is drawn by shape as well as colour."""

    name: str
    css: str
    text: str


BYTE_MARKS = (
    ByteMark("changed", "is-changed", "written by the last step"),  # filled
    ByteMark("read", "is-read", "read by the last step"),  # ringed
    ByteMark("run_written", "run-written", "written so far"),  # a dashed box
    ByteMark("run_read", "run-read", "read so far"),  # underlined
    ByteMark("differs", "is-changed", "changed by the run"),  # an output packet against its input: filled
)
"""The marks, in the order classes, titles and legends list them. "So far" is the run up to and including
the last step (``app.ebpf.vm.marks``), so a byte the last step read is also read so far."""


@dataclass(frozen=True)
class Marks:
    """Offsets to mark in a dump: bytes the last step ``changed`` and ``read``, bytes the run has written
    (``run_written``) and read (``run_read``) so far, and bytes where a run's output ``differs`` from its
    input."""

    changed: frozenset[int] = frozenset()
    read: frozenset[int] = frozenset()
    run_written: frozenset[int] = frozenset()
    run_read: frozenset[int] = frozenset()
    differs: frozenset[int] = frozenset()

    def last_step_at(self, offsets: range) -> bool:
        """Whether the last step changed or read any byte of ``offsets`` (or it differs in an output)."""
        return any(o in self.changed or o in self.read or o in self.differs for o in offsets)

    def any_at(self, offsets: range) -> bool:
        return any(o in getattr(self, mark.name) for o in offsets for mark in BYTE_MARKS)

    def window(self, start: int, length: int) -> Marks:
        """The marks of bytes ``start .. start + length - 1``, counted from ``start``."""
        return Marks(*(frozenset(o - start for o in getattr(self, f.name) if start <= o < start + length)
                       for f in fields(self)))


NO_MARKS = Marks()


@dataclass(frozen=True)
class HexByte:
    """One byte: ``text`` is two hex digits; ``changed`` when the last step wrote a new value here; ``read``
    when the last step loaded it; ``run_written`` and ``run_read`` when the run has written or read it so far;
    ``differs`` when the run's output has another value here than its input; ``layer`` names the packet
    header it belongs to (``eth``, ``ipv4`` ...; empty outside packets)."""

    text: str
    changed: bool
    layer: str = ""
    read: bool = False
    run_written: bool = False
    run_read: bool = False
    differs: bool = False

    @property
    def marks(self) -> tuple[ByteMark, ...]:
        return tuple(mark for mark in BYTE_MARKS if getattr(self, mark.name))

    @property
    def css(self) -> str:
        """The classes of the byte's element: its marks and its header layer (``l-ipv4``)."""
        return " ".join([mark.css for mark in self.marks] + ([f"l-{self.layer}"] if self.layer else []))

    @property
    def title(self) -> str:
        return ", ".join(mark.text for mark in self.marks)


def _byte(text: str, offset: int, marks: Marks, layer: str = "") -> HexByte:
    return HexByte(text, offset in marks.changed, layer, offset in marks.read, offset in marks.run_written,
                   offset in marks.run_read, offset in marks.differs)


def legend(rows: Iterable[HexRow | HexGap]) -> tuple[tuple[ByteMark, int], ...]:
    """The marks the bytes of ``rows`` carry, with how many bytes carry each, in ``BYTE_MARKS`` order."""
    cells = [c for row in rows if isinstance(row, HexRow) for c in row.cells]
    counts = ((mark, sum(1 for c in cells if getattr(c, mark.name))) for mark in BYTE_MARKS)
    return tuple((mark, n) for mark, n in counts if n)


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


def hexdump(data: bytes, marks: Marks = NO_MARKS, *, from_end: bool = False,
            max_rows: int = 32) -> tuple[HexRow | HexGap, ...]:
    """Rows and gaps covering ``data``, its bytes marked as ``marks`` say; with ``from_end`` rows are labelled
    by their distance below the end of the region (``fp-16``), as stack slots are named."""
    out: list[HexRow | HexGap] = []
    shown = 0
    gap_start: int | None = None
    gap_zero = True
    for start in range(0, len(data), ROW_BYTES):
        chunk = data[start:start + ROW_BYTES]
        offsets = range(start, start + len(chunk))
        if marks.last_step_at(offsets) or ((any(chunk) or marks.any_at(offsets)) and shown < max_rows):
            if gap_start is not None:
                out.append(_gap(data, gap_start, start, gap_zero, from_end))
                gap_start, gap_zero = None, True
            out.append(_row(data, start, marks, from_end))
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


def _row(data: bytes, start: int, marks: Marks, from_end: bool) -> HexRow:
    chunk = data[start:start + ROW_BYTES]
    cells = tuple(_byte(f"{b:02x}", start + i, marks) for i, b in enumerate(chunk))
    label = _label(data, start, from_end)
    text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
    return HexRow(start, label, cells, text, any(c.changed for c in cells))


PACKET_ROW_BYTES = 16


def packet_dump(data: bytes, marks: Marks = NO_MARKS, layers: list[str] | None = None, *, max_rows: int = 96,
                first_offset: int = 0) -> tuple[HexRow | HexGap, ...]:
    """A packet as 16-byte rows labelled by offset (``0x0010``) as tcpdump and Wireshark show them, every
    byte tagged with its header (``layers[i]``) and marked as ``marks`` say. Nothing is folded except rows
    past ``max_rows`` that hold no byte the last step changed or read. ``first_offset`` is the label of the
    first byte (the packet's offset in a buffer)."""
    out: list[HexRow | HexGap] = []
    gap_start: int | None = None
    for n, start in enumerate(range(0, len(data), PACKET_ROW_BYTES)):
        chunk = data[start:start + PACKET_ROW_BYTES]
        if n >= max_rows and not marks.last_step_at(range(start, start + len(chunk))):
            gap_start = start if gap_start is None else gap_start
            continue
        if gap_start is not None:
            out.append(HexGap(gap_start, start - gap_start, f"0x{first_offset + gap_start:04x} to "
                                                            f"0x{first_offset + start - 1:04x}", False))
            gap_start = None
        cells = tuple(_byte(f"{b:02x}", start + i, marks, layers[start + i] if layers else "")
                      for i, b in enumerate(chunk))
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        out.append(HexRow(start, f"0x{first_offset + start:04x}", cells, text,
                          any(c.changed or c.differs for c in cells)))
    if gap_start is not None:
        out.append(HexGap(gap_start, len(data) - gap_start, f"0x{first_offset + gap_start:04x} to "
                                                             f"0x{first_offset + len(data) - 1:04x}", False))
    return tuple(out)
