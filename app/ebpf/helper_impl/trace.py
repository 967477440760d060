"""Tracing helpers (``kernel/trace/bpf_trace.c``): reading kernel and user memory safely, the current task.

Kernel memory is everything the VM has mapped (stacks, maps, context, packet) plus the simulated kernel
blocks of ``env.memory``; user memory is the simulated user blocks. A read that is not entirely inside one
block fails with -EFAULT and zeroes the destination, as the kernel does.
"""
from __future__ import annotations

from ..vm.machine import Machine
from ..vm.memory import Access
from .errno import EFAULT, EINVAL, neg

BPF_F_SKIP_FIELD_MASK = 0xFF
BPF_F_USER_STACK = 1 << 8
BPF_F_USER_BUILD_ID = 1 << 11

TASK_SIZE = 0x00007FFFFFFFF000  # x86-64: addresses below this are user space
TASK_STRUCT_ADDR = 0xFFFF888110000000  # what bpf_get_current_task returns (nothing is mapped there)


def _read(vm: Machine, addr: int, size: int, user: bool) -> bytes | None:
    r = vm.mem.find(addr, size)
    if r is None or r.user != user or r.hooks is not None:
        return None
    data = vm.mem.read(addr, size)
    return None if isinstance(data, Access) else data


def _probe_read(vm: Machine, dst: int, size: int, src: int, user: bool) -> int:
    if size > 0x7FFFFFFF:
        return neg(EINVAL)
    data = _read(vm, src, size, user) if size else b""
    if data is None:
        vm.write(dst, bytes(size))
        return neg(EFAULT)
    vm.write(dst, data)
    return 0


def _probe_read_str(vm: Machine, dst: int, size: int, src: int, user: bool) -> int:
    """Copy a NUL-terminated string (at most size-1 bytes and the NUL); returns the length with the NUL."""
    if size == 0:
        return 0
    out = bytearray()
    while len(out) < size - 1:
        b = _read(vm, src + len(out), 1, user)
        if b is None:
            vm.write(dst, bytes(size))
            return neg(EFAULT)
        if b == b"\0":
            break
        out += b
    vm.write(dst, bytes(out) + b"\0")
    return len(out) + 1


def probe_read_kernel(vm, dst, size, src, *_):
    return _probe_read(vm, dst, size, src, False)


def probe_read_user(vm, dst, size, src, *_):
    return _probe_read(vm, dst, size, src, True)


def probe_read_kernel_str(vm, dst, size, src, *_):
    return _probe_read_str(vm, dst, size, src, False)


def probe_read_user_str(vm, dst, size, src, *_):
    return _probe_read_str(vm, dst, size, src, True)


def probe_read(vm, dst, size, src, *_):
    """The legacy ``bpf_probe_read``: user space below TASK_SIZE, kernel above (``bpf_probe_read_compat``)."""
    return _probe_read(vm, dst, size, src, src < TASK_SIZE)


def probe_read_str(vm, dst, size, src, *_):
    return _probe_read_str(vm, dst, size, src, src < TASK_SIZE)


def get_current_task(vm, *_):
    """``bpf_get_current_task``: the task_struct's address, as a number (nothing can be read there)."""
    return TASK_STRUCT_ADDR


def get_stack(vm, ctx, buf, size, flags, *_):
    """``bpf_get_stack``: the kernel (or, with BPF_F_USER_STACK, the user) stack from ``env``, one u64
    instruction address per frame, innermost first, after skipping ``flags & 0xff`` frames; returns the
    number of bytes written. The playground's stacks are what ``env.kernel_stack``/``user_stack`` say."""
    if flags & ~(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID) or size % 8:
        return neg(EINVAL)
    if flags & BPF_F_USER_BUILD_ID:
        return neg(EINVAL)  # build-id stacks need ELF build ids the playground does not have
    frames = vm.env.user_stack if flags & BPF_F_USER_STACK else vm.env.kernel_stack
    frames = frames[flags & BPF_F_SKIP_FIELD_MASK:][: size // 8]
    data = b"".join((ip & ((1 << 64) - 1)).to_bytes(8, "little") for ip in frames)
    vm.write(buf, data + bytes(size - len(data)))
    return len(data)


def get_func_ip(vm, ctx, *_):
    """``bpf_get_func_ip``: in a kprobe, the probed function's address (``env.func_ip``); the playground
    returns 0 in the other tracing program types, which have no single probed function here."""
    return vm.env.func_ip if vm.prog_type in ("kprobe", "raw") else 0
