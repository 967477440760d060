"""Tiny instruction builders on top of the ISA table (no assembler involved, so a parser change cannot
change what these tests run)."""
from __future__ import annotations

from app.ebpf import isa
from app.ebpf.insn import Insn, ld_imm64_pair

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1
FP = 10  # the frame pointer register


def s32(value: int) -> int:
    value &= M32
    return value - (1 << 32) if value >> 31 else value


def s16(value: int) -> int:
    value &= 0xFFFF
    return value - (1 << 16) if value >> 15 else value


def I(name: str, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> Insn:  # noqa: E743 (insn)
    """One instruction of the form ``name`` (an ``isa.BY_NAME`` key); discriminator fields (``off`` of
    sdiv/movsx, ``imm`` of byte swaps and atomics) are filled in from the table."""
    spec = isa.BY_NAME[name]
    fields = {"dst": dst, "src": src, "off": off, "imm": imm}
    fields.update((k, int(v)) for k, v in spec.fixed)
    return Insn(spec.opcode, fields["dst"], fields["src"], s16(fields["off"]), s32(fields["imm"]))


def alu(op: str, width: int, dst: int, *, src: int | None = None, imm: int | None = None) -> Insn:
    """``dst op= src`` or ``dst op= imm`` (op is an ISA op key: add, sdiv, arsh, mov, ...)."""
    if src is not None:
        return I(f"{op}{width}_reg", dst, src)
    return I(f"{op}{width}_imm", dst, imm=imm or 0)


def jmp(op: str, width: int, dst: int, off: int, *, src: int | None = None, imm: int | None = None) -> Insn:
    if src is not None:
        return I(f"{op}{width}_reg", dst, src, off=off)
    return I(f"{op}{width}_imm", dst, off=off, imm=imm or 0)


def ld64(dst: int, value: int) -> list[Insn]:
    """``dst = value ll`` (two slots)."""
    return list(ld_imm64_pair(isa.BY_NAME["ld_imm64"].opcode, dst, 0, value))


def mov64(dst: int, imm: int) -> Insn:
    return I("mov64_imm", dst, imm=imm)


def mov32(dst: int, imm: int) -> Insn:
    return I("mov32_imm", dst, imm=imm)


EXIT = I("exit")
