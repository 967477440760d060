"""One path of the verifier walk: where the current event's path came from, and how to move along it.

The walk is depth-first (``app.ebpf.verifier.walk``): a path's events are contiguous until it ends (exit,
prune or reject); then a ``pop_branch`` resumes the branch most recently put aside by a ``push_branch``.
So the paths form a tree, and every event has one path *to* it from the program's entry:

- a ``push_branch`` belongs to the branch it puts aside (its state is that branch's, as in
  ``walkview._state_before``), so the path that goes on skips it: after the visit of a jump that pushed,
  the next event on the path is the one after the push; before it, the visit of the jump;
- a ``pop_branch`` comes after the push that put its branch aside (the events between belong to other
  paths); a push's next event on its path is its pop;
- forward from a jump that split the walk, the path follows the side the walk checked first; the other
  side is a button (``other_side``), and at a path's end "next" is the next path.

The breadcrumb of an event lists the branch points on its path: each conditional jump and which way this
path went (``forked`` when both ways were possible and the walk split there, else the outcome was known),
and each call and return. They are kept as a tree of crumbs built in one pass over the walk
(``build_index``, kept for the last few results like the walk's log); an event holds its last crumb, so a
request reads only the crumbs it shows.
"""
from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from app.ebpf import Program, isa
from app.ebpf.verifier import VerifierResult
from app.ebpf.verifier.walk import Event

FIRST = 3  # crumbs shown before the fold
LAST = 6  # crumbs shown after it
MIDDLE_MAX = 200  # the folded crumbs are listed (in a <details>) only up to this many; beyond, a count

ENDS = ("exit", "prune", "nospec", "reject")
_NOT_CONDITIONAL = ("ja", "call", "call_local", "call_kfunc", "callx", "exit")
FELL, JUMPED, CALL, RETURN = 0, 1, 2, 3
FORKED = 4  # or-ed into a crumb's kind: both ways were possible here


@dataclass(frozen=True)
class PathIndex:
    """The paths of a walk, from one pass (``build_index``); arrays of ints, one slot per event or crumb.

    ``partner[i]``: a push's pop, a pop's push (-1: none, or not a push or pop); ``path_of[i]``: the number
    (from 1) of the path event ``i`` is on, 0 for accept or a branch never resumed; ``crumb_of[i]``: the last
    crumb on the path up to event ``i`` (-1: none). A crumb ``c`` records ``parent[c]``, its ``depth``
    (from 1), the ``event`` where the path is on the side taken, the ``jump`` event (the visit of the
    branching instruction), its ``kind`` (FELL, JUMPED, CALL, RETURN, or-ed with FORKED) and ``first[c]``, its
    ancestor at depth ``FIRST`` (itself when shallower), so the first crumbs are found without a walk up."""

    partner: array
    path_of: array
    crumb_of: array
    parent: array
    depth: array
    event: array
    jump: array
    kind: array
    first: array
    paths: int


def _conditional(program: Program, insn: int) -> bool:
    spec = program.insns[insn].spec if 0 <= insn < len(program.insns) else None
    return (spec is not None and spec.cls in (isa.Class.JMP, isa.Class.JMP32)
            and spec.op not in _NOT_CONDITIONAL)


def prev_on_path(events: Sequence[Event], partner: Sequence[int], i: int) -> int | None:
    """The event before ``i`` on its path (None at the entry and for accept)."""
    kind = events[i].kind
    if i == 0 or kind == "accept":
        return None
    if kind == "pop_branch":
        return partner[i] if partner[i] >= 0 else None
    if events[i - 1].kind == "push_branch":  # the path went on past a branch put aside
        return i - 2 if i >= 2 else None
    return i - 1


def next_on_path(events: Sequence[Event], partner: Sequence[int], i: int) -> int | None:
    """The event after ``i`` on its path (None at its end)."""
    kind = events[i].kind
    if kind in ENDS or kind == "accept":
        return None
    if kind == "push_branch":
        return partner[i] if partner[i] >= 0 else None
    if i + 1 < len(events) and events[i + 1].kind == "push_branch":
        return i + 2 if i + 2 < len(events) else None
    return i + 1 if i + 1 < len(events) else None


def build_index(program: Program, events: Sequence[Event]) -> PathIndex:
    """One pass over the walk (``prev_on_path`` inlined: a walk can have 200,000 events). A crumb is made
    where the event before on the path is the visit of a call (the frames grew), of a return (they shrank)
    or of a conditional jump (which side: did the path go on at the next instruction)."""
    n = len(events)
    partner = array("i", [-1]) * n
    path_of = array("i", [0]) * n
    crumb_of = array("i", [-1]) * n
    parent, depth, event, jump, kind, first = (array("i") for _ in range(6))
    conditional = [_conditional(program, pc) for pc in range(len(program.insns))]
    pushed: list[int] = []
    paths = 0
    before = None  # the previous event
    for i, e in enumerate(events):
        k = e.kind
        if k == "push_branch":
            pushed.append(i)
            p = i - 1  # the visit of the jump
        elif k == "pop_branch":
            p = -1
            if pushed:
                p = pushed.pop()
                partner[i], partner[p] = p, i
                path_of[p] = paths + 1
            paths += 1
            path_of[i] = paths
        elif k == "accept":
            p = -1
        elif before is None:
            p = -1
            paths += 1
            path_of[i] = paths
        elif before.kind == "push_branch":  # the path went on past a branch put aside
            p = i - 2
            path_of[i] = path_of[p]
        else:
            p = i - 1
            path_of[i] = path_of[p]
        before = e
        if p < 0:
            continue
        crumb = crumb_of[p]
        b = events[p]
        if b.kind == "visit":
            step = -1
            if b.state is not None and len(b.state.frames) - 1 != b.frame:
                step = CALL if len(b.state.frames) - 1 > b.frame else RETURN
            elif 0 <= b.insn_idx < len(conditional) and conditional[b.insn_idx]:
                step = FELL if e.insn_idx == b.insn_idx + 1 else JUMPED
                if p + 1 < n and events[p + 1].kind == "push_branch":
                    step |= FORKED
            if step >= 0:
                d = depth[crumb] + 1 if crumb >= 0 else 1
                parent.append(crumb)
                depth.append(d)
                event.append(i)
                jump.append(p)
                kind.append(step)
                crumb = len(parent) - 1
                first.append(crumb if d <= FIRST else first[parent[crumb]])
        crumb_of[i] = crumb
    return PathIndex(partner, path_of, crumb_of, parent, depth, event, jump, kind, first, paths)


_INDEXES: dict[int, tuple[VerifierResult, PathIndex]] = {}
_INDEXES_KEPT = 4  # as walkview keeps logs: the same result comes back while its walk is stepped


def path_index(program: Program, result: VerifierResult) -> PathIndex:
    """``build_index`` of ``result``'s walk, kept for the last few results (checked by identity)."""
    entry = _INDEXES.get(id(result))
    if entry is not None and entry[0] is result:
        return entry[1]
    index = build_index(program, result.walk)
    _INDEXES[id(result)] = (result, index)
    while len(_INDEXES) > _INDEXES_KEPT:
        del _INDEXES[next(iter(_INDEXES))]
    return index


# --- the view -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Crumb:
    """A branch point on the path: ``label`` (``insn 9 → 12 (jumped)``) and the ``event`` where the path is
    on the side it took (a button goes there); ``forked`` when both ways were possible (the walk split),
    ``kind`` one of ``jumped``, ``fell-through``, ``call``, ``return``; ``title`` says it in words."""

    event: int
    label: str
    kind: str
    forked: bool
    title: str


@dataclass(frozen=True)
class PathView:
    """The path of event ``index``, for ``_walk_path.html``.

    ``number`` (from 1) of ``paths``; 0 when the event is on no path (accept) or is a branch the walk never
    resumed. ``prev`` and ``next`` are the neighbouring events on the path; ``put_aside`` (at a pop: its
    push), ``resumed`` (at a push: its pop; ``never_resumed`` when the walk stopped first), ``other_side``
    (at the visit of a jump that split the walk: the push of the side put aside) and ``next_path`` (at a
    path's end: the next pop) are the jumps off the plain sequence. The breadcrumb is ``head``, then
    ``hidden`` crumbs folded (``middle`` lists them when there are at most ``MIDDLE_MAX``), then ``tail``;
    ``crumbs`` counts them all."""

    index: int
    number: int
    paths: int
    prev: int | None
    next: int | None
    put_aside: int | None
    resumed: int | None
    never_resumed: bool
    other_side: int | None
    next_path: int | None
    ended: str  # the kind of the event if it ends its path (exit, prune, reject), else ""
    head: tuple[Crumb, ...]
    middle: tuple[Crumb, ...]
    hidden: int
    tail: tuple[Crumb, ...]
    crumbs: int


_WORDS = {FELL: "fell through", JUMPED: "jumped", CALL: "call", RETURN: "return"}


def _crumb(program: Program, events: Sequence[Event], ix: PathIndex, c: int) -> Crumb:
    k = ix.kind[c]
    step, forked = k & ~FORKED, bool(k & FORKED)
    at, frm = ix.event[c], events[ix.jump[c]].insn_idx
    to = events[at].insn_idx
    if step == CALL:
        label, title = f"insn {frm} → call {to}", f"insn {frm} calls the function at insn {to}"
    elif step == RETURN:
        label, title = f"insn {frm} → return to {to}", f"the function returns (insn {frm}) to insn {to}"
    else:
        words = _WORDS[step]
        label = f"insn {frm} → {to} ({words})"
        title = (f"the jump at insn {frm} could go either way: this path {words} to insn {to}" if forked else
                 f"the outcome of the jump at insn {frm} was known: the path {words} to insn {to}")
    return Crumb(at, label, _WORDS[step].replace(" ", "-"), forked, f"{title} (event {at})")


def _chain(c: int, count: int, parent: Sequence[int]) -> list[int]:
    """Up to ``count`` crumbs ending at ``c``, oldest first."""
    out = []
    while c >= 0 and len(out) < count:
        out.append(c)
        c = parent[c]
    out.reverse()
    return out


def path_view(program: Program, result: VerifierResult, index: int) -> PathView:
    """The path of event ``index`` (an index into the walk)."""
    events = result.walk
    ix = path_index(program, result)
    e = events[index]
    last = ix.crumb_of[index]
    total = ix.depth[last] if last >= 0 else 0
    if total <= FIRST + LAST + 1:
        head, middle, hidden, tail = _chain(last, total, ix.parent), [], 0, []
    else:
        head = _chain(ix.first[last], FIRST, ix.parent)
        tail = _chain(last, LAST, ix.parent)
        hidden = total - FIRST - LAST
        middle = _chain(ix.parent[tail[0]], hidden, ix.parent) if hidden <= MIDDLE_MAX else []
    crumbs = [tuple(_crumb(program, events, ix, c) for c in part) for part in (head, middle, tail)]
    partner = ix.partner[index]
    after = index + 1 < len(events) and events[index + 1]
    return PathView(
        index=index, number=ix.path_of[index], paths=ix.paths,
        prev=prev_on_path(events, ix.partner, index), next=next_on_path(events, ix.partner, index),
        put_aside=partner if e.kind == "pop_branch" and partner >= 0 else None,
        resumed=partner if e.kind == "push_branch" and partner >= 0 else None,
        never_resumed=e.kind == "push_branch" and partner < 0,
        other_side=index + 1 if e.kind == "visit" and after and after.kind == "push_branch" else None,
        next_path=index + 1 if e.kind in ENDS and after and after.kind == "pop_branch" else None,
        ended=e.kind if e.kind in ENDS else "",
        head=crumbs[0], middle=crumbs[1], hidden=hidden, tail=crumbs[2], crumbs=total)
