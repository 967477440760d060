"""Abstract beside concrete: at a step of a run, what the verifier knew about each register there.

The verifier met the instruction about to run in one or more states (``verifier.soundness.states_at``).
The one that admits the run's registers (``closest``) is the state on this run's path, or the kept state
that covered it when the path was pruned; its registers are shown in the kernel's notation beside the
concrete values.

The walk prunes a path when an earlier state covers it in every register a check relied on exactly
(the *precise* ones); a scalar nothing relied on may then hold a value outside the states recorded after the
prune. So when the walk's states leave a live register out, the view turns to the walk that compares every
scalar exactly (``verify(track_precision=False)``, same verdict), whose states cover every run. A live
scalar register whose value lies outside even those would be a bug in our verifier (the kernel's verifier
may differ): it is flagged, never hidden.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.ebpf import Program
from app.ebpf.verifier import VerifierResult
from app.ebpf.verifier.notation import reg_str
from app.ebpf.verifier.prune import live_registers
from app.ebpf.verifier.soundness import closest, states_at
from app.ebpf.verifier.state import NOT_INIT


@dataclass(frozen=True)
class AbstractRow:
    """Register ``name``: the verifier's ``notation`` for it here (empty when it holds nothing the program
    may read), whether it is ``live`` (read later on some path) and whether the run's value is ``outside``
    the verifier's bounds."""

    name: str
    notation: str
    live: bool
    outside: bool


@dataclass(frozen=True)
class AbstractView:
    """The verifier's view of one run position: a ``note`` saying which state is shown (or why none), and a
    row per register r0..r10 (empty when no state was recorded)."""

    note: str
    rows: tuple[AbstractRow, ...]
    outside: bool


def abstract_view(program: Program, verified: VerifierResult | None, pc: int | None, regs, depth: int,
                  exact: Callable[[], VerifierResult | None] | None = None) -> AbstractView | None:
    """The view before instruction ``pc`` with the run's registers ``regs`` at call depth ``depth`` (1 in
    the main program); None without a verifier result or a next instruction. ``exact`` gives the walk
    without precision tracking, for when ``verified``'s states do not cover the run."""
    if verified is None or pc is None or not 0 <= pc < len(program.insns):
        return None
    recorded = states_at(verified).get(pc, [])
    live = live_registers(program.insns)[pc]
    state, missed = closest(recorded, regs, depth, live)
    if missed and exact is not None:
        other = exact()
        if other is not None:
            recorded = states_at(other).get(pc, [])
            state, missed = closest(recorded, regs, depth, live)
    if state is None:
        why = ("the verifier stopped before it" if verified.verdict != "accept"
               else "the walk recorded no state here at this call depth")
        return AbstractView(f"The verifier never checked insn {pc} ({why}).", (), False)
    rows = tuple(AbstractRow(f"r{i}", reg_str(r, program.maps, state.cur.frameno) if r.type != NOT_INIT else "",
                             i in live, i in missed)
                 for i, r in enumerate(state.cur.regs))
    if missed:
        names = ", ".join(f"r{i}" for i in missed)
        note = (f"{names}: the run's value is outside every state the verifier recorded at insn {pc}. That is a "
                f"bug in this playground's verifier; please report it with a share link.")
    else:
        count = sum(len(s.frames) == depth for s in recorded)
        note = (f"The verifier's state at insn {pc}" + (f" (the one of {count} it recorded that this run is in)"
                                                       if count > 1 else "") + ": every live scalar is in bounds.")
    return AbstractView(note, rows, bool(missed))
