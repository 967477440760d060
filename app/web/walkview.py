"""The verifier walk on the playground page: one event of ``VerifierResult.walk`` at a time.

The verifier records every step of its walk (``app.ebpf.verifier.walk.Event``), each with the whole state
after it. This module turns event ``index`` into what ``_walk.html`` shows: what happened (a sentence), the
registers in the kernel's notation (``notation.reg_str``) and decoded for people, the stack slots, the
branches still pending, the call frames, the listing with visit counts, and the log in the kernel's format
around the event, with the precision marks it made, compared or holds (``precisionview.py``) and the path it
is on (``pathview.py``). Navigation targets (the previous and next visit of the same instruction, the error,
the neighbours on the path) are computed here too, so the page needs no knowledge of the walk's structure.

Every request re-runs the verifier (it is deterministic): nothing about a walk is kept between requests.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from markupsafe import Markup

from app.ebpf import Program
from app.ebpf.isa import Class
from app.ebpf.verifier import VerifierResult
from app.ebpf.verifier import bounds as B
from app.ebpf.verifier import tnum as T
from app.ebpf.verifier.notation import SLOT, reg_str, slot_str
from app.ebpf.verifier.state import (
    CONST_PTR_TO_MAP,
    NOT_INIT,
    PTR_TO_CTX,
    PTR_TO_FUNC,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_END,
    PTR_TO_PACKET_META,
    PTR_TO_SOCKET,
    PTR_TO_STACK,
    SCALAR,
    Frame,
    Reg,
    VerifierState,
)
from app.ebpf.verifier.walk import Event
from app.ebpf.verifier.walklog import log_with_positions

from .cfgview import CfgView, cfg_view
from .contexts import ListingRow
from .highlight import highlight_lines
from .pathview import PathView, path_view
from .precisionview import PrecisionView, precision_view
from .present import insn_rows

LOG_WINDOW = 12  # log lines shown before and after the current one


@dataclass(frozen=True)
class RegRow:
    """One register: ``name`` (``R1``), the kernel's ``notation``, a plain-words ``meaning``, the tnum as
    a ``bits`` strip (``x`` unknown; empty unless some bits are known and some not), and whether this event
    ``changed`` it."""

    name: str
    notation: str
    meaning: str
    bits: str
    changed: bool
    precise: str = ""  # at the event that kept a state: why this register is marked P (its tooltip)


@dataclass(frozen=True)
class SlotRow:
    """One 8-byte stack slot: ``name`` (``fp-8``), ``notation`` (the kernel's), ``meaning``, ``changed``,
    and ``precise`` as for a register."""

    name: str
    notation: str
    meaning: str
    changed: bool
    precise: str = ""


@dataclass(frozen=True)
class FrameView:
    """A call frame, innermost last: its number, the call instruction (None for the main program), the
    function's first instruction, and its registers and stack."""

    number: int
    callsite: int | None
    start: int
    regs: tuple[RegRow, ...]
    slots: tuple[SlotRow, ...]


@dataclass(frozen=True)
class WalkRow:
    """A listing row: instruction ``pc``, its log-style ``text`` (highlighted), how many times the walk
    has ``visits`` to it up to the current event, whether it is ``current``, a ``pending`` branch target,
    or where the verifier ``rejected``; the source ``line`` it came from (assembly or C; None if unknown)
    and that line's ``source`` text, highlighted (empty on later rows of the same C line)."""

    pc: int
    text: Markup
    visits: int
    current: bool
    pending: bool
    rejected: bool
    line: int | None = None
    source: Markup = Markup("")


@dataclass(frozen=True)
class PendingBranch:
    """A branch put aside, waiting: its ``target`` insn, the insn it was pushed ``source`` from (a jump, or
    ``from_jump`` false: masked pointer arithmetic), and whether it is ``speculative`` (a path only a
    mispredicting CPU takes, walked for unprivileged loaders)."""

    target: int
    source: int
    speculative: bool = False
    from_jump: bool = True


@dataclass(frozen=True)
class LogLine:
    text: str
    current: bool


@dataclass(frozen=True)
class WalkView:
    """Event ``index`` (0 to ``total - 1``) of a walk, ready for ``_walk.html``: the fields are named as
    they are shown; ``line`` and ``source`` are the source line (assembly or C) of the event's instruction,
    when the listing knows it."""

    index: int
    total: int
    truncated: bool
    kind: str
    insn: int
    sentence: str
    frames: tuple[FrameView, ...]
    refs: str
    pending: tuple[PendingBranch, ...]  # oldest first
    rows: tuple[WalkRow, ...]
    log: tuple[LogLine, ...]
    log_start: int  # number of the first log line shown (from 1)
    log_total: int
    prev_visit: int | None
    next_visit: int | None
    error_event: int | None
    summary: str  # for the slider's aria-valuetext
    cfg: CfgView | None = None  # the control-flow graph at this event (cfgview.py), drawn by _cfg.html
    line: int | None = None
    source: Markup = Markup("")
    covered_by: int | None = None  # a prune: the event where the state that covered this one was kept
    precision: PrecisionView = field(default_factory=PrecisionView)  # precision marks made, compared or held here (precisionview.py)
    path: PathView | None = None  # this event's path: its breadcrumb and the moves along it (pathview.py)
    speculative: bool = False  # the event's state is on a speculative path (unprivileged loaders: spectre.py)


def start_index(result: VerifierResult) -> int:
    """Where the viewer opens: at the rejection, else at the first event."""
    if result.verdict == "reject" and result.walk:
        return len(result.walk) - 1
    return 0


def walk_view(program: Program, result: VerifierResult, index: int,
              listing: tuple[ListingRow, ...] = ()) -> WalkView | None:
    """The view of event ``index`` (clamped into the walk), or None for an empty walk; ``listing`` (the run's
    listing, ``present.listing``) gives each row its source line."""
    events = result.walk
    if not events:
        return None
    index = max(0, min(index, len(events) - 1))
    event = events[index]
    maps = program.maps
    before = _state_before(events, index)
    state = event.state or before
    precision = precision_view(program, result, index, before)
    frames = tuple(_frame_view(f, before.frames[i] if before and i < len(before.frames) else None, maps,
                               _precise_titles(precision, before, f.frameno, event.insn_idx, index, maps))
                   for i, f in enumerate(state.frames)) if state else ()
    visits: dict[int, int] = {}
    for e in events[:index + 1]:
        if e.kind == "visit" or (e.kind in ("reject", "exit", "nospec") and e.seq == index):
            visits[e.insn_idx] = visits.get(e.insn_idx, 0) + 1
    pending = _pending_at(program, events, index)
    targets = {p.target for p in pending}
    rejected_at = events[-1].insn_idx if result.verdict == "reject" and events[-1].kind == "reject" else None
    texts = insn_rows(program)
    highlighted = highlight_lines([t for _, _, t in texts])
    sources = {row.pc: row for row in listing}
    rows = tuple(WalkRow(pc, highlighted[i], visits.get(pc, 0), pc == event.insn_idx, pc in targets,
                         pc == rejected_at, sources[pc].line if pc in sources else None,
                         sources[pc].source if pc in sources else Markup(""))
                 for i, (pc, _, _) in enumerate(texts))
    lines, line_of = _log(program, result)
    current_line = line_of[index] if index < len(line_of) else 0
    lo = max(0, current_line - LOG_WINDOW)
    hi = min(len(lines), current_line + LOG_WINDOW + 1)
    return WalkView(
        index=index, total=len(events), truncated=result.walk_truncated, kind=event.kind, insn=event.insn_idx,
        sentence=_sentence(program, event, before), frames=frames,
        refs=", ".join(f"id {ref} (from insn {at})" for ref, at in state.refs) if state else "",
        pending=pending, rows=rows,
        log=tuple(LogLine(lines[i], i == current_line) for i in range(lo, hi)), log_start=lo + 1,
        log_total=len(lines),
        prev_visit=_find_visit(events, index, event.insn_idx, -1),
        next_visit=_find_visit(events, index, event.insn_idx, +1),
        error_event=len(events) - 1 if result.verdict == "reject" else None,
        summary=f"event {index} of {len(events) - 1}: {event.kind} insn {event.insn_idx}",
        cfg=cfg_view(program, events, index, rejected_at=rejected_at, texts=texts,
                     source_lines={row.pc: row.line for row in listing if row.goto and row.line}),
        line=_line_of(sources, event.insn_idx), source=_source_of(listing, _line_of(sources, event.insn_idx)),
        covered_by=event.other if event.kind == "prune" and event.other >= 0 else None, precision=precision,
        path=path_view(program, result, index), speculative=state is not None and state.speculative)


_LOGS: dict[int, tuple[VerifierResult, list[str], list[int]]] = {}
_LOGS_KEPT = 4  # as many as checkview keeps results: stepping a walk reuses its log


def _log(program: Program, result: VerifierResult) -> tuple[list[str], list[int]]:
    """The walk's log and each event's line in it, kept for the last few results (the same result object
    comes back while a walk is stepped; a result that is gone is never mistaken for another: the entry
    keeps its result and is checked by identity)."""
    entry = _LOGS.get(id(result))
    if entry is not None and entry[0] is result:
        return entry[1], entry[2]
    lines, line_of = log_with_positions(program, result)
    _LOGS[id(result)] = (result, lines, line_of)
    while len(_LOGS) > _LOGS_KEPT:
        del _LOGS[next(iter(_LOGS))]
    return lines, line_of


def _line_of(sources: dict, pc: int) -> int | None:
    return sources[pc].line if pc in sources else None


def _source_of(listing: tuple[ListingRow, ...], line: int | None) -> Markup:
    """The text of source ``line`` (a C line's text is on the first of its rows only)."""
    return next((row.source for row in listing if line and row.line == line and row.source), Markup(""))


# --- the state ------------------------------------------------------------------------------------------

def _state_before(events: Sequence[Event], index: int) -> VerifierState | None:
    """The state the event started from: that of the last earlier event on the same path (a push_branch's
    state belongs to the branch, not to the path that goes on)."""
    if events[index].kind == "pop_branch":
        return None
    for e in reversed(events[:index]):
        if e.kind != "push_branch":
            return e.state if e.kind not in ("prune", "exit", "nospec") else None
    return None


def _frame_view(frame: Frame, before: Frame | None, maps, precise: dict[str, str] | None = None) -> FrameView:
    precise = precise or {}
    regs = tuple(RegRow(f"R{i}", reg_str(r, maps), meaning(r, maps), _bits(r),
                        before is not None and before.regs[i] != r, precise.get(f"R{i}", ""))
                 for i, r in enumerate(frame.regs) if r.type != NOT_INIT)
    slots = []
    for slot in range((len(frame.stack) + SLOT - 1) // SLOT):
        text = slot_str(frame, slot, maps)
        if text is None:
            continue
        name, _, notation = text.partition("=")
        old = slot_str(before, slot, maps) if before is not None else text
        slots.append(SlotRow(name, notation, _slot_meaning(frame, slot, maps), old != text, precise.get(name, "")))
    return FrameView(frame.frameno, frame.callsite if frame.callsite >= 0 else None, frame.subprog, regs,
                     tuple(slots))


def _precise_titles(precision: PrecisionView, kept: VerifierState | None, frameno: int, insn: int, index: int,
                    maps) -> dict[str, str]:
    """At the event that kept a state (``kept``, the state before its instruction): the tooltip of each
    register (``R7``) and slot (``fp-16``) of frame ``frameno`` that a later event marks precise in it."""
    marked = precision.markers(frameno) if precision.kept_here else {}
    if not marked or kept is None or frameno >= len(kept.frames):
        return {}
    frame = kept.frames[frameno]
    values = {f"R{i}": reg_str(r, maps) for i, r in enumerate(frame.regs) if r.type == SCALAR}
    for slot, r in frame.spilled:
        if r.type == SCALAR:
            values[f"fp{-(slot + 1) * SLOT}"] = reg_str(r, maps)
    out = {}
    for name, value in values.items():
        since = marked.get(name, marked.get("*"))
        if since is not None:
            by = "this event" if since == index else f"event {since}"
            out[name] = (f"Precise: {by} marks {name} precise in the state kept here, before insn {insn} "
                         f"ran ({name}={value} then). From then on a path reaching insn {insn} is pruned against "
                         f"this state only if its {name} stays within what this state allows.")
    return out


def meaning(r: Reg, maps: Sequence = ()) -> str:
    """What a register holds, in words."""
    if r.type == SCALAR:
        return _scalar_meaning(r.b)
    name = maps[r.map].name if 0 <= r.map < len(maps) else "?"
    where = f"{r.off:+d} bytes" if r.off else ""
    if not r.b.is_const():
        where = (where + " plus " if where else "") + f"an unknown {_scalar_meaning(r.b, brief=True)}"
    elif B.s64(r.b.var_off.value):
        where = f"{r.off + B.s64(r.b.var_off.value):+d} bytes"
    null = ", or NULL until a check proves otherwise" if r.maybe_null else ""
    if r.type == PTR_TO_STACK:
        return "pointer into the stack" + (f" at fp{r.off + B.s64(r.b.var_off.value):+d}" if r.b.is_const()
                                           else f" at fp{r.off:+d} {where}")
    text = {
        PTR_TO_CTX: "pointer to the context the hook passes in",
        CONST_PTR_TO_MAP: f"the map {name!r} itself (for helper calls)",
        PTR_TO_MAP_VALUE: f"pointer into a value of map {name!r}"
                          + (f" ({maps[r.map].value_size} bytes)" if 0 <= r.map < len(maps) else ""),
        PTR_TO_MAP_KEY: f"pointer to a key of map {name!r}",
        PTR_TO_PACKET: f"pointer into the packet; {r.range} bytes from its base proven inside (r={r.range})",
        PTR_TO_PACKET_META: f"pointer into the packet metadata; {r.range} bytes proven",
        PTR_TO_PACKET_END: "the end of the packet (compare packet pointers with it)",
        PTR_TO_MEM: f"pointer to a {r.mem_size}-byte block"
                    + (" (a ring buffer record: submit or discard it)" if r.ref_obj_id else ""),
        PTR_TO_FUNC: f"a function: the subprogram at insn {r.subprog}",
        PTR_TO_SOCKET: "pointer to a socket",
    }.get(r.type, r.type_name())
    return text + (f", {where}" if where and r.type != PTR_TO_PACKET_END else "") + null


def _scalar_meaning(b: B.Bounds, brief: bool = False) -> str:
    if b.is_const():
        v = b.var_off.value
        return f"exactly {B.s64(v)}" + (f" ({v:#x})" if v > 9 else "")
    if b.umin == 0 and b.umax == B.U64_MAX and b.smin == B.S64_MIN and b.smax == B.S64_MAX:
        return "number" if brief else "any 64-bit number (nothing is known)"
    parts = []
    if b.umin or b.umax != B.U64_MAX:
        parts.append(f"{b.umin} to {b.umax} unsigned")
    if (b.smin, b.smax) != (B.s64(b.umin), B.s64(b.umax)) and (b.smin != B.S64_MIN or b.smax != B.S64_MAX):
        parts.append(f"{b.smin} to {b.smax} signed")
    return ("number, " if brief else "a number from ") + "; ".join(parts) if parts else "a number"


def _bits(r: Reg) -> str:
    """The tnum as 64 characters (``0``, ``1``, ``x``) in groups of 8, when part of a scalar is known."""
    if r.type != SCALAR or r.b.is_const() or T.is_unknown(r.b.var_off):
        return ""
    s = T.sbin(r.b.var_off)
    return " ".join(s[i:i + 8] for i in range(0, 64, 8))


def _slot_meaning(frame: Frame, slot: int, maps) -> str:
    spilled = frame.spill_at(slot)
    if spilled is not None and frame.byte(-(slot * SLOT) - SLOT) == "r":
        return "a spilled register: " + meaning(spilled, maps)
    kinds = [frame.byte(-(slot * SLOT + j) - 1) for j in range(SLOT)]
    words = {"m": "written data (misc)", "0": "zeros", "?": "never written", "r": "part of a spill"}
    if len(set(kinds)) == 1:
        return f"8 bytes: {words.get(kinds[0], kinds[0])}"
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}  # in the order fp-1, fp-2, ...
    return ", ".join(f"{n} byte{'s' if n > 1 else ''} {words.get(k, k)}" for k, n in counts.items())


# --- what happened ----------------------------------------------------------------------------------------

def _sentence(program: Program, event: Event, before: VerifierState | None) -> str:
    i = event.insn_idx
    speculative = event.state is not None and event.state.speculative
    if event.kind == "visit":
        return f"Checked insn {i}" + (" on a speculative path." if speculative else ".")
    if event.kind == "push_branch" and speculative:
        return _speculative_push(program, event, before)
    if event.kind == "push_branch":
        return (f"The jump at insn {event.other} can go either way: the path to insn {i} is put aside "
                f"(pending) and the walk goes on with the other.")
    if event.kind == "pop_branch":
        what = "speculative path" if speculative else "branch"
        return f"That path is finished; the walk resumes the {what} put aside for insn {i}."
    if event.kind == "prune":
        seq = event.other
        return (f"Pruned at insn {i}: the state kept at event {seq} is at least as general and was proven "
                f"safe, so this path needs no more checking." if seq >= 0 else f"Pruned at insn {i}.")
    if event.kind == "exit":
        return f"This path reaches exit at insn {i} with a valid return value."
    if event.kind == "nospec":
        why = f" ({event.detail})" if event.detail else ""
        return (f"This speculative path stops at insn {i}: the kernel puts a speculation barrier there rather "
                f"than let a mispredicting CPU run it{why}. The program is not rejected for it.")
    if event.kind == "reject":
        return f"Rejected at insn {i}: {event.detail}"
    if event.kind == "accept":
        return "Every path is checked: the program is accepted."
    return event.kind


FENCED = "Faults there are fenced with a speculation barrier rather than rejected."


def _speculative_push(program: Program, event: Event, before: VerifierState | None) -> str:
    """A ``push_branch`` whose state is speculative (an unprivileged loader's walk, ``spectre.py``): the other
    side of a jump whose outcome is known, the truncated offset of masked pointer arithmetic, or any branch
    of a path that is speculative already."""
    i, at = event.insn_idx, event.other
    if before is not None and before.speculative:
        return (f"This path is itself speculative, so the branch it puts aside for insn {i} (from insn {at}) is "
                f"speculative too, and checked as well. {FENCED}")
    if _is_jump(program, at):
        return (f"The jump at insn {at} can only go one way here, but a mispredicting CPU could take the other "
                f"side, so the kernel checks it too: the speculative path to insn {i} is put aside (pending). "
                f"{FENCED}")
    return (f"The pointer arithmetic at insn {at} masks its offset, as the kernel does for unprivileged loaders; "
            f"a mispredicting CPU could go on with the offset before masking, so the kernel checks that too: the "
            f"speculative path from insn {i} is put aside (pending). {FENCED}")


def _is_jump(program: Program, idx: int) -> bool:
    spec = program.insns[idx].spec if 0 <= idx < len(program.insns) else None
    return spec is not None and spec.cls in (Class.JMP, Class.JMP32)


def _pending_at(program: Program, events: Sequence[Event], index: int) -> tuple[PendingBranch, ...]:
    """The branches waiting after event ``index``, oldest first."""
    stack: list[PendingBranch] = []
    for e in events[:index + 1]:
        if e.kind == "push_branch":
            stack.append(PendingBranch(e.insn_idx, e.other, e.state is not None and e.state.speculative,
                                       _is_jump(program, e.other)))
        elif e.kind == "pop_branch" and stack:
            stack.pop()
    return tuple(stack)


def _find_visit(events: Sequence[Event], index: int, insn: int, direction: int) -> int | None:
    i = index + direction
    while 0 <= i < len(events):
        if events[i].insn_idx == insn and events[i].kind == "visit":
            return i
        i += direction
    return None
