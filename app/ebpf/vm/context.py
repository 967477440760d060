"""The context a program gets in r1, as the VM sees it: a region whose loads and stores follow the
program type's access rules, with the kernel's ``convert_ctx_access`` results for pointer fields."""
from __future__ import annotations

from ..progtypes import ProgType, field_at
from .machine import GuestFault, Machine, VmFault


class ContextHooks:
    """Loads and stores of a context region (``Region.hooks``)."""

    def __init__(self, ptype: ProgType):
        self.ptype = ptype

    def _refuse(self, machine: Machine, off: int, size: int, pc: int, write: bool) -> GuestFault:
        region = f"ctx ({self.ptype.ctx_struct})"
        what = "write" if write else "read"
        f = field_at(self.ptype.fields, off)
        name = f" ({self.ptype.ctx_struct}.{f.name})" if f else ""
        return GuestFault(VmFault(pc, "context", f"invalid bpf_context access off={off} size={size}{name}: "
                                                 f"this {what} is not allowed for {self.ptype.name} programs",
                                  region, off, size, None))

    def load(self, machine: Machine, off: int, size: int, pc: int) -> int:
        if not self.ptype.is_valid_access(off, size, False):
            raise self._refuse(machine, off, size, pc, False)
        f = field_at(self.ptype.fields, off)
        if f is not None and f.kind in ("pkt", "pkt_end", "pkt_meta"):
            packet = machine.packet
            return {"pkt": packet.data_addr, "pkt_end": packet.end_addr, "pkt_meta": packet.meta_addr}[f.kind]
        if f is not None and f.kind == "sock":
            return 0  # test runs have no socket the program could follow: NULL
        region = machine.ctx
        return int.from_bytes(region.data[off:off + size], "little")

    def store(self, machine: Machine, off: int, size: int, value: int, pc: int) -> None:
        if not self.ptype.is_valid_access(off, size, True):
            raise self._refuse(machine, off, size, pc, True)
        region = machine.ctx
        region.data[off:off + size] = (value & ((1 << (size * 8)) - 1)).to_bytes(size, "little")
        region.writes += 1
