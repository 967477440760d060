"""Map helpers (``kernel/bpf/helpers.c``, ``ringbuf.c``, ``bpf_trace.c``): lookups return pointers into
the map's memory, updates return 0 or a negative errno, ring buffer records and perf events become
output records of the run."""
from __future__ import annotations

from dataclasses import dataclass

from ..vm.machine import Continuation, GuestFault, Machine, VmFault
from ..vm.memory import Region
from .errno import EINVAL, neg

BPF_F_CURRENT_CPU = 0xFFFFFFFF
BPF_F_INDEX_MASK = 0xFFFFFFFF
BPF_F_CTXLEN_MASK = 0xFFFFF << 32
SCRATCH_BASE = 0xFFFF888106000000  # where for_each_map_elem puts the key it passes to the callback


def _map(vm: Machine, addr: int):
    return vm.map_at(addr)


def _key(vm: Machine, m, key: int) -> bytes:
    return vm.read(key, m.mdef.key_size) if m.mdef.key_size else b""


def map_lookup_elem(vm, map_addr, key, *_):
    m = _map(vm, map_addr)
    return m.lookup(_key(vm, m, key), vm.env.cpu) or 0


def map_lookup_percpu_elem(vm, map_addr, key, cpu, *_):
    m = _map(vm, map_addr)
    if cpu >= vm.env.ncpus:
        return 0
    return m.lookup(_key(vm, m, key), cpu) or 0


def map_update_elem(vm, map_addr, key, value, flags, *_):
    m = _map(vm, map_addr)
    return m.update(_key(vm, m, key), vm.read(value, m.mdef.value_size), flags, vm.env.cpu) & ((1 << 64) - 1)


def map_delete_elem(vm, map_addr, key, *_):
    m = _map(vm, map_addr)
    return m.delete(_key(vm, m, key)) & ((1 << 64) - 1)


def map_push_elem(vm, map_addr, value, flags, *_):
    m = _map(vm, map_addr)
    return m.push(vm.read(value, m.mdef.value_size), flags) & ((1 << 64) - 1)


def _pop_or_peek(vm: Machine, map_addr: int, value: int, peek: bool) -> int:
    m = _map(vm, map_addr)
    got = m.peek() if peek else m.pop()
    if isinstance(got, int):
        vm.write(value, bytes(m.mdef.value_size))  # the kernel zeroes the buffer when there is nothing
        return got & ((1 << 64) - 1)
    vm.write(value, got)
    return 0


def map_pop_elem(vm, map_addr, value, *_):
    return _pop_or_peek(vm, map_addr, value, False)


def map_peek_elem(vm, map_addr, value, *_):
    m = _map(vm, map_addr)
    if m.mdef.type == "bloom_filter":  # peek tests membership of the value
        return m.peek(vm.read(value, m.mdef.value_size)) & ((1 << 64) - 1)
    return _pop_or_peek(vm, map_addr, value, True)


def ringbuf_output(vm, rb, data, size, flags, *_):
    m = _map(vm, rb)
    if flags & ~3:
        return neg(EINVAL)
    record = vm.read(data, size) if size else b""
    err = m.output(record)
    if err == 0:
        vm.emit("ringbuf", f"{m.mdef.name}: {len(record)}-byte record", record)
    return err & ((1 << 64) - 1)


def ringbuf_reserve(vm, rb, size, flags, *_):
    m = _map(vm, rb)
    if flags:
        return 0
    return m.reserve(size) or 0


def _ringbuf_of(vm: Machine, addr: int):
    for m in vm.maps:
        if m.mdef.type == "ringbuf" and any(r.base <= addr < r.end for r in m.regions()):
            return m
    raise GuestFault(VmFault(vm.pc, "helper", f"0x{addr:x} is not a ring buffer record"))


def _release(vm: Machine, data: int, flags: int, discard: bool) -> int:
    m = _ringbuf_of(vm, data)
    header = vm.mem.read(data - 8, 4)
    size = int.from_bytes(header, "little") & 0x3FFFFFFF if isinstance(header, bytes) else 0
    record = vm.mem.read(data, size) if size else b""
    err = m.discard(data, flags) if discard else m.submit(data, flags)
    if err == 0 and not discard and isinstance(record, bytes):
        vm.emit("ringbuf", f"{m.mdef.name}: {len(record)}-byte record", record)
    if err:
        what = "discarded" if discard else "submitted"
        raise GuestFault(VmFault(vm.pc, "helper", f"0x{data:x} is not a reserved ring buffer record (already "
                                                  f"{what}, or never reserved)"))
    return 0


def ringbuf_submit(vm, data, flags, *_):
    return _release(vm, data, flags, False)


def ringbuf_discard(vm, data, flags, *_):
    return _release(vm, data, flags, True)


def ringbuf_query(vm, rb, flags, *_):
    return _map(vm, rb).query(flags)


def perf_event_output(vm, ctx, map_addr, flags, data, size):
    """``bpf_perf_event_output``: a record on a CPU's perf buffer; for skb programs the upper 32 bits
    of flags (BPF_F_CTXLEN_MASK) append that many packet bytes."""
    m = _map(vm, map_addr)
    if flags & ~(BPF_F_INDEX_MASK | BPF_F_CTXLEN_MASK):
        return neg(EINVAL)
    record = vm.read(data, size) if size else b""
    ctx_len = (flags & BPF_F_CTXLEN_MASK) >> 32
    if ctx_len and vm.packet is not None:
        record += vm.packet.data()[:ctx_len]
    err = m.output(vm.env.cpu, record, flags & BPF_F_INDEX_MASK)
    if err == 0:
        vm.emit("perf_event", f"{m.mdef.name}: {len(record)}-byte sample on CPU {vm.env.cpu}", record)
    return err & ((1 << 64) - 1)


MAX_TAIL_CALL_CNT = 33


def tail_call(vm, ctx, prog_array, index, *_):
    """``bpf_tail_call``: continue in the program of a prog_array slot, on the same stack, never to return.
    An empty slot, an index past the end, or a 34th tail call falls through to the next instruction with
    r0 unchanged, as in the kernel. Slots hold indexes into ``Program.entries``."""
    m = _map(vm, prog_array)
    target = m.target(index & 0xFFFFFFFF) if index < m.mdef.max_entries else None
    if target is None or vm.tail_calls >= MAX_TAIL_CALL_CNT:
        return vm.R[0]
    if vm.frames:
        raise GuestFault(VmFault(vm.pc, "unsupported", "a tail call from inside a bpf-to-bpf call: the "
                                                       "playground runs tail calls from the main program only"))
    name, pc = vm.program.entry_points()[target]
    vm.tail_calls += 1
    vm.emit("tail_call", f"tail call {vm.tail_calls} to {name} (insn {pc})")
    vm.jump_to = pc
    return vm.R[0]


@dataclass(frozen=True)
class ForEachStep(Continuation):
    """``bpf_for_each_map_elem`` between callback calls."""

    map_addr: int
    callback: int
    ctx: int
    keys: tuple[bytes, ...]
    done: int

    def resume(self, vm: Machine, r0: int, return_pc: int) -> int:
        done = self.done + 1
        if (r0 & 0xFFFFFFFF) != 0 or not self.keys:
            vm.R[0] = done
            return return_pc
        return _visit(vm, self.map_addr, self.callback, self.ctx, self.keys, done, return_pc)


def _visit(vm: Machine, map_addr: int, callback: int, ctx: int, keys: tuple[bytes, ...], done: int,
           return_pc: int) -> int:
    m = vm.map_at(map_addr)
    key, rest = keys[0], keys[1:]
    value = m.lookup(key, vm.env.cpu) or 0
    scratch = next((r for r in vm.mem.regions if r.name == "for_each key"), None)
    if scratch is None:
        scratch = vm.mem.add(Region("for_each key", SCRATCH_BASE, bytearray(max(8, len(key))), writable=False))
    scratch.data[:len(key)] = key
    return vm.start_callback(callback, (map_addr, SCRATCH_BASE, value, ctx, 0),
                             ForEachStep(map_addr, callback, ctx, rest, done), return_pc)


def for_each_map_elem(vm, map_addr, callback_fn, callback_ctx, flags, *_):
    """``bpf_for_each_map_elem``: call ``cb(map, &key, &value, ctx)`` for each element until it returns 1;
    returns how many elements were visited."""
    if flags:
        return neg(EINVAL)
    m = _map(vm, map_addr)
    target = vm.pc_of_code_address(callback_fn)
    if target is None:
        return neg(EINVAL)
    keys = []
    key = m.get_next_key(None)
    while key is not None and len(keys) < m.mdef.max_entries:
        keys.append(key)
        key = m.get_next_key(key)
    if not keys:
        return 0
    vm.jump_to = _visit(vm, map_addr, target, callback_ctx, tuple(keys), 0, vm.pc + 1)
    return 0
