"""Instructions as data: the ``Insn`` record, bytes <-> instructions, and the field checks of decoding.

A program is a tuple of ``Insn``, one per 8-byte slot, exactly as the kernel indexes it: ``ld_imm64`` takes
two slots and its second slot is kept as a pseudo instruction (opcode 0) holding the upper 32 bits in
``imm``. Instruction indexes (``pc``) therefore match the kernel's ``insn_idx`` everywhere.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from . import isa
from .errors import DecodeError

_INSN = struct.Struct("<BBhi")


@dataclass(frozen=True, slots=True)
class Insn:
    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0  # signed 16-bit
    imm: int = 0  # signed 32-bit

    def encode(self) -> bytes:
        return _INSN.pack(self.opcode, (self.src << 4) | self.dst, self.off, self.imm)

    @property
    def spec(self) -> isa.OpSpec | None:
        return isa.lookup(self.opcode, self.dst, self.src, self.off, self.imm)


def to_s32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def to_s16(value: int) -> int:
    value &= 0xFFFF
    return value - (1 << 16) if value & 0x8000 else value


def ld_imm64_value(first: Insn, second: Insn) -> int:
    """The unsigned 64-bit immediate of an ``ld_imm64`` pair."""
    return ((second.imm & 0xFFFFFFFF) << 32) | (first.imm & 0xFFFFFFFF)


def ld_imm64_pair(opcode: int, dst: int, src: int, value: int) -> tuple[Insn, Insn]:
    value &= (1 << 64) - 1
    return (Insn(opcode, dst, src, 0, to_s32(value)), Insn(0, 0, 0, 0, to_s32(value >> 32)))


def encode(insns: tuple[Insn, ...] | list[Insn]) -> bytes:
    return b"".join(i.encode() for i in insns)


def decode_raw(code: bytes) -> tuple[Insn, ...]:
    """Split bytes into slots without checking them. Raises DecodeError if the length is not 8·n."""
    if len(code) % isa.INSN_SIZE:
        raise DecodeError(len(code) // isa.INSN_SIZE,
                          f"program length {len(code)} is not a multiple of 8 bytes")
    out = []
    for pc in range(len(code) // isa.INSN_SIZE):
        opcode, regs, off, imm = _INSN.unpack_from(code, pc * isa.INSN_SIZE)
        out.append(Insn(opcode, regs & 0x0F, regs >> 4, off, imm))
    return tuple(out)


def decode(code: bytes) -> tuple[Insn, ...]:
    """Bytes -> checked instructions. Raises DecodeError naming the first bad instruction's index."""
    insns = decode_raw(code)
    check(insns)
    return insns


def check(insns: tuple[Insn, ...]) -> None:
    """Check every slot against the ISA table: known opcode, reserved fields zero, registers r0..r10,
    ``ld_imm64`` complete. Jump targets are checked too (inside the program, not into an ``ld_imm64``)."""
    n = len(insns)
    second_slot = set()
    pc = 0
    while pc < n:
        insn = insns[pc]
        spec = check_one(insn, pc)
        if spec.slots == 2:
            if pc + 1 >= n:
                raise DecodeError(pc, "invalid bpf_ld_imm64 insn: the second slot is missing")
            nxt = insns[pc + 1]
            if nxt.opcode or nxt.dst or nxt.src or nxt.off:
                raise DecodeError(pc, "invalid bpf_ld_imm64 insn: its second slot must have opcode, registers "
                                      "and offset 0")
            if nxt.imm and spec.name in ("ld_map_fd", "ld_map_idx", "ld_func"):
                raise DecodeError(pc, "unrecognized bpf_ld_imm64 insn: its second slot's imm must be 0 for "
                                      f"{spec.name}")
            second_slot.add(pc + 1)
        pc += spec.slots
    for pc, insn in enumerate(insns):
        if pc in second_slot:
            continue
        target = jump_target(insn, pc)
        if target is None:
            continue
        if not 0 <= target < n:
            raise DecodeError(pc, f"jump out of range from insn {pc} to {target}")
        if target in second_slot:
            raise DecodeError(pc, f"jump from insn {pc} into the middle of ld_imm64 at insn {target - 1}")


def check_one(insn: Insn, pc: int) -> isa.OpSpec:
    """The OpSpec of one instruction, or DecodeError with the reason it is invalid."""
    forms = isa.BY_OPCODE[insn.opcode]
    if not forms:
        raise DecodeError(pc, f"unknown opcode 0x{insn.opcode:02x}")
    spec = isa.lookup(insn.opcode, insn.dst, insn.src, insn.off, insn.imm)
    if spec is None:
        field, _ = forms[0].fixed[0]
        value = getattr(insn, field)
        raise DecodeError(pc, f"invalid {field} {value} for opcode 0x{insn.opcode:02x} "
                              f"({', '.join(f.name for f in forms)})")
    for field, kind in spec.fields:
        value = getattr(insn, field)
        if kind == "zero" and value != 0:
            raise DecodeError(pc, f"{spec.name} uses reserved field {field} = {value} (must be 0)")
        if kind == "reg" and value > isa.MAX_REG:
            raise DecodeError(pc, f"invalid {field} register r{value} (r0-r10)")
    return spec


def jump_target(insn: Insn, pc: int) -> int | None:
    """Where a jump, local call or ``ld_func`` at ``pc`` points, or None for other instructions."""
    cls = insn.opcode & 0x07
    if cls == isa.Class.JMP:
        op = insn.opcode & 0xF0
        if op == isa.JmpOp.EXIT:
            return None
        if op == isa.JmpOp.CALL:
            return pc + 1 + insn.imm if insn.src == isa.CallSrc.PSEUDO_CALL and insn.opcode == 0x85 else None
        return pc + 1 + insn.off
    if cls == isa.Class.JMP32:
        op = insn.opcode & 0xF0
        if op == isa.JmpOp.JA:
            return pc + 1 + insn.imm
        if op in (isa.JmpOp.CALL, isa.JmpOp.EXIT):
            return None
        return pc + 1 + insn.off
    if insn.opcode == 0x18 and insn.src == isa.PseudoSrc.FUNC:
        return pc + 1 + insn.imm
    return None
