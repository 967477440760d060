"""The eBPF engine: pure Python, no Flask, no database, deterministic.

The façade below is the stable interface that the web layer, the JSON API and the CLI use:

``assemble(text) -> Program``
    kernel/LLVM or legacy assembly text to a program (raises ``AsmError`` with line and column);
``load_bytes(code) -> Program``
    raw little-endian instructions to a program (raises ``DecodeError`` naming the instruction index);
``disassemble(program_or_insns, style="asm"|"log") -> str``
    text in the assembler's syntax, or exactly as the kernel verifier log prints it;
``run(program, ...) -> RunResult``
    a concrete run in the VM (see ``app.ebpf.vm``).
"""
from .asm import assemble
from .asm import disassemble as _disassemble
from .errors import AsmError, DecodeError, EbpfError, InputError
from .insn import Insn, decode
from .program import MapDef, Program


def load_bytes(code: bytes) -> Program:
    """Raw instructions -> Program, checked against the ISA table."""
    return Program(decode(code))


def disassemble(program: "Program | tuple[Insn, ...] | list[Insn]", style: str = "asm", **kwargs) -> str:
    insns = program.insns if isinstance(program, Program) else program
    if isinstance(program, Program) and "labels" not in kwargs and style == "asm" and program.labels:
        kwargs["labels"] = program.labels
    return _disassemble(insns, style, **kwargs)


__all__ = ["assemble", "disassemble", "load_bytes", "decode", "Program", "MapDef", "Insn",
           "AsmError", "DecodeError", "EbpfError", "InputError"]
