"""Running an untrusted compile: resource limits, a Landlock filesystem sandbox, a wall-clock timeout.

The compiler is started through a tiny launcher (:data:`_LAUNCHER`, standard library only) run as
``python -I -S -c``. Between starting and ``execve`` of the compiler, the launcher

1. sets resource limits (``setrlimit``): address space (``RLIMIT_AS``), CPU seconds, size of any file
   written (``RLIMIT_FSIZE``), open files, and no core dumps;
2. where the kernel has Landlock (Linux 5.13+, ``landlock_create_ruleset``), restricts the process and
   everything it starts to: read and execute the toolchain's own files, read and write the compile's
   temporary directory, and nothing else of the filesystem (``/etc/passwd``, the project, the database,
   other users' compiles); it also forbids TCP bind/connect (ABI 4+) and signals or abstract UNIX sockets
   outside the sandbox (ABI 6+). ``PR_SET_NO_NEW_PRIVS`` is set first, as Landlock requires;
3. changes to the temporary directory and replaces itself with the compiler, with an environment that
   holds only what the toolchain needs (the caller's is never passed on).

A launcher instead of ``preexec_fn`` because ``preexec_fn`` is unsafe in a threaded server (the web app
serves requests from threads). The parent kills the whole process group on timeout. Landlock is
unprivileged, so this works for a non-root server too; where it is unavailable, :mod:`app.ebpf.cc`
compiles in two checked stages instead (see there).
"""
from __future__ import annotations

import ctypes
import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

# Landlock access rights (include/uapi/linux/landlock.h)
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_READ = FS_READ_FILE | FS_READ_DIR
FS_READ_EXEC = FS_READ | FS_EXECUTE
FS_ALL = (1 << 16) - 1  # every right up to LANDLOCK_ACCESS_FS_IOCTL_DEV (ABI 5); masked by the ABI in use

_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture (asm-generic unistd)
_LANDLOCK_CREATE_RULESET_VERSION = 1

MAX_OUTPUT = 256 * 1024  # bytes of compiler output kept

_LAUNCHER = r"""
import ctypes, json, os, resource, struct, sys
spec = json.loads(sys.argv[1])
def fail(msg):
    os.write(2, ("sandbox: error: " + msg + "\n").encode()); os._exit(125)
for name, value in spec["rlimits"].items():
    resource.setrlimit(getattr(resource, name), (value, value))
abi = spec["landlock_abi"]
if abi:
    libc = ctypes.CDLL(None, use_errno=True)
    def call(*args):
        r = libc.syscall(*[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
        return r if r >= 0 else -ctypes.get_errno()
    fs = (1 << 13) - 1
    if abi >= 2: fs |= 1 << 13
    if abi >= 3: fs |= 1 << 14
    if abi >= 5: fs |= 1 << 15
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    attr = ctypes.create_string_buffer(struct.pack("<QQQ", fs, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)[:size], size)
    ruleset = call(444, attr, size, 0)
    if ruleset < 0: fail("landlock_create_ruleset: " + os.strerror(-ruleset))
    for path, access in spec["rules"]:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        if not os.path.isdir(path): access &= 7  # a file takes only execute, write and read rights
        rule = ctypes.create_string_buffer(struct.pack("<Qi", access & fs, fd), 12)
        err = call(445, ruleset, 1, rule, 0)
        if err < 0: fail("landlock_add_rule " + path + ": " + os.strerror(-err))
        os.close(fd)
    U = ctypes.c_ulong
    if libc.prctl(ctypes.c_int(38), U(1), U(0), U(0), U(0)):  # PR_SET_NO_NEW_PRIVS
        fail("PR_SET_NO_NEW_PRIVS: " + os.strerror(ctypes.get_errno()))
    err = call(446, ruleset, 0)
    if err < 0: fail("landlock_restrict_self: " + os.strerror(-err))
    os.close(ruleset)
os.chdir(spec["cwd"])
try:
    os.execve(spec["argv"][0], spec["argv"], spec["env"])
except OSError as e:
    fail("cannot start " + spec["argv"][0] + ": " + e.strerror)
"""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one compile. ``memory`` caps the address space, ``timeout`` the wall clock."""

    timeout: float = 10.0
    memory: int = 2 << 30
    output_file: int = 64 << 20
    open_files: int = 256


@dataclass(frozen=True)
class RunOutcome:
    """What a sandboxed command did. ``returncode`` is None when it was killed for the timeout."""

    returncode: int | None
    output: str
    duration: float
    timed_out: bool


@functools.cache
def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0 when Landlock is unavailable). Asking does not restrict us."""
    if sys.platform != "linux":
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syscall
        fn.restype = ctypes.c_long
        version = fn(ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                     ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(int(version), 0)


def describe(limits: Limits, abi: int) -> tuple[str, ...]:
    """The sandbox layers in force, for the compile result and the UI."""
    layers = [f"wall-clock timeout {limits.timeout:g} s", f"address space {limits.memory >> 20} MiB",
              f"files written at most {limits.output_file >> 20} MiB", "empty environment"]
    if abi:
        layers.insert(0, f"Landlock ABI {abi}: reads only the toolchain and the temporary directory")
    else:
        layers.insert(0, "no Landlock: two-stage compile with include and inline-assembly checks")
    return tuple(layers)


def run(argv: list[str], *, cwd: str, env: dict[str, str], read_paths: list[str], write_paths: list[str],
        limits: Limits, use_landlock: bool) -> RunOutcome:
    """Run ``argv`` in the sandbox and return its exit status and combined output (decoded, truncated).

    ``read_paths`` may be read and executed, ``write_paths`` read and written (Landlock rules). The whole
    process group is killed when ``limits.timeout`` passes.
    """
    abi = landlock_abi() if use_landlock else 0
    rules = [[p, FS_READ_EXEC] for p in read_paths] + [[p, FS_ALL] for p in write_paths]
    spec = {
        "argv": argv, "cwd": cwd, "env": env, "landlock_abi": abi, "rules": rules,
        "rlimits": {
            "RLIMIT_AS": limits.memory,
            "RLIMIT_CPU": int(limits.timeout) + 1,
            "RLIMIT_FSIZE": limits.output_file,
            "RLIMIT_NOFILE": limits.open_files,
            "RLIMIT_CORE": 0,
        },
    }
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(spec)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=cwd, env={}, start_new_session=True, close_fds=True)
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        out, _ = proc.communicate()
    duration = time.monotonic() - start
    text = out[:MAX_OUTPUT].decode("utf-8", "replace")
    return RunOutcome(None if timed_out else proc.returncode, text, duration, timed_out)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group the compile runs in (its own session, started by us)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
