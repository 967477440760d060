"""Splitting assembly text into lines and tokens.

Comments (``#``, ``//``, ``;`` to the end of the line, ``/* ... */`` across lines) are removed first, keeping
columns, so that lines pasted from ``llvm-objdump`` or a verifier log (``12: (b7) r0 = 0 ; R0_w=0``) work.
``name#12`` is a helper reference (``call bpf_map_lookup_elem#1``), not a comment.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import AsmError


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "reg", "num", "ident", "op", "ph" (template placeholder)
    text: str
    col: int  # 1-based
    value: int = 0  # number value, or register number
    prefix: str = ""  # register letter ("r", "w"); "+"/"-" for explicitly signed numbers; "pc" for pc+N
    percent: bool = False  # register written %rN (legacy syntax)


_TOKEN = re.compile(r"""
  (?P<ws>\s+)
| (?P<ph>\{\w+\})
| (?P<num>0[xX][0-9a-fA-F]+|[0-9]+(?![\w.$]))
| (?P<reg>%?[rw][0-9]+(?![\w.$]))
| (?P<sop>s(?:>>=|/=|%=|>=|<=|>|<))
| (?P<pc>pc(?=\s*[+-]))
| (?P<ident>[A-Za-z_.$][\w.$]*(?:\#[0-9]+)?)
| (?P<op><<=|>>=|\+=|-=|\*=|/=|%=|\|=|&=|\^=|==|!=|>=|<=|[=<>&()*,\[\]+\-:])
""", re.VERBOSE)

_LINE_PREFIX = re.compile(
    r"^\s*(?:[0-9]+:\s*)?"  # "12:" instruction index (verifier log, llvm-objdump)
    r"(?:(?:[0-9a-fA-F]{2}[ \t]){8}(?:(?:[0-9a-fA-F]{2}[ \t]){8})?\s*)?"  # llvm-objdump raw bytes (16 for ld_imm64)
    r"(?:\(\s*[0-9a-fA-F]{2}\s*\)\s*)?"  # "(b7)" opcode from the verifier log
)
_TRAILING_SYMBOL = re.compile(r"\s*<[\w.$+\-]*>\s*$")  # llvm-objdump "goto +2 <LBB0_2>"


def strip_comments(text: str) -> list[str]:
    """Lines of ``text`` with comments blanked out (columns and line numbers are preserved)."""
    out = []
    in_block = False
    for line in text.split("\n"):
        chars = list(line.rstrip("\r"))
        i = 0
        n = len(chars)
        while i < n:
            if in_block:
                if chars[i] == "*" and i + 1 < n and chars[i + 1] == "/":
                    chars[i] = chars[i + 1] = " "
                    in_block = False
                    i += 2
                    continue
                chars[i] = " "
                i += 1
                continue
            c = chars[i]
            if c == "/" and i + 1 < n and chars[i + 1] == "*":
                chars[i] = chars[i + 1] = " "
                in_block = True
                i += 2
                continue
            if c == "/" and i + 1 < n and chars[i + 1] == "/" or c == ";":
                del chars[i:]
                break
            if c == "#" and not (i > 0 and (chars[i - 1].isalnum() or chars[i - 1] == "_")
                                 and i + 1 < n and chars[i + 1].isdigit()):
                del chars[i:]
                break
            if c == '"':  # a quoted string in a directive: skip to its end
                j = i + 1
                while j < n and chars[j] != '"':
                    j += 2 if chars[j] == "\\" else 1
                i = j + 1
                continue
            i += 1
        out.append("".join(chars))
    return out


def strip_prefix(line: str) -> tuple[str, int]:
    """Remove a verifier-log or objdump prefix; returns the rest and the 0-based column where it starts."""
    m = _LINE_PREFIX.match(line)
    start = m.end() if m else 0
    rest = line[start:]
    t = _TRAILING_SYMBOL.search(rest)
    if t:
        rest = rest[: t.start()]
    return rest, start


def tokenize(text: str, line: int, col0: int = 0, *, template: bool = False) -> list[Token]:
    """Tokens of one instruction. ``+``/``-`` directly before a number fold into it (``r10 - 4`` -> ``r10``,
    ``-4``) and ``pc`` before a signed number marks it pc-relative (``goto pc+2``)."""
    raw: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise AsmError(line, col0 + pos + 1, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        s = m.group()
        col = col0 + pos + 1
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "ph":
            if not template:
                raise AsmError(line, col, f"unexpected {s!r}")
            raw.append(Token("ph", s[1:-1], col))
        elif kind == "num":
            raw.append(Token("num", s, col, _number(s, line, col)))
        elif kind == "reg":
            percent = s.startswith("%")
            body = s[1:] if percent else s
            number = int(body[1:])
            if number > 10:
                raise AsmError(line, col, f"unknown register '{s}' (r0–r10)")
            raw.append(Token("reg", s, col, number, body[0], percent))
        elif kind == "sop" or kind == "op":
            raw.append(Token("op", s, col))
        elif kind == "pc":
            raw.append(Token("pc", s, col))
        else:
            raw.append(Token("ident", s, col))
    return _fold_signs(raw, line)


def _number(text: str, line: int, col: int) -> int:
    """Decimal, ``0x`` hex, or octal with a leading 0 (as LLVM's assembler reads ``010``)."""
    if text[:2].lower() == "0x":
        return int(text, 16)
    if len(text) > 1 and text[0] == "0":
        if any(c in "89" for c in text):
            raise AsmError(line, col, f"invalid octal number '{text}' (a leading 0 means octal)")
        return int(text, 8)
    return int(text)


def _fold_signs(raw: list[Token], line: int) -> list[Token]:
    out: list[Token] = []
    i = 0
    pc_relative = False
    while i < len(raw):
        t = raw[i]
        if t.kind == "pc":
            if not (i + 2 < len(raw) + 0 and raw[i + 1].kind == "op" and raw[i + 1].text in ("+", "-")
                    and raw[i + 2].kind == "num"):
                raise AsmError(line, t.col, "expected a signed offset after 'pc'")
            pc_relative = True
            i += 1
            continue
        if t.kind == "op" and t.text in ("+", "-") and i + 1 < len(raw) and raw[i + 1].kind == "num":
            num = raw[i + 1]
            value = -num.value if t.text == "-" else num.value
            out.append(Token("num", t.text + num.text, t.col, value, "pc" if pc_relative else t.text))
            pc_relative = False
            i += 2
            continue
        if t.kind == "op" and t.text == "+" and i + 1 < len(raw) and (
                raw[i + 1].kind == "ph" or raw[i + 1].kind == "op" and raw[i + 1].text == "-"):
            i += 1  # "skb[r1 + {imm}]", "skb[r1 + -5]": the sign belongs to the number
            continue
        out.append(t)
        i += 1
    return out
