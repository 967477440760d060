"""Loops the walk may cut short: ``may_goto`` and the kernel's strongly connected components (SCCs) of the
control-flow graph, with the backedges that carry precision marks around them (``compute_scc``,
``maybe_enter_scc``, ``maybe_exit_scc``, ``add_scc_backedge``, ``propagate_backedges`` in
``kernel/bpf/verifier.c``, 6.17 and later, as in 6.18).

``may_goto pc+N`` (``BPF_JMP | BPF_JCOND``, src ``BPF_MAY_GOTO``) jumps when the program's loop budget is spent.
``check_cond_jmp_op`` continues the current path at the jump target and pushes the fall-through, one
``may_goto_depth`` deeper; that queued state's imprecise scalars which differ from the previous visit of the
same ``may_goto`` on the path are widened to unknown (``widen_imprecise_scalars``, as for callbacks), so a counter
nothing relied on exactly converges. A ``may_goto`` is a forced checkpoint: every visit keeps a state (unless an
earlier one covers it). A state kept there earlier on the *same* path, at another depth, that covers the current
one by the ranges of all its scalars (``RANGE_WITHIN``) ends the path as a loop: the budget may run out on any
iteration, and the iterations after it are no different from those already walked. At the same depth an identical
state is still an infinite loop.

Such a loop hit happens before the covering state's paths are all explored, so the precision marks it passes on
may be incomplete. The kernel records each such hit as a *backedge* of the SCC the covering state lies in (per
call chain: the call sites of the outer frames and the SCC of the innermost frame that is in one). The first state
kept in an SCC is its *entry*; once the entry's paths are all explored (its ``branches`` drop to 0), the marks of
each covering state are propagated along its backedges again until nothing changes (at most 64 rounds, then every
scalar of the backedges' paths is marked precise). While an SCC visit holds backedges, its fully explored states
are compared by the ranges of all scalars too (``incomplete_read_marks``), and a match counts as one more
backedge. Backedges count in ``peak_states`` until their SCC is left.

The stack slot the kernel reserves for the loop counter (``do_misc_fixups``: 16 bytes on x86-64, which has timed
``may_goto``, below the deepest byte used) is added after verification: it shows in the log's ``stack depth`` line
(528 for a program using 512 bytes), is never refused, and is not modelled here. The level-2 log lines ``SCC
enter (1)``, ``SCC backedge (1)`` and ``SCC exit (1)`` go to ``Sccs.log``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..insn import Insn
from . import precision as P
from .cfg import successors
from .state import VerifierState

MAX_BACKEDGE_ITERS = 64


def is_may_goto(insn: Insn) -> bool:
    """``bpf_is_may_goto_insn``."""
    return insn.opcode == 0xE5 and insn.src == 0


def compute_scc(insns: tuple[Insn, ...]) -> list[int]:
    """``compute_scc``: each instruction's SCC id, 0 for one in no loop. Ids are given as the kernel's iterative
    Tarjan walk completes components (from instruction 0 up, successors fall-through first); a component gets an
    id only if it has two or more instructions or one that jumps to itself. Calls are followed intraprocedurally
    (a call's successor is the next instruction)."""
    n = len(insns)
    not_on_stack = n + 1
    pre, low, scc = [0] * n, [0] * n, [0] * n
    succ = [[s for s in dict.fromkeys(successors(insns, pc)) if 0 <= s < n] if insns[pc].spec is not None else []
            for pc in range(n)]
    next_pre, next_scc = 1, 1
    for i in range(n):
        if pre[i]:
            continue
        stack: list[int] = []
        dfs = [i]
        while dfs:
            w = dfs[-1]
            if pre[w] == 0:
                low[w] = pre[w] = next_pre
                next_pre += 1
                stack.append(w)
            for s in succ[w]:
                if pre[s]:
                    low[w] = min(low[w], low[s])
                else:
                    dfs.append(s)
                    break
            else:
                if low[w] < pre[w]:
                    dfs.pop()
                    continue
                assign = stack[-1] != w or w in succ[w]
                while True:
                    t = stack.pop()
                    low[t] = not_on_stack
                    if assign:
                        scc[t] = next_scc
                    if t == w:
                        break
                if assign:
                    next_scc += 1
                dfs.pop()
    return scc


@dataclass
class Backedge:
    """``struct bpf_scc_backedge``: a path that ended on a loop hit, as it was then (``state``, its history
    included, at instruction ``insn_idx``), and the kept state that covered it (``equal_state``)."""

    state: VerifierState
    insn_idx: int
    equal: object  # prune.Kept


@dataclass
class Visit:
    """``struct bpf_scc_visit``: the state the current path entered the SCC with, and the backedges met since."""

    entry: object = None  # prune.Kept
    backedges: list[Backedge] = field(default_factory=list)


class Sccs:
    """The walk's SCC bookkeeping: the SCC of each instruction and a ``Visit`` per call chain."""

    def __init__(self, insns: tuple[Insn, ...], log: list[str] | None = None):
        self.of = compute_scc(insns)
        self.log = log  # where the level-2 lines go ("SCC enter (1)"), if anywhere
        self.visits: dict[tuple, Visit] = {}
        self.num_backedges = 0

    def callchain(self, st: VerifierState, idx: int) -> tuple | None:
        """``compute_scc_callchain``: the call sites of the frames before the first one whose instruction (the
        next frame's call site, or ``idx`` for the innermost) is in an SCC, and that SCC; None if none is."""
        sites = []
        for i, f in enumerate(st.frames):
            insn_idx = st.frames[i + 1].callsite if i + 1 < len(st.frames) else idx
            scc = self.of[insn_idx]
            if scc:
                return (*sites, scc)
            sites.append(insn_idx)
        return None

    def _visit(self, kept) -> Visit | None:
        chain = self.callchain(kept.state, kept.insn_idx)
        return None if chain is None else self.visits.get(chain)

    def enter(self, kept) -> None:
        """``maybe_enter_scc``: a state kept inside an SCC becomes its visit's entry if the visit has none."""
        chain = self.callchain(kept.state, kept.insn_idx)
        if chain is None:
            return
        visit = self.visits.setdefault(chain, Visit())
        if visit.entry is None:
            visit.entry = kept
            self.print("enter", chain)

    def print(self, what: str, chain: tuple) -> None:
        """``SCC enter (1)``: what ``maybe_enter_scc``, ``add_scc_backedge`` and ``maybe_exit_scc`` print at level 2,
        the call chain as ``format_callchain`` writes it (the call sites up to the first 0, then the SCC)."""
        if self.log is None:
            return
        *sites, scc = chain
        shown = []
        for site in sites:
            if not site:
                break
            shown.append(f"{site},")
        self.log.append(f"SCC {what} ({''.join(shown)}{scc})")

    def incomplete(self, kept) -> bool:
        """``incomplete_read_marks``: the kept state's SCC visit holds backedges not yet propagated."""
        visit = self._visit(kept)
        return visit is not None and bool(visit.backedges)

    def add_backedge(self, equal, st: VerifierState, idx: int) -> None:
        """``add_scc_backedge``: a loop hit of ``st`` at ``idx`` against the kept state ``equal``."""
        visit = self._visit(equal)
        if visit is None:  # the kernel's verifier_bug: a loop hit outside any SCC
            return
        visit.backedges.insert(0, Backedge(st, idx, equal))  # the kernel's list is newest first
        self.print("backedge", self.callchain(equal.state, equal.insn_idx))
        self.num_backedges += 1

    def exit(self, kept, propagate) -> None:
        """``maybe_exit_scc``: when the entry of its visit is fully explored, the visit ends and its backedges
        are propagated (``propagate(backedges)``, unless precision is not tracked) and dropped."""
        visit = self._visit(kept)
        if visit is None or visit.entry is not kept:
            return
        self.print("exit", self.callchain(kept.state, kept.insn_idx))
        visit.entry = None
        backedges, visit.backedges = visit.backedges, []
        self.num_backedges -= len(backedges)
        if propagate is not None and backedges:
            propagate(backedges)


def propagate_backedges(w, backedges: list[Backedge]) -> list[P.Mark]:
    """``propagate_backedges``: the marks of each backedge's covering state, passed along the backedge's path
    (``propagate_precision``) until a round adds none; after 64 rounds every scalar on the backedges' paths is
    marked precise instead. Returns the marks made."""
    made: list[P.Mark] = []
    for _ in range(MAX_BACKEDGE_ITERS + 1):
        changed = False
        for b in backedges:
            bt = P.wanted_from(b.equal, len(b.state.frames))
            if bt.empty():
                continue
            marks = P.mark_chain(w.insns, b.state, b.insn_idx, bt, w.bt_table)
            changed = changed or bool(marks)
            made.extend(marks)
        if not changed:
            return made
    for b in backedges:  # mark_all_scalars_precise
        kept = b.state.parent
        while kept is not None:
            if not kept.marks.everything:
                kept.marks.everything = True
                made.append(P.Mark(kept.seq, kept.insn_idx, -1, "all scalars"))
            kept = kept.state.parent
    return made
