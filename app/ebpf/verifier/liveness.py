"""Stack slot liveness, as Linux 6.18 computes it (``kernel/bpf/liveness.c``, "callchain sensitive stack
liveness"), and the cleaning of kept states it drives (``clean_live_states`` / ``clean_func_state``).

A kept state need not match the current one in stack slots that no instruction from its position can read
before writing them. The kernel finds those slots with a data-flow analysis over what the walk has seen so far:

- **accesses are recorded as the walk goes**, per *function instance* (a call chain: the call instructions that
  led to the function plus its first instruction) and per frame of that chain, as 64-bit masks of 8-byte slots
  (bit ``spi`` is fp-8*(spi+1)): ``may_read`` gains every slot an instruction reads on some path (any byte of
  it: ``bpf_mark_stack_read``), ``must_write`` keeps the slots it wrote whole on *every* visit
  (``bpf_mark_stack_write``, committed after each instruction and intersected over visits). Only an aligned
  8-byte store counts as a write: narrower stores, variable-offset stores and a helper filling its output
  buffer leave the slot as it was for the analysis (live if read later).
  Loads, atomics, variable-offset loads and helper memory arguments (``check_stack_range_initialized``)
  count as reads; a helper's write-only (raw mode) argument with a fixed offset does not.
- **at the end of a path** (an exit, a pruned path, a return from a subprogram) the instances of the path's
  call chain that gained anything are brought up to date (``bpf_update_live_stack``): the textbook backward
  equations ``live_before = (live_after & ~must_write) | may_read`` and ``must_write_acc = (AND of the
  successors') | must_write``, iterated in the subprogram's postorder until nothing changes. A callee's entry
  then passes what it may read and must write of its callers' frames on to its call instruction in the
  caller's instance (``propagate_to_outer_instance``).
- **at a prune point**, a kept state whose paths are all explored, at the same call chain, is cleaned once
  before it is compared (``clean_live_states``): every slot not alive there becomes ``STACK_INVALID``
  (and its spilled register goes). A slot of frame ``f`` is alive if the current function may read it from
  this instruction on, or some caller between ``f`` and here may read it after its call returns (before the
  call, for a callback's helper call) (``bpf_stack_slot_alive``). The current state itself is never cleaned,
  so the log's state lines do not change.

Differences from the kernel: the kernel skips cleaning a state whose read marks may be incomplete
(``incomplete_read_marks``: a loop through an iterator, a callback or ``may_goto`` with pending backedges);
this walk never prunes against a state still being explored, so that case cannot arise. dynptr, iterator and
irq-flag slots (``mark_stack_slot_obj_read`` and friends) are not modelled. The analysis's level-2 log lines
(``(0) frame 0 insn 4 +written -504``) are collected when ``log`` is given; the walk passes them on to
its events, and ``walklog`` prints them where the kernel does.
"""
from __future__ import annotations

from dataclasses import replace

from .. import isa
from ..insn import Insn
from .state import STACK_INVALID, Frame, VerifierState

ALL = (1 << 64) - 1


def insn_successors(insns: tuple[Insn, ...], idx: int) -> tuple[int, ...]:
    """``bpf_insn_successors``: fall-through first, then the jump target. A call (to a helper or a subprogram)
    only falls through; ``exit`` has none; ``ld_imm64`` is two instructions long."""
    insn = insns[idx]
    spec = insn.spec
    if spec is None:
        return (idx + 1,)
    if spec.cls not in (isa.Class.JMP, isa.Class.JMP32) or spec.op in ("call", "call_local", "callx",
                                                                        "call_kfunc"):
        return (idx + spec.slots,)
    if spec.op == "exit":
        return ()
    target = idx + 1 + (insn.imm if spec.name == "gotol" else insn.off)
    if spec.op == "ja":
        return (target,)
    return (idx + 1, target)


def subprog_postorder(insns: tuple[Insn, ...], start: int, end: int) -> list[int]:
    """``compute_postorder`` for one subprogram: a depth-first walk from its first instruction, each
    instruction listed once all it leads to (within the function) has been."""
    state: dict[int, int] = {}
    stack = [start]
    out: list[int] = []
    while stack:
        top = stack[-1]
        if state.get(top, 0) & 2:
            out.append(top)
            stack.pop()
            continue
        state[top] = 3
        for s in insn_successors(insns, top):
            if start <= s < end and not state.get(s):
                stack.append(s)
                state[s] = 1
    return out


class FrameMasks:
    """``struct per_frame_masks`` for every instruction of a function instance, one frame of its chain."""

    __slots__ = ("live_before", "may_read", "must_write", "must_write_acc")

    def __init__(self, n: int) -> None:
        self.may_read = [0] * n
        self.must_write = [0] * n
        self.must_write_acc = [0] * n
        self.live_before = [0] * n


class FuncInstance:
    """``struct func_instance``: the marks of one function reached through one call chain. ``callsites``
    is the chain (the call instructions of the frames above, then the function's own first instruction),
    ``sp_starts`` the first instruction of each frame's function."""

    def __init__(self, callsites: tuple[int, ...], sp_starts: tuple[int, ...], size: int) -> None:
        self.callsites = callsites
        self.sp_starts = sp_starts
        self.start = sp_starts[-1]
        self.size = size
        self.frames: list[FrameMasks | None] = [None] * len(callsites)
        self.must_write_set = [False] * size
        self.updated = False
        self.must_write_dropped = False

    @property
    def curframe(self) -> int:
        return len(self.callsites) - 1

    def masks(self, frame: int, create: bool = False) -> FrameMasks | None:
        m = self.frames[frame]
        if m is None and create:
            m = self.frames[frame] = FrameMasks(self.size)
        return m

    def live_before(self, frame: int, insn_idx: int, spi: int) -> bool:
        """``is_live_before``."""
        m = self.frames[frame]
        return m is not None and bool(m.live_before[insn_idx - self.start] >> spi & 1)


class StackLiveness:
    """``struct bpf_liveness``: the function instances met so far, the instance of the state being walked
    (``cur_instance``), and the write marks of the instruction being checked."""

    def __init__(self, insns: tuple[Insn, ...], subprog_starts: list[int], prune_points=frozenset(),
                 log: list[str] | None = None) -> None:
        self.insns = insns
        self.prune_points = prune_points
        self.log = log  # the analysis's level-2 log lines, when a list is given
        self.starts = sorted(subprog_starts)
        ends = self.starts[1:] + [len(insns)]
        self.end_of = dict(zip(self.starts, ends))
        self.postorder = {s: subprog_postorder(insns, s, e) for s, e in self.end_of.items()}
        self.instances: dict[tuple[int, ...], FuncInstance] = {}
        self.cur: FuncInstance | None = None
        self.write_masks = [0] * 8
        self.write_idx = 0

    # --- instances --------------------------------------------------------------------------------------

    def _lookup(self, callsites: tuple[int, ...], sp_starts: tuple[int, ...]) -> FuncInstance:
        """``__lookup_instance``: find or make the instance of this call chain."""
        inst = self.instances.get(callsites)
        if inst is None:
            start = sp_starts[-1]
            inst = self.instances[callsites] = FuncInstance(callsites, sp_starts, self.end_of[start] - start)
        return inst

    def instance(self, st: VerifierState, depth: int) -> FuncInstance:
        """``lookup_instance`` / ``compute_callchain``: the instance of frame ``depth`` of ``st``."""
        frames = st.frames
        sp_starts = tuple(f.subprog for f in frames[:depth + 1])
        callsites = tuple(frames[i + 1].callsite for i in range(depth)) + (sp_starts[-1],)
        return self._lookup(callsites, sp_starts)

    def reset_callchain(self) -> None:
        """``bpf_reset_live_stack_callchain``: the walk entered or left a function."""
        self.cur = None

    def _ensure_cur(self, st: VerifierState) -> FuncInstance:
        if self.cur is None:
            self.cur = self.instance(st, len(st.frames) - 1)
        return self.cur

    # --- recording accesses -----------------------------------------------------------------------------

    @staticmethod
    def _mark_read(inst: FuncInstance, frame: int, insn_idx: int, mask: int) -> None:
        """``mark_stack_read``: the instance needs an update when a slot is read that was not live yet."""
        m = inst.masks(frame, create=True)
        i = insn_idx - inst.start
        new = m.may_read[i] | mask
        if new != m.may_read[i] and (new | m.live_before[i]) != m.live_before[i]:
            inst.updated = True
        m.may_read[i] = new

    def mark_read(self, st: VerifierState, frame: int, insn_idx: int, mask: int) -> None:
        """``bpf_mark_stack_read``: instruction ``insn_idx`` of the current function reads these slots of
        frame ``frame``."""
        self._mark_read(self._ensure_cur(st), frame, insn_idx, mask)

    def reset_write(self, st: VerifierState, insn_idx: int) -> None:
        """``bpf_reset_stack_write_marks``, before each instruction is checked."""
        self._reset_write(self.cur or self._ensure_cur(st), insn_idx)

    def _reset_write(self, inst: FuncInstance, insn_idx: int) -> None:
        self.write_idx = insn_idx
        masks = self.write_masks
        for i in range(len(inst.callsites)):  # frames 0 .. inst.curframe
            masks[i] = 0

    def mark_write(self, frame: int, mask: int) -> None:
        """``bpf_mark_stack_write``: the instruction wrote these whole slots of frame ``frame``."""
        self.write_masks[frame] |= mask

    def commit_write(self) -> None:
        """``bpf_commit_stack_write_marks``, after an instruction passed its checks (a no-op after a call or a
        return, which left the instance: the call's writes come from the callee, see ``_update_instance``)."""
        self._commit_write(self.cur)

    def _commit_write(self, inst: FuncInstance | None) -> None:
        """``commit_stack_write_marks``: an instruction's first visit sets its ``must_write``, later visits
        keep only the slots written every time."""
        if inst is None:
            return
        i = self.write_idx - inst.start
        seen = inst.must_write_set[i]
        for frame in range(len(inst.callsites)):  # frames 0 .. inst.curframe
            mask = self.write_masks[frame]
            if mask == 0 and not seen:
                continue
            m = inst.frames[frame] or inst.masks(frame, create=True)
            old = m.must_write[i]
            if seen:
                mask &= old
            if old != mask:
                m.must_write[i] = mask
                inst.updated = True
            if old & ~mask:
                inst.must_write_dropped = True
        inst.must_write_set[i] = True
        self.write_idx = 0

    # --- propagation ------------------------------------------------------------------------------------

    def _update_insn(self, inst: FuncInstance, m: FrameMasks, insn_idx: int) -> bool:
        """``update_insn``: one step of the backward equations at one instruction."""
        succ = insn_successors(self.insns, insn_idx)
        if not succ:
            return False
        start = inst.start
        i = insn_idx - start
        after, acc = 0, ALL
        for s in succ:
            after |= m.live_before[s - start]
            acc &= m.must_write_acc[s - start]
        acc |= m.must_write[i]
        before = (after & ~m.must_write[i]) | m.may_read[i]
        changed = before != m.live_before[i] or acc != m.must_write_acc[i]
        if self.log is not None and (m.may_read[i] or m.must_write[i] or insn_idx == start
                                     or insn_idx in self.prune_points):
            frame = inst.frames.index(m)
            self._log_change(inst, "live", frame, insn_idx, m.live_before[i], before)
            self._log_change(inst, "written", frame, insn_idx, m.must_write_acc[i], acc)
        m.live_before[i] = before
        m.must_write_acc[i] = acc
        return changed

    def _update_instance(self, inst: FuncInstance) -> None:
        """``update_instance``: iterate to a fixed point, then hand the callee's entry marks for its callers'
        frames to the call instruction (``propagate_to_outer_instance``)."""
        if inst.must_write_dropped:
            for m in inst.frames:
                if m is not None:
                    m.must_write_acc = [0] * inst.size
        order = self.postorder[inst.start]
        changed, rounds = True, 0
        while changed:
            rounds += 1
            changed = False
            for m in inst.frames:
                if m is None:
                    continue
                for idx in order:
                    changed |= self._update_insn(inst, m, idx)
        if self.log is not None:
            self.log.append(f"{_fmt_callchain(inst)} live stack update done in {rounds} iterations")
        if inst.curframe > 0:
            self._propagate_to_outer(inst)

    def _propagate_to_outer(self, inst: FuncInstance) -> None:
        cf = inst.curframe
        callsites = inst.callsites[:cf - 1] + (inst.sp_starts[cf - 1],)
        outer = self._lookup(callsites, inst.sp_starts[:cf])
        callsite = inst.callsites[cf - 1]
        self._reset_write(outer, callsite)
        for frame in range(cf):
            m = inst.frames[frame]
            if m is None:
                continue
            self.mark_write(frame, m.must_write_acc[0])
            self._mark_read(outer, frame, callsite, m.live_before[0])
        self._commit_write(outer)

    def update(self, st: VerifierState) -> None:
        """``bpf_update_live_stack``: at every exit and pruned path, before the next path is taken up, bring
        the instances of ``st``'s call chain up to date, callee first."""
        self.reset_callchain()
        for depth in range(len(st.frames) - 1, -1, -1):
            inst = self.instance(st, depth)
            if inst.updated:
                self._update_instance(inst)
                inst.updated = False
                inst.must_write_dropped = False

    def _log_change(self, inst: FuncInstance, what: str, frame: int, insn_idx: int, old: int, new: int) -> None:
        """``log_mask_change``: ``(0) frame 0 insn 4 +written -504 `` (the kernel's trailing space kept)."""
        changed = old ^ new
        if not changed:
            return
        line = f"{_fmt_callchain(inst)} frame {frame} insn {insn_idx} "
        if new & changed:
            line += f"+{what} {_fmt_stack_mask(new & changed)} "
        if ~new & changed:
            line += f"-{what} {_fmt_stack_mask(~new & changed)}"
        self.log.append(line)

    # --- queries ----------------------------------------------------------------------------------------

    def slot_alive(self, st: VerifierState, insn_idx: int):
        """``bpf_live_stack_query_init`` + ``bpf_stack_slot_alive``: a predicate (frame, spi) for a state at
        ``insn_idx``: read from here on in the current function, or after the call (before it, for a helper
        calling back) in one of the callers at or above that frame."""
        depth = len(st.frames) - 1
        instances = [self.instance(st, d) for d in range(depth + 1)]
        top = instances[depth]
        insns = self.insns

        def alive(frameno: int, spi: int) -> bool:
            if top.live_before(frameno, insn_idx, spi):
                return True
            for i in range(frameno, depth):
                callsite = top.callsites[i]
                callback = insns[callsite].spec is not None and insns[callsite].spec.op == "call"
                if instances[i].live_before(frameno, callsite if callback else callsite + 1, spi):
                    return True
            return False

        return alive

    def clean(self, st: VerifierState, insn_idx: int) -> VerifierState:
        """The stack half of ``clean_verifier_state``: every slot not alive at ``insn_idx`` becomes
        ``STACK_INVALID`` and loses its spilled register (dead registers are left to ``states_equal``)."""
        alive = self.slot_alive(st, insn_idx)
        frames = []
        for fr, f in enumerate(st.frames):
            frames.append(_clean_frame(f, fr, alive))
        return replace(st, frames=tuple(frames))


def _fmt_callchain(inst: FuncInstance) -> str:
    return "(" + ",".join(str(c) for c in inst.callsites) + ")"


def _fmt_stack_mask(mask: int) -> str:
    """``bpf_fmt_stack_mask``: the slots' offsets, lowest slot first (``-8,-16``)."""
    return ",".join(str(-(i + 1) * 8) for i in range(64) if mask >> i & 1)


def _clean_frame(f: Frame, frameno: int, alive) -> Frame:
    """``clean_func_state``, stack part: slots up to ``allocated_stack``."""
    n = len(f.stack)
    stack = None
    dead = set()
    for spi in range(-(-n // 8)):
        if alive(frameno, spi):
            continue
        lo, hi = spi * 8, min(spi * 8 + 8, n)
        if all(b == STACK_INVALID for b in f.stack[lo:hi]) and f.spill_at(spi) is None:
            continue
        if stack is None:
            stack = list(f.stack)
        stack[lo:hi] = [STACK_INVALID] * (hi - lo)
        dead.add(spi)
    if stack is None:
        return f
    return replace(f, stack=tuple(stack), spilled=tuple((s, r) for s, r in f.spilled if s not in dead))


__all__ = ["FuncInstance", "StackLiveness", "insn_successors", "subprog_postorder"]
