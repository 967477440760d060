"""The kernel's notation for verifier state, as its log prints it (``kernel/bpf/log.c``, Linux 6.18).

``reg_str`` is ``print_reg_state``: ``1``, ``fp-8``, ``ctx()``, ``pkt(off=14,r=14)``,
``map_value_or_null(id=1,map=counts,ks=4,vs=8)``, ``scalar(id=1+4,umin=4)`` (r1 + 4 for an r1 of id 1),
``scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))``. ``slot_str`` is one stack slot
of ``print_verifier_state`` (``fp-8=0000????``, ``fp-16=map_value(...)``), and ``frame_str`` a whole frame:
``R1=ctx() R10=fp0 fp-8=mmmmmmmm refs=2``. The 6.18 kernel no longer prints liveness marks (``_w``), and
we track no precision marks yet, so neither ever appears.
"""
from __future__ import annotations

from collections.abc import Container, Sequence

from . import bounds as B
from . import tnum as T
from .state import (
    ADD_CONST,
    CONST_PTR_TO_MAP,
    NOT_INIT,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_META,
    PTR_TO_STACK,
    SCALAR,
    STACK_INVALID,
    STACK_SPILL,
    Frame,
    Reg,
    base_id,
)

SLOT = 8  # BPF_REG_SIZE


def unum(v: int) -> str:
    """``verbose_unum``: decimal up to 65535, hex above."""
    return str(v) if v <= 0xFFFF else f"{v:#x}"


def snum(v: int) -> str:
    """``verbose_snum``: decimal from -32768 to 32767, else the 64-bit pattern in hex."""
    v = B.s64(v)
    return str(v) if -0x8000 <= v <= 0x7FFF else f"{v & B.U64_MAX:#x}"


def scalar_ranges(b: B.Bounds) -> list[str]:
    """``print_scalar_ranges``: the bounds that are not the type's extremes, in the order smin, smax, umin,
    umax, smin32, smax32, umin32, umax32; a later bound of the same value and sign (the kernel steps by
    two, pairing signed with signed and unsigned with unsigned) is folded in as ``smin=smin32=0``. A 32-bit
    signed bound too large for decimal is compared and printed as its 32-bit pattern, not sign-extended."""
    def s32(v: int) -> int:
        return v if -0x8000 <= v <= 0x7FFF else v & B.U32_MAX
    items = [
        ["smin", b.smin, b.smin == B.S64_MIN], ["smax", b.smax, b.smax == B.S64_MAX],
        ["umin", b.umin, b.umin == 0], ["umax", b.umax, b.umax == B.U64_MAX],
        ["smin32", s32(b.s32_min), b.s32_min == B.S32_MIN], ["smax32", s32(b.s32_max), b.s32_max == B.S32_MAX],
        ["umin32", b.u32_min, b.u32_min == 0], ["umax32", b.u32_max, b.u32_max == B.U32_MAX],
    ]
    out = []
    for i, (name, value, omit) in enumerate(items):
        if omit:
            continue
        negative = name[0] == "s" and value < 0
        names = [name]
        for later in items[i + 2::2]:
            if later[2] or later[1] & B.U64_MAX != value & B.U64_MAX \
                    or (later[0][0] == "s" and later[1] < 0) != negative:
                continue
            later[2] = True
            names.append(later[0])
        out.append("=".join(names) + "=" + (snum(value) if name[0] == "s" else unum(value)))
    return out


def reg_str(r: Reg, maps: Sequence = (), frameno: int | None = None, precise: bool = False) -> str:
    """``print_reg_state`` for one register (``maps``: the program's MapDefs, for ``map=``, ``ks=``, ``vs=``;
    ``frameno``: the frame it is printed in, to mark stack pointers into another frame as ``fp[0]-8``;
    ``precise``: a precise scalar, printed with a ``P`` in front, ``P0`` or ``Pscalar(...)``)."""
    if r.type == NOT_INIT:
        return "?"  # never printed by the kernel (it skips NOT_INIT registers)
    if precise and r.type == SCALAR:
        return "P" + reg_str(r, maps, frameno)
    const = r.b.is_const()
    if r.type == SCALAR and const:
        return snum(r.b.var_off.value)
    if r.type == PTR_TO_STACK:
        other = f"[{r.frameno}]" if frameno is not None and r.frameno != frameno else ""
        if const:
            return f"fp{other}{snum(r.b.var_off.value + r.off)}"
    parts = []
    if r.id:
        # a scalar linked with a delta prints it after its base id: id=1+4, id=1-4
        delta = f"{r.off:+d}" if r.type == SCALAR and r.id & ADD_CONST else ""
        parts.append(f"id={base_id(r.id)}{delta}")
    if r.ref_obj_id:
        parts.append(f"ref_obj_id={r.ref_obj_id}")
    if r.type in (CONST_PTR_TO_MAP, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE) and 0 <= r.map < len(maps):
        m = maps[r.map]
        parts.append(f"map={m.name[:15]},ks={m.key_size},vs={m.value_size}" if m.name
                     else f"ks={m.key_size},vs={m.value_size}")
    if r.type != SCALAR and r.off:
        parts.append(f"off={snum(r.off)}")
    if r.type in (PTR_TO_PACKET, PTR_TO_PACKET_META):
        parts.append(f"r={unum(r.range)}")
    if r.type == PTR_TO_MEM:
        parts.append(f"sz={unum(r.mem_size)}")
    if const:
        if r.b.var_off.value:
            parts.append(f"imm={snum(r.b.var_off.value)}")
    else:
        parts += scalar_ranges(r.b)
        if not T.is_unknown(r.b.var_off):
            parts.append(f"var_off={T.strn(r.b.var_off)}")
    prefix = "fp" if r.type == PTR_TO_STACK else r.type_name() + r.btf  # ptr_bpf_map_ops
    return f"{prefix}{other if r.type == PTR_TO_STACK else ''}({','.join(parts)})"


def slot_str(frame: Frame, slot: int, maps: Sequence = (), precise: bool = False) -> str | None:
    """Stack slot ``slot`` (``fp-8*(slot+1)``) as ``fp-8=...``, or None when all its bytes are invalid. A
    spill prints the byte types above the spilled part, then the register (``fp-8=mmmm1`` for a 4-byte
    spill of 1 under four misc bytes)."""
    types = [frame.byte(-(slot * SLOT + j) - 1) for j in range(SLOT)]  # fp-1 first, as slot_type[0..7]
    if all(t == STACK_INVALID for t in types):
        return None
    name = f"fp{-(slot + 1) * SLOT}"
    spilled = frame.spill_at(slot)
    if types[SLOT - 1] == STACK_SPILL and spilled is not None:
        above = "".join(types[:types.index(STACK_SPILL)])
        return f"{name}={above}{reg_str(spilled, maps, frame.frameno, precise)}"
    return f"{name}={''.join(types)}"


def frame_str(frame: Frame, maps: Sequence = (), refs: Sequence[int] = (),
              regs: Sequence[int] | None = None, slots: Sequence[int] | None = None,
              precise_regs: Container[int] = (), precise_slots: Container[int] = (),
              all_precise: bool = False) -> str:
    """``print_verifier_state``: every initialised register and stack slot, or only ``regs`` and ``slots``
    (the kernel's "scratched" ones), then the references held; scalars in ``precise_regs`` and spilled
    in ``precise_slots`` print with their ``P``, every scalar with ``all_precise`` (an unprivileged walk, where
    ``mark_reg_unknown`` makes each one precise)."""
    out = [f"frame{frame.frameno}:"] if frame.frameno else []
    for i, r in enumerate(frame.regs):
        if r.type != NOT_INIT and (regs is None or i in regs):
            out.append(f"R{i}={reg_str(r, maps, frame.frameno, all_precise or i in precise_regs)}")
    for slot in range((len(frame.stack) + SLOT - 1) // SLOT):
        if slots is not None and slot not in slots:
            continue
        text = slot_str(frame, slot, maps, all_precise or slot in precise_slots)
        if text is not None:
            out.append(text)
    if refs:
        out.append("refs=" + ",".join(str(r) for r in refs))
    if frame.in_callback_fn:
        out.append("cb")  # print_verifier_state marks a callback's frame
    return " ".join(out)
