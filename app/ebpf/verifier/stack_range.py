"""Stack accesses that cover a range of bytes: loads and stores through a stack pointer with a variable
offset, and stack memory passed to a helper.

A variable-offset pointer (``fp-16`` plus a bounded scalar) may touch any byte from its lowest to its highest
offset, so the kernel checks and updates every byte it may touch rather than one slot:

- ``check_stack_access_within_bounds``: the whole range lies inside the frame (the lowest byte may go down to
  fp-512, or for an unprivileged read only as deep as the stack written so far), and grows the frame's stack
  to the deepest byte (``grow_stack_state``);
- ``check_stack_write_var_off``: each byte the store may write becomes misc data, except that zero written
  onto a byte already known zero stays zero and a spilled zero stays spilled; any other spill in the range is
  destroyed, all of its slot turning into misc data (``scrub_spilled_slot``);
- ``check_stack_read_var_off``: the range must be initialised (``check_stack_range_initialized``) and the
  load gives zero if every byte is known zero, else an unknown scalar (``mark_reg_stack_read``);
- ``check_stack_range_initialized`` also checks a helper's memory argument on the stack, fixed or variable,
  and a helper writing through a variable offset (which cannot be tracked byte by byte) clobbers the range.

Unprivileged loaders never get a variable-offset stack pointer (``sanitize_check_bounds`` refuses the pointer
arithmetic, see ``Walker.pointer_alu``); the kernel's unprivileged branches of the variable-offset write
("spilled ptr in range of var-offset stack write", "uninit stack in range ...") are unreachable with Spectre
mitigations on, so they are not modelled. Unprivileged helpers reading fixed-offset stack are.
"""
from __future__ import annotations

from dataclasses import replace

from . import bounds as B
from . import tnum as T
from .state import (
    MAX_BPF_STACK,
    SCALAR,
    STACK_INVALID,
    STACK_MISC,
    STACK_SPILL,
    STACK_ZERO,
    UNKNOWN,
    Frame,
    Reg,
    VerifierState,
    const,
)

MAX_VAR_OFF = 1 << 29  # BPF_MAX_VAR_OFF
SLOT = 8  # BPF_REG_SIZE


def frame_index(st: VerifierState, regno: int, reg: Reg) -> int:
    """Which frame of ``st`` the stack pointer ``reg`` points into (``func(env, reg)``)."""
    from .walk import Reject

    for i, f in enumerate(st.frames):
        if f.frameno == reg.frameno:
            return i
    raise Reject(f"R{regno} points to the stack of a function that has returned")


def with_frame_at(st: VerifierState, frame_i: int, frame: Frame) -> VerifierState:
    frames = list(st.frames)
    frames[frame_i] = frame
    return replace(st, frames=tuple(frames))


def allocated_stack(frame: Frame) -> int:
    """``allocated_stack``: the bytes the frame's stack has grown to, in whole slots."""
    return -(-len(frame.stack) // SLOT) * SLOT


def check_stack_access_within_bounds(w, st: VerifierState, regno: int, reg: Reg, off: int, size: int,
                                     write: bool) -> int:
    """``check_stack_access_within_bounds``: every byte ``off`` (which includes ``reg.off``) plus the pointer's
    variable part may reach lies in [fp-512, fp-1]; an unprivileged read may not go below the stack allocated
    so far (``check_stack_slot_within_bounds``). Returns the lowest offset and records it as the frame's depth
    (``grow_stack_state``)."""
    from .walk import Reject

    what = " write to" if write else " read from"
    b = reg.b
    if b.is_const():
        min_off = B.s64(b.var_off.value) + off
        max_off = min_off + size
    else:
        if b.smax >= MAX_VAR_OFF or b.smin <= -MAX_VAR_OFF:
            raise Reject(f"invalid unbounded variable-offset{what} stack R{regno}")
        min_off = b.smin + off
        max_off = b.smax + off + size
    frame = st.frames[frame_index(st, regno, reg)]
    lowest = -MAX_BPF_STACK if write or w.privileged else -allocated_stack(frame)
    errno = "EACCES" if not lowest <= min_off <= -1 else "EINVAL" if max_off > 0 else ""
    if errno:
        if b.is_const():
            raise Reject(f"invalid{what} stack R{regno} off={off} size={size}", errno)
        raise Reject(f"invalid variable-offset{what} stack R{regno} var_off={T.strn(b.var_off)} off={off} "
                     f"size={size}", errno)
    w.grow_stack(frame.subprog, -min_off)
    return min_off


def check_var_off_alignment(regno: int, reg: Reg, off: int, size: int) -> None:
    """``check_generic_ptr_alignment`` (stack accesses are always strict): every offset the pointer may hold
    must be a multiple of the access size."""
    from .walk import Reject

    if not T.is_aligned(T.add(reg.b.var_off, T.const((reg.off + off) & B.U64_MAX)), size):
        raise Reject(f"misaligned stack access off {T.strn(reg.b.var_off)}+{reg.off}+{off} size {size}")


def stack_access_var_off(w, st: VerifierState, regno: int, reg: Reg, off: int, size: int, write: bool,
                         value: Reg | None, value_regno: int):
    """``check_mem_access`` on a stack pointer whose offset is not a constant: alignment, bounds, then
    ``check_stack_write_var_off`` (returns the new state) or ``check_stack_read`` (returns the loaded
    register). ``off`` is the instruction's offset. For a read ``value_regno`` is the destination register,
    -1 when there is none (the read half of an atomic)."""
    from .walk import Reject

    check_var_off_alignment(regno, reg, off, size)
    check_stack_access_within_bounds(w, st, regno, reg, reg.off + off, size, write)
    if write:
        return check_stack_write_var_off(st, frame_index(st, regno, reg), reg, reg.off + off, size, value, w,
                                         value_regno)
    if value_regno < 0:  # check_stack_read: a read into no register must have a fixed offset
        raise Reject(f"variable offset stack pointer cannot be passed into helper function; "
                     f"var_off={T.strn(reg.b.var_off)} off={reg.off + off} size={size}")
    return check_stack_read_var_off(w, st, regno, reg, reg.off + off, size)


def check_stack_write_var_off(st: VerifierState, frame_i: int, reg: Reg, off: int, size: int,
                              value: Reg | None, w=None, value_regno: int = -1) -> VerifierState:
    """``check_stack_write_var_off`` (privileged): the store may write any of the bytes from
    ``smin + off`` to ``smax + off + size``, so each becomes ``STACK_MISC``, except that zero written onto a
    byte that is ``STACK_ZERO`` keeps it, and zero written onto a spilled scalar zero keeps the spill. Any
    other spill the range touches is destroyed: the register is forgotten and every byte of its slot that
    was initialised becomes misc data (``scrub_spilled_slot``), so a later fill reads an unknown scalar.
    A zero kept that way relies on the stored register being exactly zero: it is marked precise (``w``, the
    walker, and ``value_regno``, the register stored)."""
    frame = st.frames[frame_i]
    zero_used = False
    min_off, max_off = reg.b.smin + off, reg.b.smax + off + size
    writing_zero = value is not None and value.type == SCALAR and value.b.is_const() and value.b.var_off.value == 0
    stack = list(frame.stack) + [STACK_INVALID] * max(0, -min_off - len(frame.stack))
    spills = dict(frame.spilled)
    for i in range(min_off, max_off):
        j = -i - 1
        slot = j // SLOT
        spilled = spills.get(slot)
        is_spill = spilled is not None and stack[slot * SLOT + SLOT - 1] == STACK_SPILL
        if writing_zero and stack[j] == STACK_SPILL and is_spill and spilled.type == SCALAR \
                and spilled.b.is_const() and spilled.b.var_off.value == 0:
            zero_used = True
            continue  # zero onto a spilled zero: the spill stays
        if is_spill:
            del spills[slot]
            for k in range(slot * SLOT, slot * SLOT + SLOT):
                if stack[k] != STACK_INVALID:
                    stack[k] = STACK_MISC
        zero_used |= writing_zero and stack[j] == STACK_ZERO
        stack[j] = STACK_ZERO if writing_zero and stack[j] == STACK_ZERO else STACK_MISC
    if zero_used and w is not None and value_regno >= 0:
        w.mark_precise(st, value_regno)  # "backtracking doesn't work for STACK_ZERO yet"
    frame = replace(frame, stack=tuple(stack), spilled=tuple(sorted(spills.items())))
    return with_frame_at(st, frame_i, frame)


def check_stack_read_var_off(w, st: VerifierState, regno: int, reg: Reg, off: int, size: int) -> Reg:
    """``check_stack_read_var_off``: every byte the load may read must be initialised
    (``check_stack_range_initialized``); the result is zero when all of them are ``STACK_ZERO`` (a narrow
    load zero-extends), otherwise an unknown scalar (``mark_reg_stack_read``)."""
    check_stack_range_initialized(w, st, regno, reg, off, size, write=False, helper=False)
    frame = st.frames[frame_index(st, regno, reg)]
    min_off, max_off = reg.b.smin + off, reg.b.smax + off + size
    if all(frame.byte(i) == STACK_ZERO for i in range(min_off, max_off)):
        return const(0)
    return UNKNOWN


def check_stack_range_initialized(w, st: VerifierState, regno: int, reg: Reg, off: int, size: int, *,
                                  write: bool, helper: bool = True, raw_mode: bool = True) -> VerifierState:
    """``check_stack_range_initialized``: a helper reads (or, ``write``, fills) ``size`` bytes at ``reg``
    plus ``off``; also the check of a variable-offset load (``helper`` False, which skips the bounds check
    ``check_mem_access`` has made already).

    A fixed-offset destination a helper only writes (raw mode, not with a variable size: ``raw_mode``) needs no
    initialised bytes: the helper call then marks them written one by one (see ``helper_args``). Otherwise every byte the access may touch must
    be misc data or zero, a spilled scalar (any spill for a privileged loader), or for a privileged loader
    uninitialised. A helper writing through a variable offset or size clobbers them all: bytes become
    ``STACK_MISC`` and spills are forgotten (scrubbed). Every slot checked counts as read for stack liveness
    (``bpf_mark_stack_read``), a raw-mode destination's none."""
    from .walk import Reject

    if helper:
        check_stack_access_within_bounds(w, st, regno, reg, off, size, write)
    frame_i = frame_index(st, regno, reg)
    frame = st.frames[frame_i]
    var = not reg.b.is_const()
    if var:
        min_off, max_off = reg.b.smin + off, reg.b.smax + off
    else:
        if write and raw_mode:
            return st  # raw mode: check_helper_call writes the bytes afterwards
        min_off = max_off = B.s64(reg.b.var_off.value) + off
    stack = list(frame.stack) + [STACK_INVALID] * max(0, -min_off - len(frame.stack))
    spills = dict(frame.spilled)
    for i in range(min_off, max_off + size):
        j = -i - 1
        slot = j // SLOT
        kind = stack[j]
        if kind == STACK_MISC:
            continue
        if kind == STACK_ZERO or (kind == STACK_INVALID and w.privileged):
            if write:
                stack[j] = STACK_MISC  # the helper can write anything there
            continue
        spilled = spills.get(slot)
        if spilled is not None and stack[slot * SLOT + SLOT - 1] == STACK_SPILL \
                and (spilled.type == SCALAR or w.privileged):
            if write:  # __mark_reg_unknown, then scrub_spilled_slot: the slot no longer holds a spill
                del spills[slot]
                for k in range(slot * SLOT, slot * SLOT + SLOT):
                    if stack[k] != STACK_INVALID:
                        stack[k] = STACK_MISC
            continue
        if var:
            raise Reject(f"invalid read from stack R{regno} var_off {T.strn(reg.b.var_off)}+{i - min_off} "
                         f"size {size}")
        raise Reject(f"invalid read from stack R{regno} off {min_off}+{i - min_off} size {size}")
    # every slot touched counts as read (bpf_mark_stack_read), even one the helper then clobbers
    mask = 0
    for slot in range((-(max_off + size)) // SLOT, (-min_off - 1) // SLOT + 1):
        mask |= 1 << slot
    w.stack_live.mark_read(st, frame_i, w.cur_idx, mask)
    if not write:
        return st
    frame = replace(frame, stack=tuple(stack), spilled=tuple(sorted(spills.items())))
    return with_frame_at(st, frame_i, frame)
