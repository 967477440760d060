"""Spectre v1 for unprivileged loaders: speculative paths and masked pointer arithmetic.

Without CAP_PERFMON the kernel does not trust the CPU to take only the paths the program's values allow
(``!env->bypass_spec_v1``), so an unprivileged walk does three things a root walk does not:

* **Speculative paths.** A conditional jump whose outcome is known still has its other side walked, as a path
  only a mispredicting CPU would take, with the compared registers unknown (``sanitize_speculative_path``:
  ``mark_reg_unknown`` on the destination, and the source of a register comparison). Branches pushed from a
  speculative path are speculative too. Such a path may end early: an error the kernel can prevent with a
  speculation barrier (``error_recoverable_with_nospec``: EPERM, EACCES, EINVAL) marks the instruction
  ``nospec`` and ends the path instead of rejecting the program, and every later speculative visit of that
  instruction ends there; a stack store that needs a barrier after it (``nospec_result``: it writes a pointer,
  or overwrites bytes that were not plain data) ends the path just after the store (``do_check``).
* **Masked pointer arithmetic.** Adding a register to a map value or stack pointer is rewritten by the kernel
  into a masked form that keeps even a speculated offset inside the object. That needs a limit
  (``retrieve_ptr_limit``: how far the pointer may move before leaving the object; none for other pointer
  types), the same limit on every path through the instruction (``update_alu_sanitation_state``), and a
  scalar known to be on one side of zero; and the kernel walks the case where masking truncated the offset
  to zero as a speculative path that goes on with the unmoved pointer (``sanitize_ptr_alu``). Once that has
  happened with an offset that is not a constant, pruning compares scalars exactly (``explore_alu_limits``).
* **Bounds after the move.** A moved map value pointer must still point inside the value, and a moved stack
  pointer inside the frame, before any access (``sanitize_check_bounds``; the stack part is in ``walk.py``).

The messages are ``sanitize_err``'s, all EACCES.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from .. import isa
from . import bounds as B
from .state import MAX_BPF_STACK, PTR_TO_MAP_VALUE, PTR_TO_STACK, UNKNOWN, Reg, VerifierState

#: ``error_recoverable_with_nospec``: errors a speculation barrier can prevent.
RECOVERABLE = frozenset({"EPERM", "EACCES", "EINVAL"})

_ERR = "pointer arithmetic with it prohibited for !root"


def speculative_branch(st: VerifierState, insn, source_is_reg: bool) -> VerifierState:
    """``sanitize_speculative_path`` for a decided jump: the state the other side is walked with."""
    f = st.cur.with_reg(insn.dst, UNKNOWN)
    if source_is_reg:
        f = f.with_reg(insn.src, UNKNOWN)
    return replace(st.with_frame(f), speculative=True)


def retrieve_ptr_limit(ptr: Reg, value_size: int, mask_to_left: bool) -> int | str:
    """``retrieve_ptr_limit``: how far ``ptr`` may move towards the left (lower addresses) or right and stay in
    its object, or the reason it cannot be masked ("type": no limit for this pointer type; "limit": it is already
    outside). A stack pointer may go down to fp-512 (and fp+0, where it starts, counts as inside going left); a
    map value pointer to its value's ends."""
    if ptr.type == PTR_TO_STACK:
        limit_max = MAX_BPF_STACK + mask_to_left
        limit = -(ptr.b.var_off.value + ptr.off) & B.U32_MAX
    elif ptr.type == PTR_TO_MAP_VALUE:
        limit_max = value_size
        limit = ((ptr.b.smin if mask_to_left else ptr.b.umax) + ptr.off) & B.U32_MAX
    else:
        return "type"
    return "limit" if limit >= limit_max else limit


@dataclass
class Sanitation:
    """``struct bpf_sanitize_info`` for one pointer addition or subtraction by a register (``sanitize_ptr_alu``):
    made by :func:`sanitize_begin` before the pointer moves, finished by :func:`sanitize_commit` after."""

    insn_idx: int
    op: str  # "add" | "sub"
    dst: int  # insn->dst_reg
    src: int  # insn->src_reg
    off_is_dst: bool  # scalar += pointer: the offset sits in the destination register
    off_is_imm: bool  # the offset register holds a constant
    off_is_neg: bool
    value_size: int  # of the map, for a map value pointer
    speculative: bool  # on a speculative path nothing is checked (only the truncated path is walked)
    mask_to_left: bool = False
    limit: int = 0  # the pointer's limit before the move

    def error(self, reason: str) -> str:
        """``sanitize_err``'s message for ``reason``."""
        if reason == "bounds":
            return f"R{self.dst if self.off_is_dst else self.src} has unknown scalar with mixed signed bounds, {_ERR}"
        if reason == "type":
            return f"R{self.src if self.off_is_dst else self.dst} has pointer with unsupported alu operation, {_ERR}"
        verb = "add" if self.op == "add" else "sub"
        if reason == "paths":
            return f"R{self.dst} tried to {verb} from different maps, paths or scalars, {_ERR}"
        return f"R{self.dst} tried to {verb} beyond pointer bounds, {_ERR}"


def sanitize_begin(walker, insn, op: str, ptr: Reg, off: Reg, off_is_dst: bool, st: VerifierState
                   ) -> Sanitation | None:
    """``sanitize_ptr_alu`` before the move. None when nothing is masked (``can_skip_alu_sanitation``: a root
    loader, an immediate operand, or an instruction a barrier already fences). Otherwise checks the offset and
    the pointer's limit (raising ``Reject`` with ``sanitize_err``'s message) and, for an offset that is not a
    constant, queues the speculative path where masking truncated it (``walker.spec_push``: the next instruction,
    with the destination holding the pointer unmoved)."""
    from .walk import Reject

    idx = walker.cur_idx
    if walker.privileged or insn.opcode & 0x08 != isa.Source.X or idx in walker.nospec:
        return None
    b = off.b
    value_size = walker.program.maps[ptr.map].value_size if ptr.type == PTR_TO_MAP_VALUE else 0
    san = Sanitation(idx, op, insn.dst, insn.src, off_is_dst, b.is_const(), b.smin < 0, value_size, st.speculative)
    if not st.speculative:
        if not san.off_is_imm and (b.smin < 0) != (b.smax < 0):
            raise Reject(san.error("bounds"))
        san.mask_to_left = (op == "add" and san.off_is_neg) or (op == "sub" and not san.off_is_neg)
        limit = retrieve_ptr_limit(ptr, value_size, san.mask_to_left)
        if isinstance(limit, str):
            raise Reject(san.error(limit))
        san.limit = limit
        if not san.off_is_imm:
            walker.explore_alu_limits = True
    if not san.off_is_imm:
        truncated = st.with_frame(st.cur.with_reg(insn.dst, ptr))
        walker.spec_push = (idx + 1, replace(truncated, speculative=True))
    return san


def sanitize_commit(walker, san: Sanitation | None, moved: Reg) -> None:
    """``sanitize_ptr_alu`` after the move (the commit window): the masking limit is the distance the pointer
    moved, and every path through the instruction must need the same masking (``update_alu_sanitation_state``)."""
    from .walk import Reject

    if san is None or san.speculative:
        return
    limit = retrieve_ptr_limit(moved, san.value_size, san.mask_to_left)
    if isinstance(limit, str):
        raise Reject(san.error(limit))
    state = (san.off_is_neg, san.off_is_imm, not san.off_is_dst)
    sanitation = (state, abs(san.limit - limit))
    if walker.alu_sanitation.setdefault(san.insn_idx, sanitation) != sanitation:
        raise Reject(san.error("paths"))
