"""The real kernel as a test oracle: a small ctypes wrapper around bpf(2).

The playground's verifier and VM (``app/ebpf``) are pure Python; this module is the reference they are
compared against in differential tests. It hands raw bytecode to the running kernel and reports what the
kernel decided, nothing more:

* ``BPF_PROG_LOAD``      -> :func:`verify_in_kernel` (load, read the verifier log, close) and
                            :func:`load_program` (keep the fd for test runs);
* ``BPF_PROG_TEST_RUN``  -> :meth:`LoadedProgram.test_run`;
* ``BPF_MAP_CREATE`` and the element commands -> :func:`create_map` / :class:`KernelMap`;
* ``BPF_BTF_LOAD``       -> :func:`load_btf` (a program's BTF, for ``func_info``).

No program is ever attached to a hook, interface, kprobe or cgroup: every object lives only as long as
its file descriptor, which the context managers close.

Only the standard library is used. The ``union bpf_attr`` layouts below are written out as
``ctypes.Structure`` classes with the fields in kernel order and their byte offsets in comments (from
``include/uapi/linux/bpf.h``); :func:`_check_layout` re-checks those offsets at import time. The attr
handed to the kernel is zero-filled and :data:`_ATTR_SIZE` (160) bytes long: a kernel whose union is
larger reads the missing tail as zero, and one whose union is smaller accepts the extra bytes because
they are zero (``bpf_check_uabi_size``).

Map references in raw bytecode
------------------------------
A program refers to a map the way a loader does after relocation: a 16-byte ``ld_imm64`` (opcode
``0x18``) with ``src_reg = 1`` (:data:`BPF_PSEUDO_MAP_FD`) and ``imm`` = the map's fd in this process;
the second half is all zero. ``src_reg = 2`` (:data:`BPF_PSEUDO_MAP_VALUE`) points into an array map's
value at ``imm`` of the second half; ``src_reg = 5 / 6`` (``BPF_PSEUDO_MAP_IDX`` / ``_IDX_VALUE``) use
``imm`` as an index into ``fd_array``. For example, ``r1 = map[fd] ll`` for map fd 5 is::

    18 11 00 00 05 00 00 00   00 00 00 00 00 00 00 00

The kernel keeps its own reference to each map a loaded program uses, so the map fd may be closed
before the program.

Differences from libbpf worth knowing: no relocations, no ELF (BTF and ``func_info`` are passed when the
caller gives them, line info never); the program name is always ``pg_oracle``; on ``EAGAIN`` (a signal interrupted the verifier) a load is retried like libbpf does.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import mmap
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "BPF_ANY",
    "BPF_EXIST",
    "BPF_F_LOCK",
    "BPF_NOEXIST",
    "BPF_PSEUDO_MAP_FD",
    "BPF_PSEUDO_MAP_IDX",
    "BPF_PSEUDO_MAP_IDX_VALUE",
    "BPF_PSEUDO_MAP_VALUE",
    "ENOTSUPP",
    "MAP_TYPES",
    "PERCPU_MAP_TYPES",
    "PROG_TYPES",
    "KernelMap",
    "KernelRejected",
    "KernelVerdict",
    "LoadedProgram",
    "TestRunResult",
    "bpf_available",
    "create_map",
    "load_btf",
    "load_program",
    "possible_cpus",
    "verify_in_kernel",
]

# --------------------------------------------------------------------------------------------------
# Constants from include/uapi/linux/bpf.h
# --------------------------------------------------------------------------------------------------

#: ``__NR_bpf`` per machine (``os.uname().machine``). Only x86-64 is exercised here.
_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280}

# enum bpf_cmd (only the commands this module is allowed to use)
_BPF_MAP_CREATE = 0
_BPF_MAP_LOOKUP_ELEM = 1
_BPF_MAP_UPDATE_ELEM = 2
_BPF_MAP_DELETE_ELEM = 3
_BPF_MAP_GET_NEXT_KEY = 4
_BPF_PROG_LOAD = 5
_BPF_PROG_TEST_RUN = 10
_BPF_BTF_LOAD = 18

_BPF_F_SLEEPABLE = 1 << 4  # prog_flags

#: Flags for :meth:`KernelMap.update` (``BPF_MAP_UPDATE_ELEM``).
BPF_ANY = 0  # create or update
BPF_NOEXIST = 1  # create only: EEXIST if the key is there
BPF_EXIST = 2  # update only: ENOENT if the key is absent
BPF_F_LOCK = 4  # spin-locked update (needs BTF; unusable from here, listed for completeness)

#: ``src_reg`` values of ``ld_imm64`` that name a map (see the module docstring).
BPF_PSEUDO_MAP_FD = 1
BPF_PSEUDO_MAP_VALUE = 2
BPF_PSEUDO_MAP_IDX = 5
BPF_PSEUDO_MAP_IDX_VALUE = 6

#: Kernel-internal errno returned by BPF_PROG_TEST_RUN for types without a test runner (not in errno).
ENOTSUPP = 524

#: enum bpf_prog_type, lower-case without the ``BPF_PROG_TYPE_`` prefix (0 = UNSPEC is omitted).
PROG_TYPES: dict[str, int] = {
    "socket_filter": 1,
    "kprobe": 2,
    "sched_cls": 3,
    "sched_act": 4,
    "tracepoint": 5,
    "xdp": 6,
    "perf_event": 7,
    "cgroup_skb": 8,
    "cgroup_sock": 9,
    "lwt_in": 10,
    "lwt_out": 11,
    "lwt_xmit": 12,
    "sock_ops": 13,
    "sk_skb": 14,
    "cgroup_device": 15,
    "sk_msg": 16,
    "raw_tracepoint": 17,
    "cgroup_sock_addr": 18,
    "lwt_seg6local": 19,
    "lirc_mode2": 20,
    "sk_reuseport": 21,
    "flow_dissector": 22,
    "cgroup_sysctl": 23,
    "raw_tracepoint_writable": 24,
    "cgroup_sockopt": 25,
    "tracing": 26,
    "struct_ops": 27,
    "ext": 28,
    "lsm": 29,
    "sk_lookup": 30,
    "syscall": 31,
    "netfilter": 32,
}

#: enum bpf_map_type, lower-case without the ``BPF_MAP_TYPE_`` prefix (the types the playground models).
MAP_TYPES: dict[str, int] = {
    "hash": 1,
    "array": 2,
    "prog_array": 3,
    "perf_event_array": 4,
    "percpu_hash": 5,
    "percpu_array": 6,
    "stack_trace": 7,
    "cgroup_array": 8,
    "lru_hash": 9,
    "lru_percpu_hash": 10,
    "lpm_trie": 11,
    "array_of_maps": 12,
    "hash_of_maps": 13,
    "devmap": 14,
    "queue": 22,
    "stack": 23,
    "ringbuf": 27,
    "bloom_filter": 30,
}

#: Map types whose values user space reads and writes as one slot per possible CPU.
PERCPU_MAP_TYPES = frozenset({"percpu_hash", "percpu_array", "lru_percpu_hash"})

# Program types whose test runner takes only a ctx: data_in/data_out/ctx_out/repeat must be zero
# (bpf_prog_test_run_raw_tp, bpf_prog_test_run_syscall). A syscall program's ctx is copied back
# into ctx_in.
_CTX_ONLY_TYPES = frozenset({"raw_tracepoint", "raw_tracepoint_writable", "syscall"})

_LOG_SIZE_DEFAULT = 16 << 20
_LOG_SIZE_MIN = 128  # bpf_vlog_init: len_total >= 128
_LOG_SIZE_MAX = (1 << 30) - 1  # bpf_vlog_init: len_total <= UINT_MAX >> 2
_LOAD_EAGAIN_RETRIES = 5  # as libbpf's sys_bpf_prog_load
_CTX_OUT_MIN = 1024  # ctx_out buffer: the largest ctx (__sk_buff) is 192 bytes
_DATA_OUT_SLACK = 4096  # room for bpf_xdp_adjust_tail / bpf_skb_change_tail growth

# --------------------------------------------------------------------------------------------------
# union bpf_attr, one Structure per command (fields in kernel order; offsets in comments)
# --------------------------------------------------------------------------------------------------

_u32 = ctypes.c_uint32
_s32 = ctypes.c_int32
_u64 = ctypes.c_uint64  # 8-byte aligned on x86-64, like __aligned_u64

_ATTR_SIZE = 160  # >= sizeof(union bpf_attr) of 6.1 (144); the tail stays zero


class _MapCreateAttr(ctypes.Structure):
    """BPF_MAP_CREATE."""

    _fields_ = [
        ("map_type", _u32),  # 0
        ("key_size", _u32),  # 4
        ("value_size", _u32),  # 8
        ("max_entries", _u32),  # 12
        ("map_flags", _u32),  # 16
        ("inner_map_fd", _u32),  # 20
        ("numa_node", _u32),  # 24
        ("map_name", ctypes.c_char * 16),  # 28  BPF_OBJ_NAME_LEN
        ("map_ifindex", _u32),  # 44
        ("btf_fd", _u32),  # 48
        ("btf_key_type_id", _u32),  # 52
        ("btf_value_type_id", _u32),  # 56
        ("btf_vmlinux_value_type_id", _u32),  # 60
        ("map_extra", _u64),  # 64
    ]


class _MapElemAttr(ctypes.Structure):
    """BPF_MAP_LOOKUP_ELEM, _UPDATE_ELEM, _DELETE_ELEM, _GET_NEXT_KEY."""

    _fields_ = [
        ("map_fd", _u32),  # 0   (4 bytes of padding follow)
        ("key", _u64),  # 8   user pointer
        ("value", _u64),  # 16  user pointer; ``next_key`` for GET_NEXT_KEY
        ("flags", _u64),  # 24
    ]


class _ProgLoadAttr(ctypes.Structure):
    """BPF_PROG_LOAD."""

    _fields_ = [
        ("prog_type", _u32),  # 0
        ("insn_cnt", _u32),  # 4
        ("insns", _u64),  # 8   user pointer to struct bpf_insn[]
        ("license", _u64),  # 16  user pointer to a C string
        ("log_level", _u32),  # 24
        ("log_size", _u32),  # 28
        ("log_buf", _u64),  # 32  user pointer
        ("kern_version", _u32),  # 40
        ("prog_flags", _u32),  # 44
        ("prog_name", ctypes.c_char * 16),  # 48
        ("prog_ifindex", _u32),  # 64
        ("expected_attach_type", _u32),  # 68
        ("prog_btf_fd", _u32),  # 72
        ("func_info_rec_size", _u32),  # 76
        ("func_info", _u64),  # 80
        ("func_info_cnt", _u32),  # 88
        ("line_info_rec_size", _u32),  # 92
        ("line_info", _u64),  # 96
        ("line_info_cnt", _u32),  # 104
        ("attach_btf_id", _u32),  # 108
        ("attach_prog_fd", _u32),  # 112 (union with attach_btf_obj_fd)
        ("core_relo_cnt", _u32),  # 116
        ("fd_array", _u64),  # 120 user pointer to int[]
        ("core_relos", _u64),  # 128
        ("core_relo_rec_size", _u32),  # 136
        ("log_true_size", _u32),  # 140 output (6.4+): log bytes needed, including the NUL
        ("prog_token_fd", _s32),  # 144 (6.9+)
        ("fd_array_cnt", _u32),  # 148 (6.14+)
    ]


class _TestRunAttr(ctypes.Structure):
    """BPF_PROG_TEST_RUN (``attr.test``)."""

    _fields_ = [
        ("prog_fd", _u32),  # 0
        ("retval", _u32),  # 4   output
        ("data_size_in", _u32),  # 8
        ("data_size_out", _u32),  # 12  in: buffer size (0 = unchecked!); out: bytes produced
        ("data_in", _u64),  # 16
        ("data_out", _u64),  # 24
        ("repeat", _u32),  # 32  0 means 1
        ("duration", _u32),  # 36  output: mean ns per run
        ("ctx_size_in", _u32),  # 40
        ("ctx_size_out", _u32),  # 44  in: buffer size; out: bytes produced
        ("ctx_in", _u64),  # 48
        ("ctx_out", _u64),  # 56
        ("flags", _u32),  # 64
        ("cpu", _u32),  # 68
        ("batch_size", _u32),  # 72
    ]


class _BtfLoadAttr(ctypes.Structure):
    """BPF_BTF_LOAD."""

    _fields_ = [
        ("btf", _u64),  # 0   user pointer to the BTF blob (header, types, strings)
        ("btf_log_buf", _u64),  # 8
        ("btf_size", _u32),  # 16
        ("btf_log_size", _u32),  # 20
        ("btf_log_level", _u32),  # 24
        ("btf_log_true_size", _u32),  # 28 output (6.4+)
    ]


class _BpfAttr(ctypes.Union):
    _fields_ = [
        ("map_create", _MapCreateAttr),
        ("map_elem", _MapElemAttr),
        ("prog_load", _ProgLoadAttr),
        ("test", _TestRunAttr),
        ("btf_load", _BtfLoadAttr),
        ("_raw", ctypes.c_uint8 * _ATTR_SIZE),
    ]


# Byte offsets of every field above as the kernel lays them out (checked by gcc against the 6.1
# uapi header, later fields from mainline's include/uapi/linux/bpf.h).
_KERNEL_OFFSETS = {
    _MapCreateAttr: {"map_type": 0, "max_entries": 12, "map_flags": 16, "map_name": 28, "map_extra": 64},
    _MapElemAttr: {"map_fd": 0, "key": 8, "value": 16, "flags": 24},
    _ProgLoadAttr: {
        "insns": 8, "license": 16, "log_level": 24, "log_size": 28, "log_buf": 32, "prog_name": 48,
        "expected_attach_type": 68, "fd_array": 120, "core_relo_rec_size": 136, "log_true_size": 140,
        "fd_array_cnt": 148,
    },
    _BtfLoadAttr: {"btf": 0, "btf_log_buf": 8, "btf_size": 16, "btf_log_level": 24, "btf_log_true_size": 28},
    _TestRunAttr: {
        "data_size_out": 12, "data_in": 16, "data_out": 24, "repeat": 32, "duration": 36,
        "ctx_size_in": 40, "ctx_in": 48, "ctx_out": 56, "flags": 64, "batch_size": 72,
    },
}


def _check_layout() -> None:
    """Fail at import if ctypes laid a field out differently from the kernel (e.g. on a 32-bit ABI)."""
    for struct, offsets in _KERNEL_OFFSETS.items():
        for name, want in offsets.items():
            got = getattr(struct, name).offset
            if got != want:
                raise ImportError(f"bpf_attr layout: {struct.__name__}.{name} at {got}, kernel has {want}")
    if ctypes.sizeof(_BpfAttr) != _ATTR_SIZE:
        raise ImportError(f"bpf_attr size {ctypes.sizeof(_BpfAttr)} != {_ATTR_SIZE}")


_check_layout()

# --------------------------------------------------------------------------------------------------
# The system call
# --------------------------------------------------------------------------------------------------


@functools.cache
def _syscall_fn():
    fn = ctypes.CDLL(None, use_errno=True).syscall
    fn.restype = ctypes.c_long
    return fn


def _errno_error(err: int) -> OSError:
    """An OSError for ``err`` with a readable message, including the kernel-only ENOTSUPP."""
    if err == ENOTSUPP:
        return OSError(err, "ENOTSUPP: operation not supported for this program type")
    return OSError(err, os.strerror(err))


def _bpf(cmd: int, attr: _BpfAttr) -> int:
    """Call ``bpf(cmd, &attr, sizeof attr)``; return its non-negative result or raise OSError(errno)."""
    nr = _NR_BPF.get(os.uname().machine)
    if nr is None:
        raise OSError(errno.ENOSYS, f"bpf(2) number unknown for {os.uname().machine}")
    ret = _syscall_fn()(
        ctypes.c_long(nr), ctypes.c_int(cmd), ctypes.byref(attr), ctypes.c_uint(ctypes.sizeof(attr))
    )
    if ret < 0:
        raise _errno_error(ctypes.get_errno())
    return ret


def _ptr(buf) -> int:
    """Address of a ctypes buffer, or 0 (NULL) for None."""
    return 0 if buf is None else ctypes.addressof(buf)


def _in_buf(data: bytes):
    """A ctypes copy of ``data`` (None when empty, so the kernel sees NULL)."""
    return (ctypes.c_char * len(data)).from_buffer_copy(data) if data else None


# --------------------------------------------------------------------------------------------------
# Verifier log
# --------------------------------------------------------------------------------------------------


class _LogBuffer:
    """A verifier log buffer in anonymous mmap memory.

    The kernel only touches the pages it writes, so a 16 MiB buffer costs microseconds instead of the
    ~2 ms a zero-filled ``create_string_buffer`` takes.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._mm = mmap.mmap(-1, size)
        self._view = (ctypes.c_char * size).from_buffer(self._mm)
        self.address = ctypes.addressof(self._view)

    def text(self) -> str:
        end = self._mm.find(b"\0")
        return self._mm[: self.size if end < 0 else end].decode("utf-8", "replace")

    def close(self) -> None:
        del self._view  # the exported pointer must go before the mapping can be closed
        self._mm.close()


_PROCESSED_RE = re.compile(r"^processed (\d+) insns", re.MULTILINE)

# Lines of the verifier's walk (not part of a message): "12: (bf) r1 = r6", "12: R1=ctx() R10=fp0",
# "from 4 to 6: ...", "func#0 @0", "; C source line", and level-2 chatter seen on 6.18: the
# "Live regs before insn:" table ("  1   0: .1....... (61) ..."), precision tracking ("mark_precise:"),
# loop SCCs ("SCC enter (1)") and stack liveness ("(0) frame 0 insn 0 +live -8"); with BTF, what the kernel
# notes about a function's arguments before the walk ("arg#0 reference type('UNKNOWN ') size cannot be
# determined: -22") and the callback lines ("returning from callee:", " frame1: ...", "to caller at 8:",
# "frame 0: propagating r1,r4", "frame0 bpf_loop iteration limit reached").
_TRACE_LINE_RE = re.compile(
    r"^(\d+: |from \d+ to \d+|func#\d+ @\d+|; |mark_precise: |last_idx |regs=|parent (didn't|already)"
    r"|arg#\d+ |returning from callee:| frame\d+: |to caller at \d+:|frame \d+: propagating |frame\d+ bpf_loop "
    r"|Live regs before insn|\s+(\d+\s+)?\d+: |Validating |Func#\d+ |SCC |\(\d+\) )"
)
# Statistics printed after the message (BPF_LOG_STATS and the final summary).
_STATS_LINE_RE = re.compile(r"^(processed \d+ insns|verification time \d+ usec|stack depth )")


def _parse_processed(log: str) -> int | None:
    """N from the last ``processed N insns (limit ...)`` line, or None."""
    found = _PROCESSED_RE.findall(log)
    return int(found[-1]) if found else None


_STATES_RE = re.compile(r"processed \d+ insns \(limit \d+\) max_states_per_insn (\d+) total_states (\d+) "
                        r"peak_states (\d+)")
_TIME_RE = re.compile(r"verification time (\d+) usec")
# A few kernel messages lack their newline (6.18: "expected prog array map for tail call"), so the statistics
# that follow are glued to them: "...for tail callverification time 24 usec".
_GLUED_STATS_RE = re.compile(r"(verification time \d+ usec|stack depth \d+|processed \d+ insns \(limit).*$")


def state_counts(log: str) -> tuple[int, int, int] | None:
    """(max_states_per_insn, total_states, peak_states) from the last statistics line, or None."""
    found = _STATES_RE.findall(log)
    return tuple(map(int, found[-1])) if found else None  # type: ignore[return-value]


def verification_usec(log: str) -> int | None:
    """The kernel's own ``verification time N usec``, or None."""
    found = _TIME_RE.findall(log)
    return int(found[-1]) if found else None


def without_glued_stats(message: str) -> str:
    """A message line without the statistics the kernel glued to it when it forgot the newline."""
    return _GLUED_STATS_RE.sub("", message) or message


def _parse_first_error(log: str) -> str | None:
    """The first line of the final message block of a rejection log.

    The verifier prints its walk (instruction lines, ``from A to B`` branch lines, register states),
    then the reason, sometimes followed by further detail (``R2 offset is outside of the packet``,
    ``cur state:`` / ``old state:`` dumps), then the statistics. The reason is the first line after the
    last walk line, ignoring the statistics; with ``log_level=4`` (stats only) there is no walk and it
    is simply the first line.
    """
    lines = [ln for ln in log.splitlines() if ln.strip()]
    body = [ln for ln in lines if not _STATS_LINE_RE.match(ln)]
    if not body:
        return None
    last_trace = -1
    for i, line in enumerate(body):
        if _TRACE_LINE_RE.match(line):
            last_trace = i
    if last_trace + 1 < len(body):
        return body[last_trace + 1]
    return body[-1]  # everything looked like a walk line: report the last one rather than nothing


# --------------------------------------------------------------------------------------------------
# Programs
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelVerdict:
    """What BPF_PROG_LOAD said about a program.

    ``errno`` is 0 when accepted; EACCES for a verifier rejection, EINVAL for a malformed program or a
    CFG problem (infinite loop, unreachable instruction), E2BIG for the complexity limit, ENOSPC if the
    log did not fit even after one enlargement (the log then holds its tail).
    ``processed_insns`` comes from the ``processed N insns`` statistics line (None without a log);
    ``first_error`` is the first line of the final message block of a rejection (None when accepted or
    when the kernel printed nothing, e.g. an unknown program type or ``log_level=0``).
    """

    accepted: bool
    errno: int
    log: str
    processed_insns: int | None
    first_error: str | None


class KernelRejected(Exception):
    """Raised by :func:`load_program` when the kernel refuses the program; carries the verdict."""

    def __init__(self, verdict: KernelVerdict) -> None:
        name = errno.errorcode.get(verdict.errno, "ENOTSUPP" if verdict.errno == ENOTSUPP else "?")
        super().__init__(f"kernel rejected the program ({name}): {verdict.first_error or '(no log)'}")
        self.verdict = verdict


@dataclass(frozen=True)
class TestRunResult:
    """The outcome of one BPF_PROG_TEST_RUN.

    ``retval`` is the program's R0 as the kernel reports it: a u32 (so ``-1`` reads 0xffffffff).
    ``data_out`` is the packet after the run (b"" when no packet was given); ``duration_ns`` the mean
    time per repetition; ``ctx_out`` the context after the run, when a ctx was passed in (None
    otherwise, and for raw_tracepoint, whose runner does not write it back).
    """

    __test__ = False  # not a pytest test class, despite its name

    retval: int
    data_out: bytes
    duration_ns: int
    ctx_out: bytes | None


def _prog_type_id(prog_type: str) -> int:
    try:
        return PROG_TYPES[prog_type]
    except KeyError:
        raise ValueError(f"unknown program type {prog_type!r}; known: {', '.join(PROG_TYPES)}") from None


def _try_load(attr: _BpfAttr, log_level: int, log_size: int) -> tuple[int | None, int, str, int]:
    """One BPF_PROG_LOAD with a fresh log of ``log_size`` bytes: (fd or None, errno, log, log_true_size).

    Retries on EAGAIN (a signal interrupted the verifier), as libbpf does.
    """
    log = _LogBuffer(log_size) if log_level else None
    a = attr.prog_load
    a.log_level, a.log_size, a.log_buf = (log_level, log_size, log.address) if log else (0, 0, 0)
    try:
        fd, err = None, errno.EAGAIN
        for _ in range(_LOAD_EAGAIN_RETRIES):
            try:
                fd, err = _bpf(_BPF_PROG_LOAD, attr), 0
            except OSError as e:
                err = e.errno
            if err != errno.EAGAIN:
                break
        return fd, err, log.text() if log else "", a.log_true_size
    finally:
        if log is not None:
            log.close()


def load_btf(btf: bytes) -> int:
    """BPF_BTF_LOAD ``btf`` (a ``.BTF`` blob as a loader fixes it up: header, types, strings); returns its fd,
    which the caller closes. Raises OSError with the kernel's errno and, in the message, its BTF log."""
    blob = _in_buf(btf)
    log = _LogBuffer(1 << 16)
    attr = _BpfAttr()
    b = attr.btf_load
    b.btf, b.btf_size = _ptr(blob), len(btf)
    b.btf_log_buf, b.btf_log_size, b.btf_log_level = log.address, log.size, 1
    try:
        return _bpf(_BPF_BTF_LOAD, attr)
    except OSError as e:
        raise OSError(e.errno, f"BPF_BTF_LOAD refused the BTF: {log.text().strip() or e.strerror}") from None
    finally:
        log.close()


#: ``sizeof(struct bpf_func_info)``: ``insn_off`` (in instructions) and ``type_id``, as libbpf passes them.
_FUNC_INFO_REC_SIZE = 8


def _load(
    code: bytes,
    prog_type: str,
    *,
    log_level: int,
    license: str,
    expected_attach_type: int,
    fd_array: list[int] | None,
    log_size: int,
    btf: bytes | None = None,
    func_info: Sequence[tuple[int, int]] = (),
) -> tuple[int | None, KernelVerdict]:
    """BPF_PROG_LOAD; returns (fd or None, verdict). Repeats once with a larger log on ENOSPC. With ``btf``
    the BTF is loaded first (and closed after: a loaded program keeps its own reference) and passed as
    ``prog_btf_fd`` with the ``func_info`` records, as libbpf does for an object compiled with ``-g``."""
    if len(code) % 8:
        raise ValueError(f"code length {len(code)} is not a multiple of 8")
    if not btf:
        return _load_with(code, prog_type, log_level=log_level, license=license,
                          expected_attach_type=expected_attach_type, fd_array=fd_array, log_size=log_size)
    btf_fd = load_btf(btf)
    try:
        return _load_with(code, prog_type, log_level=log_level, license=license,
                          expected_attach_type=expected_attach_type, fd_array=fd_array, log_size=log_size,
                          btf_fd=btf_fd, func_info=func_info)
    finally:
        os.close(btf_fd)


def _load_with(code: bytes, prog_type: str, *, log_level: int, license: str, expected_attach_type: int,
               fd_array: list[int] | None, log_size: int, btf_fd: int = 0,
               func_info: Sequence[tuple[int, int]] = ()) -> tuple[int | None, KernelVerdict]:
    # The attr holds bare addresses: these buffers must stay referenced until the loads are done.
    insns = _in_buf(code)
    lic = ctypes.create_string_buffer(license.encode())
    fds = (ctypes.c_int * len(fd_array))(*fd_array) if fd_array else None
    attr = _BpfAttr()
    a = attr.prog_load
    a.prog_type = _prog_type_id(prog_type)
    a.insn_cnt, a.insns = len(code) // 8, _ptr(insns)
    a.license = _ptr(lic)
    a.prog_name = b"pg_oracle"
    # A syscall program must be sleepable ("Syscall programs can only be sleepable").
    a.prog_flags = _BPF_F_SLEEPABLE if prog_type == "syscall" else 0
    a.expected_attach_type = expected_attach_type
    a.fd_array = _ptr(fds)
    records = (_u32 * (2 * len(func_info)))(*(v for rec in func_info for v in rec)) if func_info else None
    if btf_fd:
        a.prog_btf_fd = btf_fd
    if records is not None:
        a.func_info_rec_size, a.func_info, a.func_info_cnt = _FUNC_INFO_REC_SIZE, _ptr(records), len(func_info)

    size = min(max(log_size, _LOG_SIZE_MIN), _LOG_SIZE_MAX)
    fd, err, text, true_size = _try_load(attr, log_level, size)
    if err == errno.ENOSPC and log_level and size < _LOG_SIZE_MAX:
        # Since 6.4 the log rotates and log_true_size says how much was needed.
        size = min(max(true_size, 2 * size), _LOG_SIZE_MAX)
        fd, err, text, _ = _try_load(attr, log_level, size)
    verdict = KernelVerdict(
        accepted=fd is not None,
        errno=err,
        log=text,
        processed_insns=_parse_processed(text),
        first_error=None if fd is not None else _parse_first_error(text),
    )
    return fd, verdict


def verify_in_kernel(
    code: bytes,
    prog_type: str = "socket_filter",
    *,
    log_level: int = 1,
    license: str = "GPL",
    expected_attach_type: int = 0,
    fd_array: list[int] | None = None,
    log_size: int = _LOG_SIZE_DEFAULT,
    btf: bytes | None = None,
    func_info: Sequence[tuple[int, int]] = (),
) -> KernelVerdict:
    """Ask the kernel's verifier about ``code`` and return its verdict; the program is closed at once.

    ``code`` is raw little-endian 8-byte instructions (``ld_imm64`` takes two). ``log_level`` is the
    kernel's: 0 no log, 1 the path to the decision, 2 every state, 4 statistics only (may be OR-ed
    with 1 or 2). ``expected_attach_type`` is a raw ``enum bpf_attach_type`` value, needed by some
    program types (e.g. cgroup_sock_addr). ``fd_array`` backs ``BPF_PSEUDO_MAP_IDX`` references. If the
    log does not fit in ``log_size`` bytes the load is repeated once with the size the kernel asked for.
    ``btf`` (the object's ``.BTF``, as ``ElfProgram.btf`` gives it) and ``func_info`` ((first instruction,
    ``FUNC`` type id) per function, ``ElfProgram.func_info``) are what a program with callbacks or
    global functions needs; the BTF is loaded with BPF_BTF_LOAD, which raises OSError if it is refused.

    Never raises for a rejection (that is a verdict); raises ValueError for an unknown ``prog_type`` or
    a length that is not a multiple of 8.
    """
    fd, verdict = _load(
        code, prog_type, log_level=log_level, license=license,
        expected_attach_type=expected_attach_type, fd_array=fd_array, log_size=log_size, btf=btf,
        func_info=func_info,
    )
    if fd is not None:
        os.close(fd)
    return verdict


class LoadedProgram:
    """A program the kernel accepted, held by its fd; use as a context manager (closes on exit).

    ``verdict`` keeps the load's :class:`KernelVerdict` (log, processed instruction count).
    """

    def __init__(self, fd: int, prog_type: str, verdict: KernelVerdict) -> None:
        self.fd: int | None = fd
        self.prog_type = prog_type
        self.verdict = verdict

    def __enter__(self) -> LoadedProgram:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the program fd (idempotent); the kernel frees the program."""
        fd, self.fd = getattr(self, "fd", None), None
        if fd is not None:
            os.close(fd)

    def test_run(
        self,
        data: bytes = b"",
        *,
        ctx: bytes | None = None,
        repeat: int = 1,
        data_size_out: int | None = None,
    ) -> TestRunResult:
        """Run the program once per ``repeat`` with BPF_PROG_TEST_RUN and return the last run's result.

        ``data`` is the packet (starting at the Ethernet header for skb and XDP types); ``ctx`` an
        optional context (``struct __sk_buff``, ``struct xdp_md``, a syscall program's argument, ...).
        ``data_size_out`` caps the output packet buffer (default: the input plus 4 KiB, so helpers that
        grow the packet fit). Raises OSError with the kernel's errno if it refuses the run: EINVAL for
        a packet shorter than 14 bytes on skb/XDP types or a bad ctx, ENOTSUPP (524) for types without
        a test runner (kprobe, tracepoint, perf_event), ENOSPC if the output did not fit.

        skb types run after ``eth_type_trans()``: a socket filter sees ``skb->len`` without the 14-byte
        Ethernet header; non-L2 types get an output packet whose first 14 bytes are zeroed.
        """
        if self.fd is None:
            raise ValueError("test_run on a closed program")
        ctx_only = self.prog_type in _CTX_ONLY_TYPES
        din = _in_buf(data)
        dout = None
        if data and not ctx_only:
            out_size = len(data) + _DATA_OUT_SLACK if data_size_out is None else data_size_out
            dout = ctypes.create_string_buffer(max(out_size, 1))
        cin = _in_buf(ctx) if ctx is not None else None
        cout = None
        if ctx is not None and not ctx_only:
            cout = ctypes.create_string_buffer(max(len(ctx), _CTX_OUT_MIN))

        attr = _BpfAttr()
        t = attr.test
        t.prog_fd = self.fd
        t.data_in, t.data_size_in = _ptr(din), len(data)
        if dout is not None:
            t.data_out, t.data_size_out = _ptr(dout), ctypes.sizeof(dout)
        if data_size_out is not None and dout is not None:
            t.data_size_out = data_size_out
        t.repeat = repeat if repeat > 1 else 0  # 0 means once; ctx-only runners insist on 0
        if cin is not None:
            t.ctx_in, t.ctx_size_in = _ptr(cin), len(ctx)
        if cout is not None:
            t.ctx_out, t.ctx_size_out = _ptr(cout), ctypes.sizeof(cout)
        _bpf(_BPF_PROG_TEST_RUN, attr)

        data_out = dout.raw[: t.data_size_out] if dout is not None else b""
        if cout is not None:
            ctx_out: bytes | None = cout.raw[: t.ctx_size_out]
        elif cin is not None and self.prog_type == "syscall":
            ctx_out = bytes(cin)  # bpf_prog_test_run_syscall copies the ctx back into ctx_in
        else:
            ctx_out = None
        return TestRunResult(retval=t.retval, data_out=data_out, duration_ns=t.duration, ctx_out=ctx_out)


def load_program(
    code: bytes,
    prog_type: str = "socket_filter",
    *,
    log_level: int = 1,
    license: str = "GPL",
    expected_attach_type: int = 0,
    fd_array: list[int] | None = None,
    log_size: int = _LOG_SIZE_DEFAULT,
    btf: bytes | None = None,
    func_info: Sequence[tuple[int, int]] = (),
) -> LoadedProgram:
    """Load ``code`` and keep it for :meth:`LoadedProgram.test_run`; options as :func:`verify_in_kernel`.

    Raises :class:`KernelRejected` (with the verdict) if the kernel refuses the program. Example::

        with load_program(code, "xdp") as prog:
            assert prog.test_run(bytes(64)).retval == 2  # XDP_PASS
    """
    fd, verdict = _load(
        code, prog_type, log_level=log_level, license=license,
        expected_attach_type=expected_attach_type, fd_array=fd_array, log_size=log_size, btf=btf,
        func_info=func_info,
    )
    if fd is None:
        raise KernelRejected(verdict)
    return LoadedProgram(fd, prog_type, verdict)


@functools.cache
def bpf_available() -> bool:
    """True when ``r0 = 0; exit`` loads as a socket filter (cached); False on any OSError.

    Use it to skip kernel-dependent tests: ``pytest.mark.skipif(not bpf_available(), reason=...)``.
    """
    trivial = bytes.fromhex("b700000000000000" "9500000000000000")
    try:
        return verify_in_kernel(trivial, log_level=0).accepted
    except OSError:
        return False


# --------------------------------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------------------------------


@functools.cache
def possible_cpus() -> int:
    """Number of possible CPUs (``/sys/devices/system/cpu/possible``, e.g. ``0-1`` or ``0-3,6``)."""
    with open("/sys/devices/system/cpu/possible") as f:
        spec = f.read().strip()
    count = 0
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        count += int(hi or lo) - int(lo) + 1
    return count


class KernelMap:
    """A kernel map held by its fd; use as a context manager (closes on exit).

    Keys must be exactly ``key_size`` bytes (b"" for queue/stack/bloom filter, whose key_size is 0).
    Values are ``value_size`` bytes, except for per-CPU maps, whose values are :attr:`value_buf_size`
    bytes: one ``value_size`` slot rounded up to 8 bytes per possible CPU, CPU 0 first.
    Every method raises OSError with the kernel's errno on failure (``lookup`` returns None on ENOENT).
    """

    def __init__(self, fd: int, map_type: str, key_size: int, value_size: int, max_entries: int,
                 flags: int) -> None:
        self.fd: int | None = fd
        self.map_type = map_type
        self.key_size = key_size
        self.value_size = value_size
        self.max_entries = max_entries
        self.flags = flags

    @property
    def value_buf_size(self) -> int:
        """Bytes user space reads or writes per value (per-CPU maps: all CPUs' slots)."""
        if self.map_type in PERCPU_MAP_TYPES:
            return (self.value_size + 7) // 8 * 8 * possible_cpus()
        return self.value_size

    def __enter__(self) -> KernelMap:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Close the map fd (idempotent). Programs still using the map keep it alive."""
        fd, self.fd = getattr(self, "fd", None), None
        if fd is not None:
            os.close(fd)

    def _attr(self, key: bytes | None) -> tuple[_BpfAttr, object]:
        if self.fd is None:
            raise ValueError("operation on a closed map")
        attr = _BpfAttr()
        attr.map_elem.map_fd = self.fd
        kbuf = None
        if key is not None:
            if len(key) != self.key_size:
                raise ValueError(f"key is {len(key)} bytes, map key_size is {self.key_size}")
            kbuf = _in_buf(key)
            attr.map_elem.key = _ptr(kbuf)
        return attr, kbuf

    def lookup(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None if there is none (ENOENT). Queue/stack: peek."""
        attr, _kbuf = self._attr(key)
        vbuf = ctypes.create_string_buffer(max(self.value_buf_size, 1))
        attr.map_elem.value = _ptr(vbuf)
        try:
            _bpf(_BPF_MAP_LOOKUP_ELEM, attr)
        except OSError as e:
            if e.errno == errno.ENOENT:
                return None
            raise
        return vbuf.raw[: self.value_buf_size]

    def update(self, key: bytes, value: bytes, flags: int = BPF_ANY) -> None:
        """Store ``value`` under ``key`` (BPF_ANY / BPF_NOEXIST / BPF_EXIST). Queue/stack: push.

        Raises OSError: EEXIST (NOEXIST and the key exists), ENOENT (EXIST and it does not), E2BIG (a
        full hash map or an array index >= max_entries), ...
        """
        if len(value) != self.value_buf_size:
            raise ValueError(f"value is {len(value)} bytes, this map takes {self.value_buf_size}")
        attr, _kbuf = self._attr(key)
        vbuf = _in_buf(value)
        attr.map_elem.value = _ptr(vbuf)
        attr.map_elem.flags = flags
        _bpf(_BPF_MAP_UPDATE_ELEM, attr)

    def delete(self, key: bytes) -> None:
        """Remove ``key``. Raises OSError: ENOENT if absent, EINVAL for array maps (no deletion)."""
        attr, _kbuf = self._attr(key)
        _bpf(_BPF_MAP_DELETE_ELEM, attr)

    def keys(self) -> list[bytes]:
        """All keys in the kernel's iteration order (BPF_MAP_GET_NEXT_KEY from NULL until ENOENT)."""
        out: list[bytes] = []
        prev: bytes | None = None
        nbuf = ctypes.create_string_buffer(max(self.key_size, 1))
        while True:
            attr, _kbuf = self._attr(prev)
            attr.map_elem.value = _ptr(nbuf)  # the ``next_key`` member of the same union slot
            try:
                _bpf(_BPF_MAP_GET_NEXT_KEY, attr)
            except OSError as e:
                if e.errno == errno.ENOENT:
                    return out
                raise
            prev = nbuf.raw[: self.key_size]
            out.append(prev)


def create_map(map_type: str, key_size: int, value_size: int, max_entries: int,
               flags: int = 0, *, inner_map_fd: int = 0) -> KernelMap:
    """BPF_MAP_CREATE; returns the map (a context manager). Raises OSError with the kernel's errno.

    ``map_type`` is a key of :data:`MAP_TYPES`; ``flags`` is ``map_flags`` (e.g. BPF_F_NO_PREALLOC = 1,
    required for lpm_trie). Maps of maps need ``inner_map_fd``: a map whose shape inner maps must have.
    """
    try:
        type_id = MAP_TYPES[map_type]
    except KeyError:
        raise ValueError(f"unknown map type {map_type!r}; known: {', '.join(MAP_TYPES)}") from None
    attr = _BpfAttr()
    m = attr.map_create
    m.map_type, m.key_size, m.value_size = type_id, key_size, value_size
    m.max_entries, m.map_flags = max_entries, flags
    m.inner_map_fd = inner_map_fd
    m.map_name = b"pg_oracle"
    fd = _bpf(_BPF_MAP_CREATE, attr)
    return KernelMap(fd, map_type, key_size, value_size, max_entries, flags)
