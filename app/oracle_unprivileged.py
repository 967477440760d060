"""The kernel's verifier as an unprivileged loader sees it: ``BPF_PROG_LOAD`` from a user without capabilities.

Without ``CAP_BPF``/``CAP_SYS_ADMIN``/``CAP_PERFMON`` the verifier changes what it checks (pointer leaks,
uninitialised stack, loops, bpf-to-bpf calls, the helpers on offer, and the Spectre v1 checks that walk
speculative paths), so our unprivileged mode needs the kernel's answers as such a user. :func:`verify_unprivileged`
forks a child that becomes ``nobody`` (uid and gid 65534, no supplementary groups: a uid change from 0 drops
every capability) and loads the program there; the verdict comes back through a pipe.

The kernel lets such a user call ``bpf()`` only while the sysctl ``kernel.unprivileged_bpf_disabled`` is 0;
distributions set 2 (off, but root may turn it back on), and then the child's load fails with EPERM.
:func:`unprivileged_bpf_allowed` says which it is. :func:`unprivileged_bpf_enabled` turns it on for the length
of a ``with`` block and restores the previous value after; only the corpus recording script uses it, when told
to (``bench/verifier_corpus.py --enable-unprivileged-bpf``), because while it is on any local user may load
socket filters. Maps are created by the caller (root) before the fork; the child inherits their fds, as a
loader given a map fd by a privileged process would.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from contextlib import contextmanager

from .oracle import KernelVerdict, verify_in_kernel

SYSCTL = "/proc/sys/kernel/unprivileged_bpf_disabled"
NOBODY = 65534


def unprivileged_bpf_setting() -> str | None:
    """The sysctl's value as text (``0`` allowed, ``1`` off until reboot, ``2`` off, root may turn it on), or
    None where it cannot be read."""
    try:
        with open(SYSCTL) as f:
            return f.read().strip()
    except OSError:
        return None


def unprivileged_bpf_allowed() -> bool:
    """True when the sysctl lets users without capabilities call ``bpf()`` (it reads 0)."""
    return unprivileged_bpf_setting() == "0"


@contextmanager
def unprivileged_bpf_enabled() -> Iterator[None]:
    """Set ``kernel.unprivileged_bpf_disabled`` to 0 inside the block, and back to what it was after (a value
    of 1 cannot be undone without a reboot, so this refuses to start from 1). Needs root."""
    with open(SYSCTL) as f:
        before = f.read().strip()
    if before == "1":
        raise PermissionError(f"{SYSCTL} is 1: unprivileged bpf() is off until the next boot")
    if before != "0":
        with open(SYSCTL, "w") as f:
            f.write("0")
    try:
        yield
    finally:
        if before != "0":
            with open(SYSCTL, "w") as f:
                f.write(before)


def verify_unprivileged(code: bytes, prog_type: str = "socket_filter", *, log_level: int = 1,
                        fd_array: list[int] | None = None, expected_attach_type: int = 0) -> KernelVerdict:
    """:func:`app.oracle.verify_in_kernel` as user ``nobody``, in a forked child (see the module docstring).
    Raises what the child's load raised (OSError, ValueError), and OSError if the child died without an
    answer."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, load, send the verdict or the exception back, leave at once
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            answer: object = verify_in_kernel(code, prog_type, log_level=log_level, fd_array=fd_array,
                                              expected_attach_type=expected_attach_type)
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            answer = e
        try:
            data = pickle.dumps(answer)
            view = memoryview(data)
            while view:
                view = view[os.write(write_end, view):]
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(1 << 16):
            chunks.append(chunk)
    os.waitpid(pid, 0)
    if not chunks:
        raise OSError("the unprivileged loader process died without an answer")
    answer = pickle.loads(b"".join(chunks))
    if isinstance(answer, BaseException):
        raise answer
    return answer
