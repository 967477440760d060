"""Matching instruction tokens against the ISA table's templates (kernel/LLVM syntax and verifier-log text).

Each OpSpec's ``asm`` and ``log`` templates are tokenized once into a *skeleton*; a line of assembly is
matched by looking its token shape up in an index of skeletons, then checking registers and operands.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .. import isa
from .lexer import Token, tokenize

# Placeholders and the token kinds they accept.
_REG_PLACEHOLDERS = {"dst", "src", "rdst", "rsrc", "wsrc"}
_NUM_PLACEHOLDERS = {"imm", "imm2", "off"}
_NUM_OR_NAME = {"target", "imm64", "helper"}


# Log spellings that are not assembly: the kernel prints a kfunc call as "call kernel-function#<btf id>".
_UNREADABLE_LOG_TEMPLATES = {"call kernel-function#{imm}"}


@dataclass(frozen=True)
class Skeleton:
    spec: isa.OpSpec
    tokens: tuple[Token, ...]


def _key_options(tok: Token) -> list[str]:
    if tok.kind == "ph":
        if tok.text in _REG_PLACEHOLDERS:
            return ["R"]
        if tok.text in _NUM_PLACEHOLDERS:
            return ["N"]
        return ["N", "I"]
    if tok.kind == "reg":  # a fixed register, like r0 in "r0 = *(u8 *)skb[{imm}]"
        return ["R"]
    return [tok.text]


@cache
def keywords() -> frozenset[str]:
    """Every literal word of every template (``goto``, ``ll``, ``u32``, ``atomic_fetch_add``, ...)."""
    words = set()
    for skel in _all_skeletons():
        words.update(t.text for t in skel.tokens if t.kind == "ident")
    return frozenset(words)


@cache
def _all_skeletons() -> tuple[Skeleton, ...]:
    out = []
    for spec in isa.SPECS:
        out.append(Skeleton(spec, tuple(tokenize(spec.asm, 0, template=True))))
        for alias in spec.aliases:
            out.append(Skeleton(spec, tuple(tokenize(alias, 0, template=True))))
        if spec.log == spec.asm or spec.log in _UNREADABLE_LOG_TEMPLATES:
            continue
        if spec.name == "ld_imm64":
            continue  # "r1 = 0x5" reads as a mov; the parser uses the "(18)" opcode of a log line instead
        out.append(Skeleton(spec, tuple(tokenize(spec.log, 0, template=True))))
    return tuple(out)


@cache
def index() -> dict[tuple[str, ...], tuple[Skeleton, ...]]:
    table: dict[tuple[str, ...], list[Skeleton]] = {}
    for skel in _all_skeletons():
        keys: list[tuple[str, ...]] = [()]
        for tok in skel.tokens:
            keys = [k + (opt,) for k in keys for opt in _key_options(tok)]
        for k in keys:
            table.setdefault(k, []).append(skel)
    return {k: tuple(v) for k, v in table.items()}


def line_key(tokens: list[Token]) -> tuple[str, ...]:
    words = keywords()
    out = []
    for t in tokens:
        if t.kind == "reg":
            out.append("R")
        elif t.kind == "num":
            out.append("N")
        elif t.kind == "ident" and t.text not in words:
            out.append("I")
        else:
            out.append(t.text)
    return tuple(out)


def bind(skel: Skeleton, tokens: list[Token]) -> dict[str, Token] | tuple[str, int]:
    """Bind placeholders to tokens, or return why the tokens do not fit this form (message, column)."""
    letter = isa.reg_letter(skel.spec)
    bound: dict[str, Token] = {}
    for pat, tok in zip(skel.tokens, tokens):
        if pat.kind == "reg" and (tok.value != pat.value or tok.percent):
            return f"this instruction always uses {pat.text}, not '{tok.text}'", tok.col
        if pat.kind != "ph":
            continue
        name = pat.text
        if name in _REG_PLACEHOLDERS:
            if tok.percent:
                return f"register '{tok.text}' is legacy syntax; write {tok.text[1:]}", tok.col
            if name in ("dst", "src") and tok.prefix != letter:
                width = "32" if letter == "w" else "64"
                return f"expected a {width}-bit register {letter}{tok.value}, got '{tok.text}'", tok.col
        if name in bound:
            prev = bound[name]
            if (prev.kind, prev.value) != (tok.kind, tok.value):
                return f"'{tok.text}' must be the same register as '{prev.text}'", tok.col
            continue
        bound[name] = tok
    return bound


def candidates(tokens: list[Token]) -> tuple[Skeleton, ...]:
    return index().get(line_key(tokens), ())


def closest(tokens: list[Token]) -> tuple[int, list[str]]:
    """Position of the first token that no form accepts after the longest matching prefix, and what the
    forms expected there (for error messages)."""
    key = line_key(tokens)
    best = -1
    expected: set[str] = set()
    for k in index():
        n = 0
        while n < len(k) and n < len(key) and k[n] == key[n]:
            n += 1
        if n > best:
            best, expected = n, set()
        if n == best:
            expected.add(_describe(k[n]) if n < len(k) else "end of line")
    return best, sorted(expected)


def describe_expected(expected: list[str]) -> str:
    """'a register or a number or ...', generic kinds first, at most six choices."""
    generic = [e for e in expected if e.startswith("a ") or e == "end of line"]
    words = [e for e in expected if e not in generic]
    shown = generic + words
    text = " or ".join(shown[:6])
    return text + (" ..." if len(shown) > 6 else "")


def _describe(key: str) -> str:
    return {"R": "a register", "N": "a number", "I": "a name"}.get(key, f"'{key}'")
