"""Conditional jumps: ``is_branch_taken`` (is the outcome already known?) and what each side learns
(``reg_set_min_max`` for scalars, passed on to the registers linked with them by ``sync_linked_regs``,
``mark_ptr_or_null_regs`` for null checks, ``find_good_pkt_pointers`` for packet bounds checks)."""
from __future__ import annotations

from dataclasses import replace

from ..insn import Insn
from . import bounds as B
from . import scalar as S
from . import tnum as T
from .bounds import Bounds
from .state import (
    ADD_CONST,
    ADD_CONST32,
    CONST_PTR_TO_MAP,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_END,
    PTR_TO_PACKET_META,
    PTR_TO_SOCKET,
    SCALAR,
    Reg,
    VerifierState,
    base_id,
    const,
)

NEGATE = {"jeq": "jne", "jne": "jeq", "jgt": "jle", "jle": "jgt", "jge": "jlt", "jlt": "jge", "jsgt": "jsle",
          "jsle": "jsgt", "jsge": "jslt", "jslt": "jsge", "jset": "jset"}
FLIP = {"jeq": "jeq", "jne": "jne", "jgt": "jlt", "jlt": "jgt", "jge": "jle", "jle": "jge", "jsgt": "jslt",
        "jslt": "jsgt", "jsge": "jsle", "jsle": "jsge", "jset": "jset"}


def _view(b: Bounds, width: int) -> tuple[int, int, int, int, T.Tnum]:
    if width == 32:
        return b.u32_min, b.u32_max, b.s32_min, b.s32_max, T.subreg(b.var_off)
    return b.umin, b.umax, b.smin, b.smax, b.var_off


def branch_taken(op: str, width: int, dst: Reg, src: Reg) -> bool | None:
    """True/False when the comparison's outcome is the same for every possible value, else None."""
    if dst.type == SCALAR and src.type == SCALAR:
        return _scalar_taken(op, width, dst.b, src.b)
    if src.type == SCALAR and src.b.is_const() and src.b.var_off.value == 0 and dst.type in NOT_NULL \
            and not dst.maybe_null and op in ("jeq", "jne") and width == 64:
        return op == "jne"  # a pointer that cannot be NULL is never 0
    return None


#: ``reg_not_null``: the pointer types known never to be NULL (not the context, stack or packet pointers, nor
#: an untrusted pointer into the kernel read from a map's struct: a comparison of those with 0 is explored).
NOT_NULL = frozenset({PTR_TO_SOCKET, PTR_TO_MAP_VALUE, PTR_TO_MAP_KEY, PTR_TO_MEM, CONST_PTR_TO_MAP})


def _scalar_taken(op: str, width: int, a: Bounds, b: Bounds) -> bool | None:
    aumin, aumax, asmin, asmax, at = _view(a, width)
    bumin, bumax, bsmin, bsmax, bt = _view(b, width)
    if op == "jeq":
        if T.is_const(at) and T.is_const(bt):
            return at.value == bt.value
        if aumin > bumax or aumax < bumin or asmin > bsmax or asmax < bsmin:
            return False
        if (at.value ^ bt.value) & ~(at.mask | bt.mask):
            return False
        return None
    if op == "jne":
        r = _scalar_taken("jeq", width, a, b)
        return None if r is None else not r
    if op == "jset":
        if at.value & bt.value:
            return True
        if not ((at.value | at.mask) & (bt.value | bt.mask)):
            return False
        return None
    # (always true, always false) for each ordering
    if op == "jgt":
        yes, no = aumin > bumax, aumax <= bumin
    elif op == "jge":
        yes, no = aumin >= bumax, aumax < bumin
    elif op == "jlt":
        yes, no = aumax < bumin, aumin >= bumax
    elif op == "jle":
        yes, no = aumax <= bumin, aumin > bumax
    elif op == "jsgt":
        yes, no = asmin > bsmax, asmax <= bsmin
    elif op == "jsge":
        yes, no = asmin >= bsmax, asmax < bsmin
    elif op == "jslt":
        yes, no = asmax < bsmin, asmin >= bsmax
    elif op == "jsle":
        yes, no = asmax <= bsmin, asmin > bsmax
    else:
        raise KeyError(op)
    return True if yes else False if no else None


def _narrow(b: Bounds, width: int, op: str, other: Bounds) -> Bounds | None:
    """Bounds of ``b`` given ``b op other`` holds (in the 32- or 64-bit view), or None if impossible."""
    ou_min, ou_max, os_min, os_max, ot = _view(other, width)
    if width == 64:
        umin, umax, smin, smax = b.umin, b.umax, b.smin, b.smax
    else:
        umin, umax, smin, smax = b.u32_min, b.u32_max, b.s32_min, b.s32_max
    var = b.var_off
    if op == "jeq":
        umin, umax, smin, smax = max(umin, ou_min), min(umax, ou_max), max(smin, os_min), min(smax, os_max)
        if T.is_const(ot):
            var = T.intersect(var, ot) if width == 64 else T.with_subreg(var, T.intersect(T.subreg(var), ot))
    elif op == "jne":
        if T.is_const(ot):
            v = ot.value
            if umin == v:
                umin += 1
            if umax == v:
                umax -= 1
            sv = B.s64(v) if width == 64 else B.s32(v)
            if smin == sv:
                smin += 1
            if smax == sv:
                smax -= 1
    elif op == "jgt":
        umin = max(umin, ou_min + 1)
    elif op == "jge":
        umin = max(umin, ou_min)
    elif op == "jlt":
        umax = min(umax, ou_max - 1)
    elif op == "jle":
        umax = min(umax, ou_max)
    elif op == "jsgt":
        smin = max(smin, os_min + 1)
    elif op == "jsge":
        smin = max(smin, os_min)
    elif op == "jslt":
        smax = min(smax, os_max - 1)
    elif op == "jsle":
        smax = min(smax, os_max)
    elif op == "jset":
        pass
    if umin > umax or smin > smax:
        return None
    if width == 64:
        out = replace(b, var_off=var, umin=umin, umax=umax, smin=smin, smax=smax)
    else:
        out = replace(b, var_off=var, u32_min=umin, u32_max=umax, s32_min=smin, s32_max=smax)
    out = B.sync(out)
    return None if B.check_invariants(out) else out


def refine(st: VerifierState, insn: Insn, op: str, width: int, taken: bool, insns,
           linked: tuple | None = None) -> VerifierState | None:
    """The state on one side of the jump (``taken`` or falling through), or None when that side is
    impossible. The condition that holds is ``op`` when taken and its negation otherwise. ``linked``: the
    registers sharing an id with the compared ones that learn too (see ``sync_linked_regs``)."""
    cond = op if taken else NEGATE[op]
    frame = st.cur
    dst = frame.reg(insn.dst)
    src_is_reg = bool(insn.opcode & 0x08)
    src = frame.reg(insn.src) if src_is_reg else const(insn.imm & B.U64_MAX)
    if dst.maybe_null and src.type == SCALAR and src.b.is_const() and src.b.var_off.value == 0 \
            and op in ("jeq", "jne") and width == 64:
        is_null = (cond == "jeq")
        return _mark_null(st, dst.id, is_null)
    # try_match_pkt_pointers: pointers are 64-bit, so a JMP32 comparison of them proves nothing
    # try_match_pkt_pointers: pointers are 64-bit, so a JMP32 comparison of them proves nothing; data is
    # bounded by data_end, and data_meta by data itself (an untouched data pointer)
    if width == 64 and (dst.type == PTR_TO_PACKET and src.type == PTR_TO_PACKET_END
                        or dst.type == PTR_TO_PACKET_META and _is_init_packet_pointer(src)):
        return _packet_range(st, dst, cond, dst_is_pkt=True)
    if width == 64 and (dst.type == PTR_TO_PACKET_END and src.type == PTR_TO_PACKET
                        or _is_init_packet_pointer(dst) and src.type == PTR_TO_PACKET_META):
        return _packet_range(st, src, FLIP[cond], dst_is_pkt=True)
    if dst.type != SCALAR or src.type != SCALAR:
        return st
    if op == "jset":
        return _jset(st, insn, width, taken, dst, src, src_is_reg, linked)
    new_dst = _narrow(dst.b, width, cond, src.b)
    if new_dst is None:
        return None
    new_src = _narrow(src.b, width, FLIP[cond], dst.b) if src_is_reg else None
    if src_is_reg and new_src is None:
        return None
    # check_cond_jmp_op: both registers learn (reg_set_min_max), then their links do, the source's first
    st = st.with_frame(st.cur.with_reg(insn.dst, replace(dst, b=new_dst)))
    if src_is_reg:
        st = st.with_frame(st.cur.with_reg(insn.src, replace(src, b=new_src)))
        st = sync_linked_regs(st, insn.src, linked)
    return sync_linked_regs(st, insn.dst, linked)


def _jset(st: VerifierState, insn: Insn, width: int, taken: bool, dst: Reg, src: Reg, src_is_reg: bool,
          linked: tuple | None = None) -> VerifierState | None:
    """``regs_refine_cond_op`` for ``if dst & src``, one side of it a constant: when taken and the constant is
    a single bit, that bit is set; when not taken, every bit of the constant is clear (the ranges are
    forgotten first and rebuilt from the tnum). Anything else learns nothing. None: the side is impossible."""
    reg, regno, other = dst, insn.dst, src
    if not _is_const(other.b, width) and src_is_reg:
        reg, regno, other = src, insn.src, dst
    if not _is_const(other.b, width):
        return st
    val = (T.subreg(other.b.var_off) if width == 32 else other.b.var_off).value
    var = reg.b.var_off
    if taken:
        if val == 0 or val & (val - 1):
            return st  # several bits: which of them is set is not known
        view = T.or_(T.subreg(var) if width == 32 else var, T.const(val))
        b = replace(reg.b, var_off=T.with_subreg(var, view) if width == 32 else view)
    else:
        view = T.and_(T.subreg(var) if width == 32 else var, T.const(~val & (B.U32_MAX if width == 32 else B.U64_MAX)))
        b = replace(B.UNBOUNDED, var_off=T.with_subreg(var, view) if width == 32 else view)
    b = B.sync(b)
    if B.check_invariants(b):
        return None
    return sync_linked_regs(st.with_frame(st.cur.with_reg(regno, replace(reg, b=b))), regno, linked)


def _is_const(b: Bounds, width: int) -> bool:
    return T.is_const(T.subreg(b.var_off) if width == 32 else b.var_off)


def sync_linked_regs(st: VerifierState, regno: int, linked: tuple | None = None) -> VerifierState:
    """``sync_linked_regs``: register ``regno`` of the current frame (the *known* one) has learned bounds; every
    scalar linked with it, in any frame or stack slot, learns them too. A copy with the same delta (or none on
    either side) becomes the known register; one whose delta differs gets the known bounds plus the difference
    of the deltas, zero-extended when either side's delta came from alu32. A 32-bit delta and a 64-bit one on
    the same base do not sync (their relation does not survive the zero-extension). ``linked``: the
    registers and slots the jump collected (``collect_linked_regs``: live ones, at most six), as
    (frame, regno) or (frame, -1 - slot); only those learn (None: every one sharing the id)."""
    known = st.cur.reg(regno)
    if known.type != SCALAR or not known.id:
        return st
    base = base_id(known.id)

    def fix(r: Reg) -> Reg:
        if r.type != SCALAR or base_id(r.id) != base or ((r.id ^ known.id) & ADD_CONST) == ADD_CONST:
            return r
        if not ((r.id | known.id) & ADD_CONST) or r.off == known.off:
            return known  # copy_register_state
        b = S.add_const(known.b, r.off - known.off, zext=bool((r.id | known.id) & ADD_CONST32))
        return replace(r, b=b)

    last = len(st.frames) - 1
    chosen = None if linked is None else set(linked)

    def pick(fi: int, key: int, r: Reg) -> Reg:
        return r if chosen is not None and (fi, key) not in chosen else fix(r)

    frames = tuple(replace(f, regs=tuple(r if (fi == last and i == regno) else pick(fi, i, r)
                                         for i, r in enumerate(f.regs)),
                           spilled=tuple((slot, pick(fi, -1 - slot, r)) for slot, r in f.spilled))
                   for fi, f in enumerate(st.frames))
    return replace(st, frames=frames)


def _mark_null(st: VerifierState, ref_id: int, is_null: bool) -> VerifierState:
    """``mark_ptr_or_null_regs``: every copy of the pointer becomes NULL (a scalar 0) or non-NULL. A
    non-NULL pointer drops its id (``mark_ptr_or_null_reg``: "reg->id can be reset" unless it may point
    to a spin lock, which needs BTF we do not model), so that states differing only there prune."""
    def fix(r: Reg) -> Reg:
        if not (r.maybe_null and r.id == ref_id):
            return r
        return const(0) if is_null else replace(r, maybe_null=False, id=0)

    mapped = st.map_regs(fix)
    refs = st.refs
    if is_null:
        owner = next((r for f in st.frames for r in f.regs if r.maybe_null and r.id == ref_id), None)
        if owner is not None and owner.ref_obj_id:
            refs = tuple(x for x in refs if x[0] != owner.ref_obj_id)  # a NULL reservation needs no release
    return replace(mapped, refs=refs)


def _is_init_packet_pointer(r: Reg) -> bool:
    """``reg_is_init_pkt_pointer``: ``data`` itself, with no offset added."""
    return r.type == PTR_TO_PACKET and r.off == 0 and r.b.is_const() and r.b.var_off.value == 0


MAX_PACKET_OFF = 0xFFFF


def _packet_range(st: VerifierState, pkt: Reg, cond: str, dst_is_pkt: bool) -> VerifierState:
    """``find_good_pkt_pointers``: when ``pkt cond pkt_end`` proves pkt <= pkt_end (or pkt < pkt_end, one byte
    more), every packet pointer with the same id, hence the same variable part, may access ``pkt.off`` bytes
    past that part (``pkt.off + 1`` for ``<``)."""
    if cond not in ("jle", "jlt"):
        return st
    right_open = cond == "jlt"
    if pkt.off < 0 or (pkt.off == 0 and right_open):
        return st  # this gives no range
    if pkt.b.umax > MAX_PACKET_OFF or pkt.b.umax + pkt.off > MAX_PACKET_OFF:
        return st  # risk of overflow: offsets this large learn nothing
    new_range = pkt.off + right_open

    def fix(r: Reg) -> Reg:
        if r.type == pkt.type and r.id == pkt.id and r.range < new_range:
            return replace(r, range=new_range)
        return r

    return st.map_regs(fix)
