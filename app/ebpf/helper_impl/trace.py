"""Tracing helpers (``kernel/trace/bpf_trace.c``): reading kernel and user memory safely, the current task.

Kernel memory is everything the VM has mapped (stacks, maps, context, packet) plus the simulated kernel
blocks of ``env.memory``; user memory is the simulated user blocks. A read that is not entirely inside one
block fails with -EFAULT and zeroes the destination, as the kernel does.
"""
from __future__ import annotations

from ..vm.machine import Machine
from ..vm.memory import Access
from .errno import EFAULT, EINVAL, neg

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
