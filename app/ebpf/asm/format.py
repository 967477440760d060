"""Instructions -> text, in two styles, from the templates of the ISA table.

``style="asm"`` prints the kernel/LLVM assembly syntax that the assembler reads back (``r1 = *(u32 *)(r2 +
4)``, ``if r1 > 5 goto +2``, ``r1 = 0x1 ll``); ``style="log"`` prints exactly what the kernel verifier log
prints (``kernel/bpf/disasm.c``: ``(61) r1 = *(u32 *)(r2 +4)``, ``if r1 > 0x5 goto pc+2``, ``call
bpf_map_lookup_elem#1``). The assembler reads both.
"""
from __future__ import annotations

import re

from .. import isa
from ..helpers import helper_name
from ..insn import Insn, jump_target, ld_imm64_value, to_s32
from ..program import MapDef

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def format_insn(insns: tuple[Insn, ...] | list[Insn], pc: int, style: str = "asm",
                labels: dict[int, str] | None = None) -> str:
    """Text of the instruction at ``pc`` (without index or opcode prefix).

    ``labels`` maps instruction indexes to label names; jumps to a labelled index print the label (asm style).
    An invalid instruction prints as ``.8byte 0x...`` in asm style (reassembles to the same bytes) and as
    ``BUG_<opcode>`` in log style, like the kernel.
    """
    insn = insns[pc]
    spec = insn.spec
    if spec is None or (spec.slots == 2 and pc + 1 >= len(insns)):
        return f"BUG_{insn.opcode:02x}" if style == "log" else f".8byte {int.from_bytes(insn.encode(), 'little'):#018x}"
    template = spec.log if style == "log" else spec.asm
    letter = isa.reg_letter(spec)

    def render(match: re.Match) -> str:
        name = match.group(1)
        if name == "dst":
            return f"{letter}{insn.dst}"
        if name == "src":
            return f"{letter}{insn.src}"
        if name == "rdst":
            return f"r{insn.dst}"
        if name in ("rsrc", "wsrc"):
            return f"{name[0]}{insn.src}"
        if name == "imm":
            if style == "log" and spec.cls in (isa.Class.JMP, isa.Class.JMP32) and spec.op not in ("call", "call_kfunc"):
                return f"0x{insn.imm & 0xFFFFFFFF:x}"
            return str(insn.imm)
        if name == "imm2":
            return str(insns[pc + 1].imm)
        if name == "imm64":
            value = ld_imm64_value(insn, insns[pc + 1])
            if style == "log":
                return f"0x{value:x}"
            return str(value) if value < 0x80000000 else f"0x{value:x}"
        if name == "off":
            if style == "log":
                return f"{insn.off:+d}"
            return f"+ {insn.off}" if insn.off >= 0 else f"- {-insn.off}"
        if name == "target":
            target = jump_target(insn, pc)
            if labels and target in labels and style != "log":
                return labels[target]
            delta = target - pc - 1
            return f"pc{delta:+d}" if style == "log" else f"{delta:+d}"
        if name == "helper":
            hname = helper_name(insn.imm)
            if style == "log":
                return f"{hname or 'unknown'}#{insn.imm}"
            return str(insn.imm)
        raise AssertionError(f"unknown placeholder {name} in {spec.name}")

    return _PLACEHOLDER.sub(render, template)


def disassemble(insns: tuple[Insn, ...] | list[Insn], style: str = "asm", *, index: bool = False,
                labels: dict[int, str] | None = None) -> str:
    """Whole-program text, one instruction per line; the second slot of ``ld_imm64`` prints nothing.

    ``style="log"`` lines look like the verifier log's: ``12: (b7) r0 = 0``. With ``index`` the asm style
    prefixes ``12:`` too (still assemblable: the assembler skips such prefixes).
    """
    lines = []
    pc = 0
    n = len(insns)
    while pc < n:
        insn = insns[pc]
        if labels and pc in labels and style != "log":
            lines.append(f"{labels[pc]}:")
        text = format_insn(insns, pc, style, labels)
        if style == "log":
            lines.append(f"{pc}: ({insn.opcode:02x}) {text}")
        else:
            lines.append(f"{pc}: {text}" if index else text)
        spec = insn.spec
        pc += spec.slots if spec is not None and pc + spec.slots <= n else 1
    return "\n".join(lines) + ("\n" if lines else "")


def map_directive(mdef: MapDef) -> str:
    """The ``.map`` line that declares ``mdef`` (``parse.py`` reads it back to an equal ``MapDef``; ``flags``
    and ``inner`` are written only when set)."""
    extra = (f" flags={mdef.flags:#x}" if mdef.flags else "") + (f" inner={mdef.inner}" if mdef.inner else "")
    return (f".map {mdef.name} type={mdef.type} key_size={mdef.key_size} value_size={mdef.value_size} "
            f"max_entries={mdef.max_entries}{extra}")


def auto_labels(insns: tuple[Insn, ...] | list[Insn]) -> dict[int, str]:
    """Label names (``L<index>``) for every jump target, for readable asm-style listings."""
    out = {}
    for pc, insn in enumerate(insns):
        spec = insn.spec
        if spec is None:
            continue
        target = jump_target(insn, pc)
        if target is not None and 0 <= target <= len(insns):
            out[target] = f"L{target}"
    return out


__all__ = ["format_insn", "disassemble", "auto_labels", "to_s32"]
