"""Callbacks: helpers that call a function of the program (``bpf_loop``, ``bpf_for_each_map_elem``), walked as
``kernel/bpf/verifier.c`` (6.8 and later, as in 6.18) walks them.

At the helper call, once its arguments are checked, ``push_callback_call`` queues a state that enters the
callback in a new frame (``setup_func_entry`` with the helper's ``set_*_callback_state``: bpf_loop passes r1 =
the index, an unknown scalar, and r2 = its ctx argument; bpf_for_each_map_elem r1 = the map, r2 = a pointer to
the key, r3 = a pointer to the value and r4 = its ctx), and the current path goes on after the call as if the
helper had returned. At the callback's exit r0 must be a scalar in [0, 1] (and is marked precise), and the path
goes back to the *call* (``prepare_func_exit``), with the caller's registers as they were when the callback was
queued: the helper is checked again and queues the callback once more, from the state the previous visit left.

The iteration stops when a visit of the call is covered by a state kept there earlier on the same path. Such a
call is a forced checkpoint (``mark_force_checkpoint``, ``mark_calls_callback`` in ``visit_insn``); an earlier
state still on the path is compared by the ranges of all its scalars, precise or not (``RANGE_WITHIN``, in
``is_state_visited``), and a frame that has queued more callback visits in a row (``callback_depth``) never
covers one that queued fewer. For bpf_loop the iteration also stops when ``callback_depth`` reaches nr_loops'
maximum ("bpf_loop iteration limit reached"). On each return to the call, scalars that differ from the
previous visit of the call and that nothing marked precise there are widened to unknown
(``widen_imprecise_scalars``), so that a counter kept in a register or spilled on the stack converges.

Differences from the kernel: asynchronous callbacks (timers) and bpf_find_vma / bpf_user_ringbuf_drain are not
in the helper table; BTF argument checks of the callback (``btf_check_subprog_call``) are not made; the
level-2 log lines the kernel prints here ("returning from callee:", "frame0 bpf_loop iteration limit reached")
are not reproduced.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..insn import Insn
from . import bounds as B
from .state import (
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    SCALAR,
    STACK_SPILL,
    UNKNOWN,
    Reg,
    VerifierState,
    initial_frame,
    ptr,
)

BPF_FUNC_for_each_map_elem, BPF_FUNC_find_vma, BPF_FUNC_loop, BPF_FUNC_user_ringbuf_drain = 164, 180, 181, 209
#: ``is_sync_callback_calling_function``: helpers that call their callback before they return.
SYNC_CALLBACK_HELPERS = frozenset({BPF_FUNC_for_each_map_elem, BPF_FUNC_find_vma, BPF_FUNC_loop,
                                   BPF_FUNC_user_ringbuf_drain})
#: Map types with ``map_set_for_each_callback_args`` (array and hash maps, per-CPU and LRU included).
FOR_EACH_MAP_TYPES = frozenset({"array", "percpu_array", "hash", "percpu_hash", "lru_hash", "lru_percpu_hash"})
#: ``callback_ret_range`` of bpf_loop and bpf_for_each_map_elem callbacks: 0 (go on) or 1 (stop).
CALLBACK_RET_RANGE = (0, 1)
FORCE_CHECKPOINT_EVICT_AFTER = 64  # is_state_visited: "n" for a forced checkpoint still on the path
MAX_CALL_FRAMES = 8


def is_sync_callback_call(insn: Insn) -> bool:
    """``is_sync_callback_calling_insn``: a helper call (not a kfunc or subprogram call) to such a helper."""
    return insn.opcode == 0x85 and insn.src == 0 and insn.imm in SYNC_CALLBACK_HELPERS


def is_ld_func(insn: Insn) -> bool:
    """``bpf_pseudo_func``: ``ld_imm64`` of a function's address (``src`` 4)."""
    return insn.opcode == 0x18 and insn.src == 4


@dataclass
class Points:
    """What ``check_cfg`` marks for callbacks: the instructions that call one (``calls_callback``, also forced
    checkpoints), and the prune and jump points of function-address loads and callback calls."""

    calls: frozenset[int]
    prune: frozenset[int]
    jmp: frozenset[int]


def cfg_points(insns: tuple[Insn, ...]) -> Points:
    """``visit_insn``: a callback-calling helper call is a prune point, a jump point and a forced checkpoint;
    ``ld_imm64`` of a function is handled as a call (``visit_func_call_insn``): it is a prune point, and so are
    the instruction after it and the function it names, both also jump points (``push_insn``, BRANCH)."""
    calls, prune, jmp = set(), set(), set()
    for pc, insn in enumerate(insns):
        if is_sync_callback_call(insn):
            calls.add(pc)
            prune.add(pc)
            jmp.add(pc)
        elif is_ld_func(insn):
            target = pc + 1 + insn.imm
            prune.update((pc, pc + 2, target))
            jmp.update((pc + 2, target))
    return Points(frozenset(calls), frozenset(prune), frozenset(jmp))


@dataclass
class LoopInline:
    """``struct bpf_loop_inline_state`` of one bpf_loop call: can it be inlined (flags 0, one callback)."""

    fit: bool
    subprog: int


@dataclass
class Callbacks:
    """The walker's callback bookkeeping: the CFG's marks, each bpf_loop call's inline state (kept across visits,
    like ``insn_aux_data``), and the callback state queued by the helper call being walked (``pushed``)."""

    points: Points
    loop_inline: dict[int, LoopInline] = field(default_factory=dict)
    pushed: tuple[int, VerifierState] | None = None


def push_callback_call(w, idx: int, func_id: int, st: VerifierState, subprog: int, map_index: int
                       ) -> VerifierState:
    """The callback part of ``check_helper_call`` for a helper that calls ``subprog`` (its first instruction):
    for bpf_loop, ``update_loop_inline_state`` (r4 marked precise while it is 0) and r1 marked precise, then
    ``push_callback_call`` unless this frame has queued the callback nr_loops times in a row already. The
    queued state (``w.cb.pushed``) enters the callback; the returned state goes on after the call."""
    from .walk import Reject

    w.cb.pushed = None
    caller = st.cur
    if func_id == BPF_FUNC_loop:
        _update_loop_inline_state(w, idx, st, subprog)
        w.mark_precise(st, 1)  # "Verifier relies on R1 value to determine if bpf_loop() iteration is finished"
        if not caller.callback_depth < caller.regs[1].b.umax:
            return st.with_frame(replace(caller, callback_depth=0))  # "bpf_loop iteration limit reached"
    elif func_id == BPF_FUNC_for_each_map_elem:
        if w.program.maps[map_index].type not in FOR_EACH_MAP_TYPES:  # set_map_elem_callback_state
            raise Reject("callback function not allowed for map", "ENOTSUPP")
    if len(st.frames) >= MAX_CALL_FRAMES:  # setup_func_entry
        raise Reject(f"the call stack of {len(st.frames) + 1} frames is too deep", "E2BIG")
    callee = initial_frame(len(st.frames), idx, subprog)
    regs = list(callee.regs)
    args = caller.regs
    if func_id == BPF_FUNC_for_each_map_elem:  # map_set_for_each_callback_args
        regs[1] = args[1]
        regs[2] = ptr(PTR_TO_MAP_KEY, map=map_index)
        regs[3] = ptr(PTR_TO_MAP_VALUE, map=map_index)
        regs[4] = args[3]
    else:  # set_loop_callback_state
        regs[1] = UNKNOWN
        regs[2] = args[3]
    callee = replace(callee, regs=tuple(regs), in_callback_fn=True)
    queued_caller = replace(caller, callback_depth=caller.callback_depth + 1)
    queued = replace(st, frames=st.frames[:-1] + (queued_caller, callee),
                     callback_unroll_depth=st.callback_unroll_depth + 1)
    w.cb.pushed = (subprog, queued)
    return st.with_frame(replace(caller, callback_depth=0))


def _update_loop_inline_state(w, idx: int, st: VerifierState, subprog: int) -> None:
    """``update_loop_inline_state``: the first visit records whether flags (r4) are 0 and which callback is
    called; later visits check again while the call still fits. ``loop_flag_is_zero`` marks a zero r4 precise."""
    state = w.cb.loop_inline.get(idx)
    if state is not None and not state.fit:
        return
    r4 = st.cur.regs[4]
    zero = r4.type == SCALAR and r4.b.is_const() and r4.b.var_off.value == 0
    if zero:
        w.mark_precise(st, 4)
    if state is None:
        w.cb.loop_inline[idx] = LoopInline(zero, subprog)
    else:
        state.fit = zero and state.subprog == subprog


def callback_exit(w, st: VerifierState) -> tuple[int, VerifierState, None]:
    """``prepare_func_exit`` for a callback's frame: r0 must be a scalar (marked precise: the range check rests
    on it) within ``callback_ret_range``; the path then goes back to the call with the caller's frame as the
    callback found it, its imprecise scalars widened against the previous visit of the call."""
    from .walk import Reject

    callee = st.cur
    r0 = callee.regs[0]
    if r0.type != SCALAR:
        raise Reject("R0 not a scalar value")
    w.mark_precise(st, 0)
    lo, hi = CALLBACK_RET_RANGE
    if not (r0.b.smin >= lo and r0.b.smax <= hi):
        has = scalar_has(r0.b)
        raise Reject(f"At callback return the register R0 has {has} should have been in [{lo}, {hi}]", "EINVAL")
    back = replace(st, frames=st.frames[:-1])
    # an unprivileged loader's scalars are all precise (``!bpf_capable``): nothing is widened; a walk without
    # precision tracking (``track_precision=False``) widens every scalar that changed, which stays sound
    prev = find_prev_entry(w, back, callee.callsite) if w.privileged else None
    if prev is not None:
        back = widen_imprecise_scalars(prev, back)
    return callee.callsite, back, None


def scalar_has(b: B.Bounds) -> str:
    """What ``verbose_invalid_scalar`` says a register has: "smin=2 smax=2", a bound named only when it is not
    the type's limit, or "unknown scalar value" when neither is."""
    parts = [f"smin={b.smin}"] if b.smin > B.S64_MIN else []
    if b.smax < B.S64_MAX:
        parts.append(f"smax={b.smax}")
    return " ".join(parts) or "unknown scalar value"


def find_prev_entry(w, st: VerifierState, idx: int):
    """``find_prev_entry``: the newest state kept at ``idx`` that is still on the current path (``branches``)
    with the same call sites in every frame, or None."""
    for k in reversed(w.kept.get((idx, st.cur.callsite), ())):
        if id(k) in w.ancestor_ids and len(k.state.frames) == len(st.frames) and \
                all(a.callsite == b.callsite for a, b in zip(k.state.frames, st.frames)):
            return k
    return None


def widen_imprecise_scalars(kept, cur: VerifierState) -> VerifierState:
    """``widen_imprecise_scalars``: each scalar register and spilled scalar of ``cur`` that the kept state has too,
    not marked precise there and not exactly the same (ids mapped one to one), becomes an unknown scalar."""
    from .prune import IdMap

    ids = IdMap()
    old = kept.state
    marks = kept.marks
    frames = list(cur.frames)
    for fr in range(len(old.frames) - 1, -1, -1):
        fo, fc = old.frames[fr], frames[fr]
        regs = tuple(_maybe_widen(ro, rc, marks.reg(fr, i), ids) for i, (ro, rc) in enumerate(zip(fo.regs, fc.regs)))
        spilled = []
        for spi, rc in fc.spilled:
            ro = fo.spill_at(spi)
            both = ro is not None and fo.byte(-spi * 8 - 8) == STACK_SPILL and fc.byte(-spi * 8 - 8) == STACK_SPILL
            spilled.append((spi, _maybe_widen(ro, rc, marks.slot(fr, spi), ids) if both else rc))
        frames[fr] = replace(fc, regs=regs, spilled=tuple(spilled))
    return replace(cur, frames=tuple(frames))


def _maybe_widen(old: Reg, cur: Reg, precise: bool, ids) -> Reg:
    """``maybe_widen_reg``."""
    if old.type != SCALAR or cur.type != SCALAR or precise:
        return cur
    if old.b == cur.b and ids.same(old.id, cur.id) and ids.same(old.ref_obj_id, cur.ref_obj_id):  # regs_exact
        return cur
    return UNKNOWN
