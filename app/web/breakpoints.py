"""Breakpoints of the VM stepper: which instructions to stop at, and where Continue and Reverse continue go.

A breakpoint is an instruction index (a pc, the listing's first number column). The set travels as text, the
``break`` field: comma-separated pcs (``3,7``), in the step form, in the page's URL (``?break=3,7``, kept
there by ``urlstate.js`` and read back by ``playground.view_args``) and in no-JavaScript posts. Forms also
send ``toggle`` (a pc whose breakpoint is set or cleared: the listing's gutter buttons), ``go`` (``continue``
or ``reverse``) and ``at`` (the position on screen, where Continue starts).

Continue stops at the first position after ``at`` whose instruction is a breakpoint, *before* that instruction
runs (as a debugger does), or at the end of the run when none is hit again; Reverse continue at the last one
before ``at``, or at the start. Both read the run's recorded path (``Trace.next_hit`` / ``prev_hit``), not the
machine states, so they cost a scan of the pcs even on a trace of a million steps.

Text that names no instruction (a word, a pc past the program's end, the second slot of an ``ld_imm64``)
is dropped with a message saying why; the rest still works. At most ``MAX_BREAKPOINTS`` are kept.
"""
from __future__ import annotations

from app.ebpf import Program
from app.ebpf.vm import Trace

from .contexts import Breakpoints

MAX_BREAKPOINTS = 64
MAX_TEXT = 1024
"""Longest ``break`` text read (longer text is cut there, with a message)."""
DIRECTIONS = ("continue", "reverse")


def instruction_starts(program: Program) -> list[int]:
    """The pcs where an instruction starts (an ``ld_imm64`` takes two slots; its second starts none)."""
    starts, pc = [], 0
    while pc < len(program.insns):
        starts.append(pc)
        spec = program.insns[pc].spec
        pc += spec.slots if spec is not None else 1
    return starts


def parse(text: str, program: Program, toggle: str = "") -> Breakpoints:
    """The breakpoints named by ``text``, with ``toggle`` (a pc) set or cleared, checked against ``program``."""
    problems = []
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT].rsplit(",", 1)[0]
        problems.append(f"the breakpoint list is longer than {MAX_TEXT:,} characters: the rest was ignored")
    starts = set(instruction_starts(program))
    pcs: set[int] = set()
    for part in (p.strip() for p in text.split(",")) if text.strip() else ():
        pc, problem = _check(part, starts, len(program.insns))
        if problem:
            problems.append(problem)
        elif pc is not None:
            pcs.add(pc)
    flip = toggle.strip()
    if flip:
        pc, problem = _check(flip, starts, len(program.insns))
        if problem:
            problems.append(f"cannot toggle a breakpoint: {problem}")
        elif pc is not None:
            pcs ^= {pc}
    if len(pcs) > MAX_BREAKPOINTS:
        problems.append(f"{len(pcs)} breakpoints; at most {MAX_BREAKPOINTS} are kept (the first by pc)")
    return Breakpoints(tuple(sorted(pcs)[:MAX_BREAKPOINTS]), tuple(problems))


def _check(part: str, starts: set[int], slots: int) -> tuple[int | None, str]:
    """The pc ``part`` names, or why it names none."""
    shown = part if len(part) <= 20 else part[:20] + "…"
    if not part:
        return None, ""
    if not part.isascii() or not part.isdigit():
        return None, f"{shown!r} is not an instruction number (breakpoints are pcs, such as 3,7)"
    pc = int(part)
    if pc >= slots:
        return None, (f"pc {shown} is past the end of the program (its instructions are pc 0 to {slots - 1})"
                      if slots else f"pc {shown}: the program has no instructions")
    if pc not in starts:
        return None, (f"pc {pc} is the second half of the 16-byte instruction at pc {pc - 1}: "
                      f"no instruction starts there")
    return pc, ""


def go(trace: Trace, breakpoints: Breakpoints, at: int, direction: str) -> tuple[int, Breakpoints]:
    """Where Continue (``direction`` ``continue``) or Reverse continue (``reverse``) from position ``at``
    stops, and the breakpoints with a note saying so."""
    total = len(trace)
    at = min(max(at, 0), total)
    pcs = breakpoints.pcs
    if direction == "continue":
        hit = trace.next_hit(pcs, at) if pcs else None
        if hit is not None:
            note = f"Continue: stopped at the breakpoint at pc {trace.pcs[hit]}, before step {hit}."
        else:
            hit = total
            note = ("Continue: no breakpoints are set, so the run went to its end." if not pcs else
                    "Continue: no breakpoint is hit after this step, so the run went to its end.")
    elif direction == "reverse":
        hit = trace.prev_hit(pcs, at) if pcs else None
        if hit is not None:
            note = f"Reverse continue: back at the breakpoint at pc {trace.pcs[hit]}, before step {hit}."
        else:
            hit = 0
            note = ("Reverse continue: no breakpoints are set, so the run went back to its start." if not pcs else
                    "Reverse continue: no breakpoint is hit before this step, so the run went back to its start.")
    else:
        shown = direction if len(direction) <= 20 else direction[:20] + "…"
        problem = f"{shown!r} is not a way to continue (continue or reverse)"
        return at, Breakpoints(pcs, (*breakpoints.problems, problem))
    return hit, Breakpoints(pcs, breakpoints.problems, note)
