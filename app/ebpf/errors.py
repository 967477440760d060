"""Errors a user's input can cause, each with the location it refers to.

These are *results* of bad input (a typo in assembly, a malformed object), raised as exceptions so that a
caller can stop at the first one, and always carrying a location. Engine bugs are ordinary Python
exceptions and are never caught and dressed up as these.
"""
from __future__ import annotations


class EbpfError(Exception):
    """Base class of every user-facing engine error."""

    def to_json(self) -> dict:
        return {"kind": type(self).__name__, "message": str(self)}


class AsmError(EbpfError):
    """Assembly text that cannot be assembled. ``line`` and ``col`` are 1-based."""

    def __init__(self, line: int, col: int, message: str):
        self.line, self.col, self.message = line, col, message
        super().__init__(f"line {line}, col {col}: {message}")

    def to_json(self) -> dict:
        return {"kind": "AsmError", "message": self.message, "line": self.line, "col": self.col}


class DecodeError(EbpfError):
    """Bytes that are not a valid instruction. ``pc`` is the instruction index (8-byte slots)."""

    def __init__(self, pc: int, message: str):
        self.pc, self.message = pc, message
        super().__init__(f"insn {pc}: {message}")

    def to_json(self) -> dict:
        return {"kind": "DecodeError", "message": self.message, "pc": self.pc}


class InputError(EbpfError):
    """A run's input (memory, packet, option) that cannot be used; ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")

    def to_json(self) -> dict:
        return {"kind": "InputError", "message": self.message, "field": self.field}
