"""The walk: ``do_check`` of ``kernel/bpf/verifier.c``, one instruction at a time over every path.

A path starts from the entry state (r1 = the context, r10 = the frame pointer, everything else
uninitialised). Each instruction is checked and its effect applied to the abstract state; a conditional
jump whose outcome is not known continues on one side and pushes the other (``push_stack``), each side
with the bounds it implies; an ``exit`` of the main program checks r0 and then resumes the next pushed
path. The first violation ends the walk with the kernel's message.

At prune points the walk compares the state with those kept there before (``prune.py``): a covered
state ends the path, an identical state on the current path is an infinite loop.

A check that relies on a scalar's exact value (a known branch outcome, a pointer offset, a helper's size)
marks it precise back along the path (``precision.py``); kept states compare only their precise scalars.

A helper that calls a function of the program (``bpf_loop``) queues a path into the callback, whose exit
leads back to the helper call until its visits converge (``callbacks.py``).

A ``may_goto`` goes on at its target and queues the fall-through one loop depth deeper; a state kept there
earlier on the path that covers the current one by ranges ends the path as a loop, whose precision marks are
passed along again once the loop's first state is fully explored (``loops.py``).

Stack slots no path from a kept state reads before writing them do not count when it is compared
(``liveness.py``: accesses are recorded per instruction as the walk goes, and brought together at each
path's end).

Not yet like the kernel: loops through iterators.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from .. import isa, progtypes
from ..errors import DecodeError
from ..helpers import HELPER_NAMES, HELPERS, helper_available
from ..insn import Insn, check_one
from ..loadcheck import subprog_starts
from ..program import Program
from . import bounds as B
from . import callbacks as CB
from . import loops as L
from . import precision as P
from . import scalar as S
from . import spectre as SP
from . import tnum as T
from .progress import Progress, reporting
from .branches import branch_taken, refine
from .liveness import StackLiveness
from .map_btf import BtfAccessError, map_struct, struct_access
from .prune import Kept, jmp_points, live_registers, prune_points, states_equal
from .stack_range import stack_access_var_off
from .state import (
    ADD_CONST,
    ADD_CONST32,
    ADD_CONST64,
    CONST_PTR_TO_MAP,
    MAX_BPF_STACK,
    NOT_INIT,
    PTR_TO_BTF_ID,
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
    PTR_TO_UNTRUSTED_MEM,
    SCALAR,
    STACK_INVALID,
    STACK_MISC,
    STACK_SPILL,
    STACK_ZERO,
    UNKNOWN,
    Frame,
    Reg,
    VerifierState,
    base_id,
    const,
    evolve,
    initial_frame,
    ptr,
    scalar,
)

COMPLEXITY_LIMIT = 1_000_000
MAX_VAR_OFF = 1 << 29  # BPF_MAX_VAR_OFF
LIMIT_ERRNO = "LIMIT"  # not a kernel errno: the walk was stopped by the caller's max_processed, not rejected
JMP_SEQ_LIMIT = 8192  # BPF_COMPLEXITY_LIMIT_JMP_SEQ: pending branches at most
MAX_CALL_FRAMES = 8
ALIGNMENT_DESC = {PTR_TO_MAP_VALUE: "value ", PTR_TO_MAP_KEY: "key ", PTR_TO_CTX: "context ", PTR_TO_SOCKET: "sock "}
"""``check_ptr_alignment``'s ``pointer_desc`` for its message (other types: none)."""
MAX_EVENTS = 200_000
EVICT_AFTER = 3  # is_state_visited: a kept state that misses more than hit_cnt * 3 + 3 times is dropped
TRACE_RECORDS = 100_000  # precision log records kept per walk (the first ones: a long walk's log is cut anyway)
HIST_FORCE_CHECKPOINT = 40
COMPLEXITY_LIMIT_STATES = 64  # BPF_COMPLEXITY_LIMIT_STATES: kept states per instruction for !bpf_capable  # is_state_visited: a longer history since the last kept state forces a new one


class Reject(Exception):
    """Ends the walk: the kernel's message, errno, and the instruction it is reported at."""

    def __init__(self, message: str, errno: str = "EACCES", pushed: tuple | None = None):
        super().__init__(message)
        self.message, self.errno = message, errno
        self.pushed = pushed  # (insn, state) of a branch the instruction put aside before it failed


@dataclass(frozen=True, slots=True)
class Event:
    """One step of the walk, for the UI to replay: ``kind`` is visit, push_branch, pop_branch, prune,
    exit, nospec (a speculative path ends at a speculation barrier, ``detail`` saying what it would have
    done wrong, or empty when the barrier was already there: spectre.py), reject or accept; ``changes`` lists registers written as (regno, new Reg), worked out when asked
    from the registers ``before`` a visit.

    ``state`` is the whole state after the event (states are immutable, so keeping it costs a reference):
    after the instruction for a visit, the pending state for push_branch, the resumed one for pop_branch,
    the state that was pruned, that reached an exit, or that was refused. ``other`` is, for push_branch,
    the instruction the branch was pushed from, and for prune, the ``seq`` of the visit where the earlier
    state that covers this one was kept; -1 otherwise. ``precise`` lists what the step marked precise in
    earlier kept states (a visit whose check relied on an exact scalar, a prune that inherits the covering
    state's marks)."""

    seq: int
    insn_idx: int
    kind: str
    before: tuple | None = field(default=None, compare=False, repr=False)  # a visit's registers before it
    detail: str = ""
    frame: int = 0
    state: VerifierState | None = field(default=None, compare=False, repr=False)
    other: int = -1
    precise: tuple = ()  # precision.Mark: registers and slots this step marked precise in kept states
    precise_log: tuple = field(default=(), compare=False, repr=False)  # precision.mark_chain's trace records

    @property
    def changes(self) -> tuple:
        """The registers a visit wrote, as (regno, new Reg) (none when it called or returned)."""
        if self.before is None or self.state is None or len(self.state.frames) - 1 != self.frame:
            return ()
        return tuple((i, r) for i, (r, old) in enumerate(zip(self.state.cur.regs, self.before))
                     if r is not old and r != old)

    def to_json(self) -> dict:
        out = {"seq": self.seq, "insn_idx": self.insn_idx, "kind": self.kind, "detail": self.detail,
               "frame": self.frame, "changes": [{"reg": f"r{i}", "value": describe(r)} for i, r in self.changes]}
        if self.other >= 0:
            out["from_insn" if self.kind == "push_branch" else "covered_by"] = self.other
        if self.precise:
            out["precise"] = [m.to_json() for m in self.precise]
        return out


def describe(r: Reg) -> str:
    """A short human-readable value, close to the kernel's log notation."""
    if r.type == NOT_INIT:
        return "?"
    if r.type == SCALAR:
        if r.b.is_const():
            return str(B.s64(r.b.var_off.value))
        parts = []
        if r.b.umin or r.b.umax != B.U64_MAX:
            parts += [f"umin={r.b.umin}", f"umax={r.b.umax}"]
        if r.b.smin != B.S64_MIN or r.b.smax != B.S64_MAX:
            parts += [f"smin={r.b.smin}", f"smax={r.b.smax}"]
        if not T.is_unknown(r.b.var_off):
            parts.append(f"var_off={T.strn(r.b.var_off)}")
        return f"scalar({','.join(parts)})"
    extra = []
    if r.off:
        extra.append(f"off={r.off}")
    if r.type == PTR_TO_PACKET:
        extra.append(f"r={r.range}")
    if r.type == PTR_TO_STACK:
        return f"fp{r.off + B.s64(r.b.var_off.value):+d}" if r.b.is_const() else "fp(var)"
    return f"{r.type_name()}{r.btf}({','.join(extra)})"  # ptr_bpf_map_ops(...)


class Walker:
    def __init__(self, program: Program, prog_type: str, privileged: bool = True,
                 max_processed: int = COMPLEXITY_LIMIT, track_precision: bool = True):
        self.program = program
        self.max_processed = max_processed
        self.stack_depth: dict[int, int] = {}  # function start -> deepest stack byte used (grow_stack_state)
        self.insns: tuple[Insn, ...] = program.insns
        self.ptype = progtypes.get(prog_type)
        self.prog_type = prog_type
        self.privileged = privileged
        self.precision = privileged and track_precision  # else every scalar counts as precise
        self.processed = 0
        self.pending: list[tuple[int, VerifierState]] = []
        self.events: list[Event] = []
        self.truncated = False
        self.max_pending = 0
        self.prune_points = prune_points(self.insns)
        self.live = live_registers(self.insns, lambda func_id: helper_available(func_id, prog_type, privileged))
        self.live_log: list[str] = []  # what the stack liveness analysis and SCCs printed, moved into the next event
        self.stack_live = StackLiveness(self.insns, subprog_starts(self.insns), log=self.live_log)
        # kept states by (instruction, call site of the innermost frame): the kernel's explored_state() list for
        # the pair, where states of the same instruction in another function instance are neither compared nor missed
        self.kept: dict[tuple[int, int], list[Kept]] = {}
        # States kept on the current path (not fully explored yet), a stack: a pending branch resumes with
        # the ancestors it was pushed with, which are a prefix of the current ones (the walk is depth-first),
        # so each pending branch keeps only their number.
        self.ancestors: list[Kept] = []
        self.ancestor_ids: set[int] = set()
        self.pending_ancestors: list[int] = []
        self.jmps_processed = 0
        self.prev_jmps = 0
        self.prev_insns = 0
        self.total_states = 0
        self.peak_states = 0
        self.live_states = 0
        self.max_states_per_insn = 0
        self.jmp_points = jmp_points(self.insns)
        self.bt_table = P.insn_table(self.insns)
        self.specs: list[isa.OpSpec | None] = [None] * len(self.insns)  # filled as instructions pass checks
        self.cur_idx = 0
        self.marks: list[P.Mark] = []  # precision marks made since the last event
        self.step_trace: list = []  # what backtracking printed since the last event (for the level-2 log)
        self.trace_budget = TRACE_RECORDS  # records left to keep; past it the log leaves precision out
        self.insn_stack: tuple[int, int] | None = None  # the (frame, slot) this instruction spilled or filled
        self.jmp_point = False  # the current visit reached a jump target (its history record is made)
        self.prev = -1  # the instruction the current visit came from
        self.sccs = L.Sccs(self.insns, log=self.live_log)  # loops.py; its log lines go with the liveness ones
        self.may_goto_points = frozenset(pc for pc, insn in enumerate(self.insns) if L.is_may_goto(insn))
        self.cb = CB.Callbacks(CB.cfg_points(self.insns))  # bpf_loop and bpf_for_each_map_elem (callbacks.py)
        # Spectre v1 and v4 for unprivileged loaders (spectre.py): instructions a speculative path may not run
        # (insn_aux->nospec), stack stores it may not go past (nospec_result), each masked pointer ALU's
        # (alu_state, alu_limit), whether pruning compares scalars exactly now (explore_alu_limits), and the
        # speculative path the current instruction pushes
        self.nospec: set[int] = set()
        self.nospec_result: set[int] = set()
        self.alu_sanitation: dict[int, tuple] = {}
        self.explore_alu_limits = False
        self.spec_push: tuple[int, VerifierState] | None = None
        self.prune_points |= self.cb.points.prune
        self.jmp_points |= self.cb.points.jmp

    # --- events -------------------------------------------------------------------------------------------

    def event(self, idx: int, kind: str, before: tuple | None = None, detail: str = "", frame: int = 0,
              state: VerifierState | None = None, other: int = -1) -> None:
        marks = trace = ()  # most steps mark nothing and print no precision records
        if self.marks:
            marks, self.marks = tuple(self.marks), []
        if self.step_trace:
            trace, self.step_trace = tuple(self.step_trace), []
            self.trace_budget -= len(trace)
        if len(self.events) >= MAX_EVENTS:
            self.truncated = True
            return
        self.events.append(Event(len(self.events), idx, kind, before, detail, frame, state, other, marks, trace))

    # --- the loop -----------------------------------------------------------------------------------------

    def run(self, progress: Progress | None = None) -> tuple[int, Reject | None]:
        """Walk every path; returns (insn index of the error or -1, the rejection or None). ``progress``
        is called with the processed count as the walk goes (``progress.py``)."""
        step = self.step if progress is None else reporting(self, progress)
        regs = list(initial_frame().regs)
        regs[1] = ptr(PTR_TO_CTX)
        state = VerifierState((Frame(tuple(regs)),))
        idx, prev = 0, -1
        while True:
            try:
                result = step(idx, state, prev)
            except Reject as r:
                self.event(idx, "reject", detail=r.message, frame=len(state.frames) - 1, state=state)
                return idx, r
            if result is None:  # this path ended at an exit of the main program
                # process_bpf_exit: update_branch_counts (SCCs left), bpf_update_live_stack, then pop_stack
                self.leave(self.pending_ancestors.pop() if self.pending else 0)
                self.stack_live.update(state)
                self.take_live_log()
                if not self.pending:
                    self.event(idx, "accept", state=state)
                    return -1, None
                idx, state, prev = self.pending.pop()
                self.event(idx, "pop_branch", detail=f"{len(self.pending)} more pending",
                           frame=len(state.frames) - 1, state=state)
                continue
            pushed_from = prev = idx
            idx, state, pushed = result
            if pushed is not None:
                if len(self.pending) >= JMP_SEQ_LIMIT:
                    message = f"The sequence of {len(self.pending) + 1} jumps is too complex."
                    # push_stack fails at the jump; check_cond_jmp_op answers EFAULT for a conditional jump, ENOMEM
                    # for may_goto
                    self.event(pushed_from, "reject", detail=message, frame=len(state.frames) - 1, state=state)
                    return pushed_from, Reject(message, "ENOMEM" if pushed_from in self.may_goto_points else "EFAULT")
                self.push(pushed, pushed_from)

    def push(self, pushed: tuple[int, VerifierState], pushed_from: int) -> None:
        """``push_stack``: put a branch aside, to be resumed once the current path ends."""
        self.pending.append((*pushed, pushed_from))
        self.pending_ancestors.append(len(self.ancestors))
        self.max_pending = max(self.max_pending, len(self.pending))
        self.event(pushed[0], "push_branch", detail=f"from insn {pushed_from}", frame=len(pushed[1].frames) - 1,
                   state=pushed[1], other=pushed_from)

    def visited(self, idx: int, st: VerifierState, prev: int) -> tuple[Kept | None, VerifierState]:
        """``is_state_visited``: the kept, fully explored state that covers ``st`` (prune the path) or None,
        and the state to go on with (after a new state is kept, the path's history starts again from it).

        The kept states are compared newest first, as the kernel's list keeps them. A state still on the
        current path cannot prune (its paths are not all checked) but may show an infinite loop. Each state
        that fails to match while a new state is about to be kept counts a miss, and one that misses more
        than three times as often as it hits (plus three) is dropped: it is unlikely to prune anything, and
        comparing against it costs time (the kernel's ``miss_cnt > hit_cnt * n + n`` eviction). A path whose
        history has grown past 40 entries keeps a state whatever the other rules say (``force_new_state``), and
        so does every visit of a callback call or a ``may_goto`` (forced checkpoints), where a state still on the
        path may cover the current one by ranges (a loop: callbacks.py, loops.py).
        A covering state passes its precision marks on to the pruned path (``propagate_precision``)."""
        kept = self.kept.setdefault((idx, st.cur.callsite), [])
        compared = len(kept)  # states_cnt, before any is dropped
        on_path = self.ancestor_ids
        calls_callback = idx in self.cb.points.calls
        may_goto = idx in self.may_goto_points
        checkpoint = calls_callback or may_goto  # a forced checkpoint (mark_force_checkpoint)
        force = st.hist_len > HIST_FORCE_CHECKPOINT or checkpoint
        add = force or (self.jmps_processed - self.prev_jmps >= 2 and self.processed - self.prev_insns >= 8)
        # inside a loop the kernel keeps states less often (see below)
        in_loop_too_soon = not force and self.jmps_processed - self.prev_jmps < 20 and \
            self.processed - self.prev_insns < 100
        cur_regs = st.cur.regs
        for i in range(len(kept) - 1, -1, -1):
            k = kept[i]
            if id(k) in on_path:
                # still on the path: at a callback call, or at a may_goto with another depth, the kernel compares
                # ranges of every scalar (RANGE_WITHIN) to see the iteration converge (loops.py)
                if (calls_callback or (may_goto and k.state.may_goto_depth != st.may_goto_depth)) and \
                        states_equal(k.state, st, self.live[idx], None, self.privileged, self.outer_live(st),
                                     self.explore_alu_limits):
                    return self.hit(k, st, idx, prev, loop=may_goto), st
                # states_maybe_looping (the current frame's registers) first, then the exact comparison
                if not calls_callback and k.state.frames[-1].regs == cur_regs and k.state == st:
                    raise Reject(f"infinite loop detected at insn {idx}", "EINVAL")
                if in_loop_too_soon:
                    add = False
            else:
                # fully explored: every path from it has ended; by ranges of every scalar while its loop's
                # backedges are pending (incomplete_read_marks)
                loop = self.sccs.incomplete(k)
                if not loop and not k.cleaned and _same_callsites(k.state, st):  # clean_live_states
                    k.state = self.stack_live.clean(k.state, idx)
                    k.cleaned = True
                if states_equal(k.state, st, self.live[idx], k.marks if self.precision and not loop else None,
                                self.privileged, self.outer_live(st), self.explore_alu_limits):
                    return self.hit(k, st, idx, prev, loop), st
            if add:
                k.misses += 1
            n = CB.FORCE_CHECKPOINT_EVICT_AFTER if checkpoint and id(k) in on_path else EVICT_AFTER
            if k.misses > k.hits * n + n:
                del kept[i]
                if id(k) not in on_path:
                    self.live_states -= 1
        if add and not self.privileged and compared > COMPLEXITY_LIMIT_STATES:
            add = False  # without CAP_BPF, at most 64 states are kept per instruction
        if add:
            # the visit of idx is the next event
            k = Kept(st, len(self.pending), len(self.events), insn_idx=idx, last_insn_idx=prev)
            # is_state_visited: "if (n > env->max_states_per_insn)", n the states it went through here
            self.max_states_per_insn = max(self.max_states_per_insn, compared)
            kept.append(k)
            self.ancestors.append(k)
            self.ancestor_ids.add(id(k))
            self.prev_jmps, self.prev_insns = self.jmps_processed, self.processed
            self.total_states += 1
            self.live_states += 1
            self.peak_states = max(self.peak_states, self.live_states + self.sccs.num_backedges)
            self.sccs.enter(k)
            self.take_live_log()  # "SCC enter", printed before the instruction
            st = evolve(st, parent=k, first_insn_idx=idx, hist=None, hist_len=0)
        return None, st

    def hit(self, k: Kept, st: VerifierState, idx: int, prev: int, loop: bool) -> Kept:
        """``is_state_visited``'s hit: ``k`` covers ``st`` and passes its precision marks on to the pruned path
        (``propagate_precision``); a ``loop`` hit is also kept as a backedge of k's SCC (loops.py)."""
        k.hits += 1
        here = self.with_history(st, idx, prev) if idx in self.jmp_points else st
        if self.precision:
            bt = P.wanted_from(k, len(st.frames))
            if not bt.empty():
                trace = self.trace_sink()
                if trace is not None:
                    trace.extend(P.propagation_lines(bt))
                self.marks.extend(P.mark_chain(self.insns, here, idx, bt, self.bt_table, trace))
        if loop:
            self.sccs.add_backedge(k, here, idx)
            self.take_live_log()
            self.peak_states = max(self.peak_states, self.live_states + self.sccs.num_backedges)
        return k

    def leave(self, keep: int) -> None:
        """Every path from the kept states past the first ``keep`` on the path has ended (their ``branches`` are
        0, newest first, as ``update_branch_counts`` finds them): an SCC entered there is left (loops.py)."""
        propagate = self.propagate_backedges if self.precision else None
        for k in reversed(self.ancestors[keep:]):
            self.sccs.exit(k, propagate)
        self.ancestor_ids.difference_update(id(k) for k in self.ancestors[keep:])
        del self.ancestors[keep:]

    def propagate_backedges(self, backedges) -> None:
        self.marks.extend(L.propagate_backedges(self, backedges))

    def outer_live(self, st: VerifierState) -> list[frozenset[int]]:
        """The registers compared in each frame but the innermost: those live before the call that frame is
        in (``frame_insn_idx``: the callee's ``callsite``)."""
        return [self.live[f.callsite] for f in st.frames[1:]]

    @staticmethod
    def with_history(st: VerifierState, idx: int, prev: int, stack=None, linked=(), merge: bool = False
                     ) -> VerifierState:
        """Record this visit of ``idx`` in the path's history (``push_jmp_history``). ``merge``: this visit
        already made its record (it reached a jump target), which gains the stack access or linked
        registers instead (one entry per visit)."""
        head = st.hist
        if merge and head is not None:
            e = head[0]
            entry = P.HistEntry(idx, prev, stack or e.stack, tuple(linked) or e.linked)
            return evolve(st, hist=(entry, head[1]))
        return evolve(st, hist=(P.HistEntry(idx, prev, stack, tuple(linked)), head), hist_len=st.hist_len + 1)

    def mark_precise(self, st: VerifierState, *regnos: int, slots: tuple = ()) -> None:
        """``mark_chain_precision``: the check at the current instruction relies on the exact values of these
        scalar registers (of the current frame) and spilled slots ((frame, slot) pairs); root only."""
        if not self.precision:
            return
        bt = P.Backtrack(len(st.frames) - 1)
        for r in regnos:
            if st.cur.regs[r].type == SCALAR:
                bt.set_reg(r)
        for fr, spi in slots:
            bt.set_slot(spi, fr)
        if not bt.empty():
            self.marks.extend(P.mark_chain(self.insns, st, self.cur_idx, bt, self.bt_table, self.trace_sink()))

    def take_live_log(self) -> None:
        """Move the liveness analysis's log lines into the records of the next event (within the budget)."""
        if self.live_log:
            if self.trace_sink() is not None:
                self.step_trace.extend(("text", line) for line in self.live_log)
            self.live_log.clear()

    def trace_sink(self) -> list | None:
        """Where backtracking writes its log records for this step, while the walk keeps them."""
        if self.trace_budget <= 0 or len(self.events) >= MAX_EVENTS:
            return None
        return self.step_trace

    def step(self, idx: int, st: VerifierState, prev: int = -1):
        self.processed += 1
        self.cur_idx = idx
        if self.processed > self.max_processed:
            if self.max_processed >= COMPLEXITY_LIMIT:
                raise Reject(f"BPF program is too large. Processed {self.processed} insn", "E2BIG")
            raise Reject(f"stopped after {self.max_processed:,} processed instructions, this playground's limit "
                         f"for one check (the kernel's is {COMPLEXITY_LIMIT:,}): no verdict", LIMIT_ERRNO)
        if not 0 <= idx < len(self.insns):
            raise Reject(f"jump out of range from insn {idx - 1} to {idx}", "EINVAL")
        insn = self.insns[idx]
        spec = self.specs[idx]
        if spec is None:
            spec = self.specs[idx] = self.checked_spec(idx, insn)
        if idx in self.prune_points:
            covering, st = self.visited(idx, st, prev)
            if covering is not None:
                self.event(idx, "prune", detail="an earlier state covers this one", frame=len(st.frames) - 1,
                           state=st, other=covering.seq)
                return None
        self.jmp_point = idx in self.jmp_points
        self.prev = prev
        if self.jmp_point:
            st = self.with_history(st, idx, prev)
        self.insn_stack = None
        if insn.opcode & 7 in _JMP_CLASSES:
            self.jmps_processed += 1
        before = st.cur.regs
        frame = len(st.frames) - 1
        if st.speculative and idx in self.nospec:  # do_check: a barrier stops the speculative path here
            self.event(idx, "nospec", None, "", frame, st)
            return None
        self.stack_live.reset_write(st, idx)
        try:
            out = self.execute(idx, insn, spec, st)
        except Reject as r:
            if not (st.speculative and r.errno in SP.RECOVERABLE):
                raise
            # error_recoverable_with_nospec: a barrier before this instruction stops speculation instead; a branch
            # the instruction had already put aside stays (check_cond_jmp_op's last check comes after push_stack)
            if r.pushed is not None and len(self.pending) < JMP_SEQ_LIMIT:
                self.push(r.pushed, idx)
            self.stack_live.commit_write()
            self.nospec.add(idx)
            self.alu_sanitation.pop(idx, None)
            self.event(idx, "nospec", None, r.message, frame, st)
            return None
        self.stack_live.commit_write()
        if out is None:
            self.event(idx, "exit", None, "", frame, st)
            return None
        nidx, nst, pushed = out
        if self.insn_stack is not None:
            nst = self.with_history(nst, idx, prev, stack=self.insn_stack, merge=self.jmp_point)
        self.event(idx, "visit", before, "", frame, nst)
        if st.speculative and idx in self.nospec_result:  # a barrier after this store stops speculation
            return None
        return nidx, nst, pushed

    @staticmethod
    def checked_spec(idx: int, insn: Insn) -> isa.OpSpec:
        """The instruction's form, once its fields pass ``do_check``'s checks (instructions do not change,
        so the walk checks each once)."""
        spec = insn.spec
        if spec is None:
            raise Reject(f"unknown opcode {insn.opcode:02x}", "EINVAL")
        try:
            # do_check checks exit's imm, src and dst but not its off: exit with off=1 loads
            check_one(replace(insn, off=0) if spec.op == "exit" else insn, idx)
        except DecodeError:
            if insn.dst > 10 or insn.src > 10:
                raise Reject(f"R{max(insn.dst, insn.src)} is invalid", "EINVAL") from None
            raise Reject(f"{_reserved_name(spec)} uses reserved fields", "EINVAL") from None
        return spec

    # --- instructions -------------------------------------------------------------------------------------

    def execute(self, idx: int, insn: Insn, spec: isa.OpSpec, st: VerifierState):
        cls = insn.opcode & 7
        if cls in _ALU_CLASSES:
            self.spec_push = None
            st = self.alu(insn, spec, st)
            return idx + 1, st, self.spec_push  # masked pointer arithmetic's speculative path (spectre.py)
        if cls in _JMP_CLASSES:
            return self.jump(idx, insn, spec, st)
        if cls == isa.Class.LDX:
            return idx + 1, self.load(insn, spec, st), None
        if cls in (isa.Class.ST, isa.Class.STX):
            if spec.op.startswith("atomic_"):
                return idx + 1, self.atomic(insn, spec, st), None
            return idx + 1, self.store(insn, spec, st), None
        if spec.op == "ld_imm64":
            return idx + 2, self.ld_imm64(idx, insn, spec, st), None
        if spec.op in ("ld_abs", "ld_ind"):
            return idx + 1, self.ld_abs(insn, spec, st), None
        raise Reject(f"unknown opcode {insn.opcode:02x}", "EINVAL")

    def read(self, st: VerifierState, regno: int) -> Reg:
        if regno > 10:
            raise Reject(f"R{regno} is invalid", "EINVAL")
        r = st.cur.regs[regno]
        if r.type == NOT_INIT:
            raise Reject(f"R{regno} !read_ok")
        return r

    def write(self, st: VerifierState, regno: int, r: Reg) -> VerifierState:
        if regno > 10:
            raise Reject(f"R{regno} is invalid", "EINVAL")
        if regno == 10:
            raise Reject("frame pointer is read only")
        return st.with_frame(st.cur.with_reg(regno, r))

    # ALU

    def alu(self, insn: Insn, spec: isa.OpSpec, st: VerifierState) -> VerifierState:
        op = spec.op
        width = 64 if spec.cls == isa.Class.ALU64 else 32
        d = insn.dst
        if op in ("le", "be", "bswap", "neg"):
            # check_alu_op: a pointer operand is refused only without allow_ptr_leaks; root gets an
            # unknown scalar (check_reg_arg DST_OP)
            dst = self.read(st, d)
            if dst.is_pointer:
                if not self.privileged:
                    raise Reject(f"R{d} pointer arithmetic prohibited")
                return self.write(st, d, UNKNOWN)
        if op in ("le", "be", "bswap"):
            b = dst.b
            if b.is_const():
                from ..vm.alu import endian
                return self.write(st, d, const(endian(op, spec.width, b.var_off.value)))
            return self.write(st, d, UNKNOWN if spec.width == 64 else scalar(B.from_urange(0, (1 << spec.width) - 1)))
        if op == "neg":
            return self.write(st, d, scalar(S.neg(width, dst.b)))
        x = spec.source == isa.Source.X
        if x:
            src = self.read(st, insn.src)
        else:
            imm = insn.imm & (B.U64_MAX if width == 64 else B.U32_MAX)
            src = const(imm)
        if src.is_pointer and (op == "movsx" or (op == "mov" and width == 32)):
            return self.write(st, d, self.mov_pointer(insn.src, op, width))
        if op == "movsx":
            src_b = src.b
            bits = insn.off
            if src_b.is_const():
                from ..vm.alu import sext
                v = sext(src_b.var_off.value, bits) & (B.U64_MAX if width == 64 else B.U32_MAX)
                return self.write(st, d, const(v))
            lo = -(1 << (bits - 1))
            b = B.from_srange(lo, -lo - 1)  # coerce_reg_to_size_sx; the 32-bit form is then zero-extended
            return self.write(st, d, scalar(b if width == 64 else S.alu("mov", 32, UNKNOWN.b, b)))
        if op == "mov":
            if x and (width == 64 or src.b.umax <= B.U32_MAX):
                src, st = self.link_scalar(st, insn.src, src)  # the copy shares the source's id
                return self.write(st, d, src)
            if width == 32:
                return self.write(st, d, scalar(S.alu("mov", 32, UNKNOWN.b, src.b)))
            return self.write(st, d, src)
        dst = self.read(st, d)
        if op in ("div", "mod", "sdiv", "smod") and not x and insn.imm == 0:
            raise Reject("div by zero", "EINVAL")
        if op in ("lsh", "rsh", "arsh") and not x and not 0 <= insn.imm < width:
            raise Reject(f"invalid shift {insn.imm}", "EINVAL")
        if dst.is_pointer or src.is_pointer:
            if x and dst.is_pointer != src.is_pointer:
                # adjust_reg_min_max_vals: the pointer's new offset rests on the scalar's exact value
                self.mark_precise(st, insn.src if dst.is_pointer else d)
            reg, st = self.pointer_alu(insn, op, width, dst, src, st)
            return self.write(st, d, reg)
        if op in ("lsh", "rsh", "arsh"):
            # is_safe_to_compute_dst_reg_range: a shift by an amount that is not a constant below the width gives
            # an unknown scalar, 32-bit shifts too (adjust_scalar_min_max_vals returns before zext_32_to_64)
            amount = src.b
            if not (amount.umax < width) or not amount.is_const():
                return self.write(st, d, UNKNOWN)
        result = scalar(S.alu(op, width, dst.b, src.b))
        # r += const keeps a link (bpf_capable only); r += r does not (its source changed under it)
        if op in ("add", "sub") and dst.id and self.privileged \
                and not (x and insn.src == d):
            result = add_const_link(op, width, dst, src, result)
        return self.write(st, d, result)

    def link_scalar(self, st: VerifierState, regno: int, reg: Reg) -> tuple[Reg, VerifierState]:
        """``assign_scalar_id_before_mov``: an unknown scalar about to be copied (a register move, an 8-byte
        spill) gets an id first, shared by the copies, so that bounds learned on one apply to all
        (``sync_linked_regs``). Constants need none. A register linked with a delta (``ADD_CONST``) first
        leaves its link: copies of it start a new one, as a second delta could not be recorded."""
        if reg.type != SCALAR:
            return reg, st
        if reg.id & ADD_CONST:
            reg = replace(reg, id=0, off=0)
            st = st.with_frame(st.cur.with_reg(regno, reg))
        if reg.id or reg.b.is_const():
            return reg, st
        nid, st = st.new_id()
        reg = replace(reg, id=nid)
        return reg, st.with_frame(st.cur.with_reg(regno, reg))

    def mov_pointer(self, regno: int, op: str, width: int) -> Reg:
        """``check_alu_op``, BPF_MOV of a pointer other than a plain 64-bit copy: refused without
        allow_ptr_leaks; root gets an unknown scalar (``mark_reg_unknown``), zero-extended when 32-bit."""
        if not self.privileged and op == "movsx" and width == 64:
            raise Reject(f"R{regno} sign-extension part of pointer")
        if not self.privileged:
            raise Reject(f"R{regno} partial copy of pointer")
        return UNKNOWN if width == 64 else scalar(B.from_urange(0, B.U32_MAX))

    def pointer_alu(self, insn: Insn, op: str, width: int, dst: Reg, src: Reg,
                    st: VerifierState) -> tuple[Reg, VerifierState]:
        """``adjust_ptr_min_max_vals``: pointer +/- scalar keeps the pointer; pointer - pointer is a scalar.

        A packet pointer moved by a variable amount is a new base: it gets a fresh id (so that a bounds check
        of it, ``find_good_pkt_pointers``, marks only pointers sharing that variable part) and loses its range,
        except when a subtrahend known to be non-negative moved it back."""
        d = insn.dst
        if dst.is_pointer and src.is_pointer:  # adjust_reg_min_max_vals, before any width check
            if op == "sub" and self.privileged:  # any two pointers, 64- or 32-bit: allow_ptr_leaks
                return UNKNOWN, st
            raise Reject(f"R{d} pointer {_OP_SYM.get(op, op)} pointer prohibited")
        if width == 32:
            raise Reject(f"R{d} 32-bit pointer arithmetic prohibited")
        if op not in ("add", "sub"):
            if op in ("and", "or", "xor"):
                sym = {"and": "&=", "or": "|=", "xor": "^="}[op]
                raise Reject(f"R{d} bitwise operator {sym} on pointer prohibited")
            raise Reject(f"R{d} pointer arithmetic with {_OP_SYM.get(op, op)} operator prohibited")
        base, off_reg = (dst, src) if dst.is_pointer else (src, dst)
        if not dst.is_pointer and op == "sub":
            raise Reject(f"R{d} tried to subtract pointer from scalar")
        if base.maybe_null:
            raise Reject(f"R{d} pointer arithmetic on {base.type_name()} prohibited, null-check it first")
        map_ptr_plus_0 = base.type == CONST_PTR_TO_MAP and op == "add" and off_reg.b.is_const() \
            and off_reg.b.var_off.value == 0  # the one change allowed to a map pointer
        if base.type in (CONST_PTR_TO_MAP, PTR_TO_PACKET_END, PTR_TO_SOCKET, PTR_TO_FUNC) and not map_ptr_plus_0:
            raise Reject(f"R{d} pointer arithmetic on {base.type} prohibited")
        o = off_reg.b
        what = base.type_name()
        if o.is_const():  # check_reg_sane_offset of the offset
            delta = B.s64(o.var_off.value)
            if not -MAX_VAR_OFF < delta < MAX_VAR_OFF:
                raise Reject(f"math between {what} pointer and {delta} is not allowed")
        else:
            if o.smin == B.S64_MIN:
                raise Reject(f"math between {what} pointer and register with unbounded min value is not allowed")
            if not -MAX_VAR_OFF < o.smin < MAX_VAR_OFF:
                raise Reject(f"value {o.smin} makes {what} pointer be out of bounds")
        sanitation = SP.sanitize_begin(self, insn, op, base, off_reg, not dst.is_pointer, st)
        self.check_stack_sub(d, op, base)
        if o.is_const():
            new_off = base.off + delta if op == "add" else base.off - delta
            if not -MAX_VAR_OFF < new_off < MAX_VAR_OFF:  # check_reg_sane_offset of the result
                raise Reject(f"{what} pointer offset {new_off} is not allowed")
            moved = replace(base, off=new_off)
        elif base.type in (PTR_TO_PACKET, PTR_TO_PACKET_META):
            new_id, st = st.new_id()
            keeps_range = op == "sub" and o.smin >= 0
            moved = replace(base, b=S.alu(op, 64, base.b, o), id=new_id, range=base.range if keeps_range else 0)
        else:
            moved = replace(base, b=S.alu(op, 64, base.b, o))
        moved = self.sanitize_check_bounds(d, moved)
        SP.sanitize_commit(self, sanitation, moved)
        return moved, st

    @staticmethod
    def check_stack_sub(d: int, op: str, base: Reg) -> None:
        """``adjust_ptr_min_max_vals``, BPF_SUB: nothing may be subtracted from a stack pointer, not even a
        constant (some JITs could not do it); ``r1 += -8`` is the way down the stack."""
        if op == "sub" and base.type == PTR_TO_STACK:
            raise Reject(f"R{d} subtraction from stack pointer prohibited")

    def sanitize_check_bounds(self, d: int, ptr_reg: Reg) -> Reg:
        """``sanitize_check_bounds``: without bypass_spec_v1 a moved pointer must still point inside its object,
        so that speculative accesses through it can be masked. A map value pointer must allow a one-byte access
        (``check_map_access``, whose message comes first; "pointer arithmetic of map value goes out of range"
        follows in the log). A stack pointer must keep a constant offset inside the frame
        (``check_stack_access_for_ptr_arithmetic``), so an unprivileged loader never gets a variable-offset stack
        pointer."""
        if self.privileged or ptr_reg.type not in (PTR_TO_STACK, PTR_TO_MAP_VALUE):
            return ptr_reg
        if ptr_reg.type == PTR_TO_MAP_VALUE:
            value_size = self.program.maps[ptr_reg.map].value_size
            self.check_region(d, ptr_reg, 0, 1, value_size, "map value", f"value_size={value_size}")
            return ptr_reg
        at = ptr_reg.off + B.s64(ptr_reg.b.var_off.value)
        if not ptr_reg.b.is_const():
            raise Reject(f"R{d} variable stack access prohibited for !root, var_off={T.strn(ptr_reg.b.var_off)} "
                         f"off={at}")
        if at >= 0 or at < -MAX_BPF_STACK:
            raise Reject(f"R{d} stack pointer arithmetic goes out of range, prohibited for !root; off={at}")
        return ptr_reg

    # memory

    def load(self, insn: Insn, spec: isa.OpSpec, st: VerifierState) -> VerifierState:
        base = self.read(st, insn.src)
        size = spec.size
        value = self.mem_access(st, insn.src, base, insn.off, size, write=False, value_regno=insn.dst)
        if value.type == SCALAR and size < 8 and spec.op == "ldx":  # coerce_reg_to_size (the id stays)
            value = replace(value, b=S.alu("and", 64, value.b, B.const((1 << (size * 8)) - 1)))
        if spec.op == "ldxs" and value.type == SCALAR and not value.b.is_const():
            lo = -(1 << (size * 8 - 1))
            value = scalar(B.from_srange(lo, -lo - 1))
        elif spec.op == "ldxs" and value.type == SCALAR:
            from ..vm.alu import sext
            value = const(sext(value.b.var_off.value, size * 8))
        return self.write(st, insn.dst, value)

    def store(self, insn: Insn, spec: isa.OpSpec, st: VerifierState) -> VerifierState:
        base = self.read(st, insn.dst)
        value = self.read(st, insn.src) if spec.op == "stx" else const(insn.imm & B.U64_MAX)
        value_regno = insn.src if spec.op == "stx" else -1
        return self.mem_access(st, insn.dst, base, insn.off, spec.size, write=True, value=value,
                               value_regno=value_regno)

    def atomic(self, insn: Insn, spec: isa.OpSpec, st: VerifierState) -> VerifierState:
        """``check_atomic_rmw``: the source is read first, then the destination, then r0 for cmpxchg; a
        pointer in r0 or the source leaks it into memory (refused without allow_ptr_leaks), then
        ``atomic_ptr_type_ok`` refuses the context, packet and socket; ``check_mem_access`` does the rest."""
        value = self.read(st, insn.src)
        base = self.read(st, insn.dst)
        if spec.op == "atomic_cmpxchg" and self.read(st, 0).is_pointer and not self.privileged:
            raise Reject("R0 leaks addr into mem")
        if value.is_pointer and not self.privileged:
            raise Reject(f"R{insn.src} leaks addr into mem")
        if not base.maybe_null and base.type in (PTR_TO_CTX, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_SOCKET):
            raise Reject(f"BPF_ATOMIC stores into R{insn.dst} {base.type_name()} is not allowed")
        self.strict_alignment(base, insn.off, spec.size)
        loaded = self.mem_access(st, insn.dst, base, insn.off, spec.size, write=False)
        if loaded.type == SCALAR and spec.size < 8:  # coerce_reg_to_size, as for any load
            loaded = replace(loaded, b=S.alu("and", 64, loaded.b, B.const((1 << (spec.size * 8)) - 1)))
        st = self.mem_access(st, insn.dst, base, insn.off, spec.size, write=True)  # value_regno -1: misc data
        # the old value is read as a load into the fetching register would read it (a spilled register on
        # the stack comes back whole), then the slot becomes misc data
        if spec.op == "atomic_cmpxchg":
            return self.write(st, 0, loaded)
        if "fetch" in spec.op or spec.op == "atomic_xchg":
            return self.write(st, insn.src, loaded)
        return st

    def strict_alignment(self, reg: Reg, off: int, size: int) -> None:
        """``check_ptr_alignment`` with ``strict_alignment_once`` (``check_atomic_rmw`` asks for it): the address
        must be a multiple of the size. Plain loads and stores are not checked (x86-64 has efficient unaligned
        access, so ``strict_alignment`` is off), the stack always is (``stack_access``)."""
        if size == 1 or reg.type == PTR_TO_STACK:
            return
        if T.is_aligned(T.add(reg.b.var_off, T.const(reg.off + off)), size):
            return
        desc = ALIGNMENT_DESC.get(reg.type, "")  # by the base type: a pointer that may be NULL says "value" too
        var = str(B.s64(reg.b.var_off.value)) if reg.b.is_const() else T.strn(reg.b.var_off)
        raise Reject(f"misaligned {desc}access off {var}+{reg.off}+{off} size {size}")

    def mem_access(self, st: VerifierState, regno: int, reg: Reg, off: int, size: int, *, write: bool,
                   value: Reg | None = None, value_regno: int = -1):
        """``check_mem_access``: a load returns the loaded register; a store returns the new state.

        ``value_regno`` is the register a store writes (-1 for an immediate or an atomic's own write): a
        pointer there "leaks addr" into the context, map value or memory, for unprivileged loaders only. For a
        load it is the destination register (-1 for an atomic's read, which a variable-offset stack pointer
        may not do)."""
        if reg.maybe_null or reg.type in (SCALAR, PTR_TO_PACKET_END, PTR_TO_FUNC):
            raise Reject(f"R{regno} invalid mem access '{reg.type_name()}'")
        if reg.type == CONST_PTR_TO_MAP:
            return self.map_ptr_access(regno, reg, off, size, write)
        if reg.type == PTR_TO_BTF_ID:
            raise Reject(f"R{regno} points to a kernel struct (ptr_{reg.btf}): accesses through it are not "
                         f"modelled yet")
        if reg.type == PTR_TO_UNTRUSTED_MEM:  # read with probe instructions: no bounds, never written
            if write:
                raise Reject(f"R{regno} cannot write into {reg.type_name()}")
            return UNKNOWN
        if reg.type == PTR_TO_STACK:
            return self.stack_access(st, regno, reg, off, size, write, value, value_regno)
        if reg.type == PTR_TO_CTX:
            if self.leaks(write, value, value_regno):
                raise Reject(f"R{value_regno} leaks addr into ctx")
            return self.ctx_access(st, regno, reg, off, size, write, value)
        if reg.type == PTR_TO_MAP_VALUE:
            if self.leaks(write, value, value_regno):
                raise Reject(f"R{value_regno} leaks addr into map")
            self.check_region(regno, reg, off, size, self.program.maps[reg.map].value_size, "map value",
                              f"value_size={self.program.maps[reg.map].value_size}")
            return st if write else UNKNOWN
        if reg.type == PTR_TO_MAP_KEY:  # a bpf_for_each_map_elem callback's key: read-only
            if write:
                raise Reject(f"write to change key R{regno} not allowed")
            key_size = self.program.maps[reg.map].key_size
            self.check_region(regno, reg, off, size, key_size, "map key", f"key_size={key_size}")
            return UNKNOWN
        if reg.type == PTR_TO_MEM:
            if self.leaks(write, value, value_regno):
                raise Reject(f"R{value_regno} leaks addr into mem")
            self.check_region(regno, reg, off, size, reg.mem_size, "memory", f"mem_size={reg.mem_size}")
            return st if write else UNKNOWN
        if reg.type in (PTR_TO_PACKET, PTR_TO_PACKET_META):
            if write and not self.packet_writable():
                raise Reject("cannot write into packet")
            # check_packet_access: the variable part must be non-negative; the range, learned for the pointers
            # sharing this one's id (hence its variable part), covers the fixed offset only
            if reg.b.smin < 0:
                raise Reject(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) "
                             f"check.")
            at = reg.off + off  # __check_mem_access prints this offset twice
            if at < 0 or at + size > reg.range:
                raise Reject(f"invalid access to packet, off={at} size={size}, R{regno}(id={reg.id},off={at},"
                             f"r={reg.range})")
            return st if write else UNKNOWN
        raise Reject(f"R{regno} invalid mem access '{reg.type_name()}'")

    def map_ptr_access(self, regno: int, reg: Reg, off: int, size: int, write: bool) -> Reg:
        """``check_ptr_to_map_access``: root may read the kernel struct of the map (``struct bpf_htab`` for a hash
        map, which starts with ``struct bpf_map``) as its BTF allows (``map_btf.struct_access``); an integer
        member loads as an unknown scalar, a pointer to a struct as a pointer to it (``mark_btf_ld_reg``)."""
        struct = map_struct(self.program.maps[reg.map].type)
        if not self.privileged:
            raise Reject(f"'struct {struct}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN", "EPERM")
        off += reg.off
        if off < 0:
            raise Reject(f"R{regno} is {struct} invalid negative access: off={off}")
        if write:
            raise Reject(f"only read from {struct} is supported")
        try:
            kind, target = struct_access(struct, off, size)
        except BtfAccessError as e:
            raise Reject(e.message, e.errno) from None
        if kind == "ptr":
            return ptr(PTR_TO_BTF_ID, btf=target)
        return ptr(PTR_TO_UNTRUSTED_MEM) if kind == "mem" else UNKNOWN

    def leaks(self, write: bool, value: Reg | None, value_regno: int) -> bool:
        """``check_mem_access``: a store of a pointer (``is_pointer_value``) without allow_ptr_leaks. (Into
        the packet too, but only program types an unprivileged loader may not load can write packets.)"""
        return write and value_regno >= 0 and value is not None and value.is_pointer and not self.privileged

    def packet_writable(self) -> bool:
        return self.prog_type in ("xdp", "sched_cls", "sched_act")

    def check_region(self, regno: int, reg: Reg, off: int, size: int, limit: int, what: str, extra: str) -> None:
        """``check_mem_region_access``: the lowest and the highest offset the access may touch."""
        b = reg.b
        if b.is_const():
            at = reg.off + off + B.s64(b.var_off.value)
            if at < 0 or at + size > limit:
                raise Reject(f"invalid access to {what}, {extra} off={at} size={size}")
            return
        lo = reg.off + off + b.smin
        # a negative minimum is fine while the fixed offset keeps the lowest byte inside (and within s32)
        if b.smin < 0 and (b.smin == B.S64_MIN or lo != B.s32(lo) or lo < 0):
            raise Reject(f"R{regno} min value is negative, either use unsigned index or do a if (index >=0) check.")
        if lo < 0 or lo + size > limit:
            raise Reject(f"invalid access to {what}, {extra} off={lo} size={size}")
        if b.umax >= MAX_VAR_OFF:
            raise Reject(f"R{regno} unbounded memory access, make sure to bounds check any such access")
        hi = reg.off + off + b.umax
        if hi + size > limit:
            raise Reject(f"invalid access to {what}, {extra} off={hi} size={size}")

    def grow_stack(self, subprog: int, depth: int) -> None:
        """``grow_stack_state``: remember the deepest byte function ``subprog`` used (for the combined check)."""
        if 0 < depth <= MAX_BPF_STACK and depth > self.stack_depth.get(subprog, 0):
            self.stack_depth[subprog] = depth

    def stack_access(self, st: VerifierState, regno: int, reg: Reg, off: int, size: int, write: bool,
                     value: Reg | None, value_regno: int = -1):
        frame_i = next((i for i, f in enumerate(st.frames) if f.frameno == reg.frameno), None)
        if frame_i is None:
            raise Reject(f"R{regno} points to the stack of a function that has returned")
        frame = st.frames[frame_i]
        self.grow_stack(frame.subprog, -(reg.off + reg.b.smin + off))
        if not reg.b.is_const():
            return stack_access_var_off(self, st, regno, reg, off, size, write, value, value_regno)
        base = reg.off + B.s64(reg.b.var_off.value) + off
        if base % size:
            var = B.s64(reg.b.var_off.value)
            raise Reject(f"misaligned stack access off {var}+{reg.off}+{off} size {size}")
        if base < -MAX_BPF_STACK or base + size > 0:
            what = " write to" if write else " read from"
            raise Reject(f"invalid{what} stack R{regno} off={off + reg.off} size={size}")
        slot = (-base - 1) // 8
        if not write and not self.privileged:
            self.check_uninit_read(regno, frame, base, off + reg.off, size)
        if not write:
            self.stack_live.mark_read(st, frame_i, self.cur_idx, 1 << slot)  # check_stack_read_fixed_off
            value, restored = self.stack_fill(frame, base, slot, size)
            if restored:  # a register fill: backtracking follows it into the slot
                self.insn_stack = (frame_i, slot)
            return value
        stack = list(frame.stack)
        need = -base
        if len(stack) < need:
            stack += [STACK_INVALID] * (need - len(stack))
        if value is not None and value.is_pointer and size != 8:
            raise Reject("invalid size of register spill")
        if size == 8:  # check_stack_write_fixed_off: only a whole slot written counts as a write
            self.stack_live.mark_write(frame_i, 1 << slot)
        # check_stack_write_fixed_off: a scalar written at the start of a slot is spilled whatever its size
        # (a narrower spill keeps the register's state too) when the loader has CAP_BPF, a pointer only whole
        scalar_spill = value is not None and value.type == SCALAR and base % 8 == 0 and self.privileged
        spill = value is not None and (value.is_pointer or scalar_spill)
        if not self.privileged and (spill or any(
                (stack[j] if j < len(stack) else STACK_INVALID) not in (STACK_MISC, STACK_ZERO)
                for j in range(slot * 8, slot * 8 + size))):
            # Spectre v4: a pointer spilled, or bytes overwritten that were not plain data (the kernel looks at the
            # slot's first ``size`` slot_type entries), need a barrier after the store (nospec_result)
            self.nospec_result.add(self.cur_idx)
        if spill and value.type == SCALAR:
            if value.b.umax.bit_length() > 8 * size:
                value = replace(value, id=0, off=0)  # a narrowing spill breaks the link
            elif value_regno >= 0:
                value, st = self.link_scalar(st, value_regno, value)  # the copy shares the register's id
                frame = st.frames[frame_i]
        spills = [(s, r) for s, r in frame.spilled if s != slot]
        if spill:
            self.insn_stack = (frame_i, slot)  # a register spill: backtracking follows it out of the slot
            kind = STACK_SPILL
            spills.append((slot, value))
            for j in range(slot * 8, slot * 8 + 8 - size):  # save_register_state: the rest of the slot
                if stack[j] == STACK_SPILL:
                    stack[j] = STACK_MISC
        elif value is not None and value.type == SCALAR and value.b.is_const() and value.b.var_off.value == 0:
            if value_regno >= 0:  # check_stack_write_fixed_off: STACK_ZERO relies on the register being 0
                self.mark_precise(st, value_regno)
            kind = STACK_ZERO
        else:
            if value is not None and value.is_pointer and not self.privileged:
                raise Reject("attempt to corrupt spilled pointer on stack")
            kind = STACK_MISC
        for i in range(size):
            stack[-(base + i) - 1] = kind
        if kind != STACK_SPILL:
            for i in range(8):  # a partial overwrite of a spill turns its other bytes into misc data
                j = slot * 8 + i
                if j < len(stack) and stack[j] == STACK_SPILL:
                    stack[j] = STACK_MISC
        new = replace(frame, stack=tuple(stack), spilled=tuple(sorted(spills)))
        frames = list(st.frames)
        frames[frame_i] = new
        return replace(st, frames=tuple(frames))

    @staticmethod
    def check_uninit_read(regno: int, frame: Frame, base: int, shown_off: int, size: int) -> None:
        """Without ``allow_uninit_stack`` (unprivileged loaders): a read below the stack the function has
        allocated is out of bounds (``check_stack_slot_within_bounds``), and a read of a byte never written
        is refused (``check_stack_read_fixed_off``)."""
        allocated = -(-len(frame.stack) // 8) * 8
        if base < -allocated:
            raise Reject(f"invalid read from stack R{regno} off={shown_off} size={size}")
        for i in range(size):
            if frame.byte(base + i) == STACK_INVALID:
                raise Reject(f"invalid read from stack off {base}+{i} size {size}")

    @staticmethod
    def stack_fill(frame: Frame, base: int, slot: int, size: int) -> tuple[Reg, bool]:
        """``check_stack_read_fixed_off``: ``size`` bytes at fp``base`` (within ``slot``). A spill is one whose
        lowest byte is ``STACK_SPILL``; its size counts the spill bytes from there up. A whole spill reads
        back whole; a scalar spill reads back from its start when the read is no wider (the register's state,
        unlinked if its value is wider than the read); anything else is read byte by byte. The flag says whether
        the read restored a spilled register (the kernel keeps ``INSN_F_STACK_ACCESS`` only then)."""
        spilled = frame.spill_at(slot)
        lowest = -(slot * 8) - 8
        if spilled is not None and frame.byte(lowest) == STACK_SPILL:
            spill_size = next((n for n in range(1, 8) if frame.byte(lowest + n) != STACK_SPILL), 8)
            if size == 8 and spill_size == 8:
                return spilled, True
            if spilled.type != SCALAR:
                raise Reject("invalid size of register fill")  # part of a pointer
            if size <= spill_size and base == lowest:  # bpf_stack_narrow_access_ok
                fits = spilled.b.umax.bit_length() <= 8 * size
                return (spilled if fits else replace(spilled, id=0, off=0)), True  # a wider value is unlinked
            if all(frame.byte(base + i) == STACK_SPILL for i in range(size)) and spilled.b.is_const() \
                    and spilled.b.var_off.value == 0:
                return const(0), True
            return UNKNOWN, False
        if all(frame.byte(base + i) == STACK_ZERO for i in range(size)):
            return const(0), False
        return UNKNOWN, False  # misc data; privileged loaders may read uninitialised stack too

    def ctx_access(self, st: VerifierState, regno: int, reg: Reg, off: int, size: int, write: bool,
                   value: Reg | None):
        check_ctx_off(regno, reg)
        refused = not self.privileged and self.ptype.needs_cap_bpf is not None and self.ptype.needs_cap_bpf(off, write)
        if refused or not self.ptype.is_valid_access(off, size, write):
            raise Reject(f"invalid bpf_context access off={off} size={size}")
        if write:
            return st
        f = progtypes.field_at(self.ptype.fields, off)
        if f is not None and f.kind == "pkt":
            return ptr(PTR_TO_PACKET)
        if f is not None and f.kind == "pkt_end":
            return ptr(PTR_TO_PACKET_END)
        if f is not None and f.kind == "pkt_meta":
            return ptr(PTR_TO_PACKET_META)
        if f is not None and f.kind == "sock":
            return ptr(PTR_TO_SOCKET, maybe_null=True)
        if size < 8:
            return scalar(B.from_urange(0, (1 << (size * 8)) - 1))
        return UNKNOWN

    def ld_imm64(self, idx: int, insn: Insn, spec: isa.OpSpec, st: VerifierState) -> VerifierState:
        second = self.insns[idx + 1]
        if spec.name == "ld_imm64":
            return self.write(st, insn.dst, const(((second.imm & 0xFFFFFFFF) << 32) | (insn.imm & 0xFFFFFFFF)))
        if spec.name == "ld_func":
            if not self.program.func_info:  # check_ld_imm64: a callback's function needs its BTF
                raise Reject("missing btf func_info", "EINVAL")
            return self.write(st, insn.dst, ptr(PTR_TO_FUNC, subprog=idx + 1 + insn.imm))
        if not 0 <= insn.imm < len(self.program.maps):
            raise Reject(f"fd {insn.imm} is not pointing to valid bpf_map", "EBADF")
        if spec.name in ("ld_map_fd", "ld_map_idx"):
            return self.write(st, insn.dst, ptr(CONST_PTR_TO_MAP, map=insn.imm))
        if spec.name in ("ld_map_value", "ld_map_idx_value"):
            m = self.program.maps[insn.imm]
            if second.imm >= m.value_size:
                raise Reject(f"invalid access to map value pointer, value_size={m.value_size} off={second.imm}",
                             "EINVAL")
            return self.write(st, insn.dst, ptr(PTR_TO_MAP_VALUE, off=second.imm, map=insn.imm))
        raise Reject("unrecognized bpf_ld_imm64 insn", "EINVAL")

    def ld_abs(self, insn: Insn, spec: isa.OpSpec, st: VerifierState) -> VerifierState:
        """``check_ld_abs``: only where ``may_access_skb`` (socket filters and tc programs, not cgroup_skb),
        with the context in R6; R1-R5 are clobbered and R0 is an unknown scalar (``mark_reg_unknown``)."""
        if self.prog_type not in ("socket_filter", "sched_cls", "sched_act"):
            raise Reject("BPF_LD_[ABS|IND] instructions not allowed for this program type", "EINVAL")
        ctx = self.read(st, 6)
        if st.refs:  # check_resource_leak: ld_abs may end the program while a reference is held
            ref, at = st.refs[0]
            raise Reject(f"Unreleased reference id={ref} alloc_insn={at}", "EINVAL")
        if ctx.type != PTR_TO_CTX:
            raise Reject("at the time of BPF_LD_ABS|IND R6 != pointer to skb", "EINVAL")
        if spec.op == "ld_ind":
            self.read(st, insn.src)
        check_ctx_off(6, ctx)
        cur = st.cur
        regs = list(cur.regs)
        for i in range(1, 6):
            regs[i] = Reg()
        regs[0] = UNKNOWN
        return st.with_frame(replace(cur, regs=tuple(regs)))

    # jumps and calls

    def jump(self, idx: int, insn: Insn, spec: isa.OpSpec, st: VerifierState):
        op = spec.op
        if op == "exit":
            return self.exit(idx, st)
        if op == "ja":
            return idx + 1 + (insn.imm if spec.name == "gotol" else insn.off), st, None
        if op == "call":
            self.cb.pushed = None
            st = self.helper_call(idx, insn, st)
            return idx + 1, st, self.cb.pushed  # a callback-calling helper queues its callback (callbacks.py)
        if op == "call_local":
            return self.local_call(idx, insn, st)
        if op in ("call_kfunc", "callx"):
            raise Reject("calling kernel functions is not supported" if op == "call_kfunc" else
                         f"unknown opcode {insn.opcode:02x}", "EINVAL")
        if op == "may_goto":
            return self.may_goto(idx, insn, st)
        width = spec.width
        dst = self.read(st, insn.dst)
        src = self.read(st, insn.src) if spec.source == isa.Source.X else const(insn.imm & B.U64_MAX)
        target = idx + 1 + insn.off
        x = spec.source == isa.Source.X
        if x and src.is_pointer and not self.privileged and not (_is_packet(dst) and _is_packet(src)):
            raise Reject(f"R{insn.src} pointer comparison prohibited")  # check_cond_jmp_op, before anything else
        taken = branch_taken(op, width, dst, src)
        if taken is not None and not self.privileged:
            # sanitize_speculative_path: the side the values rule out is walked as speculative execution
            other_side = idx + 1 if taken else target
            spec_branch = (other_side, SP.speculative_branch(st, insn, x))
            if dst.type == SCALAR and (not x or src.type == SCALAR):
                return (target if taken else idx + 1), st, spec_branch
            return (target if taken else idx + 1), refine(st, insn, op, width, taken, self.insns), spec_branch
        null_check = dst.maybe_null and not x and insn.imm == 0 and op in ("jeq", "jne") and width == 64
        if taken is None and dst.is_pointer and not self.privileged and not null_check \
                and not (_is_packet(dst) and _is_packet(src)):
            # check_cond_jmp_op's last check: only a null check of a pointer that may be null, or a comparison
            # of packet pointers, may look at a pointer. The jump's target is already pushed by then: on a
            # speculative path, where the error only fences the path, that branch is still walked
            raise Reject(f"R{insn.dst} pointer comparison prohibited", pushed=(target, st))
        if taken is not None:
            # check_cond_jmp_op: a known outcome rests on the exact values of the scalars compared (one
            # backtracking each, dst first)
            if dst.type == SCALAR:
                self.mark_precise(st, insn.dst)
            if x and src.type == SCALAR:
                self.mark_precise(st, insn.src)
        linked = None
        if taken is None:
            # each frame's live registers before its current instruction: here, and at the callers' call sites
            live = self.outer_live(st) + [self.live[idx]]
            linked = linked_regs(st, src.id if x and src.type == SCALAR else 0, dst.id if dst.type == SCALAR else 0,
                                 live=live)
            if len(linked) > 1:  # both sides share the record: it is made before the other side is pushed
                st = self.with_history(st, idx, self.prev, linked=linked, merge=self.jmp_point)
                self.jmp_point = True
        if taken is not None and dst.type == SCALAR and src.type == SCALAR:
            # check_cond_jmp_op: a decided comparison of scalars learns nothing (no reg_set_min_max)
            return (target if taken else idx + 1), st, None
        if taken is True:
            return target, refine(st, insn, op, width, True, self.insns), None
        if taken is False:
            return idx + 1, refine(st, insn, op, width, False, self.insns), None
        other = refine(st, insn, op, width, True, self.insns, linked)
        here = refine(st, insn, op, width, False, self.insns, linked)
        if other is None:
            return idx + 1, here, None
        if here is None:
            return target, other, None
        return idx + 1, here, (target, other)

    def may_goto(self, idx: int, insn: Insn, st: VerifierState):
        """``check_cond_jmp_op`` for ``may_goto``: the path goes on at the target (the budget spent) and the
        fall-through is pushed one ``may_goto_depth`` deeper, its imprecise scalars widened against the previous
        visit of this instruction still on the path (``find_prev_entry`` from the state kept here now)."""
        queued = replace(st, may_goto_depth=st.may_goto_depth + 1)
        if self.privileged:
            prev = next((k for k in reversed(self.kept.get((idx, st.cur.callsite), ())) if k is not st.parent
                         and id(k) in self.ancestor_ids and len(k.state.frames) == len(st.frames)
                         and all(a.callsite == b.callsite for a, b in zip(k.state.frames, st.frames))), None)
            if prev is not None:
                queued = CB.widen_imprecise_scalars(prev, queued)
        return idx + 1 + insn.off, st, (idx + 1, queued)

    def exit(self, idx: int, st: VerifierState):
        if len(st.frames) > 1:
            # prepare_func_exit: any stack pointer is refused, the caller's too ("let's be conservative");
            # R0 is passed back unread, so an unset R0 is refused only where the caller reads it
            self.stack_live.update(st)  # process_bpf_exit_full: the callee's marks reach its call first
            self.take_live_log()
            r0 = st.cur.reg(0)
            if r0.type == PTR_TO_STACK:
                raise Reject("cannot return stack pointer to the caller", "EINVAL")
            if st.cur.in_callback_fn:  # back to the helper call, which queues the callback again
                return CB.callback_exit(self, st)
            callee = st.cur
            caller = st.frames[-2]
            regs = list(caller.regs)
            regs[0] = r0
            for i in range(1, 6):
                regs[i] = Reg()
            st = replace(st, frames=st.frames[:-2] + (replace(caller, regs=tuple(regs)),))
            return callee.callsite + 1, st, None
        r0 = st.cur.reg(0)
        if r0.type == NOT_INIT:
            raise Reject("R0 !read_ok")
        if st.refs:
            ref, at = st.refs[0]
            raise Reject(f"Unreleased reference id={ref} alloc_insn={at}", "EINVAL")
        self.check_return(r0, st)
        return None

    def check_return(self, r0: Reg, st: VerifierState) -> None:
        """``check_return_code`` for the program types with a fixed range."""
        ranges = {"cgroup_skb": (0, 1), "cgroup_sock_addr": (0, 1)}
        if self.prog_type not in ranges:
            if r0.is_pointer and not self.privileged:
                raise Reject("R0 leaks addr as return value")
            return
        lo, hi = ranges[self.prog_type]
        if r0.type != SCALAR:
            raise Reject(f"At program exit the register R0 is not a known value ({r0.type_name()})", "EINVAL")
        self.mark_precise(st, 0)  # the range check rests on r0's exact bounds
        b = r0.b
        if b.smin >= lo and b.smax <= hi:
            return
        # verbose_invalid_scalar: each bound named only when it is not the type's limit
        raise Reject(f"At program exit the register R0 has {CB.scalar_has(b)} should have been in [{lo}, {hi}]",
                     "EINVAL")

    def local_call(self, idx: int, insn: Insn, st: VerifierState):
        if len(st.frames) >= MAX_CALL_FRAMES:
            raise Reject(f"the call stack of {len(st.frames) + 1} frames is too deep", "E2BIG")
        target = idx + 1 + insn.imm
        callee = initial_frame(len(st.frames), idx, target)
        regs = list(callee.regs)
        for i in range(1, 6):
            regs[i] = st.cur.reg(i)
        callee = replace(callee, regs=tuple(regs))
        caller = replace(st.cur, regs=(Reg(),) * 6 + st.cur.regs[6:])  # clear_caller_saved_regs
        self.stack_live.reset_callchain()  # check_func_call
        return target, replace(st, frames=st.frames[:-1] + (caller, callee)), None

    def helper_call(self, idx: int, insn: Insn, st: VerifierState) -> VerifierState:
        from .helper_args import check_helper_call

        return check_helper_call(self, idx, insn.imm, st)


def _same_callsites(a: VerifierState, b: VerifierState) -> bool:
    """``same_callsites``: the same call chain."""
    return len(a.frames) == len(b.frames) and all(x.callsite == y.callsite for x, y in zip(a.frames, b.frames))


LINKED_REGS_MAX = 6
_ALU_CLASSES = frozenset({int(isa.Class.ALU), int(isa.Class.ALU64)})
_JMP_CLASSES = frozenset({int(isa.Class.JMP), int(isa.Class.JMP32)})


def add_const_link(op: str, width: int, dst: Reg, src: Reg, result: Reg) -> Reg:
    """``adjust_reg_min_max_vals``: ``dst += const`` (or ``-=``) on a scalar with an id keeps the id, flagged
    ``ADD_CONST64`` (``ADD_CONST32`` for alu32), with the constant as its delta in ``off``, so that bounds learned
    on either side reach the other (``sync_linked_regs``). The link is dropped instead when dst already has a
    delta, when the 64-bit constant is outside s32 (or is S32_MIN subtracted), and for alu32 when dst had bits
    above the low 32 (the 32-bit sum is zero-extended, so the delta would not hold)."""
    alu32 = width == 32
    c = T.subreg(src.b.var_off) if alu32 else src.b.var_off
    if src.type != SCALAR or not T.is_const(c):
        return result
    val = B.s32(c.value) if alu32 else B.s64(c.value)
    if dst.id & ADD_CONST or not B.S32_MIN <= val <= B.S32_MAX or (alu32 and dst.b.umax > B.U32_MAX):
        return result
    if op == "sub":
        if val == B.S32_MIN:
            return result
        val = -val
    return replace(result, id=dst.id | (ADD_CONST32 if alu32 else ADD_CONST64), off=val)


def linked_regs(st: VerifierState, *ids: int, live: Sequence[frozenset[int]] = ()) -> tuple[tuple[int, int], ...]:
    """``collect_linked_regs``: the scalar registers and spilled slots, in every frame, that share one of
    these ids (a delta's flags aside), as (frame, regno) or (frame, -1 - slot); at most six. ``live``: per
    frame, the registers live before its current instruction; dead ones are left out (``live_regs_before``)."""
    out: list[tuple[int, int]] = []
    for sid in ids:
        sid = base_id(sid)
        if not sid:
            continue
        for fr in range(len(st.frames) - 1, -1, -1):
            f = st.frames[fr]
            alive = live[fr] if fr < len(live) else None
            for regno in range(10):
                r = f.regs[regno]
                if alive is not None and regno not in alive:
                    continue
                if r.type == SCALAR and base_id(r.id) == sid and len(out) < LINKED_REGS_MAX:
                    out.append((fr, regno))
            for spi, r in f.spilled:
                if r.type == SCALAR and base_id(r.id) == sid and f.byte(-spi * 8 - 8) == STACK_SPILL \
                        and len(out) < LINKED_REGS_MAX:
                    out.append((fr, -1 - spi))
    return tuple(out)


def _is_packet(r: Reg) -> bool:
    """``reg_is_pkt_pointer_any``: a packet, packet metadata or packet end pointer."""
    return r.type in (PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END)


def check_ctx_off(regno: int, reg: Reg) -> None:
    """``check_ptr_off_reg`` for a context pointer (loads, ``ld_abs`` and helper arguments): it must be the
    context itself, neither moved by a constant (negative first) nor by a variable offset."""
    if reg.off < 0:
        raise Reject(f"negative offset ctx ptr R{regno} off={reg.off} disallowed")
    if reg.off:
        raise Reject(f"dereference of modified ctx ptr R{regno} off={reg.off} disallowed")
    if not reg.b.is_const() or reg.b.var_off.value:
        raise Reject(f"variable ctx access var_off={T.strn(reg.b.var_off)} disallowed")


def _reserved_name(spec: isa.OpSpec) -> str:
    """The name the kernel's "BPF_X uses reserved fields" message gives the instruction."""
    if spec.cls in (isa.Class.ALU, isa.Class.ALU64):
        return {"mov": "BPF_MOV", "movsx": "BPF_MOV", "neg": "BPF_NEG", "le": "BPF_END", "be": "BPF_END",
                "bswap": "BPF_END"}.get(spec.op, "BPF_ALU")
    if spec.cls in (isa.Class.JMP, isa.Class.JMP32):
        return {"call": "BPF_CALL", "call_local": "BPF_CALL", "exit": "BPF_EXIT", "ja": "BPF_JA"}.get(
            spec.op, "BPF_JMP/JMP32")
    return {isa.Class.LDX: "BPF_LDX", isa.Class.ST: "BPF_ST", isa.Class.STX: "BPF_STX"}.get(spec.cls, "BPF_LD")


_OP_SYM = {"add": "+=", "sub": "-=", "and": "&=", "or": "|=", "xor": "^=", "mul": "*=", "div": "/=", "mod": "%=", "lsh": "<<=", "rsh": ">>=", "arsh": "s>>=", "sdiv": "s/=",
           "smod": "s%="}

__all__ = ["HELPERS", "HELPER_NAMES", "PTR_TO_MAP_VALUE", "Event", "Reject", "Walker", "describe"]
