"""Is the verifier's abstract state sound for a concrete run? The check behind issue 4's soundness property
and the playground's "abstract beside concrete".

The walk records, for every instruction, each state the verifier met it in (``states_at``). A concrete
run reaches an instruction along one path; the verifier either walked that path too, or pruned it at some
earlier instruction where a kept, more general state covered it, and walked on from that state. Either
way, one of the recorded states at the instruction must admit the concrete registers, for every register
that is still live there (a pruned path is only compared on live registers, so a dead one may differ).

Only scalars are checked: a scalar register's concrete value must lie in its bounds (tnum, signed and
unsigned, 64- and 32-bit: ``Bounds.contains``). Pointers are not compared with addresses, and registers the
verifier holds uninitialised are never read, so anything goes there.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..program import Program
from .prune import live_registers
from .result import VerifierResult
from .state import PTR_TO_CTX, SCALAR, Frame, Reg, VerifierState, initial_frame, ptr


@dataclass(frozen=True)
class Violation:
    """At run step ``step``, instruction ``pc``: register ``reg`` held ``value``, which no recorded state
    admits (``bounds``: how the closest state, the one admitting the most live registers, described it)."""

    step: int
    pc: int
    reg: int
    value: int
    bounds: str


def initial_state() -> VerifierState:
    """The state the walk starts from: R1 the context, R10 the frame pointer (``init_func_state``)."""
    frame = initial_frame()
    return VerifierState((frame.with_reg(1, ptr(PTR_TO_CTX)),))


def states_at(result: VerifierResult) -> dict[int, list[VerifierState]]:
    """For each instruction, the states the walk met it in, before it ran: the state of the event before
    each visit on the same path (a pending branch's state belongs to its own path), and the states that were
    pruned, reached an exit or were refused there. Speculative paths (an unprivileged walk's) are left out: no
    run takes them, so they may not stand for a run's values."""
    out: dict[int, list[VerifierState]] = {}
    previous: VerifierState | None = initial_state()
    for e in result.walk:
        if e.state is not None and e.state.speculative:
            previous = None
            continue
        if e.kind == "visit":
            if previous is not None:
                out.setdefault(e.insn_idx, []).append(previous)
            previous = e.state
        elif e.kind == "pop_branch":
            previous = e.state
        elif e.kind in ("prune", "exit", "reject") and e.state is not None:
            out.setdefault(e.insn_idx, []).append(e.state)
            previous = None
    return out


def admits(reg: Reg, value: int) -> bool:
    return reg.type != SCALAR or reg.b.contains(value)


def misses(frame: Frame, regs: Sequence[int], live: frozenset[int]) -> list[int]:
    """The live registers (r0-r9) whose concrete value in ``regs`` the frame's scalar bounds exclude."""
    return [i for i in sorted(live) if i < 10 and not admits(frame.regs[i], regs[i])]


def closest(states: Sequence[VerifierState], regs: Sequence[int], depth: int,
            live: frozenset[int]) -> tuple[VerifierState | None, list[int]]:
    """Of the recorded ``states`` at one instruction with ``depth`` frames, the one admitting the most live
    registers, and the registers it does not admit (empty: the run is inside it); (None, []) when no state
    was recorded at that depth."""
    best: tuple[VerifierState | None, list[int]] = (None, [])
    for s in states:
        if len(s.frames) != depth:
            continue
        missed = misses(s.cur, regs, live)
        if best[0] is None or len(missed) < len(best[1]):
            best = (s, missed)
            if not missed:
                break
    return best


def check_run(program: Program, result: VerifierResult, trace) -> list[Violation]:
    """The steps of a traced run (``vm.run(..., trace=True).trace``) whose live scalar registers no
    recorded state admits. Steps at an instruction the walk did not record at that depth are skipped."""
    recorded = states_at(result)
    live = live_registers(program.insns)
    found: list[Violation] = []
    for step in range(len(trace)):
        machine = trace.state_at(step)
        pc, regs = machine.pc, machine.regs
        state, missed = closest(recorded.get(pc, ()), regs, len(machine.frames) + 1, live[pc])
        if state is not None and missed:
            reg = missed[0]
            found.append(Violation(step, pc, reg, regs[reg], repr(state.cur.regs[reg].b)))
    return found
