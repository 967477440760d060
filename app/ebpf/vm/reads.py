"""Which guest bytes an instruction loads: what a traced run's step records list as ``reads``.

Writes show in memory (a step record compares the regions before and after a step); loads leave no mark, so
they are worked out from the instruction and the machine just before it runs: ``ldx`` and the atomic
operations read ``size`` bytes at ``dst/src + off``; the legacy packet loads (``ld_abs``/``ld_ind``) read the
packet at ``data + offset``. Bytes that helpers read (a map key on the stack, ``bpf_skb_load_bytes``) are not
listed: helpers reach memory in too many ways for one rule. A load that faults reads nothing (the fault says
where it went).
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


def instruction_reads(m: Machine) -> tuple[MemoryRead, ...]:
    """The bytes the instruction at ``m.pc`` will load when it runs on ``m`` as it is now."""
    if m.done or not 0 <= m.pc < len(m.insns):
        return ()
    insn = m.insns[m.pc]
    spec = insn.spec
    if spec is None:
        return ()
    if spec.cls == isa.Class.LDX:
        return _at(m, (m.R[insn.src] + insn.off) & M64, spec.size)
    if spec.op.startswith("atomic_"):
        return _at(m, (m.R[insn.dst] + insn.off) & M64, spec.size)
    if spec.op in ("ld_abs", "ld_ind"):
        return _packet_load(m, 0 if spec.op == "ld_abs" else m.R[insn.src], insn.imm, spec.size)
    return ()


def _at(m: Machine, addr: int, size: int) -> tuple[MemoryRead, ...]:
    for r in m.mem.regions:  # not ``Memory.find``: looking must not change the VM's lookup cache
        if r.base <= addr and addr + size <= r.end:
            return (MemoryRead(r.name, addr - r.base, size),)
    return ()


def _packet_load(m: Machine, base: int, imm: int, size: int) -> tuple[MemoryRead, ...]:
    """As ``Machine._ld_abs`` resolves the offset: a signed 32-bit sum, inside the packet or nothing."""
    packet = m.packet
    off = (base + imm) & 0xFFFFFFFF
    if off >= 0x80000000:
        off -= 1 << 32
    if packet is None or off < 0 or off + size > len(packet):
        return ()
    return (MemoryRead(packet.region.name, packet.data_off + off, size),)


__all__ = ["MemoryRead", "instruction_reads"]
