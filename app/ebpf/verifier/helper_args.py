"""Helper calls: ``check_helper_call``: the helper must exist for the program type, each argument must
match the prototype of the helper table (``check_func_arg``), then r0 gets the return type and r1-r5 are
clobbered. References (ring buffer records) are acquired and released here."""
from __future__ import annotations

from dataclasses import replace

from ..helpers import HELPER_NAMES, HELPERS, helper_available
from . import bounds as B
from .callbacks import SYNC_CALLBACK_HELPERS, push_callback_call
from .map_compat import map_func_problem, tail_call_map_problem
from .stack_range import check_stack_range_initialized
from .state import (
    CONST_PTR_TO_MAP,
    NOT_INIT,
    PTR_TO_CTX,
    PTR_TO_FUNC,
    PTR_TO_MAP_KEY,
    PTR_TO_MAP_VALUE,
    PTR_TO_MEM,
    PTR_TO_PACKET,
    PTR_TO_PACKET_END,
    PTR_TO_PACKET_META,
    PTR_TO_STACK,
    SCALAR,
    UNKNOWN,
    Reg,
    VerifierState,
    ptr,
)

MEMORY_TYPES = (PTR_TO_STACK, PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_MAP_KEY, PTR_TO_MAP_VALUE, PTR_TO_MEM)
EXPECTED = {
    "ARG_CONST_MAP_PTR": "map_ptr",
    "ARG_PTR_TO_CTX": "ctx",
    "ARG_PTR_TO_FUNC": "func",
    "ARG_PTR_TO_MAP_KEY": "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
    "ARG_PTR_TO_MAP_VALUE": "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
    "MEM": "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
}


def check_helper_call(w, idx: int, func_id: int, st: VerifierState) -> VerifierState:
    from .walk import Reject, check_ctx_off

    name = HELPER_NAMES.get(func_id)
    spec = HELPERS.get(func_id)
    if name is None:
        raise Reject(f"invalid func unknown#{func_id}", "EINVAL")
    if spec is None:  # the kernel has it; we cannot say which hooks offer it, nor check its arguments
        raise Reject(f"helper {name}#{func_id} is not modelled by this playground yet", "EINVAL")
    if not helper_available(func_id, w.prog_type, w.privileged):
        raise Reject(f"program of this type cannot use helper {name}#{func_id}", "EINVAL")
    regs = st.cur.regs
    map_index = -1
    released = None
    sized = None  # (regno, register, written) of a memory argument whose size argument comes next
    raw = None  # (regno, size) of fixed-offset stack memory the helper only writes (meta->raw_mode)
    subprog = -1  # ARG_PTR_TO_FUNC: the callback's first instruction (meta->subprogno)
    const_key = None  # ARG_PTR_TO_MAP_KEY: (value, spilled slot) of a constant array key (meta->const_map_key)
    for i, arg in enumerate(spec.args, start=1):
        r = regs[i]
        kind = arg.split("|")[0]
        if r.type == NOT_INIT:
            raise Reject(f"R{i} !read_ok")
        if kind == "ARG_ANYTHING":
            continue
        if kind == "ARG_CONST_MAP_PTR":
            if r.type != CONST_PTR_TO_MAP:
                raise Reject(f"R{i} type={r.type_name()} expected=map_ptr")
            map_index = r.map
        elif kind == "ARG_PTR_TO_CTX":
            if r.type != PTR_TO_CTX:
                raise Reject(f"R{i} type={r.type_name()} expected=ctx")
            check_ctx_off(i, r)  # check_func_arg_reg_off -> __check_ptr_off_reg, as for an access
        elif kind in ("ARG_PTR_TO_MAP_KEY", "ARG_PTR_TO_MAP_VALUE"):
            if r.type not in MEMORY_TYPES or r.maybe_null:
                raise Reject(f"R{i} type={r.type_name()} expected={EXPECTED[kind]}")
            m = w.program.maps[map_index]
            size = m.key_size if kind == "ARG_PTR_TO_MAP_KEY" else m.value_size
            if size == 0:  # a ring buffer's key: check_helper_mem_access refuses a zero-sized access
                raise Reject("invalid zero-sized read")
            st, raw = _check_memory(w, st, i, r, size, "MEM_UNINIT" in arg, raw)
            if kind == "ARG_PTR_TO_MAP_KEY" and w.privileged:  # get_constant_map_key: bpf_capable only
                const_key = _constant_map_key(st, r, m)  # meta->const_map_key
                if const_key is not None and const_key[1] is not None:
                    w.mark_precise(st, slots=(const_key[1],))  # it relies on the spilled key's exact value
        elif kind in ("ARG_PTR_TO_MEM", "ARG_PTR_TO_UNINIT_MEM", "ARG_PTR_TO_MEM_OR_NULL"):
            nullable = "MAYBE_NULL" in arg or kind == "ARG_PTR_TO_MEM_OR_NULL"
            if nullable and r.type == SCALAR and r.b.is_const() and r.b.var_off.value == 0:
                sized = None
                continue
            if r.type not in MEMORY_TYPES or r.maybe_null:
                raise Reject(f"R{i} type={r.type_name()} expected={EXPECTED['MEM']}")
            sized = (i, r, kind == "ARG_PTR_TO_UNINIT_MEM" or "MEM_UNINIT" in arg)  # checked with the size
        elif kind in ("ARG_CONST_SIZE", "ARG_CONST_SIZE_OR_ZERO"):
            # check_mem_size_reg: the size's bounds, then the memory before it for umax bytes
            if r.type != SCALAR:
                raise Reject(f"R{i} type={r.type_name()} expected=scalar")
            if r.b.smin < 0:
                raise Reject(f"R{i} min value is negative, either use unsigned or 'var &= const'")
            if kind == "ARG_CONST_SIZE" and r.b.umin == 0:
                raise Reject(f"R{i} invalid zero-sized read: u64=[{B.s64(r.b.umin)},{B.s64(r.b.umax)}]")
            if r.b.umax >= 1 << 29:
                raise Reject(f"R{i} unbounded memory access, use 'var &= const' or 'if (var < const)'")
            if sized is not None and r.b.umax:
                # a variable size is no raw mode (check_mem_size_reg: meta = NULL): the helper may fill only
                # part of the buffer, so all of it is checked (and read, for stack liveness) and clobbered
                st, raw = _check_memory(w, st, sized[0], sized[1], r.b.umax, sized[2], raw,
                                        raw_mode=r.b.is_const())
            sized = None
            w.mark_precise(st, i)  # check_mem_size_reg: the access was checked for the size's exact bounds
        elif kind == "ARG_CONST_ALLOC_SIZE_OR_ZERO":
            if r.type != SCALAR:
                raise Reject(f"R{i} type={r.type_name()} expected=scalar")
            if not r.b.is_const():
                raise Reject(f"R{i} is not a known constant'")
            w.mark_precise(st, i)  # the record's size is this constant
        elif kind == "ARG_PTR_TO_FUNC":
            if r.type != PTR_TO_FUNC:
                raise Reject(f"R{i} type={r.type_name()} expected=func")
            subprog = r.subprog
        elif kind == "ARG_PTR_TO_STACK_OR_NULL":
            if not (r.type == PTR_TO_STACK or r.type == SCALAR and r.b.is_const() and r.b.var_off.value == 0):
                raise Reject(f"R{i} type={r.type_name()} expected=fp")
        elif kind == "ARG_PTR_TO_RINGBUF_MEM":
            if r.type != PTR_TO_MEM or r.maybe_null or not r.ref_obj_id:
                raise Reject(f"R{i} type={r.type_name()} expected=ringbuf_mem")
            if r.off:
                raise Reject(f"R{i} must have zero offset when passed to release func or trusted arg to kfunc")
            released = r.ref_obj_id
        elif kind == "ARG_PTR_TO_SPIN_LOCK":
            if r.type != PTR_TO_MAP_VALUE:
                raise Reject(f"R{i} type={r.type_name()} expected=map_value")
        elif kind == "ARG_PTR_TO_CONST_STR":
            if r.type != PTR_TO_MAP_VALUE:
                raise Reject(f"R{i} type={r.type_name()} expected=map_value")
    if 0 <= map_index < len(w.program.maps):
        problem = tail_call_map_problem(spec.name, w.program.maps[map_index].type)  # record_func_key
        if problem:
            raise Reject(problem, "EINVAL")
    if raw is not None:  # check_helper_call: the written bytes become misc data, one byte store at a time
        for i in range(raw[1]):
            st = w.mem_access(st, raw[0], regs[raw[0]], i, 1, write=True)
    st = _release(w, st, released) if released else st
    if subprog >= 0 and func_id in SYNC_CALLBACK_HELPERS:  # the switch on func_id: push_callback_call
        st = push_callback_call(w, idx, func_id, st, subprog, map_index)
    if 0 <= map_index < len(w.program.maps):
        map_type = w.program.maps[map_index].type
        problem = map_func_problem(spec.name, func_id, map_type)
        if problem:  # the kernel checks this after setting r0; nothing between can fail here
            raise Reject(problem, "EINVAL")
        index = regs[3]
        if spec.name == "bpf_tail_call" and index.type == SCALAR and index.b.is_const() \
                and index.b.var_off.value < w.program.maps[map_index].max_entries:
            w.mark_precise(st, 3)  # record_func_key: a constant index in range is remembered
    frame = st.cur
    regs = list(frame.regs)
    for i in range(1, 6):
        regs[i] = Reg()
    ret = spec.ret
    if ret == "RET_VOID":
        regs[0] = Reg()
    elif ret == "RET_PTR_TO_MAP_VALUE_OR_NULL":
        if spec.name == "bpf_map_lookup_elem" and const_key is not None \
                and const_key[0] < w.program.maps[map_index].max_entries:
            regs[0] = ptr(PTR_TO_MAP_VALUE, map=map_index)  # a constant in-range array index cannot miss
        else:
            new_id, st = st.new_id()
            regs[0] = ptr(PTR_TO_MAP_VALUE, map=map_index, maybe_null=True, id=new_id)
    elif ret == "RET_PTR_TO_RINGBUF_MEM_OR_NULL":
        # check_helper_call: a value-or-null return takes an id (++id_gen), then acquire_reference takes the
        # next, which becomes both the register's id and its ref_obj_id (the first is never seen)
        _, st = st.new_id()
        ref_id, st = st.new_id()
        size = frame.regs[2].b.umax
        regs[0] = ptr(PTR_TO_MEM, maybe_null=True, id=ref_id, ref_obj_id=ref_id, mem_size=size)
        st = replace(st, refs=st.refs + ((ref_id, idx),))
    else:
        regs[0] = UNKNOWN
    st = st.with_frame(replace(st.cur, regs=tuple(regs)))
    return _clear_packet_pointers(w, st) if spec.changes_pkt_data else st


def _clear_packet_pointers(w, st: VerifierState) -> VerifierState:
    """``clear_all_pkt_pointers`` after a helper that may move the packet: every packet pointer, in every
    frame and stack slot, becomes invalid (``mark_reg_invalid``: unknown for root, NOT_INIT otherwise)."""
    gone = UNKNOWN if w.privileged else Reg()

    def fix(r: Reg) -> Reg:
        return gone if r.type in (PTR_TO_PACKET, PTR_TO_PACKET_META, PTR_TO_PACKET_END) else r

    return st.map_regs(fix)


def _constant_map_key(st: VerifierState, key: Reg, m) -> tuple[int, tuple[int, int] | None] | None:
    """``get_constant_map_key``, for array maps: the value of a key the stack holds as a known constant, with
    the (frame, slot) of the spilled register it comes from (None for a key of zeroed bytes, which needs no
    register), or None when the key is not such a constant. A spill counts only when exactly ``key_size``
    bytes wide."""
    if m.type not in ("array", "percpu_array") or key.type != PTR_TO_STACK or not key.b.is_const():
        return None
    base = key.off + B.s64(key.b.var_off.value)
    frame_i = next((i for i, f in enumerate(st.frames) if f.frameno == key.frameno), None)
    if frame_i is None or not -512 <= base < 0:
        return None
    owner = st.frames[frame_i]
    slot = (-base - 1) // 8
    top = -slot * 8  # the slot's bytes are base .. top - 1
    if sum(1 for _ in _run(owner, base, top, "0")) >= m.key_size:
        return 0, None
    spilled = owner.spill_at(slot)
    if owner.byte(-slot * 8 - 8) != "r" or spilled is None or spilled.type != SCALAR:
        return None
    if sum(1 for _ in _run(owner, base, top, "r")) != m.key_size or not spilled.b.is_const():
        return None
    return spilled.b.var_off.value, (frame_i, slot)


def _run(frame, start: int, end: int, kind: str):
    """The bytes from ``start`` up (to ``end``) that are all of ``kind``."""
    for off in range(start, end):
        if frame.byte(off) != kind:
            return
        yield off


def _check_memory(w, st: VerifierState, regno: int, r: Reg, size: int, write: bool, raw, raw_mode: bool = True):
    """The helper reads or writes ``size`` bytes at ``r`` (``check_helper_mem_access``); returns the state and
    the raw-mode destination, which for fixed-offset stack the helper call marks written afterwards."""
    from .walk import Reject

    if r.type == PTR_TO_STACK:
        st = check_stack_range_initialized(w, st, regno, r, r.off, size, write=write, raw_mode=raw_mode)
        return st, (regno, size) if write and raw_mode and r.b.is_const() else raw
    if r.type == PTR_TO_MAP_KEY and write:  # a for_each callback's key is the map's own
        raise Reject(f"R{regno} cannot write into {r.type_name()}")
    w.mem_access(st, regno, r, 0, size, write=False)
    return st, raw


def _release(w, st: VerifierState, ref: int) -> VerifierState:
    """``release_reference``: drop reference ``ref``; every register holding it, in every frame and stack slot,
    goes through ``mark_reg_invalid``: an unknown scalar with allow_ptr_leaks (root), NOT_INIT otherwise."""
    gone = UNKNOWN if w.privileged else Reg()

    def fix(r: Reg) -> Reg:
        return gone if r.ref_obj_id == ref else r

    return replace(st.map_regs(fix), refs=tuple(x for x in st.refs if x[0] != ref))
