"""Precision marks in the verifier walk viewer: what an event marked precise and why, what a prune compared,
and which scalars of a kept state are precise so far (``precision.Mark`` on ``walk.Event.precise``).

The engine records only the marks; the words come from here. Why an event asked for exact values is read off
its instruction (``app.ebpf.isa``, the helper table): a comparison whose outcome was known, a scalar added to
a pointer, a helper's size argument, constant map key or tail call index, a zero stored on the stack, the
return code at exit. A prune event's marks are those its covering state passes down the pruned path
(``propagate_precision``).

A kept state's marks at event ``i`` are those made by events up to ``i`` (what a prune at ``i`` compared);
the event that kept a state lists every mark the state gains, each with its event (they are made there or
later: at that event, marks "so far" would nearly always be none). They are gathered once
per result in one pass over the walk (``marks_index``, kept for the last few results like the walk's log) and filtered
per request. The playground verifies with precision tracking on (``checkview.verified``), so an imprecise
scalar of a kept state is one no prune compares.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from app.ebpf import Program, isa
from app.ebpf.helpers import HELPERS
from app.ebpf.verifier import VerifierResult
from app.ebpf.verifier.precision import Mark
from app.ebpf.verifier.state import SCALAR, VerifierState
from app.ebpf.verifier.walk import Event

EVERYTHING = "all scalars"  # Mark.what after the fallback (mark_all_scalars_precise), frame -1


@dataclass(frozen=True)
class MarksIndex:
    """Every mark of a walk by the kept state it went to: ``by_state[seq]`` lists (seq of the marking event,
    mark) in walk order; ``kept`` holds the seqs known to have kept a state (a mark's or a prune's)."""

    by_state: dict[int, tuple[tuple[int, Mark], ...]]
    kept: frozenset[int]

    def precise_in(self, state_seq: int, upto: int) -> tuple[tuple[int, Mark], ...]:
        """The marks state ``state_seq`` has gained by event ``upto`` (included)."""
        return tuple(m for m in self.by_state.get(state_seq, ()) if m[0] <= upto)


def build_index(events: Sequence[Event]) -> MarksIndex:
    """One pass over the walk."""
    by_state: dict[int, list[tuple[int, Mark]]] = {}
    kept: set[int] = set()
    for e in events:
        if e.precise:
            for m in e.precise:
                by_state.setdefault(m.state_seq, []).append((e.seq, m))
        if e.kind == "prune" and e.other >= 0:
            kept.add(e.other)
    kept.update(by_state)
    return MarksIndex({k: tuple(v) for k, v in by_state.items()}, frozenset(kept))


_INDEXES: dict[int, tuple[VerifierResult, MarksIndex]] = {}
_INDEXES_KEPT = 4  # as walkview keeps logs: the same result comes back while its walk is stepped


def marks_index(result: VerifierResult) -> MarksIndex:
    """``build_index`` of ``result``'s walk, kept for the last few results (checked by identity)."""
    entry = _INDEXES.get(id(result))
    if entry is not None and entry[0] is result:
        return entry[1]
    index = build_index(result.walk)
    _INDEXES[id(result)] = (result, index)
    while len(_INDEXES) > _INDEXES_KEPT:
        del _INDEXES[next(iter(_INDEXES))]
    return index


# --- the view -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MarkGroup:
    """Registers and slots (``what``, e.g. ``r7 and fp-16``) marked precise in one kept state: the one kept
    at instruction ``insn``, at event ``seq`` (``linked``: that event is in the walk, so it can be a button)."""

    what: str
    insn: int
    seq: int
    linked: bool


@dataclass(frozen=True)
class PreciseItem:
    """A precise register or slot of a kept state: ``what`` (``r7``, ``fp-16``, or ``every scalar``), the
    event ``since`` that marked it, and its row in the register view: ``frame`` (-1: every frame) and ``row``
    (``R7``, ``fp-16``, or ``*`` for every scalar)."""

    what: str
    since: int
    frame: int
    row: str


@dataclass(frozen=True)
class PrecisionView:
    """What ``_walk.html`` says about precision at one event (all fields empty when there is nothing to say).

    ``reason`` and ``made``: why this event asked for exact values, and the marks it made, by kept state.
    ``compared``: at a prune, the covering state's precise scalars at that moment, the only scalars compared
    (``compared_all``: every scalar of it, after the fallback); ``covering`` is None except at a prune.
    ``kept_here``: this event kept a state; ``kept_precise`` are the registers and slots later events mark
    precise in it. Marks come from this event's own check or from later ones (a check on a path that goes on
    from the state, or a prune against it), so here they are mostly in the future: each names its event."""

    reason: str = ""
    made: tuple[MarkGroup, ...] = ()
    fallback: bool = False
    covering: int | None = None
    compared: tuple[str, ...] = ()
    compared_all: bool = False
    kept_here: bool = False
    kept_insn: int = 0
    kept_precise: tuple[PreciseItem, ...] = ()

    def markers(self, frame: int) -> dict[str, int]:
        """Register (``R7``) and slot (``fp-16``) names of ``frame`` marked precise in the state kept here,
        each with the event that marks it (the first); ``"*"`` when every scalar is."""
        out: dict[str, int] = {}
        for item in self.kept_precise:
            if item.frame in (frame, -1):
                out.setdefault(item.row, item.since)
        return out


def precision_view(program: Program, result: VerifierResult, index: int,
                   before: VerifierState | None) -> PrecisionView:
    """The precision facts of event ``index``; ``before`` is the state it started from (for the reason)."""
    events = result.walk
    event = events[index]
    marks = marks_index(result)
    view = PrecisionView()
    if event.precise:
        view = PrecisionView(reason=_reason(program, event, before or event.state),
                             made=_groups(event.precise, len(events)),
                             fallback=any(m.what == EVERYTHING for m in event.precise))
    if event.kind == "prune" and event.other >= 0:
        held = [m for seq, m in marks.precise_in(event.other, index - 1)]
        view = replace(view, covering=event.other, compared_all=any(m.what == EVERYTHING for m in held),
                        compared=tuple(_name(m) for m in held if m.what != EVERYTHING))
    if index in marks.kept:
        items = tuple(PreciseItem(_name(m) if m.what != EVERYTHING else "every scalar", seq, m.frame,
                                  _row_name(m.what))
                      for seq, m in marks.by_state.get(index, ()))
        view = replace(view, kept_here=True, kept_insn=event.insn_idx, kept_precise=items)
    return view


def _name(m: Mark) -> str:
    return m.what if m.frame <= 0 else f"{m.what} (frame {m.frame})"


def _row_name(what: str) -> str:
    """The register view's row name for a mark: ``R7`` for ``r7``, ``fp-16`` as it is, ``*`` for everything."""
    if what == EVERYTHING:
        return "*"
    return "R" + what[1:] if what.startswith("r") else what


def _groups(precise: Sequence[Mark], total: int) -> tuple[MarkGroup, ...]:
    by_state: dict[int, list[Mark]] = {}
    for m in precise:
        by_state.setdefault(m.state_seq, []).append(m)
    return tuple(MarkGroup(_and(["every scalar" if m.what == EVERYTHING else _name(m) for m in ms]),
                           ms[0].insn_idx, seq, seq < total)
                 for seq, ms in by_state.items())


def _and(words: Sequence[str]) -> str:
    words = list(dict.fromkeys(words))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _scalars(state: VerifierState | None, regnos: Sequence[int]) -> list[str]:
    """The registers among ``regnos`` that hold scalars in ``state`` (all of them without a state)."""
    if state is None:
        return [f"r{r}" for r in regnos]
    regs = state.cur.regs
    return [f"r{r}" for r in dict.fromkeys(regnos) if 0 <= r < len(regs) and regs[r].type == SCALAR]


def _matter(regs: Sequence[str]) -> str:
    if len(regs) == 1:
        return "so its exact value matters"
    return "so their exact values matter" if regs else "so exact values matter"


def _reason(program: Program, event: Event, state: VerifierState | None) -> str:
    """Why the check at ``event``'s instruction needed exact scalars, from the instruction's kind."""
    if event.kind == "prune":
        return ("The state that covers this path counts on exact values of some scalars, so where this path "
                "got them matters too (they are passed back along it):")
    idx = event.insn_idx
    insn = program.insns[idx] if 0 <= idx < len(program.insns) else None
    spec = insn.spec if insn is not None else None
    generic = "A check at this instruction relied on exact values:"
    if spec is None:
        return generic
    x = spec.source == isa.Source.X
    if spec.cls in (isa.Class.JMP, isa.Class.JMP32):
        if spec.op == "exit":
            return "The return code is checked against the range this hook allows, so r0's exact value matters:"
        if spec.op == "call":
            return _helper_reason(insn.imm)
        if spec.op not in ("call_local", "call_kfunc", "callx", "ja", "may_goto"):
            regs = _scalars(state, [insn.dst, insn.src] if x else [insn.dst])
            known = f" from {_and(regs)}" if regs else ""
            return f"This comparison's outcome was known{known}, {_matter(regs)}:"
    if spec.cls in (isa.Class.ALU, isa.Class.ALU64) and x:
        regs = _scalars(state, [insn.src, insn.dst])[:1]
        verb = {"add": "moves a pointer by", "sub": "moves a pointer back by"}.get(spec.op, "combines a pointer with")
        what = f" the scalar {regs[0]}" if regs else " a scalar"
        return f"This instruction {verb}{what} (accesses through it are checked at that offset), {_matter(regs)}:"
    if spec.cls == isa.Class.STX:
        return (f"Storing the zero in r{insn.src} on the stack makes those bytes known zeros, "
                f"{_matter([f'r{insn.src}'])}:")
    return generic


def _helper_reason(helper_id: int) -> str:
    helper = HELPERS.get(helper_id)
    if helper is None:
        return "The helper's checks relied on exact argument values:"
    parts = []
    for i, arg in enumerate(helper.args, start=1):
        if arg.startswith(("ARG_CONST_SIZE", "ARG_CONST_ALLOC_SIZE")):
            parts.append(f"its size argument r{i}")
        elif arg == "ARG_PTR_TO_MAP_KEY":
            parts.append(f"the constant map key r{i} points to")
    if helper.name == "bpf_tail_call":
        parts.append("its constant index r3")
    what = _and(parts) if parts else "its arguments"
    return f"The checks of {helper.name} relied on the exact value of {what}, so it matters:"


__all__ = ["MarkGroup", "MarksIndex", "PreciseItem", "PrecisionView", "build_index", "marks_index",
           "precision_view"]
