"""Refusals made before compiling: the source constructs that could make the compiler read a file of ours.

The compile sandbox (:mod:`.sandbox`) is what actually keeps the compiler away from server files; this
scan is the first, friendlier layer: it names the line of an ``#include "/etc/passwd"`` instead of letting
the compiler fail with "permission denied". It refuses

* ``#include``/``#include_next``/``#import`` of an absolute path, of a path with a ``..`` component or a
  backslash, and of a computed name (``#include MACRO``): every header name must be written out;
* the same paths in ``__has_include(...)``/``__has_include_next(...)``, which would reveal whether a file
  exists;
* ``#embed`` and ``__has_embed`` (C23 file embedding) altogether;
* ``#pragma GCC dependency`` and ``_Pragma("... dependency ...")``, which check a file's date.

The scan follows the C preprocessor's lexing closely enough never to miss a directive the compiler sees:
lines are spliced first (a backslash, optional blanks, newline, as clang accepts them), comments and
string/character literals are skipped, ``%:`` is the digraph of ``#``, and a ``#`` counts as the start of a
directive whenever only blanks and comments precede it on its line (a superset of what clang accepts).
Raw string literals (``R"x(...)x"``), which clang accepts in C as an extension, are switched off by the
compile command (``-fno-raw-string-literals``), so they need no lexing here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_SOURCE_BYTES = 64 * 1024

_SPLICE_RE = re.compile(r"\\[ \t\v\f]*\n")
_IDENT_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_INCLUDE_DIRECTIVES = ("include", "include_next", "import")
_HAS_INCLUDE = ("__has_include", "__has_include_next")


@dataclass(frozen=True)
class Refusal:
    """A construct the playground will not compile, at a 1-based source line and column."""

    line: int
    col: int
    message: str


def normalize_newlines(source: str) -> str:
    """CRLF and lone CR become LF, as the compiler would read them (so line numbers agree)."""
    return source.replace("\r\n", "\n").replace("\r", "\n")


class _Spliced:
    """The source with line splices removed, and each character's original (line, col)."""

    def __init__(self, source: str):
        chars: list[str] = []
        where: list[tuple[int, int]] = []
        line, col, i = 1, 1, 0
        while i < len(source):
            m = _SPLICE_RE.match(source, i) if source[i] == "\\" else None
            if m:
                i = m.end()
                line, col = line + 1, 1
                continue
            chars.append(source[i])
            where.append((line, col))
            if source[i] == "\n":
                line, col = line + 1, 1
            else:
                col += 1
            i += 1
        self.text = "".join(chars)
        self.where = where
        self.end = (line, col)

    def at(self, i: int) -> tuple[int, int]:
        return self.where[i] if i < len(self.where) else self.end


def check_header_name(name: str) -> str | None:
    """Why a header name written in a directive is refused, or None."""
    if name.startswith("/"):
        return f"#include of an absolute path ({name}) is not allowed: only the playground's headers are available"
    if "\\" in name:
        return f"a backslash in a header name ({name}) is not allowed"
    if ".." in name.split("/"):
        return f"'..' in a header name ({name}) is not allowed: only the playground's headers are available"
    if not name:
        return "empty header name"
    return None


def _skip_literal(text: str, i: int, quote: str) -> int:
    """Index after a string or character literal starting at ``text[i] == quote`` (ends at end of line)."""
    i += 1
    while i < len(text) and text[i] != "\n":
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return i


def _blank_comments(text: str) -> str:
    """``text`` with comments replaced by a space (newlines inside block comments kept) and literals kept."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(" " + "\n" * text.count("\n", i, end))
            i = end
        elif c == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" ")
            i = end
        elif c in "\"'":
            end = _skip_literal(text, i, c)
            out.append(text[i:end])
            i = end
        else:
            out.append(c)
            i += 1
    return "".join(out)


def scan(source: str) -> list[Refusal]:
    """Every refused construct in ``source`` (already newline-normalised), in source order."""
    sp = _Spliced(source)
    text = sp.text
    refusals: list[Refusal] = []
    i, n = 0, len(text)
    at_line_start = True

    def refuse(pos: int, message: str) -> None:
        line, col = sp.at(pos)
        refusals.append(Refusal(line, col, message))

    while i < n:
        c = text[i]
        if c == "\n":
            at_line_start = True
            i += 1
        elif c in " \t\v\f":
            i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if "\n" in text[i:end if end >= 0 else n]:
                at_line_start = True
            i = n if end < 0 else end + 2
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif at_line_start and (c == "#" or text.startswith("%:", i)):
            end = text.find("\n", i)
            end = n if end < 0 else end
            # a block comment may carry the directive over several lines
            j = i
            while True:
                k = text.find("/*", j, end)
                if k < 0:
                    break
                close = text.find("*/", k + 2)
                if close < 0:
                    end = n
                    break
                j = close + 2
                if close + 2 > end:
                    nl = text.find("\n", close + 2)
                    end = n if nl < 0 else nl
            _check_directive(_blank_comments(text[i:end]), i, refuse)
            i = end
            at_line_start = False
        elif c in "\"'":
            start = i
            i = _skip_literal(text, i, c)
            at_line_start = False
            if c == '"' and "dependency" in text[start:i] and text[:start].rstrip().endswith("("):
                before = text[:start].rstrip()[:-1].rstrip()
                if before.endswith("_Pragma"):
                    refuse(start, "_Pragma(\"GCC dependency ...\") is not allowed: it reads another file")
        else:
            at_line_start = False
            m = _IDENT_RE.match(text, i)
            if m is None:
                i += 1
                continue
            word = m.group()
            if word in _HAS_INCLUDE:
                _check_has_include(text, m.end(), i, word, refuse)
            elif word == "__has_embed":
                refuse(i, "__has_embed is not available in the playground")
            i = m.end()
    return refusals


def _check_directive(directive: str, pos: int, refuse) -> None:
    body = directive[2:] if directive.startswith("%:") else directive[1:]
    body = body.lstrip(" \t\v\f")
    m = _IDENT_RE.match(body)
    if m is None:
        return
    name, rest = m.group(), body[m.end():].strip(" \t\v\f")
    if name in _INCLUDE_DIRECTIVES:
        header = _header_name(rest)
        if header is None:
            refuse(pos, f"#{name} needs a header name in quotes or angle brackets here (no macros): "
                        f"the playground cannot check a computed name")
            return
        why = check_header_name(header)
        if why:
            refuse(pos, why.replace("#include", f"#{name}"))
    elif name == "embed":
        refuse(pos, "#embed is not available in the playground")
    elif name == "pragma":
        words = rest.split()
        if len(words) >= 2 and words[1] == "dependency" or words[:1] == ["dependency"]:
            refuse(pos, "#pragma GCC dependency is not allowed: it reads another file")
    else:  # __has_include may appear in #if, #elif and #define lines
        for hm in re.finditer(r"\b(__has_include_next|__has_include|__has_embed)\b", body):
            if hm.group() == "__has_embed":
                refuse(pos, "__has_embed is not available in the playground")
            else:
                _check_has_include(body, hm.end(), pos, hm.group(), refuse, at=pos)


def _header_name(rest: str) -> str | None:
    if rest.startswith('"'):
        end = rest.find('"', 1)
    elif rest.startswith("<"):
        end = rest.find(">", 1)
    else:
        return None
    return rest[1:end] if end > 0 else None


def _check_has_include(text: str, after: int, pos: int, word: str, refuse, at: int | None = None) -> None:
    m = re.compile(r"[ \t\v\f\n]*\([ \t\v\f\n]*").match(text, after)
    header = _header_name(text[m.end():]) if m else None
    if header is None:
        refuse(at if at is not None else pos, f"{word} needs a header name in quotes or angle brackets")
        return
    why = check_header_name(header)
    if why:
        refuse(at if at is not None else pos, why.replace("#include", word))
