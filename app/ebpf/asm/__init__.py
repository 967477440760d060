"""Assembler and disassembler: text <-> ``Program``, driven by the ISA table."""
from .format import auto_labels, disassemble, format_insn, map_directive
from .parse import assemble

__all__ = ["assemble", "disassemble", "format_insn", "auto_labels", "map_directive"]
