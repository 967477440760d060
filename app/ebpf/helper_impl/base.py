"""Helpers every program type may call: time, randomness, the current task, printing, strings, bpf_loop.

Each function is ``fn(vm, r1, r2, r3, r4, r5) -> r0`` and mirrors the kernel function named in its
docstring (``kernel/bpf/helpers.c``, ``kernel/trace/bpf_trace.c``). Values that would come from the
machine come from ``vm.env`` (see ``app.ebpf.env``) so that runs are deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..env import prandom_next
from ..vm.machine import Continuation, Machine
from .errno import E2BIG, EINVAL, neg
from .printf import PrintfError, format_printf

M64 = (1 << 64) - 1


def _clock(vm: Machine) -> int:
    """CLOCK_MONOTONIC in ns: the configured start, advancing by one tick per read."""
    st = vm.env_state
    value = vm.env.clock_start_ns + st.clock_reads * vm.env.clock_tick_ns
    st.clock_reads += 1
    return value & M64


def ktime_get_ns(vm, *_):
    """``bpf_ktime_get_ns``: monotonic time since boot, without suspend."""
    return _clock(vm)


def ktime_get_boot_ns(vm, *_):
    """``bpf_ktime_get_boot_ns``: like ktime_get_ns plus the time spent suspended."""
    return (_clock(vm) + vm.env.boot_offset_ns) & M64


def ktime_get_coarse_ns(vm, *_):
    """``bpf_ktime_get_coarse_ns``: monotonic time at the last timer tick (jiffy granularity)."""
    tick = 1_000_000_000 // vm.env.jiffies_hz
    now = _clock(vm)
    return now - now % tick


def ktime_get_tai_ns(vm, *_):
    """``bpf_ktime_get_tai_ns``: CLOCK_TAI."""
    return (_clock(vm) + vm.env.tai_offset_ns) & M64


def jiffies64(vm, *_):
    """``bpf_jiffies64``: timer ticks since boot."""
    return _clock(vm) * vm.env.jiffies_hz // 1_000_000_000


def get_prandom_u32(vm, *_):
    """``bpf_get_prandom_u32``: the next value of a seeded generator (``env.seed``)."""
    vm.env_state.rng, value = prandom_next(vm.env_state.rng)
    return value


def get_smp_processor_id(vm, *_):
    return vm.env.cpu


def get_numa_node_id(vm, *_):
    return vm.env.numa_node


def get_current_pid_tgid(vm, *_):
    """``bpf_get_current_pid_tgid``: ``tgid << 32 | pid`` (process id high, thread id low)."""
    return (vm.env.tgid << 32) | vm.env.pid


def get_current_uid_gid(vm, *_):
    return (vm.env.gid << 32) | vm.env.uid


def get_current_cgroup_id(vm, *_):
    return vm.env.cgroup_id


def get_current_comm(vm, buf, size, *_):
    """``bpf_get_current_comm``: the task name, NUL-terminated and truncated to ``size``."""
    if size == 0:
        return neg(EINVAL)
    name = vm.env.comm.encode()[: size - 1]
    vm.write(buf, name + bytes(size - len(name)))
    return 0


def trace_printk(vm, fmt, fmt_size, a1, a2, a3):
    """``bpf_trace_printk``: format with at most three arguments and write a line to trace_pipe."""
    return _printk(vm, fmt, fmt_size, (a1, a2, a3), "bpf_trace_printk")


def trace_vprintk(vm, fmt, fmt_size, data, data_len, *_):
    """``bpf_trace_vprintk``: like trace_printk, arguments in an array of u64 (what bpf_printk uses)."""
    if data_len % 8 or data_len > 12 * 8 or (data_len and not data):
        return neg(EINVAL)
    raw = vm.read(data, data_len) if data_len else b""
    args = tuple(int.from_bytes(raw[i:i + 8], "little") for i in range(0, data_len, 8))
    return _printk(vm, fmt, fmt_size, args, "bpf_trace_printk")


def _printk(vm: Machine, fmt: int, fmt_size: int, args: tuple[int, ...], event: str) -> int:
    if fmt_size == 0:
        return neg(EINVAL)
    text = vm.read(fmt, fmt_size)
    if b"\0" not in text:
        return neg(EINVAL)  # the format must be NUL-terminated within fmt_size
    try:
        msg = format_printf(vm, text.split(b"\0", 1)[0], args, max_args=3 if len(args) == 3 else 12)
    except PrintfError:
        return neg(EINVAL)
    now = vm.env.clock_start_ns + vm.env_state.clock_reads * vm.env.clock_tick_ns
    line = msg.decode("utf-8", "replace").rstrip("\n")
    stamp = f"{now // 1_000_000_000}.{now % 1_000_000_000 // 1000:06d}"
    vm.emit("trace_printk", f"{vm.env.comm:>16}-{vm.env.pid:<7} [{vm.env.cpu:03d}] d..31 {stamp}: {event}: {line}",
            msg)
    return len(msg)


def snprintf(vm, out, out_size, fmt, data, data_len):
    """``bpf_snprintf``: format into ``out`` (NUL-terminated, truncated); returns the full length + 1."""
    if data_len % 8 or data_len > 12 * 8:
        return neg(EINVAL)
    fmt_text = vm.read_cstr(fmt)
    raw = vm.read(data, data_len) if data_len else b""
    args = tuple(int.from_bytes(raw[i:i + 8], "little") for i in range(0, data_len, 8))
    try:
        msg = format_printf(vm, fmt_text, args, max_args=12)
    except PrintfError:
        return neg(EINVAL)
    if out_size:
        chunk = msg[: out_size - 1]
        vm.write(out, chunk + b"\0")
    return len(msg) + 1


def strncmp(vm, s1, s1_size, s2, *_):
    """``bpf_strncmp``: compare at most ``s1_size`` bytes of s1 with the constant string s2 (-1, 0, 1)."""
    a = vm.read(s1, s1_size)
    b = vm.read_cstr(s2)
    for i in range(s1_size):
        c1 = a[i]
        c2 = b[i] if i < len(b) else 0
        if c1 != c2:
            return (-1 if c1 < c2 else 1) & M64
        if c1 == 0:
            break
    return 0


def spin_lock(vm, lock, *_):
    """``bpf_spin_lock``: a program runs alone here, so taking the lock always succeeds at once."""
    vm.read(lock, 4)
    return 0


def spin_unlock(vm, lock, *_):
    vm.read(lock, 4)
    return 0


BPF_MAX_LOOPS = 1 << 23


@dataclass(frozen=True)
class LoopStep(Continuation):
    """``bpf_loop`` between two callback calls: iteration ``i`` of ``n`` has just returned."""

    callback: int
    n: int
    i: int
    ctx: int

    def resume(self, vm: Machine, r0: int, return_pc: int) -> int:
        done = self.i + 1
        if (r0 & 0xFFFFFFFF) != 0 or done == self.n:
            vm.R[0] = done  # callbacks return 0 to continue, 1 to stop
            return return_pc
        return vm.start_callback(self.callback, (done, self.ctx, 0, 0, 0),
                                 LoopStep(self.callback, self.n, done, self.ctx), return_pc)


def loop(vm, nr_loops, callback_fn, callback_ctx, flags, *_):
    """``bpf_loop``: call ``callback_fn(i, ctx)`` for i = 0.. until it returns 1 or nr_loops calls."""
    if flags:
        return neg(EINVAL)
    if nr_loops > BPF_MAX_LOOPS:
        return neg(E2BIG)
    if nr_loops == 0:
        return 0
    target = vm.pc_of_code_address(callback_fn)
    if target is None:
        return neg(EINVAL)
    vm.jump_to = vm.start_callback(target, (0, callback_ctx, 0, 0, 0), LoopStep(target, nr_loops, 0, callback_ctx),
                                   vm.pc + 1)
    return 0
