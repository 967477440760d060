"""State pruning (``is_state_visited``, ``states_equal``, ``regsafe``, ``stacksafe`` in
``kernel/bpf/verifier.c``) and the static register liveness it relies on (``compute_live_registers``).

At a prune point (a conditional jump, a branch target, the instruction after a call) the walk compares the
current state with the states it kept there earlier. If a kept state whose every path has been fully
explored *covers* the current one — every live register and stack slot of the old state admits every value
the current one can have — nothing new can happen from here, and the path stops. A kept state that is
still on the current path (an ancestor) and is identical to the current state means the program loops
without making progress: ``infinite loop detected``. Like the kernel, a new state is kept only after at
least 2 jumps and 8 instructions since the last one, and, where an ancestor was kept at the same
instruction (a loop), only after 20 jumps or 100 instructions.

Old scalars count only where precise (``precision.py``); unprivileged walks count every scalar as precise,
as the kernel does. At a helper call that calls a callback (``callbacks.py``) a kept state still on the path
is compared too, by the ranges of every scalar, to see the callback's visits converge. Dead stack slots
are wiped from a fully explored kept state before it is compared (``liveness.py``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import isa
from ..helpers import HELPERS
from ..insn import Insn
from . import tnum as T
from .cfg import successors
from .precision import Marks
from .state import (
    ADD_CONST,
    NOT_INIT,
    PTR_TO_STACK,
    SCALAR,
    STACK_INVALID,
    STACK_MISC,
    STACK_SPILL,
    STACK_ZERO,
    Frame,
    Reg,
    VerifierState,
    base_id,
)

ALL_REGS = frozenset(range(11))


def uses_defs(insn: Insn, helper_available: Callable[[int], bool] | None = None
              ) -> tuple[frozenset[int], frozenset[int]]:
    """Registers an instruction reads and writes. A call of a helper the loader may not call
    (``helper_available`` says no: ``get_helper_proto`` fails) reads r1-r5, as ``compute_insn_live_regs``
    assumes."""
    spec = insn.spec
    if spec is None:
        return frozenset(), frozenset()
    d, s, op, cls = insn.dst, insn.src, spec.op, spec.cls
    x = spec.source == isa.Source.X
    if cls in (isa.Class.ALU, isa.Class.ALU64):
        if op in ("le", "be", "bswap"):  # BPF_END: its source bit picks the byte order, not a register
            return frozenset({d}), frozenset({d})
        if op in ("mov", "movsx"):
            return frozenset({s} if x else ()), frozenset({d})
        return frozenset({d, s} if x else {d}), frozenset({d})
    if cls == isa.Class.LDX:
        return frozenset({s}), frozenset({d})
    if cls == isa.Class.ST:
        return frozenset({d}), frozenset()
    if cls == isa.Class.STX:
        if op == "atomic_cmpxchg":
            return frozenset({d, s, 0}), frozenset({0})
        if "fetch" in op or op == "atomic_xchg":
            return frozenset({d, s}), frozenset({s})
        return frozenset({d, s}), frozenset()
    if op == "ld_imm64":
        return frozenset(), frozenset({d})
    if op in ("ld_abs", "ld_ind"):  # compute_insn_live_regs keeps its defaults: every register read, none written
        return frozenset(range(10)), frozenset()
    if op == "exit":
        return frozenset({0}), frozenset()
    if op == "call":
        spec_h = HELPERS.get(insn.imm)
        known = spec_h is not None and (helper_available is None or helper_available(insn.imm))
        nargs = len(spec_h.args) if known else 5
        return frozenset(range(1, nargs + 1)), frozenset(range(6))
    if op in ("call_local", "callx", "call_kfunc"):
        return frozenset(range(1, 6)), frozenset(range(6))
    if op in ("ja", "may_goto"):
        return frozenset(), frozenset()
    return frozenset({d, s} if x else {d}), frozenset()


def live_registers(insns: tuple[Insn, ...], helper_available: Callable[[int], bool] | None = None
                   ) -> list[frozenset[int]]:
    """Registers live before each instruction (read on some path before being written), r10 always;
    ``helper_available`` as for :func:`uses_defs`."""
    n = len(insns)
    info = [uses_defs(i, helper_available) for i in insns]
    succ = [successors(insns, pc) if insns[pc].spec is not None else [] for pc in range(n)]
    live = [frozenset()] * n
    changed = True
    while changed:
        changed = False
        for pc in range(n - 1, -1, -1):
            out = frozenset().union(*(live[s] for s in succ[pc] if 0 <= s < n)) if succ[pc] else frozenset()
            uses, defs = info[pc]
            new = uses | (out - defs)
            if new != live[pc]:
                live[pc] = new
                changed = True
    return [lv | {10} for lv in live]


def prune_points(insns: tuple[Insn, ...]) -> set[int]:
    """Conditional jumps, their targets, targets of ``goto`` and the instruction after each call."""
    points = set()
    for pc, insn in enumerate(insns):
        spec = insn.spec
        if spec is None or spec.cls not in (isa.Class.JMP, isa.Class.JMP32):
            continue
        if spec.op in ("call", "call_local", "callx", "call_kfunc"):
            points.add(pc + 1)
            if spec.op == "call_local":
                points.add(pc)
            continue
        if spec.op == "exit":
            continue
        target = pc + 1 + (insn.imm if spec.name == "gotol" else insn.off)
        points.add(target)
        if spec.op not in ("ja",):
            points.add(pc)
    return points


def jmp_points(insns: tuple[Insn, ...]) -> set[int]:
    """Where a path may arrive other than from the instruction before (``mark_jmp_point`` in ``check_cfg``):
    jump targets, subprogram entries, and the instruction after each call. The walk records its visits
    of these in the path's history (see precision.py)."""
    points = set()
    for pc, insn in enumerate(insns):
        spec = insn.spec
        if spec is None or spec.cls not in (isa.Class.JMP, isa.Class.JMP32) or spec.op == "exit":
            continue
        if spec.op in ("call", "call_local", "callx", "call_kfunc"):
            points.add(pc + 1)
            if spec.op == "call_local":
                points.add(pc + 1 + insn.imm)
            continue
        points.add(pc + 1 + (insn.imm if spec.name == "gotol" else insn.off))
    return points


class IdMap:
    """``check_ids``: ids in the old state must map one-to-one onto ids in the current state."""

    def __init__(self) -> None:
        self.old_to_cur: dict[int, int] = {}
        self.cur_to_old: dict[int, int] = {}
        self.unique = 0

    def same_scalar(self, old: int, cur: int) -> bool:
        """``check_scalar_ids``: a scalar without id is unlinked, so it gets a fresh id of its own before
        the one-to-one check (an old pair of linked registers needs a linked pair now). An old id with a
        delta (``ADD_CONST``) maps its base id too, so that r3 = r2 + 10 then must still derive from r2's
        counterpart."""
        if not cur:
            self.unique -= 1
            cur = self.unique  # negative: never a real id
        if not self.same(old, cur):
            return False
        return not old & ADD_CONST or cur < 0 or self.same(base_id(old), base_id(cur))

    def same(self, old: int, cur: int) -> bool:
        if not old and not cur:
            return True
        if not old or not cur:
            return False
        if self.old_to_cur.get(old, cur) != cur or self.cur_to_old.get(cur, old) != old:
            return False
        self.old_to_cur[old], self.cur_to_old[cur] = cur, old
        return True


def range_within(old, cur) -> bool:
    return (old.umin <= cur.umin and cur.umax <= old.umax and old.smin <= cur.smin and cur.smax <= old.smax
            and old.u32_min <= cur.u32_min and cur.u32_max <= old.u32_max
            and old.s32_min <= cur.s32_min and cur.s32_max <= old.s32_max)


def regsafe(old: Reg, cur: Reg, ids: IdMap, precise: bool = True, exact_scalars: bool = False) -> bool:
    """``regsafe``: does ``old`` admit everything ``cur`` may be? An old scalar no check relied on exactly
    (not ``precise``) admits any scalar. ``exact_scalars`` (``env->explore_alu_limits``, set once an unprivileged
    walk masked pointer arithmetic by a register: spectre.py) admits only the same scalar."""
    if old.type == NOT_INIT:
        return True
    if cur.type == NOT_INIT:
        return False
    if old.type == SCALAR:
        if cur.type != SCALAR:
            return False
        if exact_scalars:
            return old.b == cur.b and old.off == cur.off and (old.id & ADD_CONST) == (cur.id & ADD_CONST) \
                and ids.same_scalar(old.id, cur.id)
        if not precise:
            return True
        # linked with a delta: the same kind of link (64- or 32-bit) with the same delta
        if old.id and (old.id & ADD_CONST) != (cur.id & ADD_CONST):
            return False
        if old.id & ADD_CONST and old.off != cur.off:
            return False
        if old.id and not ids.same_scalar(old.id, cur.id):
            return False
        return range_within(old.b, cur.b) and T.contains(old.b.var_off, cur.b.var_off)
    if (old.type, old.maybe_null, old.off, old.map, old.frameno, old.mem_size, old.subprog, old.btf) != \
            (cur.type, cur.maybe_null, cur.off, cur.map, cur.frameno, cur.mem_size, cur.subprog, cur.btf):
        return False
    if old.range > cur.range:
        return False
    if old.type == PTR_TO_STACK:
        # regs_exact: a stack pointer covers only the same pointer (a narrower variable offset may leave
        # a spill a wider one would have destroyed)
        if old.b != cur.b:
            return False
    elif not (range_within(old.b, cur.b) and T.contains(old.b.var_off, cur.b.var_off)):
        return False
    return ids.same(old.id, cur.id) and ids.same(old.ref_obj_id, cur.ref_obj_id)


UNBOUND = Reg(SCALAR)  # what a read of misc stack bytes gives (``unbound_reg``, never precise)


def _scalar_for_stack(f: Frame, spi: int, im: int, misc_ok: set[str]) -> tuple[Reg, bool] | None:
    """``scalar_reg_for_stack``: the scalar slot ``spi`` holds from its byte ``im`` down, if any: its
    spilled scalar, or an unbound scalar when those bytes are all misc data."""
    base = spi * 8
    if _kind(f, base + im) == STACK_SPILL:
        r = f.spill_at(spi)
        if r is not None and r.type == SCALAR:
            return r, True
    if all(_kind(f, base + j) in misc_ok for j in range(im, 8)):
        return UNBOUND, False
    return None


def _kind(f: Frame, j: int) -> str:
    return f.stack[j] if j < len(f.stack) else STACK_INVALID


def stacksafe(old: Frame, cur: Frame, ids: IdMap, precise_slot, privileged: bool = True,
              exact_scalars: bool = False) -> bool:
    """``stacksafe``, byte by byte over the old stack (byte ``j`` is fp-1-j; ``im = j % 8`` indexes the
    kernel's ``slot_type``). Uninitialised old bytes, and for root misc ones too, admit anything. A scalar
    at the start of a slot or of its low half is compared as a register, whether spilled or misc data
    (misc reads back as an unbound scalar), so an imprecise spilled scalar admits misc data."""
    misc_ok = {STACK_MISC, STACK_INVALID} if privileged else {STACK_MISC}
    allocated = -(-len(cur.stack) // 8) * 8  # allocated_stack grows by whole slots
    j, n = 0, len(old.stack)
    while j < n:
        kind = old.stack[j]
        spi, im = divmod(j, 8)
        if kind == STACK_INVALID or (privileged and kind == STACK_MISC):
            j += 1
            continue
        if j >= allocated:
            return False
        if im in (0, 4):
            o = _scalar_for_stack(old, spi, im, misc_ok)
            c = _scalar_for_stack(cur, spi, im, misc_ok)
            if o is not None and c is not None:
                o_precise = o[1] and precise_slot(spi)
                if not regsafe(o[0], c[0], ids, o_precise, exact_scalars):
                    return False
                j += 8 - im
                continue
        ckind = _kind(cur, j)
        if not (kind == STACK_MISC and ckind == STACK_ZERO) and kind != ckind:
            return False
        if im == 7 and kind == STACK_SPILL:
            o_reg, c_reg = old.spill_at(spi), cur.spill_at(spi)
            if o_reg is None or c_reg is None:
                return False
            if not regsafe(o_reg, c_reg, ids, o_reg.type != SCALAR or precise_slot(spi), exact_scalars):
                return False
        j += 1
    return True


def states_equal(old: VerifierState, cur: VerifierState, live: frozenset[int], marks=None,
                 privileged: bool = True, outer_live: list[frozenset[int]] | None = None,
                 exact_scalars: bool = False) -> bool:
    """``states_equal`` with ``NOT_EXACT``: ``marks`` are the old state's precision marks (``Marks``);
    without them (or unprivileged) every old scalar counts as precise (``RANGE_WITHIN``). ``live`` are the
    registers compared in the innermost frame, ``outer_live[d]`` those of frame ``d`` (the registers live
    before its call; r6-r10 when not given). A frame that queued more callback visits in a row
    (``callback_depth``) covers none that queued fewer (``func_states_equal``). A speculative state covers only
    speculative ones; ``exact_scalars`` as for :func:`regsafe`."""
    if old.speculative and not cur.speculative:
        return False
    if len(old.frames) != len(cur.frames) or len(old.refs) != len(cur.refs):
        return False
    ids = IdMap()
    everything = marks is None or not privileged
    for depth, (fo, fc) in enumerate(zip(old.frames, cur.frames)):
        if fo.callsite != fc.callsite or fo.callback_depth > fc.callback_depth:
            return False
        if depth == len(old.frames) - 1:
            regs = live
        else:
            regs = outer_live[depth] if outer_live is not None else frozenset(range(6, 11))
        for r in regs:
            if not regsafe(fo.regs[r], fc.regs[r], ids, everything or marks.reg(depth, r), exact_scalars):
                return False
        if not stacksafe(fo, fc, ids, (lambda spi: True) if everything else
                         (lambda spi, d=depth: marks.slot(d, spi)), privileged, exact_scalars):
            return False
    return all(ids.same(a[0], b[0]) for a, b in zip(old.refs, cur.refs))


@dataclass(eq=False)
class Kept:
    """A state kept at a prune point. It is fully explored once it is no longer an ancestor of the path
    being walked: the walk is depth-first, so branches pushed after it were all finished before any branch
    pushed before it is resumed."""

    state: VerifierState
    pending_len: int
    seq: int = -1  # the walk event (a visit of this instruction) at which it was kept
    hits: int = 0  # paths it pruned (hit_cnt)
    misses: int = 0  # comparisons it failed while a new state was being kept (miss_cnt)
    insn_idx: int = -1  # the instruction it was kept at
    last_insn_idx: int = -1  # the instruction the path came from (last_insn_idx): where backtracking resumes
    marks: Marks = field(default_factory=Marks)  # precision marks gained since (see precision.py)
    cleaned: bool = False  # its dead stack slots were wiped (liveness.py, ``st->cleaned``)
