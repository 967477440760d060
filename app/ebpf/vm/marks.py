"""Which bytes a traced run has read and written so far: the whole run's marks on memory at a position, beside
the last step's own (``StepRecord.reads`` and ``.memory``).

``MarkScan`` replays the run once from its start and notes, for every byte of every region, the first step that
read it and the first step that wrote it. It goes only as far as it has been asked and resumes from where it
stopped, so the marks at position ``n`` cost one pass over steps ``0 .. n - 1`` the first time, and a filter of
what it noted for any position before the furthest asked. Steps that cannot touch memory (ALU, jumps, ld_imm64,
exit) run in bulk on the replay machine; the others run one at a time:

- reads are what the step record lists (``reads.instruction_reads``: loads, atomics, legacy packet loads and
  what a helper's prototype says it reads);
- a store (``st``, ``stx``) writes its ``size`` bytes, whatever the value it stores;
- an atomic operation or a helper call wrote the bytes it changed (a ``cmpxchg`` that fails writes nothing):
  the regions whose store counter moved are compared with their bytes before the step; a helper call also
  wrote all the memory its prototype hands it to fill (``reads.helper_writes``: ``bpf_skb_load_bytes``'s
  buffer, even where the bytes it copied were there already).

Offsets are from the start of each region as it is at that step (a helper that moves a resized packet region
moves the offsets with it).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .. import isa
from .machine import Machine
from .reads import M64, MemoryRead, bytes_at, helper_writes, instruction_reads


@dataclass(frozen=True)
class RunMarks:
    """Offsets of the bytes read and written in each region (by name; regions with none are left out) by the
    steps before position ``upto``."""

    upto: int
    read: Mapping[str, frozenset[int]]
    written: Mapping[str, frozenset[int]]


PROGRESS_STEPS = 65536  # steps between two progress reports of a scan

_BULK, _LOAD, _STORE, _CHANGE = range(4)
"""Kinds of instruction, by what the scan does at them: nothing (no memory touched), note what it reads, note
what it stores, or note what it reads and compare regions around it (atomics and helper calls)."""


def _kind(spec: isa.OpSpec | None) -> int:
    if spec is None:
        return _BULK
    if spec.op in ("st", "stx"):
        return _STORE
    if spec.op.startswith("atomic_") or spec.op in ("call", "callx"):
        return _CHANGE
    if spec.cls == isa.Class.LDX or spec.op in ("ld_abs", "ld_ind"):
        return _LOAD
    return _BULK


class MarkScan:
    """The marks of one traced run (``Trace.marks``): ``start()`` gives a machine before step 0 of it, ``pcs``
    is its recorded path."""

    def __init__(self, start: Callable[[], Machine], pcs: Sequence[int]):
        self._start = start
        self._machine: Machine | None = None
        self._pcs = pcs
        self._done = 0  # steps noted
        self._read: dict[str, dict[int, int]] = {}  # region -> offset -> first step that read it
        self._written: dict[str, dict[int, int]] = {}
        self._seen: set[tuple[bool, MemoryRead]] = set()  # spans noted already: a loop reads the same ones

    def upto(self, n: int, progress: Callable[[int], None] | None = None) -> RunMarks:
        """The marks of steps ``0 .. n - 1`` (``n`` is clamped to the run). ``progress(steps scanned)`` is called
        every ``PROGRESS_STEPS`` steps; an exception it raises stops the scan, which resumes from there next
        time (what was noted stays right)."""
        n = min(max(n, 0), len(self._pcs))
        if n > self._done:
            self._scan(n, progress)
        return RunMarks(n, _before(self._read, n), _before(self._written, n))

    def _scan(self, n: int, progress: Callable[[int], None] | None = None) -> None:
        """Note steps ``self._done .. n - 1``. The machine runs to each step that touches memory and is looked
        at before it; only atomics and helper calls are run there one step, to compare regions around them
        (a load or store is found from the machine before it, and the next bulk run carries it out)."""
        if self._machine is None:
            self._machine = self._start()
        m = self._machine
        specs = [insn.spec for insn in m.insns]
        kinds = bytes(_kind(spec) for spec in specs) + bytes([_BULK])  # the last: falling off the end
        pcs, last = self._pcs, len(self._pcs) - 1
        for k in range(self._done, n):
            if progress is not None and k % PROGRESS_STEPS == 0:
                self._done = k  # steps before k are noted: a stop here leaves a scan that can resume
                progress(k)
            kind = kinds[pcs[k]]
            if kind == _BULK:
                continue
            if m.steps < k:
                m.run(max_steps=k - m.steps)
            spec = specs[m.pc]
            self._note(False, instruction_reads(m, spec), k)
            if kind == _STORE:
                insn = m.insns[m.pc]
                target = bytes_at(m, (m.R[insn.dst] + insn.off) & M64, spec.size)
                if k == last:  # only the last step of a path can fault, and a store that faults writes nothing
                    m.run(max_steps=1)
                    target = target if m.fault is None or m.steps > k else ()
                self._note(True, target, k)
            elif kind == _CHANGE:
                insn = m.insns[m.pc]
                fills = helper_writes(m, insn.imm if spec.op == "call" else m.R[insn.dst]) \
                    if spec.op in ("call", "callx") else ()
                before = {r.name: (r.writes, bytes(r.data)) for r in m.mem.regions}
                m.run(max_steps=1)
                faulted = m.fault is not None and m.steps == k
                self._note(True, _changed(before, m) + ([] if faulted else list(fills)), k)
        self._done = n

    def _note(self, written: bool, spans, k: int) -> None:
        marks = self._written if written else self._read
        for s in spans:
            if (written, s) in self._seen:
                continue
            self._seen.add((written, s))
            first = marks.setdefault(s.region, {})
            for o in range(s.offset, s.offset + s.size):
                first.setdefault(o, k)


def _changed(before: dict[str, tuple[int, bytes]], m: Machine) -> list[MemoryRead]:
    """Runs of bytes that differ from ``before`` in the regions whose store counter moved (all of a region
    that is new or changed size)."""
    from .trace import byte_runs  # the trace module builds ``MarkScan``

    out = []
    for r in m.mem.regions:
        writes, old = before.get(r.name, (None, b""))
        if writes != r.writes:
            out += (MemoryRead(c.region, c.offset, len(c.new)) for c in byte_runs(r.name, old, bytes(r.data)))
    return out


def _before(marks: dict[str, dict[int, int]], n: int) -> dict[str, frozenset[int]]:
    """The offsets each region had marked by a step before ``n`` (regions with none left out)."""
    out = {name: frozenset(o for o, k in first.items() if k < n) for name, first in marks.items()}
    return {name: offsets for name, offsets in out.items() if offsets}


__all__ = ["MarkScan", "RunMarks"]
