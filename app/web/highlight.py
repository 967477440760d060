"""Syntax highlighting of eBPF assembly (a Pygments lexer driven by the ISA table) and of C, and HTML helpers.

``EbpfLexer`` reads both syntaxes the assembler reads (kernel/LLVM ``r0 = 1``, ``if r1 s> 5 goto +2``, the
verifier log's ``goto pc+2`` and ``call bpf_map_lookup_elem#1``, and the legacy ``mov %r0, 1`` of the uBPF
suites). Its keywords, type names and operators are not listed here: they are collected from the ``asm``,
``log`` and ``legacy`` columns of ``app.ebpf.isa.SPECS``, so a new instruction form is highlighted as soon as
the table has it. It is registered as the Pygments plugin ``ebpf`` (aliases ``ebpf``, ``bpf``; files named
``*.ebpf``, see ``EbpfLexer.filenames``). C programs
(the playground's ``language`` ``c``) are highlighted by Pygments' own ``CLexer``, with the same token
classes and style sheet.

The style sheet for the token classes is generated, not hand-written::

    python -m app.web.pygments_css > static/css/pygments.css

(a light and a dark theme chosen by ``prefers-color-scheme``; a test checks the committed file is current).
"""
from __future__ import annotations

import re

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer, RegexLexer, bygroups, words
from pygments.lexers.c_cpp import CLexer
from pygments.style import Style
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text

from app.ebpf import isa

CSS_CLASS = "hl"
"""Class of the element that wraps highlighted code."""
TOKEN_CLASS_PREFIX = "hl-"
"""Prefix of every token class (``hl-k`` for a keyword), so Pygments' short names cannot clash with ours."""


class LightStyle(Style):
    """Token colours for light backgrounds (GitHub's Primer palette, each at least 4.5:1 on white)."""

    name = "ebpf-light"
    styles = {
        Comment: "italic #59636e",
        Keyword: "#cf222e",
        Keyword.Type: "#953800",
        Keyword.Pseudo: "#8250df",
        Name.Builtin: "#0550ae",
        Name.Label: "#8250df",
        Name.Function: "#6639ba",
        Number: "#116329",
        String: "#0a3069",
        Operator: "#1f2328",
        Punctuation: "#1f2328",
    }


class DarkStyle(Style):
    """Token colours for dark backgrounds (Primer's dark palette, each at least 4.5:1 on #0d1117)."""

    name = "ebpf-dark"
    styles = {
        Comment: "italic #9198a1",
        Keyword: "#ff7b72",
        Keyword.Type: "#ffa657",
        Keyword.Pseudo: "#d2a8ff",
        Name.Builtin: "#79c0ff",
        Name.Label: "#d2a8ff",
        Name.Function: "#d2a8ff",
        Number: "#7ee787",
        String: "#a5d6ff",
        Operator: "#e6edf3",
        Punctuation: "#e6edf3",
    }

_PLACEHOLDER = re.compile(r"\{\w+\}")
_OPERATOR = re.compile(r"s?[-+*/%&|^<>=!]+")
_WORD = re.compile(r"[A-Za-z_][\w-]*")
_REGISTER = re.compile(r"[rw](?:10|[0-9])")
_TYPE = re.compile(r"[us](?:8|16|32|64)")


def _vocabulary() -> tuple[list[str], list[str], list[str]]:
    """Keywords, type names and operators spelled in the ISA table's templates and legacy mnemonics."""
    keywords: set[str] = set()
    types: set[str] = set()
    operators: set[str] = set()
    for spec in isa.SPECS:
        for template in (spec.asm, spec.log, *spec.aliases):
            text = _PLACEHOLDER.sub(" ", template)
            operators.update(_OPERATOR.findall(text))
            for word in _WORD.findall(_OPERATOR.sub(" ", text)):
                if _TYPE.fullmatch(word):
                    types.add(word)
                elif not _REGISTER.fullmatch(word):
                    keywords.add(word)
        keywords.update(spec.legacy.split())
    by_length = lambda items: sorted(items, key=lambda s: (-len(s), s))  # noqa: E731 - longest match first
    return by_length(keywords), by_length(types), by_length(operators)


KEYWORDS, TYPES, OPERATORS = _vocabulary()


class EbpfLexer(RegexLexer):
    """eBPF assembly: kernel/LLVM, verifier-log and legacy (uBPF) syntax, as ``app.ebpf.asm`` reads it."""

    name = "eBPF assembly"
    aliases = ["ebpf", "bpf"]
    filenames: list[str] = ["*.ebpf"]
    """Not ``*.s``, nor ``*.bpf.s``: Pygments' GNU as and ca65 lexers claim ``*.s``, and when two lexers match
    a file name ``pygmentize`` picks by ``analyse_text`` and then by class name, so a program with a
    ``.section`` line would go to ``GasLexer``. ``*.ebpf`` is no other lexer's; for ``.s`` files, name the
    lexer (``pygmentize -l ebpf prog.s``)."""
    mimetypes = ["text/x-ebpf-asm"]
    url = "https://www.rfc-editor.org/rfc/rfc9669"

    tokens = {
        "root": [
            (r"\n", Text),
            (r"[ \t\r\f\v]+", Text),
            (r"/\*", Comment.Multiline, "block-comment"),
            (r"(//|;).*?$", Comment.Single),
            (r"#(?![0-9]).*?$", Comment.Single),  # "name#12" is a helper reference (handled below)
            (r'"(\\\\|\\"|[^"])*"', String),
            (r"^([ \t]*)([A-Za-z_.$][\w.$]*)([ \t]*)(:)(?!=)",
             bygroups(Text, Name.Label, Text, Punctuation)),
            (r"^([ \t]*)([0-9]+)(:)([ \t]*)(\()([0-9a-fA-F]{2})(\))",  # "12: (b7)": verifier-log index, opcode
             bygroups(Text, Number.Integer, Punctuation, Text, Punctuation, Number.Hex, Punctuation)),
            (r"^([ \t]*)([0-9]+)(:)", bygroups(Text, Number.Integer, Punctuation)),  # "12:" index alone
            (r"\.[A-Za-z_][\w.]*", Keyword.Pseudo),  # directives: .map, .text, .section, .8byte
            (r"([A-Za-z_][\w.$]*)(#)([0-9]+)", bygroups(Name.Function, Punctuation, Number.Integer)),
            (r"%?[rw](?:10|[0-9])(?![\w.$])", Name.Builtin),
            (r"(pc)([+-][0-9]+)", bygroups(Keyword.Pseudo, Number.Integer)),
            (r"(goto|gotol|may_goto|call|ja|ja32)([ \t]+)(?!pc[+-]|local\b)([A-Za-z_.$][\w.$]*)(?![\w.$#])",
             bygroups(Keyword, Text, Name.Label)),
            (r"[+-]?0[xX][0-9a-fA-F]+", Number.Hex),  # before operators: "s> -3" compares with -3
            (r"[+-]?[0-9]+", Number.Integer),
            (words(OPERATORS), Operator),
            (words(TYPES, suffix=r"\b"), Keyword.Type),
            (words(KEYWORDS, prefix=r"(?<![\w.$-])", suffix=r"(?![\w.$-])"), Keyword),
            (r"[A-Za-z_.$][\w.$]*", Name),
            (r"[()\[\],:*]", Punctuation),
            (r"[+-]", Operator),
            (r".", Text),
        ],
        "block-comment": [
            (r"[^*]+", Comment.Multiline),
            (r"\*/", Comment.Multiline, "#pop"),
            (r"\*", Comment.Multiline),
        ],
    }


_LEXER = EbpfLexer(stripnl=False, ensurenl=False)
_C_LEXER = CLexer(stripnl=False, ensurenl=False)
_FORMATTER = HtmlFormatter(nowrap=True, classprefix=TOKEN_CLASS_PREFIX)


def highlight_lines(lines: list[str], lexer: Lexer = _LEXER) -> list[Markup]:
    """Each line as highlighted HTML (escaped by Pygments, so safe to insert), in one lexer pass."""
    if not lines:
        return []
    # Lexed with a final newline, as a file ends: Pygments' C lexer ends a // comment only at a newline.
    html = highlight("\n".join(lines) + "\n", lexer, _FORMATTER)
    out = html.split("\n")
    # HtmlFormatter closes and reopens spans at line ends, so each line stands on its own.
    return [Markup(part) for part in out[: len(lines)]] + [Markup("")] * (len(lines) - len(out))


def highlight_c_lines(lines: list[str]) -> list[Markup]:
    """Like :func:`highlight_lines`, for lines of C (Pygments' ``CLexer``)."""
    return highlight_lines(lines, _C_LEXER)


def highlight_source(source: str, language: str = "asm") -> Markup:
    r"""A whole program (``language`` ``asm`` or ``c``) as highlighted HTML: one line of HTML per source line,
    joined by ``\n``, each line's tags closed on it, so a script can split the result into lines. Line ends
    are the browser's (``\r\n`` and ``\r`` become ``\n``), as in the editor's ``textarea``."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return Markup("\n").join(highlight_c_lines(lines) if language == "c" else highlight_lines(lines))


def stylesheet() -> str:
    """The CSS for the token classes: light by default; dark under ``prefers-color-scheme: dark`` unless the
    theme switch chose light (``data-theme="light"`` on ``<html>``), and whenever it chose dark."""
    def rules(style: type[Style], scope: str = "") -> list[str]:
        formatter = HtmlFormatter(style=style, classprefix=TOKEN_CLASS_PREFIX)
        return formatter.get_token_style_defs(f"{scope}.{CSS_CLASS}")

    indent = lambda lines: "\n".join("  " + line for line in lines)  # noqa: E731
    system_dark, chosen_dark = ':root:not([data-theme="light"]) ', ':root[data-theme="dark"] '
    return ("/* Generated by `python -m app.web.pygments_css` from LightStyle and DarkStyle in app/web/highlight.py."
            " Do not edit. */\n"
            f"{chr(10).join(rules(LightStyle))}\n"
            f"@media (prefers-color-scheme: dark) {{\n{indent(rules(DarkStyle, system_dark))}\n}}\n"
            f"{chr(10).join(rules(DarkStyle, chosen_dark))}\n")
