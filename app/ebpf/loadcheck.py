"""Structural checks a loader makes before any program runs, with the kernel's messages.

These are the checks that need no abstract interpretation: subprogram boundaries
(``check_subprogs`` in ``kernel/bpf/verifier.c``: every jump stays inside its subprogram, every subprogram
ends with ``exit`` or an unconditional jump), helper ids that exist in the environment (``invalid func
unknown#N``), and a jump to itself (the kernel's ``infinite loop detected at insn N``). Field and range
checks of single instructions are done earlier by ``insn.check``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Container

from . import isa
from .insn import Insn, jump_target


@dataclass(frozen=True)
class LoadError:
    pc: int
    message: str

    def __str__(self) -> str:
        return f"insn {self.pc}: {self.message}"

    def to_json(self) -> dict:
        return {"pc": self.pc, "message": self.message}


def refers_to_function(insn: Insn) -> bool:
    """``call pc+N`` (a bpf-to-bpf call) or ``ld_imm64`` of a function (a callback): either names the
    start of a subprogram."""
    return insn.opcode == 0x85 and insn.src == isa.CallSrc.PSEUDO_CALL or \
        insn.opcode == 0x18 and insn.src == isa.PseudoSrc.FUNC


def subprog_starts(insns: tuple[Insn, ...]) -> list[int]:
    """Instruction indexes where subprograms start: 0 and every target of ``call pc+N`` or ``ld_func``."""
    starts = {0}
    for pc, insn in enumerate(insns):
        if refers_to_function(insn):
            target = jump_target(insn, pc)
            if target is not None and 0 <= target < len(insns):
                starts.add(target)
    return sorted(starts)


def check_subprogs(insns: tuple[Insn, ...]) -> LoadError | None:
    """Mirrors ``check_subprogs``: jumps stay in their subprogram, which ends in exit or goto. Before it, as
    ``add_subprog_and_kfunc`` (``add_subprog``), every ``call pc+N`` and ``ld_func`` must name an instruction
    of the program."""
    if not insns:
        return None
    for pc, insn in enumerate(insns):
        if refers_to_function(insn) and not 0 <= jump_target(insn, pc) < len(insns):
            return LoadError(pc, "call to invalid destination")
    starts = subprog_starts(insns)
    bounds = list(zip(starts, starts[1:] + [len(insns)]))
    for start, end in bounds:
        for pc in range(start, end):
            insn = insns[pc]
            spec = insn.spec
            if spec is None or spec.cls not in (isa.Class.JMP, isa.Class.JMP32):
                continue
            if spec.op in ("call", "call_local", "call_kfunc", "callx", "exit"):
                continue
            target = jump_target(insn, pc)
            if target is not None and not start <= target < end:
                return LoadError(pc, f"jump out of range from insn {pc} to {target}")
        last = insns[end - 1]
        if end - 2 >= start and insns[end - 2].opcode == 0x18:
            return LoadError(end - 1, "last insn is not an exit or jmp")
        if last.opcode not in (0x95, 0x05, 0x06):
            return LoadError(end - 1, "last insn is not an exit or jmp")
    return None


def check_helpers(insns: tuple[Insn, ...], known: Container[int]) -> LoadError | None:
    for pc, insn in enumerate(insns):
        if insn.opcode == 0x85 and insn.src == isa.CallSrc.HELPER and insn.imm not in known:
            return LoadError(pc, f"invalid func unknown#{insn.imm}")
    return None


def check_self_loops(insns: tuple[Insn, ...]) -> LoadError | None:
    for pc, insn in enumerate(insns):
        if insn.opcode in (0x05, 0x06) and jump_target(insn, pc) == pc:
            return LoadError(pc, f"infinite loop detected at insn {pc}")
    return None


def check_map_refs(insns: tuple[Insn, ...], map_count: int) -> LoadError | None:
    """Map references of ``ld_imm64`` (``resolve_pseudo_ldimm64``): our "fd" is the map's index."""
    for pc, insn in enumerate(insns):
        if insn.opcode != 0x18 or insn.src in (isa.PseudoSrc.PLAIN, isa.PseudoSrc.FUNC):
            continue
        if insn.src == isa.PseudoSrc.BTF_ID:
            return LoadError(pc, "kernel variables (ld_imm64 with BPF_PSEUDO_BTF_ID) are not available here")
        if not 0 <= insn.imm < map_count:
            if insn.src in (isa.PseudoSrc.MAP_IDX, isa.PseudoSrc.MAP_IDX_VALUE):
                return LoadError(pc, f"fd_idx {insn.imm} is out of range: the program has {map_count} maps")
            return LoadError(pc, f"fd {insn.imm} is not pointing to valid bpf_map")
    return None


def check_load(insns: tuple[Insn, ...], helpers: Container[int], map_count: int = 0) -> LoadError | None:
    """The first structural problem, or None."""
    return (check_map_refs(insns, map_count) or check_subprogs(insns) or check_helpers(insns, helpers)
            or check_self_loops(insns))
