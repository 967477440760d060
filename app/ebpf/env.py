"""The deterministic world a run happens in: clock, randomness, CPU, current task, and the simulated kernel
and user memory that ``bpf_probe_read_*`` reads.

Everything a helper could take from the real machine comes from here instead, so the same program on the
same input gives the same result, and a user can see and set every value.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import InputError

USER_BASE = 0x00007F0000000000  # where simulated user memory starts by default
KERNEL_DATA_BASE = 0xFFFF888300000000  # where simulated kernel memory starts by default


@dataclass(frozen=True)
class MemoryBlock:
    """Simulated memory for probe reads: ``data`` at ``addr``; ``user`` says which address space."""

    addr: int
    data: bytes
    user: bool = False
    name: str = ""


@dataclass(frozen=True)
class Env:
    """Values a run's helpers return. Clocks advance by ``clock_tick_ns`` on every read."""

    clock_start_ns: int = 1_000_000_000_000  # ktime_get_ns() at the first call: 1000 s after boot
    clock_tick_ns: int = 1_000  # added after each clock read
    boot_offset_ns: int = 0  # CLOCK_BOOTTIME - CLOCK_MONOTONIC (time spent suspended)
    tai_offset_ns: int = 1_700_000_000_000_000_000  # CLOCK_TAI - CLOCK_MONOTONIC
    jiffies_hz: int = 250
    seed: int = 1  # get_prandom_u32 sequence
    cpu: int = 0
    ncpus: int = 2
    numa_node: int = 0
    pid: int = 4242  # thread id
    tgid: int = 4242  # process id
    uid: int = 1000
    gid: int = 1000
    comm: str = "playground"
    cgroup_id: int = 1
    # the socket a networking program's packet belongs to: BPF_PROG_TEST_RUN gives the skb a socket of its own
    # (sock_init_data: owned by uid 0), whose cookie the kernel takes from a global counter
    socket_uid: int = 0
    socket_cookie: int = 1
    func_ip: int = 0xFFFFFFFF81400000  # the probed function's address, for bpf_get_func_ip in kprobes
    kernel_stack: tuple[int, ...] = (0xFFFFFFFF81400004, 0xFFFFFFFF81234567, 0xFFFFFFFF81000123)
    user_stack: tuple[int, ...] = (0x00005555555551A9, 0x00007FFFF7C29D90)
    memory: tuple[MemoryBlock, ...] = field(default_factory=tuple)

    def check(self) -> None:
        """Raise InputError naming the first unusable field."""
        for name in ("clock_start_ns", "clock_tick_ns", "boot_offset_ns", "tai_offset_ns", "seed", "pid", "tgid",
                     "uid", "gid", "cgroup_id", "socket_uid", "socket_cookie"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value < (1 << 64):
                raise InputError(f"env.{name}", "must be an integer between 0 and 2^64-1")
        for name in ("kernel_stack", "user_stack"):
            frames = getattr(self, name)
            if len(frames) > 127 or any(not 0 <= ip < (1 << 64) for ip in frames):
                raise InputError(f"env.{name}", "at most 127 addresses, each a 64-bit number")
        if not 1 <= self.ncpus <= 64:
            raise InputError("env.ncpus", "must be between 1 and 64")
        if not 0 <= self.cpu < self.ncpus:
            raise InputError("env.cpu", f"must be between 0 and ncpus-1 ({self.ncpus - 1})")
        if not 1 <= self.jiffies_hz <= 10_000:
            raise InputError("env.jiffies_hz", "must be between 1 and 10000")
        if len(self.comm.encode()) > 15:
            raise InputError("env.comm", "at most 15 bytes (TASK_COMM_LEN is 16 with the NUL)")
        total = 0
        for i, block in enumerate(self.memory):
            total += len(block.data)
            if not 0 <= block.addr < (1 << 64) - len(block.data):
                raise InputError(f"env.memory[{i}]", "address out of range")
        if total > 1 << 20:
            raise InputError("env.memory", "simulated memory is limited to 1 MiB in total")

    def to_json(self) -> dict:
        return {"clock_start_ns": self.clock_start_ns, "clock_tick_ns": self.clock_tick_ns, "seed": self.seed,
                "cpu": self.cpu, "ncpus": self.ncpus, "pid": self.pid, "tgid": self.tgid, "uid": self.uid,
                "gid": self.gid, "comm": self.comm}


@dataclass
class EnvState:
    """What changes during a run: the clock and the random generator (snapshotted with the machine)."""

    clock_reads: int = 0
    rng: int = 0


def prandom_next(state: int) -> tuple[int, int]:
    """One step of SplitMix64: (new state, a 32-bit output). Deterministic and well mixed."""
    state = (state + 0x9E3779B97F4A7C15) & ((1 << 64) - 1)
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & ((1 << 64) - 1)
    z ^= z >> 31
    return state, z & 0xFFFFFFFF
