"""The legacy mnemonic syntax of the uBPF and bpf_conformance test suites.

``mnemonic operand, operand, ...`` with registers written ``%rN``, memory as ``[%rN+off]``, jump targets as
``+N``/``-N`` or a label, and ``exit`` usable as a label meaning the first ``exit`` instruction. Mnemonics
come from the ``legacy`` column of the ISA table (``add32``, ``ldxw``, ``jsgt``, ``lddw``, ``lock fetch
add32``, ``movsx1664``, ``be16``, ``ja32``); a register second operand selects the register form.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import isa
from ..errors import AsmError
from .lexer import Token

_ALIASES = {"swap16": "bswap16", "swap32": "bswap32", "swap64": "bswap64", "ldabsdw": "", "mov64": "mov"}


@dataclass
class Parsed:
    line: int
    spec: isa.OpSpec
    values: dict[str, int]
    refs: dict[str, Token] = field(default_factory=dict)
    raw: int | None = None


def is_legacy(tokens: list[Token]) -> bool:
    """Legacy lines start with a mnemonic that is not followed by ``=``-style kernel syntax."""
    first = tokens[0]
    if first.kind != "ident":
        return False
    if any(t.kind == "reg" and t.percent for t in tokens):
        return True
    name = first.text
    if name in ("lock", "call", "exit", "goto", "gotol", "if", "callx"):
        if name == "lock":
            return len(tokens) > 1 and tokens[1].kind == "ident"
        if name == "call":
            return len(tokens) > 1 and tokens[1].kind == "ident" and tokens[1].text == "local"
        return False
    return name in isa.BY_LEGACY or name in _ALIASES


def _mnemonic(tokens: list[Token], line: int) -> tuple[str, int]:
    """The (possibly multi-word) mnemonic and the index of the first operand token."""
    words = [tokens[0].text]
    i = 1
    if words[0] == "lock":
        while i < len(tokens) and tokens[i].kind == "ident":
            words.append(tokens[i].text)
            i += 1
    elif words[0] == "call" and i < len(tokens) and tokens[i].kind == "ident" and tokens[i].text == "local":
        words.append("local")
        i += 1
    name = " ".join(words)
    name = _ALIASES.get(name, name)
    if name not in isa.BY_LEGACY and name != "call":
        raise AsmError(line, tokens[0].col, f"unknown mnemonic '{' '.join(words)}'")
    return name, i


def _split_operands(tokens: list[Token]) -> list[list[Token]]:
    ops: list[list[Token]] = [[]]
    for t in tokens:
        if t.kind == "op" and t.text == ",":
            ops.append([])
        else:
            ops[-1].append(t)
    return [] if ops == [[]] else ops


def parse(tokens: list[Token], line: int) -> Parsed:
    name, first = _mnemonic(tokens, line)
    operands = _split_operands(tokens[first:])
    for op in operands:
        if not op:
            raise AsmError(line, tokens[-1].col, f"{name}: empty operand")
    forms = isa.BY_LEGACY.get(name, ())
    if name == "call":
        if len(operands) == 1 and len(operands[0]) == 1 and operands[0][0].kind == "reg":
            forms = isa.BY_LEGACY["callx"]
    shape = [_operand_kind(op) for op in operands]
    for spec in forms:
        want = _shape(spec)
        if len(want) != len(shape):
            continue
        if all(_fits(w, s) for w, s in zip(want, shape)):
            return _bind(spec, want, operands, line)
    described = " or ".join(sorted({", ".join(_shape(s)) or "no operands" for s in forms}))
    col = operands[0][0].col if operands else tokens[0].col
    raise AsmError(line, col, f"{name}: expected operands {described}")


def _operand_kind(op: list[Token]) -> str:
    if len(op) == 1:
        t = op[0]
        return {"reg": "reg", "num": "num", "ident": "label"}.get(t.kind, "?")
    if op[0].kind == "op" and op[0].text == "[":
        return "mem"
    return "?"


def _shape(spec: isa.OpSpec) -> list[str]:
    """Operand kinds the legacy syntax writes for this form."""
    f = dict(spec.fields)
    if spec.cls in (isa.Class.ALU, isa.Class.ALU64):
        if spec.op in ("neg", "le", "be", "bswap"):
            return ["reg"]
        return ["reg", "reg" if f["src"] == "reg" else "num"]
    if spec.op == "ld_imm64":
        return ["reg", "num"]
    if spec.op == "ld_abs":
        return ["num"]
    if spec.op == "ld_ind":
        return ["reg", "num"]
    if spec.cls == isa.Class.LDX:
        return ["reg", "mem"]
    if spec.cls == isa.Class.ST:
        return ["mem", "num"]
    if spec.cls == isa.Class.STX:
        return ["mem", "reg"]
    if spec.op == "ja":
        return ["target"]
    if spec.op == "call":
        return ["num"]
    if spec.op == "call_local":
        return ["target"]
    if spec.op == "callx":
        return ["reg"]
    if spec.op == "exit":
        return []
    return ["reg", "reg" if f["src"] == "reg" else "num", "target"]


def _fits(want: str, got: str) -> bool:
    return want == got or (want == "target" and got in ("num", "label"))


def _bind(spec: isa.OpSpec, want: list[str], operands: list[list[Token]], line: int) -> Parsed:
    values: dict[str, int] = {}
    refs: dict[str, Token] = {}
    mem_reg = "src" if spec.cls == isa.Class.LDX else "dst"
    regs_in_order = ["dst", "src"]
    if spec.cls in (isa.Class.ST, isa.Class.STX):
        regs_in_order = ["src"]
    if spec.op == "ld_ind":
        regs_in_order = ["src"]
    for kind, op in zip(want, operands):
        if kind == "reg":
            tok = op[0]
            values[regs_in_order.pop(0)] = tok.value
        elif kind == "num":
            tok = op[0]
            values["imm64" if spec.op == "ld_imm64" else "imm"] = tok.value
        elif kind == "target":
            tok = op[0]
            if tok.kind == "num":
                values["target"] = tok.value
            else:
                refs["target"] = tok
        elif kind == "mem":
            reg, off = _memory(op, line)
            values[mem_reg] = reg
            values["off"] = off
            if mem_reg == "dst" and "dst" in regs_in_order:
                regs_in_order.remove("dst")
    if spec.op == "callx":
        values = {"dst": values.get("dst", 0)}
    for name, value in values.items():
        if name == "imm":
            tok = next(op[0] for op in operands if op[0].kind == "num")
            check_imm32(tok, line)
        if name == "off" and not -(1 << 15) <= value < (1 << 15):
            raise AsmError(line, operands[0][0].col, f"offset {value:#x} does not fit in 16 bits")
        if name == "imm64" and not -(1 << 63) <= value < (1 << 64):
            raise AsmError(line, operands[-1][0].col, f"immediate {value:#x} does not fit in 64 bits")
    return Parsed(line, spec, values, refs)


def check_imm32(tok: Token, line: int) -> None:
    """A 32-bit immediate: decimal in -2**31..2**31-1, or hex as a bit pattern up to 0xffffffff."""
    is_hex = tok.text.lstrip("+-").lower().startswith("0x")
    low, high = (-(1 << 31), 0xFFFFFFFF) if is_hex else (-(1 << 31), (1 << 31) - 1)
    if not low <= tok.value <= high:
        raise AsmError(line, tok.col, f"immediate {tok.text} does not fit in 32 bits (decimal -2147483648.."
                                      f"2147483647, or hex up to 0xffffffff)")


def _memory(op: list[Token], line: int) -> tuple[int, int]:
    """``[%rN]``, ``[%rN+off]`` or ``[%rN-off]``."""
    inner = op[1:]
    if not inner or inner[-1].kind != "op" or inner[-1].text != "]":
        raise AsmError(line, op[0].col, "memory operand must end with ']'")
    inner = inner[:-1]
    if not inner or inner[0].kind != "reg":
        raise AsmError(line, op[0].col, "memory operand must start with a register: [%rN+off]")
    if len(inner) == 1:
        return inner[0].value, 0
    if len(inner) == 2 and inner[1].kind == "num" and inner[1].prefix in ("+", "-"):
        return inner[0].value, inner[1].value
    raise AsmError(line, inner[1].col, "memory operand must be [%rN], [%rN+off] or [%rN-off]")
