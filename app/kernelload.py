"""A ``Program`` with its maps, ready for the running kernel: the maps created, their fds patched in.

``app.oracle`` speaks ``bpf()`` in raw bytes; a program names its maps by index (``ld_imm64`` with
``src`` 1 or 2 holds an index into ``Program.maps``, as libbpf later patches in fds). ``create_maps``
makes a fresh kernel map for each declaration (the templates of maps of maps first) and ``kernel_code``
points the references at them. Used by the verifier corpus harness (``bench/verifier_corpus.py``) and the
playground's "check with this kernel" (``app.web.kernelcheck``).
"""
from __future__ import annotations

import errno as errno_mod
from contextlib import ExitStack
from dataclasses import replace

from . import oracle
from .ebpf.program import Program


def create_maps(program: Program, stack: ExitStack) -> list[int]:
    """Kernel maps for ``program.maps``, closed with ``stack``; their fds in declaration order. Raises the
    kernel's OSError for a map it refuses to create (``e.filename`` is the map's name)."""
    return [kmap.fd for kmap in create_kernel_maps(program, stack)]


def create_kernel_maps(program: Program, stack: ExitStack) -> list[oracle.KernelMap]:
    """``create_maps``, answering the maps themselves (to seed and read them)."""
    made: dict[str, oracle.KernelMap] = {}
    for m in sorted(program.maps, key=lambda m: bool(m.inner)):
        try:
            made[m.name] = stack.enter_context(oracle.create_map(
                m.type, m.key_size, m.value_size, m.max_entries, m.flags,
                inner_map_fd=made[m.inner].fd if m.inner else 0))
        except OSError as e:
            e.filename = m.name
            raise
    return [made[m.name] for m in program.maps]


def kernel_code(program: Program, fds: list[int]) -> bytes:
    """The program's bytes with map references by fd (``ld_imm64`` src 1 and 2) pointing at ``fds``."""
    insns = [replace(i, imm=fds[i.imm]) if i.opcode == 0x18 and i.src in (1, 2) else i for i in program.insns]
    return b"".join(i.encode() for i in insns)


def uses_fd_array(program: Program) -> bool:
    """Does the program name maps by index into ``fd_array`` (``BPF_PSEUDO_MAP_IDX``, src 5 and 6)?"""
    return any(i.opcode == 0x18 and i.src in (5, 6) for i in program.insns)


def errno_name(err: int | None) -> str:
    """``EACCES`` for 13 and so on, and the kernel-internal ``ENOTSUPP`` (524); "" for None."""
    if err is None:
        return ""
    return "ENOTSUPP" if err == oracle.ENOTSUPP else errno_mod.errorcode.get(err, str(err))
