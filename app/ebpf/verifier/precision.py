"""Precision tracking: which scalars a path relied on exactly (``mark_chain_precision``, ``backtrack_insn``,
``propagate_precision`` in ``kernel/bpf/verifier.c``).

A privileged walk compares kept states loosely: an old scalar counts only if it is *precise*, that is, if
some check after it depended on its exact value (a comparison whose outcome was known, a scalar added to a
pointer, a helper's size argument, a constant map key, the return code of a program type with a range).
Such a check asks for precision of the registers involved; the walk then goes back through the
instructions of the current path (``backtrack_insn``), following where the value came from (a move, an ALU
operand, a stack spill, a caller's argument; not out of a callback's arguments, which the helper sets, nor
into the helper call's arguments from the callback's exit: ``is_sync_callback_calling_insn``), and marks each
register or spilled slot it reaches as precise in the states kept along the path. Kept states start imprecise and only gain marks, so a state kept early
can later refuse a match it would have accepted before.

The path between two kept states is not stored instruction by instruction: like the kernel, a state keeps a
short history (``HistEntry``) of only the instructions that were reached by a jump (``prev`` is where from),
that spilled or filled a register on the stack, or that compared registers linked by a scalar id. Every
other instruction's predecessor is the one before it.

Unprivileged loaders get no precision tracking: every scalar counts as precise (``__mark_reg_unknown``
sets ``precise = !bpf_capable``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import isa
from ..insn import Insn
from .callbacks import is_sync_callback_call
from .state import SCALAR, STACK_SPILL, Frame

REGMASK_ARGS = frozenset(range(1, 6))


@dataclass(frozen=True, slots=True)
class HistEntry:
    """``struct bpf_jmp_history_entry``: instruction ``idx`` was reached from ``prev``; ``stack`` is the
    (frame, slot) it spilled to or filled from (``INSN_F_STACK_ACCESS``); ``linked`` the registers and
    slots sharing a scalar id with a compared register (``linked_regs``): ``(frame, regno)`` for a register,
    ``(frame, -1 - slot)`` for a spilled slot."""

    idx: int
    prev: int
    stack: tuple[int, int] | None = None
    linked: tuple[tuple[int, int], ...] = ()


# A path's history is a persistent list: (entry, older) pairs ending in None, newest first.
History = tuple | None


def push(hist: History, entry: HistEntry) -> History:
    """``push_jmp_history``; an instruction records at most one entry, so a second record for the same
    visit merges into the first (the caller passes the merged entry)."""
    return (entry, hist)


@dataclass(eq=False)
class Marks:
    """The precision marks a kept state has gained: ``regs`` and ``slots`` as (frame, number) pairs, or
    ``everything`` after the fallback (``mark_all_scalars_precise``)."""

    regs: set = field(default_factory=set)
    slots: set = field(default_factory=set)
    everything: bool = False

    def reg(self, frame: int, regno: int) -> bool:
        return self.everything or (frame, regno) in self.regs

    def slot(self, frame: int, spi: int) -> bool:
        return self.everything or (frame, spi) in self.slots


@dataclass(frozen=True)
class Mark:
    """One register or slot marked precise in a kept state: for the walk's events."""

    state_seq: int  # the walk event at which the kept state was recorded
    insn_idx: int  # the instruction it was kept at
    frame: int
    what: str  # "r3" or "fp-8"

    def to_json(self) -> dict:
        return {"state_seq": self.state_seq, "insn_idx": self.insn_idx, "frame": self.frame, "what": self.what}


class NotSupported(Exception):
    """``-ENOTSUPP`` from ``backtrack_insn``: precision falls back to marking every scalar."""


class Backtrack:
    """``struct backtrack_state``: the registers and slots still wanted, per frame, and the frame the
    backtracking is in."""

    def __init__(self, frame: int):
        self.frame = frame
        self.regs: list[set[int]] = [set() for _ in range(frame + 1)]
        self.slots: list[set[int]] = [set() for _ in range(frame + 1)]

    def empty(self) -> bool:
        return not any(self.regs) and not any(self.slots)

    def has_reg(self, regno: int, frame: int | None = None) -> bool:
        return regno in self.regs[self.frame if frame is None else frame]

    def has_slot(self, spi: int, frame: int) -> bool:
        return spi in self.slots[frame]

    def set_reg(self, regno: int, frame: int | None = None) -> None:
        self.regs[self.frame if frame is None else frame].add(regno)

    def clear_reg(self, regno: int, frame: int | None = None) -> None:
        self.regs[self.frame if frame is None else frame].discard(regno)

    def set_slot(self, spi: int, frame: int) -> None:
        self.slots[frame].add(spi)

    def enter_subprog(self) -> None:
        """``bt_subprog_enter``: going back over an exit, into the callee."""
        self.frame += 1
        while len(self.regs) <= self.frame:
            self.regs.append(set())
            self.slots.append(set())

    def exit_subprog(self) -> None:
        """``bt_subprog_exit``: going back over the call, into the caller."""
        if self.frame == 0:
            raise NotSupported("backtracking out of the main program")
        self.frame -= 1


def _sync_linked(bt: Backtrack, entry: HistEntry | None) -> None:
    """``bt_sync_linked_regs``: if one of the registers a jump refined together is wanted, all are."""
    if entry is None or not entry.linked:
        return
    if not any(bt.has_reg(n, fr) if n >= 0 else bt.has_slot(-1 - n, fr) for fr, n in entry.linked
               if fr < len(bt.regs)):
        return
    for fr, n in entry.linked:
        if fr >= len(bt.regs):
            continue
        if n >= 0:
            bt.set_reg(n, fr)
        else:
            bt.set_slot(-1 - n, fr)


# what backtracking needs of an instruction, computed once per program (``insn_table``)
(K_NONE, K_ALU, K_ALU_SELF, K_MOV, K_LDX, K_STX, K_ST, K_CALL_LOCAL, K_CALL, K_EXIT, K_COND, K_LD_IMM64,
 K_LD_ABS, K_CALL_CB, K_ATOMIC_LOAD) = range(15)


def insn_table(insns: tuple[Insn, ...]) -> list[tuple]:
    """For each instruction: (kind, dst, src, source is a register, its ``touch_mask``, ``quiet_start``), the
    facts ``backtrack_insn`` and ``mark_chain`` read, worked out once per program. ``quiet_start`` is the first
    of the run of instructions ending at this one that touch nothing whatever is wanted (a mask of 0), or the
    next instruction when this one may touch something: ``mark_chain`` passes over such a run in one step."""
    rows = []
    quiet_start = 0
    for i, d in enumerate(map(_describe, insns)):
        mask = touch_mask(*d)
        if mask:
            quiet_start = i + 1
        rows.append((*d, mask, quiet_start))
    return rows


ALWAYS = 1 << 11  # in a touch mask: the instruction may change what is wanted whatever is wanted


def touch_mask(kind: int, d: int, s: int, x: bool) -> int:
    """The registers of the current frame whose being wanted lets the instruction change what is wanted
    (without a history entry), as a bit mask (bit n for rn), or ``ALWAYS`` when it may change it regardless
    (calls and exits). ``mark_chain`` skips the instructions whose mask meets nothing wanted."""
    if kind in (K_CALL, K_CALL_LOCAL, K_EXIT):
        return ALWAYS
    if kind in (K_NONE, K_ALU_SELF):
        return 0
    if kind == K_COND:
        return (1 << d | 1 << s) if x else 0
    if kind == K_ALU and not x:
        return 0  # dst op= imm: what was wanted of dst stays wanted, nothing else becomes so
    if kind == K_ATOMIC_LOAD:
        return 1 << d | 1 << s | 1 << 0
    return 1 << d


def _wanted_mask(bt: "Backtrack") -> int:
    """The registers wanted in the frame being backtracked, as a bit mask, plus ``ALWAYS``: what a
    ``touch_mask`` is tested against."""
    mask = ALWAYS
    for regno in bt.regs[bt.frame]:
        mask |= 1 << regno
    return mask


def _describe(insn: Insn) -> tuple[int, int, int, bool]:
    spec = insn.spec
    if spec is None:
        return K_NONE, 0, 0, False
    cls, op, x = spec.cls, spec.op, spec.source == isa.Source.X
    if cls in (isa.Class.ALU, isa.Class.ALU64):
        kind = K_ALU_SELF if op in ("le", "be", "bswap", "neg") else K_MOV if op in ("mov", "movsx") else K_ALU
    elif cls == isa.Class.LDX:
        kind = K_LDX
    elif cls in (isa.Class.STX, isa.Class.ST):
        kind = K_STX if cls == isa.Class.STX else K_ST
        if op == "atomic_xchg" or op == "atomic_cmpxchg" or "fetch" in op:
            kind = K_ATOMIC_LOAD  # it also loads the old value, into src (r0 for cmpxchg)
    elif cls in (isa.Class.JMP, isa.Class.JMP32):
        kind = {"call_local": K_CALL_LOCAL, "call": K_CALL, "call_kfunc": K_CALL, "callx": K_CALL,
                "exit": K_EXIT, "ja": K_NONE, "may_goto": K_NONE}.get(op, K_COND)
        if kind == K_CALL and is_sync_callback_call(insn):
            kind = K_CALL_CB  # a helper that calls a callback (bpf_loop): is_sync_callback_calling_insn
    elif op == "ld_imm64":
        kind = K_LD_IMM64
    elif op in ("ld_abs", "ld_ind"):
        kind = K_LD_ABS
    else:
        kind = K_NONE
    return kind, insn.dst, insn.src, x


def backtrack_insn(insns: tuple[Insn, ...], idx: int, subseq_idx: int, entry: HistEntry | None,
                   bt: Backtrack, table: list | None = None) -> None:
    """``backtrack_insn``: turn what is wanted after instruction ``idx`` into what is wanted before it.
    ``table`` is ``insn_table(insns)``, computed once by a caller that backtracks often."""
    if entry is not None and entry.linked:
        _sync_linked(bt, entry)
    kind, d, s, x = table[idx][:4] if table is not None else _describe(insns[idx])
    wanted = bt.regs[bt.frame]
    if kind == K_ALU or kind == K_ALU_SELF or kind == K_MOV:
        if d not in wanted:
            return
        if kind == K_MOV:
            wanted.discard(d)
            if x and s != 10:
                wanted.add(s)
        elif kind == K_ALU and x and s != 10:
            wanted.add(s)  # dst op= src: both needed before
    elif kind == K_LDX:
        if d not in wanted:
            return
        wanted.discard(d)
        if entry is not None and entry.stack is not None:  # a fill: the slot's spilled scalar is wanted
            bt.set_slot(entry.stack[1], entry.stack[0])
    elif kind == K_ATOMIC_LOAD:
        # an atomic that fetches loads the old value as a load does: what wanted the loaded register
        # wants the slot it came from (the fix of "bpf: Fix incorrect pruning due to atomic fetch
        # precision tracking"; Linux 6.18.44 lacks it and prunes such programs unsoundly)
        if d in wanted:
            raise NotSupported("a wanted scalar used as a store's address")
        load = 0 if insns[idx].spec.op == "atomic_cmpxchg" else s
        if load in wanted:
            wanted.discard(load)
            if entry is not None and entry.stack is not None:
                bt.set_slot(entry.stack[1], entry.stack[0])
    elif kind == K_STX or kind == K_ST:
        if d in wanted:
            raise NotSupported("a wanted scalar used as a store's address")
        stack = entry.stack if entry is not None else None
        if stack is None or not bt.has_slot(stack[1], stack[0]):
            return
        bt.slots[stack[0]].discard(stack[1])
        if kind == K_STX:
            bt.set_reg(s)
    elif kind == K_COND:
        if x and (d in wanted or s in wanted):
            wanted.add(s)  # dst <cond> src: both needed before
            wanted.add(d)
    elif kind == K_CALL_LOCAL:
        # going back over the call, from the callee's first instruction: r1-r5 are the caller's
        if wanted - REGMASK_ARGS or bt.slots[bt.frame]:
            raise NotSupported("callee registers other than arguments wanted at its entry")
        args = set(wanted)
        wanted.clear()
        bt.exit_subprog()
        for r in args:
            bt.set_reg(r)
    elif kind == K_CALL_CB and idx != subseq_idx - 1:
        # going back from a callback's first instruction to the helper call that queued it: r1-r5 were set
        # by the helper, not passed on from the caller's registers, so nothing follows them out
        if wanted - REGMASK_ARGS or bt.slots[bt.frame]:
            raise NotSupported("callback registers other than arguments wanted at its entry")
        wanted.clear()
        bt.exit_subprog()
    elif kind == K_CALL or kind == K_CALL_CB:
        wanted.discard(0)  # the helper set r0
        if wanted & REGMASK_ARGS:
            raise NotSupported("arguments wanted after a helper call")
    elif kind == K_EXIT:
        # going back from the instruction after a call into the callee's exit; a callback's exit goes back
        # to the helper call itself, whose r1-r5 the caller set before the callback ran
        if subseq_idx >= 0 and (table[subseq_idx] if table is not None else _describe(insns[subseq_idx]))[0] \
                == K_CALL_CB:
            wanted -= REGMASK_ARGS
        r0 = subseq_idx >= 1 and 0 in wanted and _describe(insns[subseq_idx - 1])[0] == K_CALL_LOCAL
        if wanted & REGMASK_ARGS:
            raise NotSupported("arguments wanted after a subprogram returned")
        wanted.discard(0)
        bt.enter_subprog()
        if r0:
            bt.set_reg(0)
    elif kind == K_LD_IMM64:
        wanted.discard(d)
    elif kind == K_LD_ABS and d in wanted:
        raise NotSupported("ld_abs/ld_ind")
    if entry is not None and entry.linked:
        _sync_linked(bt, entry)


def is_spilled_scalar(frame: Frame, spi: int) -> bool:
    """``is_spilled_scalar_reg``: the slot's lowest byte is a spill and what was spilled is a scalar."""
    if frame.byte(-spi * 8 - 8) != STACK_SPILL:
        return False
    r = frame.spill_at(spi)
    return r is not None and r.type == SCALAR


def mark_chain(insns: tuple[Insn, ...], st, last_idx: int, bt: Backtrack, table: list | None = None,
               trace: list | None = None) -> list[Mark]:
    """``__mark_chain_precision``: backtrack from instruction ``last_idx`` of the current state ``st``
    (whose own instruction is skipped: its registers are the ones wanted), then through every kept
    ancestor (``st.parent``), marking what is wanted in each. Returns the new marks. The current state
    itself gets none: it is compared only once kept, and kept states start imprecise. ``table``:
    ``insn_table(insns)``. ``trace``, when given, receives what the kernel's level-2 log prints about it
    (``walklog`` renders the records): ("head", frame, last_idx, first_idx, subseq_idx) for each state
    gone through, ("step", frame, regs, slots, idx) before each instruction gone back over, ("parent",
    frame, regs, slots, the kept Frame, its precise registers and slots, its refs) after marking a kept
    state, and ("fallback", frame) / ("force", frame, what) when every scalar is forced precise."""
    start_parent = st.parent
    marks: list[Mark] = []
    first_idx = st.first_insn_idx
    hist = st.hist
    subseq = -1
    skip_first = True
    if table is None:
        table = insn_table(insns)
    wanted_regs, wanted_slots = bt.regs, bt.slots
    try:
        while True:
            i = last_idx
            if trace is not None:
                trace.append(("head", bt.frame, last_idx, first_idx, subseq))
            head = hist[0] if hist is not None else None
            wanted_mask = _wanted_mask(bt)
            while True:
                at_entry = head is not None and head.idx == i
                if skip_first:
                    skip_first = False
                    if not any(wanted_regs) and not any(wanted_slots):
                        return marks
                else:
                    if trace is not None and insns[i].opcode:  # backtrack_insn prints all but ld_imm64's 2nd half
                        trace.append(("step", bt.frame, tuple(sorted(wanted_regs[bt.frame])),
                                      tuple(sorted(wanted_slots[bt.frame])), i))
                    # most instructions on the way touch nothing wanted: skip them without a call. At a history
                    # entry, only one with neither a stack access nor linked registers, which tells backtrack_insn
                    # nothing more, and not at a callback-calling helper (which leaves the callback's frame
                    # whatever is wanted: its touch mask does not say so)
                    row = table[i]
                    if row[4] & wanted_mask or (at_entry and (head.stack is not None or head.linked
                                                              or row[0] == K_CALL_CB)):
                        backtrack_insn(insns, i, subseq, head if at_entry else None, bt, table)
                        if not any(wanted_regs) and not any(wanted_slots):
                            return marks
                        wanted_mask = _wanted_mask(bt)
                subseq = i
                # get_prev_insn_idx
                if at_entry:
                    hist = hist[1]
                    if i == first_idx and hist is None:
                        break
                    i = head.prev
                    head = hist[0] if hist is not None else None
                elif i == first_idx and hist is None:
                    break
                else:
                    i -= 1
                if i < 0:
                    raise NotSupported("backtracked past the program's start")
                if trace is None:
                    # nothing is printed per instruction: pass over those that touch nothing whatever is wanted,
                    # down to the next one that may, or to the history entry's instruction (the state's first
                    # one when no entry is left), which are gone through as above
                    j = max(head.idx if head is not None else first_idx, table[i][5] - 1)
                    if j < i:
                        i, subseq = j, j + 1
            kept = st.parent
            if kept is None:
                break
            parent = kept.state
            for fr in range(bt.frame, -1, -1):
                if fr >= len(parent.frames):
                    raise NotSupported("a kept state with fewer frames")
                f = parent.frames[fr]
                for regno in sorted(bt.regs[fr]):
                    if f.regs[regno].type != SCALAR or kept.marks.reg(fr, regno):
                        bt.regs[fr].discard(regno)
                    else:
                        kept.marks.regs.add((fr, regno))
                        marks.append(Mark(kept.seq, kept.insn_idx, fr, f"r{regno}"))
                for spi in sorted(bt.slots[fr]):
                    if not is_spilled_scalar(f, spi) or kept.marks.slot(fr, spi):
                        bt.slots[fr].discard(spi)
                    else:
                        kept.marks.slots.add((fr, spi))
                        marks.append(Mark(kept.seq, kept.insn_idx, fr, f"fp{-8 * (spi + 1)}"))
                if trace is not None:
                    trace.append(("parent", fr, tuple(sorted(bt.regs[fr])), tuple(sorted(bt.slots[fr])), f,
                                  _precise_in(kept, fr, f), parent.refs))
            if bt.empty():
                return marks
            subseq = first_idx
            last_idx = kept.last_insn_idx
            first_idx = parent.first_insn_idx
            hist = parent.hist
            st = parent
    except NotSupported:
        pass
    # something wanted was never found (or backtracking gave up): every scalar of every ancestor is precise
    # (mark_all_scalars_precise)
    if trace is not None:
        trace.append(("fallback", bt.frame))
    kept = start_parent
    while kept is not None:
        if not kept.marks.everything:
            if trace is not None:
                for fr, f in enumerate(kept.state.frames):
                    regs, slots = _precise_in(kept, fr, f)
                    trace.extend(("force", fr, f"r{n}") for n, r in enumerate(f.regs[:10])
                                 if r.type == SCALAR and n not in regs)
                    trace.extend(("force", fr, f"fp{-8 * (spi + 1)}") for spi, r in f.spilled
                                 if spi not in slots and is_spilled_scalar(f, spi))
            kept.marks.everything = True
            marks.append(Mark(kept.seq, kept.insn_idx, -1, "all scalars"))
        kept = kept.state.parent
    return marks


def _precise_in(kept, fr: int, f: Frame) -> tuple[frozenset[int], frozenset[int]]:
    """The registers and spilled slots of frame ``fr`` of a kept state precise now (for its printing)."""
    if kept.marks.everything:
        return frozenset(range(10)), frozenset(spi for spi, _ in f.spilled)
    return (frozenset(n for fr2, n in kept.marks.regs if fr2 == fr),
            frozenset(n for fr2, n in kept.marks.slots if fr2 == fr))


def propagation_lines(bt: Backtrack) -> list[tuple]:
    """What ``propagate_precision`` prints before backtracking: ("propagate", frame, ("r1", "fp-8", ...)) for
    each frame, top one first, with anything wanted."""
    out = []
    for fr in range(len(bt.regs) - 1, -1, -1):
        items = [f"r{n}" for n in sorted(bt.regs[fr])] + [f"fp{-8 * (spi + 1)}" for spi in sorted(bt.slots[fr])]
        if items:
            out.append(("propagate", fr, tuple(items)))
    return out


def wanted_from(kept, frames_count: int) -> Backtrack:
    """``propagate_precision``: what a covering kept state had marked precise is wanted in the pruned path too."""
    bt = Backtrack(frames_count - 1)
    old = kept.state
    for fr, f in enumerate(old.frames):
        if fr >= frames_count:
            break
        for regno in range(10):
            if f.regs[regno].type == SCALAR and kept.marks.reg(fr, regno):
                bt.set_reg(regno, fr)
        for spi, r in f.spilled:
            if r.type == SCALAR and f.byte(-spi * 8 - 8) == STACK_SPILL and kept.marks.slot(fr, spi):
                bt.set_slot(spi, fr)
    return bt


__all__ = [
    "Backtrack",
    "HistEntry",
    "Mark",
    "Marks",
    "NotSupported",
    "backtrack_insn",
    "is_spilled_scalar",
    "mark_chain",
    "push",
    "wanted_from",
]
