"""Traced runs: the path of a run plus checkpoints, so that the full machine state at any step can be
shown, forward and backward, in bounded memory.

A traced run keeps the pc of every executed instruction (4 bytes a step) and a full ``Snapshot`` every
``checkpoint_every`` steps (region contents unchanged since the previous checkpoint are shared). The state
before step ``k`` is recomputed deterministically: restore the nearest checkpoint at or before ``k`` and
run the remaining steps on a replay machine built from the same program and input. What step ``k``
changed is the difference between the states before and after it; what it loaded is worked out from the
instruction and the state before it (``reads.py``); what the whole run read and wrote up to a step, from one
more replay (``marks.py``).
"""
from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from .machine import Frame, Machine, OutputRecord, Snapshot, VmFault
from .reads import MemoryRead, instruction_reads

if TYPE_CHECKING:
    from .marks import MarkScan, RunMarks


@dataclass(frozen=True)
class MachineState:
    """The machine before step ``step`` (after ``step`` instructions have run)."""

    step: int
    pc: int
    regs: tuple[int, ...]
    frames: tuple[Frame, ...]
    regions: tuple[tuple[str, int, bytes], ...]  # name, base address, contents
    output: tuple[OutputRecord, ...]
    done: bool
    retval: int | None
    fault: VmFault | None

    def region(self, name: str) -> bytes | None:
        return next((data for n, _, data in self.regions if n == name), None)

    def to_json(self) -> dict:
        return {"step": self.step, "pc": self.pc, "regs": list(self.regs), "frame_depth": len(self.frames),
                "regions": [{"name": n, "base": b, "data": d.hex()} for n, b, d in self.regions],
                "output": [o.to_json() for o in self.output], "done": self.done, "retval": self.retval,
                "fault": self.fault.to_json() if self.fault else None}


@dataclass(frozen=True)
class MemoryChange:
    region: str
    offset: int
    old: bytes
    new: bytes

    def to_json(self) -> dict:
        return {"region": self.region, "offset": self.offset, "old": self.old.hex(), "new": self.new.hex()}


@dataclass(frozen=True)
class StepRecord:
    """What one instruction did: registers ``(old, new)`` and memory bytes it changed, output it produced, and
    the memory it loaded (``reads``: ``ldx``, atomics, legacy packet loads and what a helper call read)."""

    step: int
    pc: int
    next_pc: int | None
    regs: dict[int, tuple[int, int]]
    memory: tuple[MemoryChange, ...]
    output: tuple[OutputRecord, ...]
    frame_depth: tuple[int, int]  # before, after
    fault: VmFault | None = None  # set when this step is the one that faulted
    retval: int | None = None  # set when this step ended the program
    reads: tuple[MemoryRead, ...] = ()

    def to_json(self) -> dict:
        return {"step": self.step, "pc": self.pc, "next_pc": self.next_pc,
                "fault": self.fault.to_json() if self.fault else None, "retval": self.retval,
                "regs": {f"r{r}": {"old": o, "new": n} for r, (o, n) in sorted(self.regs.items())},
                "memory": [m.to_json() for m in self.memory], "reads": [r.to_json() for r in self.reads],
                "output": [o.to_json() for o in self.output], "frame_depth": list(self.frame_depth)}


class Trace:
    """The recorded path of a run and the means to recompute any state on it."""

    def __init__(self, pcs: array, checkpoints: list[Snapshot], replay: Callable[[], Machine],
                 final: MachineState):
        self.pcs = pcs
        self.checkpoints = checkpoints
        self._steps = [c.steps for c in checkpoints]
        self._replay_factory = replay
        self._replay: Machine | None = None
        self._marks: MarkScan | None = None
        self.final = final

    def __len__(self) -> int:
        """Number of executed instructions."""
        return len(self.pcs)

    def state_at(self, k: int) -> MachineState:
        """The state before step ``k`` (0 <= k <= len(self)); ``state_at(len(self))`` is the final state."""
        if not 0 <= k <= len(self.pcs):
            raise IndexError(f"step {k} is outside the trace (0..{len(self.pcs)})")
        if k == len(self.pcs):
            return self.final
        machine = self._machine_at(k)
        return state_of(machine)

    def step_record(self, k: int) -> StepRecord:
        """What step ``k`` (0 <= k < len(self)) did."""
        if not 0 <= k < len(self.pcs):
            raise IndexError(f"step {k} is outside the trace (0..{len(self.pcs) - 1})")
        return next(self.step_records(k, k + 1))

    def next_hit(self, pcs: Iterable[int], after: int) -> int | None:
        """The first step ``k > after`` about to run one of ``pcs`` (a breakpoint hit: the machine before
        that instruction), or None. Scans the recorded path in chunks at C speed (``array.index``), so a
        hit near ``after`` is found without reading the rest of a long trace."""
        wanted = frozenset(pcs)
        n = len(self.pcs)
        for lo in range(max(after + 1, 0), n, _SCAN_CHUNK):
            hi = min(n, lo + _SCAN_CHUNK)
            hits = [k for k in (_index(self.pcs, pc, lo, hi) for pc in wanted) if k is not None]
            if hits:
                return min(hits)
        return None

    def prev_hit(self, pcs: Iterable[int], before: int) -> int | None:
        """The last step ``k < before`` about to run one of ``pcs``, or None (scanning back in chunks)."""
        wanted = frozenset(pcs)
        for hi in range(min(before, len(self.pcs)), 0, -_SCAN_CHUNK):
            lo = max(0, hi - _SCAN_CHUNK)
            backwards = self.pcs[lo:hi][::-1]
            hits = [k for k in (_index(backwards, pc, 0, hi - lo) for pc in wanted) if k is not None]
            if hits:
                return hi - 1 - min(hits)
        return None

    def step_records(self, start: int, stop: int) -> Iterator[StepRecord]:
        """What steps ``start`` .. ``stop - 1`` changed, computed in one pass from the checkpoint before
        ``start`` (``step_record`` replays from a checkpoint for every step; a page of steps should not)."""
        start, stop = max(start, 0), min(stop, len(self.pcs))
        if start >= stop:
            return
        machine = self._machine_at(start)
        before = state_of(machine)
        for k in range(start, stop):
            reads = instruction_reads(machine)
            if k + 1 == len(self.pcs):
                after = self.final
            else:
                machine.run(max_steps=1)
                after = state_of(machine)
            yield diff_states(k, before, after, reads)
            before = after

    def marks(self, k: int, progress: Callable[[int], None] | None = None) -> RunMarks:
        """The bytes steps ``0 .. k - 1`` read and wrote (``marks.py``); one replay serves every position.
        ``progress`` is called as the replay goes (and may stop it by raising)."""
        from .marks import MarkScan

        if self._marks is None:
            def start() -> Machine:
                m = self._replay_factory()
                m.restore(self.checkpoints[0])
                return m

            self._marks = MarkScan(start, self.pcs)
        return self._marks.upto(k, progress)

    def _machine_at(self, k: int) -> Machine:
        i = bisect.bisect_right(self._steps, k) - 1
        if self._replay is None:
            self._replay = self._replay_factory()
        m = self._replay
        m.restore(self.checkpoints[i])
        if k > m.steps:
            m.run(max_steps=k - m.steps)
        return m

    def memory_bytes(self) -> int:
        """Approximate memory held by the trace (path plus distinct checkpoint contents)."""
        seen: set[int] = set()
        total = self.pcs.itemsize * len(self.pcs)
        for c in self.checkpoints:
            for _, _, data, _, _ in c.regions:
                if id(data) not in seen:
                    seen.add(id(data))
                    total += len(data)
            total += 200
        return total


_SCAN_CHUNK = 1 << 16
"""Steps a breakpoint search reads at a time (256 KiB of the path)."""


def _index(path: array, pc: int, lo: int, hi: int) -> int | None:
    try:
        return path.index(pc, lo, hi)
    except ValueError:
        return None


def state_of(m: Machine) -> MachineState:
    return MachineState(m.steps, m.pc, tuple(m.R), tuple(m.frames),
                        tuple((r.name, r.base, bytes(r.data)) for r in m.mem.regions), tuple(m.output), m.done,
                        m.retval, m.fault)


def diff_states(k: int, before: MachineState, after: MachineState, reads: tuple[MemoryRead, ...] = ()) -> StepRecord:
    regs = {i: (a, b) for i, (a, b) in enumerate(zip(before.regs, after.regs)) if a != b}
    memory = []
    old_regions = {name: data for name, _, data in before.regions}
    for name, _, data in after.regions:
        old = old_regions.get(name)
        if old is None or old == data:
            continue
        memory.extend(byte_runs(name, old, data))
    output = after.output[len(before.output):]
    next_pc = None if after.done else after.pc
    return StepRecord(k, before.pc, next_pc, regs, tuple(memory), tuple(output),
                      (len(before.frames), len(after.frames)), after.fault,
                      after.retval if after.done and not after.fault else None, reads)


def byte_runs(name: str, old: bytes, new: bytes) -> list[MemoryChange]:
    """Contiguous runs of changed bytes (a resized region counts as one change of its whole contents)."""
    if len(old) != len(new):
        return [MemoryChange(name, 0, old, new)]
    runs = []
    i = 0
    n = len(new)
    while i < n:
        if old[i] == new[i]:
            i += 1
            continue
        j = i
        while j < n and old[j] != new[j]:
            j += 1
        runs.append(MemoryChange(name, i, old[i:j], new[i:j]))
        i = j
    return runs
