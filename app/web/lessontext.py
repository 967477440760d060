"""Lesson texts (Markdown) as HTML: CommonMark with tables, raw HTML left as text, code highlighted.

Lessons are our own content, but they are rendered as if they were not: ``html`` is off, so a ``<script>``
in a lesson shows as text, and links may only be relative or ``http(s)``/``mailto`` (markdown-it's
``validateLink`` drops ``javascript:`` and ``data:``). Fenced blocks tagged ``ebpf`` (or ``asm``, ``bpf``,
``s``) are highlighted with the playground's lexer, ``c`` with Pygments' C lexer, anything else (``text``,
verifier logs) is escaped as it is. Headings get ids from their text (``## Your task`` -> ``your-task``).
"""
from __future__ import annotations

import re
from functools import cache

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from .highlight import highlight_source

ASM_TAGS = ("ebpf", "bpf", "asm", "s")


def _highlight(code: str, lang: str, _attrs: str) -> str:
    code = code.removesuffix("\n")
    if lang in ASM_TAGS:
        return f'<pre class="hl"><code>{highlight_source(code, "asm")}</code></pre>\n'
    if lang == "c":
        return f'<pre class="hl"><code>{highlight_source(code, "c")}</code></pre>\n'
    return f"<pre><code>{escape(code)}</code></pre>\n"


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "highlight": _highlight}).enable("table")
    md.add_render_rule("heading_open", _heading_open)
    return md


def _heading_open(renderer, tokens, idx, options, env) -> str:
    token = tokens[idx]
    title = tokens[idx + 1].content if idx + 1 < len(tokens) else ""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    if slug:
        token.attrSet("id", slug)
    return renderer.renderToken(tokens, idx, options, env)


@cache
def render(text: str) -> Markup:
    """The HTML of a lesson's Markdown (cached: lesson texts do not change while the app runs)."""
    return Markup(_parser().render(text))
