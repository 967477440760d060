"""Which guest bytes an instruction loads: what a traced run's step records list as ``reads``.

Writes show in memory (a step record compares the regions before and after a step); loads leave no mark, so
they are worked out from the instruction and the machine just before it runs: ``ldx`` and the atomic
operations read ``size`` bytes at ``dst/src + off``; the legacy packet loads (``ld_abs``/``ld_ind``) read the
packet at ``data + offset``. A helper call reads what its prototype in the helper table (``app.ebpf.helpers``)
says it reads (``helper_reads``). A load that faults reads nothing (the fault says where it went).
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import isa
from .machine import Machine

M64 = (1 << 64) - 1


@dataclass(frozen=True)
class MemoryRead:
    """``size`` bytes at ``offset`` in the region named ``region`` that one instruction loaded."""

    region: str
    offset: int
    size: int

    def to_json(self) -> dict:
        return {"region": self.region, "offset": self.offset, "size": self.size}


def instruction_reads(m: Machine, spec: isa.OpSpec | None = None) -> tuple[MemoryRead, ...]:
    """The bytes the instruction at ``m.pc`` will load when it runs on ``m`` as it is now (``spec``: its
    ``OpSpec``, when the caller has looked it up already)."""
    if m.done or not 0 <= m.pc < len(m.insns):
        return ()
    insn = m.insns[m.pc]
    spec = spec or insn.spec
    if spec is None:
        return ()
    if spec.cls == isa.Class.LDX:
        return bytes_at(m, (m.R[insn.src] + insn.off) & M64, spec.size)
    if spec.op.startswith("atomic_"):
        return bytes_at(m, (m.R[insn.dst] + insn.off) & M64, spec.size)
    if spec.op in ("ld_abs", "ld_ind"):
        return _packet_load(m, 0 if spec.op == "ld_abs" else m.R[insn.src], insn.imm, spec.size)
    if spec.op in ("call", "callx"):
        return helper_reads(m, insn.imm if spec.op == "call" else m.R[insn.dst])
    return ()


def helper_reads(m: Machine, helper_id: int) -> tuple[MemoryRead, ...]:
    """The bytes helper ``helper_id`` reads when called on ``m`` as it is now, from its prototype: a map key
    (``ARG_PTR_TO_MAP_KEY``: the map's ``key_size`` bytes) or value (``ARG_PTR_TO_MAP_VALUE``: ``value_size``
    bytes), memory (``ARG_PTR_TO_MEM``) for as many bytes as the size argument after it says, a constant string
    up to its NUL, and the packet at ``data + offset`` for helpers whose table entry names those registers
    (``packet_read``). Memory marked ``MEM_UNINIT`` is written, not read (``helper_writes``); arguments that
    are NULL (``PTR_MAYBE_NULL``), sized 0 or outside any region read nothing."""
    return _helper_memory(m, helper_id, False)


def helper_writes(m: Machine, helper_id: int) -> tuple[MemoryRead, ...]:
    """The bytes helper ``helper_id`` fills when called on ``m`` as it is now, from its prototype: memory it
    is handed uninitialised (``ARG_PTR_TO_UNINIT_MEM``, ``MEM_UNINIT``), for its size (the size argument after
    it, or a map's ``value_size``). What else a helper writes (the packet, a map's values) its prototype does
    not say."""
    return _helper_memory(m, helper_id, True)


def _helper_memory(m: Machine, helper_id: int, uninit: bool) -> tuple[MemoryRead, ...]:
    """The memory arguments of a helper call that are (``uninit``) or are not ``MEM_UNINIT``, as spans."""
    from ..helpers import HELPERS  # the helper table imports the VM's helpers, which import this package

    spec = HELPERS.get(helper_id)
    if spec is None or helper_id not in m.helpers:
        return ()
    R, args = m.R, spec.args
    maps = [mp for i, arg in enumerate(args) if arg == "ARG_CONST_MAP_PTR" for mp in m.maps
            if mp.object_addr == R[i + 1]]
    out: list[MemoryRead] = []
    for i, arg in enumerate(args):
        kind, *flags = arg.split("|")
        if kind == "ARG_PTR_TO_UNINIT_MEM":
            kind, flags = "ARG_PTR_TO_MEM", [*flags, "MEM_UNINIT"]
        addr = R[i + 1]
        if ("MEM_UNINIT" in flags) != uninit or (addr == 0 and "PTR_MAYBE_NULL" in flags):
            continue
        if kind == "ARG_PTR_TO_MAP_KEY" and maps:
            out += bytes_at(m, addr, maps[0].mdef.key_size)
        elif kind == "ARG_PTR_TO_MAP_VALUE" and maps:
            out += bytes_at(m, addr, maps[0].mdef.value_size)
        elif kind.startswith("ARG_PTR_TO_MEM") and i + 1 < len(args) and args[i + 1].startswith("ARG_CONST_SIZE"):
            out += bytes_at(m, addr, R[i + 2])
        elif kind == "ARG_PTR_TO_CONST_STR":
            out += _string_at(m, addr)
    if spec.packet_read is not None and not uninit:
        offset, length = (R[r] for r in spec.packet_read)
        out += _packet_load(m, 0, offset, length)
    return tuple(out)


def bytes_at(m: Machine, addr: int, size: int) -> tuple[MemoryRead, ...]:
    """``size`` bytes at ``addr`` in the region that holds them all, or nothing."""
    if size <= 0:
        return ()
    for r in m.mem.regions:  # not ``Memory.find``: looking must not change the VM's lookup cache
        if r.base <= addr and addr + size <= r.end:
            return (MemoryRead(r.name, addr - r.base, size),)
    return ()


def _string_at(m: Machine, addr: int) -> tuple[MemoryRead, ...]:
    """A NUL-terminated string with its NUL, when the region holding ``addr`` has the NUL."""
    for r in m.mem.regions:
        if r.base <= addr < r.end:
            nul = r.data.find(0, addr - r.base)
            return (MemoryRead(r.name, addr - r.base, nul - (addr - r.base) + 1),) if nul >= 0 else ()
    return ()


def _packet_load(m: Machine, base: int, imm: int, size: int) -> tuple[MemoryRead, ...]:
    """As ``Machine._ld_abs`` resolves the offset: a signed 32-bit sum, inside the packet or nothing."""
    packet = m.packet
    off = (base + imm) & 0xFFFFFFFF
    if off >= 0x80000000:
        off -= 1 << 32
    if packet is None or off < 0 or size <= 0 or off + size > len(packet):
        return ()
    return (MemoryRead(packet.region.name, packet.data_off + off, size),)


__all__ = ["MemoryRead", "bytes_at", "helper_reads", "helper_writes", "instruction_reads"]
