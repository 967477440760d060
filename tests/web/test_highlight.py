"""The Pygments lexer: driven by the ISA table, no error tokens on anything the engine prints or reads,
and the committed style sheet is current and readable."""
from __future__ import annotations

import re

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, Operator

from app import ROOT
from app.ebpf import assemble, disassemble, isa
from app.web.examples import EXAMPLES
from app.web.highlight import KEYWORDS, OPERATORS, TYPES, DarkStyle, EbpfLexer, LightStyle, highlight_lines, stylesheet

LEXER = EbpfLexer()


def tokens(text: str) -> list[tuple[object, str]]:
    return [(t, v) for t, v in LEXER.get_tokens(text) if v.strip()]


def sample(template: str) -> str:
    """A template of the ISA table with its placeholders filled in."""
    values = {"dst": "r1", "src": "r2", "rdst": "r1", "rsrc": "r2", "wsrc": "w2", "imm": "5", "imm2": "6",
              "imm64": "0x1122334455", "off": "+ 4", "target": "+3", "helper": "bpf_map_lookup_elem#1"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def test_vocabulary_comes_from_the_isa_table():
    assert {"if", "goto", "exit", "call", "lock", "ll", "be16", "bswap64", "may_goto",
            "atomic_fetch_add"} <= set(KEYWORDS)
    assert {"add32", "ldxw", "lddw", "jsgt", "fetch"} <= set(KEYWORDS)  # legacy mnemonics
    assert set(TYPES) == {"u8", "u16", "u32", "u64", "s8", "s16", "s32"}
    assert {"+=", "s>>=", "s<=", "==", "&"} <= set(OPERATORS)
    assert not {"r0", "w0", "s"} & set(KEYWORDS)


@pytest.mark.parametrize("spec", isa.SPECS, ids=lambda s: s.name)
def test_every_instruction_form_lexes_cleanly(spec):
    for template in (spec.asm, spec.log, *spec.aliases):
        toks = tokens(sample(template))
        assert not [v for t, v in toks if t in Error]
        # every word of the template is highlighted as a keyword, a type or a register, never a plain name
        assert not [v for t, v in toks if t is Name], template


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_examples_and_their_disassembly_lex_cleanly(example):
    program = assemble(example.source)
    for text in (example.source, disassemble(program, "asm"), disassemble(program, "log")):
        assert not [v for t, v in tokens(text) if t in Error]


def test_token_kinds():
    toks = dict((v, t) for t, v in tokens(
        "12: (b7) r0 = 0x10 // c\nloop: if w1 s> -3 goto pc+2 # c\ncall bpf_trace_printk#6\n"
        "/* a\nb */ mov %r0, 1 ; c\n.map m type=hash\n"))
    assert toks["r0"] in Name.Builtin and toks["w1"] in Name.Builtin and toks["%r0"] in Name.Builtin
    assert toks["0x10"] in Number and toks["-3"] in Number and toks["b7"] in Number
    assert toks["// c"] in Comment and toks["# c"] in Comment and toks["; c"] in Comment
    assert toks["/*"] in Comment and toks["*/"] in Comment and toks[" a\nb "] in Comment
    assert toks["loop"] in Name.Label and toks["s>"] in Operator
    assert toks["bpf_trace_printk"] in Name.Function and toks["mov"] in Keyword and toks[".map"] in Keyword


def test_jump_targets_are_labels():
    toks = tokens("goto out\ncall square\nja exit\n")
    assert [(t, v) for t, v in toks if v in ("out", "square", "exit")] == [
        (Name.Label, "out"), (Name.Label, "square"), (Name.Label, "exit")]


def test_highlight_lines_escapes_and_keeps_lines_apart():
    lines = highlight_lines(["r0 = 1 # <b>", "/* open", "still */ exit", ""])
    assert len(lines) == 4
    assert "<b>" not in lines[0] and "&lt;b&gt;" in lines[0]
    assert lines[2].count("<span") == lines[2].count("</span>")
    assert highlight_lines([]) == []


def test_pygments_finds_the_lexer_by_alias_once_registered():
    from pygments.lexers import find_lexer_class_by_name
    from pygments.util import ClassNotFound

    try:
        found = find_lexer_class_by_name("ebpf")
    except ClassNotFound:
        pytest.skip("the 'ebpf' Pygments plugin entry point is not installed (pip install -e .)")
    assert found.__name__ == "EbpfLexer" and "bpf" in found.aliases


def test_committed_stylesheet_is_current():
    committed = (ROOT / "static" / "css" / "pygments.css").read_text()
    assert committed == stylesheet(), "regenerate: python -m app.web.pygments_css > static/css/pygments.css"


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def css_colours(css: str) -> dict[str, str]:
    """``--name: #rrggbb`` custom properties of one block of app.css."""
    return dict(re.findall(r"--([\w-]+):\s*#([0-9a-fA-F]{6});", css))


@pytest.mark.parametrize("style, theme", [(LightStyle, "light"), (DarkStyle, "dark")])
def test_token_colours_meet_wcag_aa_on_every_background_they_appear_on(style, theme):
    css = (ROOT / "static" / "css" / "app.css").read_text()
    light, _, rest = css.partition("@media (prefers-color-scheme: dark)")
    palette = css_colours(light if theme == "light" else rest.split("}")[0] + "}")
    backgrounds = [palette[name] for name in ("bg", "panel", "current")]
    for token, definition in style.styles.items():
        match = re.search(r"#([0-9a-fA-F]{6})", definition)
        if not match:
            continue  # Pygments fills in every other token type with "" (inherit)
        colour = match.group(1)
        for background in backgrounds:
            assert contrast(colour, background) >= 4.5, (token, colour, background)


READABLE_PAIRS = [("text", "bg"), ("text", "panel"), ("muted", "bg"), ("muted", "panel"), ("text", "current"),
                  ("muted", "current"), ("changed-text", "changed"), ("bad", "bad-bg"), ("text", "bad-bg"),
                  ("bad", "bg"), ("bad", "panel"), ("ok", "panel"), ("accent", "bg"), ("accent-text", "accent")]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_theme_colours_meet_wcag_aa(theme):
    css = (ROOT / "static" / "css" / "app.css").read_text()
    light, _, rest = css.partition("@media (prefers-color-scheme: dark)")
    palette = css_colours(light if theme == "light" else rest.split("}")[0] + "}")
    for foreground, background in READABLE_PAIRS:
        assert contrast(palette[foreground], palette[background]) >= 4.5, (foreground, background)


def test_pygmentize_picks_the_lexer_for_ebpf_files():
    from pygments.lexers import find_lexer_class_for_filename, get_lexer_for_filename

    if find_lexer_class_for_filename("prog.ebpf") is None:
        pytest.skip("the 'ebpf' Pygments plugin entry point is not installed (pip install -e .)")
    # as pygmentize asks, with the file's text: even a .section line (GNU as's mark) does not sway it
    assert type(get_lexer_for_filename("prog.ebpf", ".section xdp,\"ax\"\nr0 = 1\nexit\n")).__name__ == "EbpfLexer"
    assert EbpfLexer.filenames == ["*.ebpf"]
    assert find_lexer_class_for_filename("prog.s").__name__ != "EbpfLexer"  # *.s stays GNU as's


def test_a_c_comment_on_the_last_line_is_a_comment():
    from app.web.highlight import highlight_c_lines

    assert highlight_c_lines(["int x; // last"])[0].endswith('<span class="hl-c1">// last</span>')
