"""The control-flow graph beside the verifier walk (``app/web/cfgview.py``, ``playground/_cfg.html``): basic
blocks and edges, the shades of the walk's visits, the current block and path, escaping, the cap, and a
click on a block in Debian's Chromium."""
from __future__ import annotations

import dataclasses
import inspect
import re

import pytest

from app.ebpf import Program, assemble
from app.ebpf.verifier import verify
from app.web import cfgview
from app.web.cfgview import MAX_BLOCKS, basic_blocks, block_edges, cfg_view, heat
from app.web.examples import BY_SLUG
from tests.programs import PACKET_CHECK, UNCHECKED

# The browser, server and page fixtures come from test_browser.py; the browser test names them as parameters.
# That module skips itself without playwright: then only the browser test here is skipped.
try:
    from .test_browser import CHROMIUM, browser, page, server, type_program  # noqa: F401
except pytest.skip.Exception:
    CHROMIUM = None

DIAMOND = """\
if r1 == 0 goto other
r0 = 1
goto out
other:
r0 = 2
out:
exit
"""
LOOP = "r0 = 0\nr1 = 3\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"
CALL = "r1 = 7\ncall square\nr0 += 1\nexit\nsquare:\nr0 = r1\nr0 *= r1\nexit\n"


def spans(program: Program) -> list[tuple[int, int]]:
    return [(b.first, b.last) for b in basic_blocks(program)]


def edges(program: Program) -> set[tuple[int, int, str]]:
    """Edges as (first insn of the source block, first insn of the target block, kind)."""
    blocks = basic_blocks(program)
    return {(blocks[e.src].first, blocks[e.dst].first, e.kind) for e in block_edges(program, blocks)}


def view_at(source: str, index: int, prog_type: str = "xdp"):
    program = assemble(source)
    result = verify(program, prog_type)
    rejected = result.walk[-1].insn_idx if result.verdict == "reject" else None
    return cfg_view(program, result.walk, index, rejected_at=rejected), result


# --- blocks and edges --------------------------------------------------------------------------------------

def test_straight_line_code_is_one_block_without_edges():
    program = assemble("r0 = 0\nr1 = 1\nr0 += r1\nexit\n")
    assert spans(program) == [(0, 3)]
    assert edges(program) == set()


def test_an_if_else_diamond():
    program = assemble(DIAMOND)
    assert spans(program) == [(0, 0), (1, 2), (3, 3), (4, 4)]
    assert edges(program) == {(0, 1, "fall"), (0, 3, "jump"), (1, 4, "goto"), (3, 4, "fall")}


def test_a_loop_has_a_back_edge_drawn_on_the_left():
    program = assemble(LOOP)
    assert spans(program) == [(0, 1), (2, 4), (5, 5)]
    assert edges(program) == {(0, 2, "fall"), (2, 5, "fall"), (2, 2, "jump")}
    view = cfg_view(program, verify(program, "xdp").walk, 0)
    back = [e for e in view.edges if e.back]
    assert [(e.src, e.dst, e.kind) for e in back] == [(2, 2, "jump")]
    block_x = view.blocks[0].x
    lane_x = int(re.match(r"M\d+ \d+ H(\d+)", back[0].d).group(1))
    assert lane_x < block_x  # on the left of the column, where loops are drawn
    forward = [e for e in view.edges if not e.back and e.kind != "fall"]
    assert forward == []  # fall-throughs to the next block go straight down the middle


def test_ld_imm64_takes_two_slots_and_indexes_are_the_kernels():
    program = assemble("if r1 == 0 goto skip\nr2 = 0x123456789 ll\nr0 = 0\nskip:\nr0 = 1\nexit\n")
    assert len(program) == 6  # 0 jump, 1-2 ld_imm64, 3 r0 = 0, 4 skip, 5 exit
    assert spans(program) == [(0, 0), (1, 3), (4, 5)]
    assert edges(program) == {(0, 1, "fall"), (0, 4, "jump"), (1, 4, "fall")}
    program = assemble("r0 = 0\nr2 = 0x123456789 ll\nexit\n")
    assert spans(program) == [(0, 3)]  # the last instruction starts at 3; slot 2 is the ld_imm64's second half


def test_a_subprogram_call_ends_its_block_and_the_callee_is_its_own_function():
    program = assemble(CALL)
    blocks = basic_blocks(program)
    assert spans(program) == [(0, 1), (2, 3), (4, 6)]
    assert [b.function for b in blocks] == [0, 0, 4]
    assert edges(program) == {(0, 2, "fall"), (0, 4, "call")}
    view, _ = view_at(CALL, 0)
    assert [(f.start, f.name) for f in view.functions] == [(0, "insn 0"), (4, "square")]
    assert view.blocks[2].y > view.blocks[1].y + view.block_height  # a gap and a heading before the callee
    call = next(e for e in view.edges if e.kind == "call")
    assert not call.back and call.d.startswith(f"M{view.blocks[0].x + view.block_width} ")  # on the right


# --- the walk: visits, the current block, the path, the rejection -----------------------------------------

def test_blocks_are_shaded_by_the_visits_up_to_the_event():
    assert [heat(n) for n in (0, 1, 2, 3, 4, 7, 8, 100)] == [0, 1, 2, 2, 3, 3, 4, 4]
    program = assemble(LOOP)
    walk = verify(program, "xdp").walk
    loop_visits = [e.seq for e in walk if e.kind == "visit" and e.insn_idx == 2]
    assert len(loop_visits) == 3
    at = {n: cfg_view(program, walk, seq) for n, seq in enumerate(loop_visits, 1)}
    assert [(at[n].blocks[1].visits, at[n].blocks[1].heat) for n in (1, 2, 3)] == [(1, 1), (2, 2), (3, 2)]
    first = cfg_view(program, walk, 0)
    assert [(b.visits, b.heat) for b in first.blocks] == [(1, 1), (0, 0), (0, 0)]
    last = cfg_view(program, walk, len(walk) - 1)
    assert last.blocks[2].visits == 1  # the exit counts as checked (an exit event, not a visit)
    assert [b.first_event for b in first.blocks] == [0, loop_visits[0], last.blocks[2].first_event]


def test_the_current_block_and_the_path_since_the_last_resumed_branch():
    program = assemble(BY_SLUG["xdp-filter"].source)
    walk = verify(program, "xdp").walk
    # event 34 resumes the branch that the jump at insn 6 pushed (to drop, insn 30); 36 is its exit
    assert (walk[34].kind, walk[34].insn_idx, walk[36].kind) == ("pop_branch", 30, "exit")
    view = cfg_view(program, walk, 36)
    assert [b.span for b in view.blocks if b.current] == ["30–31"]
    assert {b.span for b in view.blocks if b.on_path} == {"5–6", "30–31"}
    assert [(e.src, e.dst) for e in view.edges if e.on_path] == [(5, 30)]
    assert view.edges[-1].on_path  # drawn last, on top
    assert "The current path since the last resumed branch: 5–6 → 30–31." in view.description
    start = cfg_view(program, walk, 4)  # no branch resumed yet: the path runs from the start
    assert {b.span for b in start.blocks if b.on_path} == {"0–4"} and not any(e.on_path for e in start.edges)
    later = cfg_view(program, walk, 9)  # the fall-through from 5–6 into 7–14
    assert [(e.src, e.dst, e.kind) for e in later.edges if e.on_path] == [(0, 5, "fall"), (5, 7, "fall")]


def test_the_rejected_block_is_marked_at_every_event():
    for index in (0, 2):
        view, result = view_at(UNCHECKED, index)
        assert result.verdict == "reject"
        assert [(b.span, b.rejected) for b in view.blocks] == [("0–2", True)]
    assert "rejected the program in block 0–2" in view.description
    assert view.blocks[0].current


# --- markup ---------------------------------------------------------------------------------------------------

def render(app, view) -> str:
    with app.test_request_context():
        return app.jinja_env.get_template("playground/_cfg.html").render(cfg=view)


def test_text_in_the_graph_is_escaped(app):
    program = assemble(DIAMOND)
    program = dataclasses.replace(program, labels={0: "<b>&x", 3: 'o"ther'})
    view = cfg_view(program, verify(program, "xdp").walk, 0)
    assert view.blocks[0].text.startswith("<b>&x: ")
    html = render(app, view)
    assert "<b>" not in html and "&lt;b&gt;&amp;x: " in html
    assert 'o"ther' not in html and "o&#34;ther" in html


LONG_LINES = """\
r1 = 0
if r1 == 0 goto a_label_long_enough
r0 = 1
exit
a_label_long_enough:
r2 = 0x1122334455667788 ll
r0 = *(u32 *)(r10 - 8)
exit
"""


def test_blocks_are_wide_enough_for_their_text_and_list_their_instructions_in_the_title(app):
    """A block's line (span, its first instruction with its label, a visit count) used to be cut at 260 px;
    blocks now take the width the longest line needs, and the title lists every instruction."""
    program = assemble(LONG_LINES)
    view = cfg_view(program, verify(program, "xdp").walk, 0)
    widest = max(view.blocks, key=lambda b: len(b.text))
    assert widest.text == "a_label_long_enough: r2 = 0x1122334455667788"
    needed = (len(widest.span) + len(widest.text) + len("×999")) * 7.2  # px in a 12px monospace font
    assert cfgview.BLOCK_WIDTH < view.block_width <= cfgview.MAX_BLOCK_WIDTH and view.block_width >= needed + 24
    assert view.width >= view.blocks[0].x + view.block_width
    assert widest.title.splitlines() == [f"insns {widest.span}: go to the first visit (event {widest.first_event})",
                                         "a_label_long_enough:", "4: r2 = 0x1122334455667788",
                                         "6: r0 = *(u32 *)(r10 -8)", "7: exit"]
    html = render(app, view)
    assert f'<foreignObject x="{widest.x}" y="{widest.y}" width="{view.block_width}"' in html
    assert 'title="insns 4–7: go to the first visit (event 2)\na_label_long_enough:\n4: r2 = ' in html
    short = assemble("r0 = 0\nexit\n")
    assert cfg_view(short, verify(short, "xdp").walk, 0).block_width == cfgview.BLOCK_WIDTH  # no narrower
    huge = assemble(LONG_LINES.replace("a_label_long_enough", "x" * 200))
    view = cfg_view(huge, verify(huge, "xdp").walk, 0)
    assert view.block_width == cfgview.MAX_BLOCK_WIDTH and "x" * 200 + ":" in view.blocks[2].title


def test_a_long_block_title_counts_what_it_leaves_out():
    program = assemble("r0 = 0\n" * 20 + "exit\n")
    (block,) = cfg_view(program, verify(program, "xdp").walk, 0).blocks
    lines = block.title.splitlines()
    assert lines[1] == "0: r0 = 0" and len(lines) == 1 + cfgview.TITLE_INSNS + 1 and lines[-1] == "… and 9 more"
    assert block.text == "r0 = 0"  # no "…" that reads as cut text: the span 0–20 says there are more


def test_above_the_cap_a_sentence_replaces_the_graph(app):
    program = assemble("if r1 == 0 goto +0\n" * MAX_BLOCKS + "r0 = 0\nexit\n")
    view = cfg_view(program, (), 0)
    assert view.too_big and view.block_count == MAX_BLOCKS + 1 and view.blocks == ()
    html = render(app, view)
    assert "<svg" not in html and f"The program has {MAX_BLOCKS + 1} basic blocks" in html
    program = assemble("if r1 == 0 goto +0\n" * (MAX_BLOCKS - 1) + "r0 = 0\nexit\n")
    assert not cfg_view(program, (), 0).too_big


def test_post_walk_returns_the_graph_with_a_button_per_block(post_form):
    html = post_form("/walk", source=PACKET_CHECK, type="xdp", walk="6", htmx=True).get_data(as_text=True)
    graph = re.search(r'<div id="walk-cfg".*?</svg>', html, re.DOTALL)
    assert graph, "no graph"
    svg = graph.group(0)
    assert 'role="group"' in svg and "<title id=\"walk-cfg-title\">" in svg and "<desc id=\"walk-cfg-desc\">" in svg
    blocks = re.findall(r'<button type="submit" form="walker" name="walk" value="(\d+)" data-walk="goto" '
                        r'id="cfg-block-(\d+)"', svg)
    assert [int(first) for _, first in blocks] == [0, 6, 8, 9]
    assert blocks[0][0] == "0"  # a click goes to the block's first visit
    # event 6 puts the jump's branch to insn 9 aside: the current event is there, the path ran through 0-5
    assert re.search(r'id="cfg-block-0"\s+class="cfg-block cfg-heat-1 on-path"', svg)
    assert re.search(r'id="cfg-block-9"\s+class="cfg-block cfg-heat-0 is-current"[^>]*aria-current="step"', svg)
    assert "style=" not in svg  # the CSP allows no style attributes
    assert svg.count('class="cfg-edge ') == 5


def test_every_field_of_the_view_is_documented():
    for cls in (c for _, c in inspect.getmembers(cfgview, inspect.isclass)
                if dataclasses.is_dataclass(c) and c.__module__ == cfgview.__name__):
        assert cls.__dataclass_params__.frozen, cls.__name__
        doc = inspect.getdoc(cls) or ""
        for field in dataclasses.fields(cls):
            assert f"``{field.name}``" in doc, f"{cls.__name__}.{field.name} is not described in its docstring"


# --- in the browser ------------------------------------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None or not CHROMIUM.exists(),
                    reason="needs Debian's chromium at /usr/bin/chromium and the playwright package")
def test_clicking_a_block_goes_to_its_first_visit(page):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    page.goto("/")
    page.select_option("#type", "xdp")
    type_program(page, LOOP.splitlines())
    page.keyboard.press("Control+Enter")
    walk = page.locator("#walk")
    sync_api.expect(walk).to_have_attribute("data-index", "0")
    sync_api.expect(page.locator("#walk-cfg .cfg-block.is-current")).to_have_id("cfg-block-0")
    page.locator("#cfg-block-5").click()  # the exit after the loop
    sync_api.expect(page.locator("#walk-cfg .cfg-block.is-current")).to_have_id("cfg-block-5")
    sync_api.expect(page.locator("#walk tr.is-current")).to_have_id("walk-insn-5")
    sync_api.expect(page.locator("#cfg-block-2")).to_contain_text("×3")  # the loop ran three times by then
    sync_api.expect(page.locator("#cfg-block-5")).to_be_focused()  # the focus stays on the block
    page.console.assert_clean()


def test_blocks_name_the_c_lines_they_came_from():
    program = assemble(DIAMOND)
    result = verify(program, "xdp")
    view = cfg_view(program, result.walk, 0, source_lines={0: 5, 1: 6, 2: 6, 3: 9, 4: 11})
    assert [b.source for b in view.blocks] == ["C 5", "C 6", "C 9", "C 11"]
    assert "(C line 6)" in view.blocks[1].title.splitlines()[0] and "(C line 6)" in view.blocks[1].label
    assert all(b.source == "" for b in cfg_view(program, result.walk, 0).blocks)  # assembly: none


def test_a_c_program_s_graph_shows_its_lines(post_form):
    from app.ebpf.cc import compiler_available

    if not compiler_available()[0]:
        pytest.skip("needs clang")
    example = BY_SLUG["c-xdp-count"]
    html = post_form("/walk", source=example.source, language="c", type="xdp", walk="3", packet_from="spec",
                     packet_spec="eth/ipv4/udp", htmx=True).get_data(as_text=True)
    assert re.search(r'<span class="cfg-source">C 1\d–\d\d</span>', html)
