"""The verifier walk viewer: the walk opens with the result, steps by POST /walk (htmx) or /run (no
JavaScript), and shows registers in the kernel's notation, pending branches, prunes and the log."""
from __future__ import annotations

import html as html_lib
import re

from app.web.examples import BY_SLUG
from tests.programs import PACKET_CHECK, UNCHECKED


def walk_section(html: str) -> str:
    match = re.search(r'<section id="walk".*?</section>', html, re.S)
    assert match, "no #walk"
    return html_lib.unescape(match.group(0))


def current_row(section: str) -> int:
    match = re.search(r'<tr id="walk-insn-(\d+)" class="[^"]*is-current', section)
    assert match, "no current row"
    return int(match.group(1))


def test_the_walk_opens_at_the_first_event_of_an_accepted_program(post_form):
    walk = walk_section(post_form("/run", source=PACKET_CHECK, type="xdp").get_data(as_text=True))
    assert 'data-index="0"' in walk and current_row(walk) == 0
    assert "R2=pkt(r=0)" in walk or "pkt(r=0)" in walk
    assert "0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)" in walk  # the log, kernel format
    assert walk.count('<tr id="walk-insn-') == 10
    row = re.search(r'<tr id="walk-insn-5".*?</tr>', walk, re.S).group(0)
    assert '<td class="line">6</td>' in row and re.sub(r"<[^>]+>", "", row).count("if r4 > r3 goto +3") == 1


def test_stepping_by_htmx_returns_only_the_walk_at_that_event(post_form):
    fragment = post_form("/walk", source=PACKET_CHECK, type="xdp", walk="5", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="walk"') and "<html" not in fragment
    walk = walk_section(fragment)
    assert 'data-index="5"' in walk and current_row(walk) == 5
    # r4 = pkt(off=14,r=14) after the comparison, shown changed, decoded for people
    assert re.search(r'<tr class="is-changed">\s*<th scope="row">R4.*?pkt\(off=14,r=14\)', walk, re.S)
    assert "14 bytes from its base proven inside" in walk


def test_pending_branches_and_the_event_sentence(post_form):
    walk = walk_section(post_form("/walk", source=PACKET_CHECK, type="xdp", walk="6", htmx=True)
                        .get_data(as_text=True))
    assert "push branch" in walk and "The jump at insn 5 can go either way" in walk
    assert re.search(r'<ol class="walk-pending".*?insn 9 .*?the jump at insn 5', walk, re.S)
    assert re.search(r'id="walk-insn-9" class="[^"]*is-pending', walk)  # the listing marks where it resumes


def test_a_rejected_program_opens_at_the_rejection(post_form):
    walk = walk_section(post_form("/run", source=UNCHECKED, type="xdp").get_data(as_text=True))
    assert "Rejected at insn 1: invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)" in walk
    assert current_row(walk) == 1 and 'class="is-current is-rejected"' in walk
    assert "jump to the error" not in walk  # already there
    earlier = walk_section(post_form("/walk", source=UNCHECKED, type="xdp", walk="0", htmx=True)
                           .get_data(as_text=True))
    assert "jump to the error" in earlier


def test_next_visit_of_an_instruction_follows_a_loop(post_form):
    source = "r1 = 0\nr1 += 1\nif r1 < 3 goto -2\nr0 = 0\nexit\n"
    walk = walk_section(post_form("/walk", source=source, type="xdp", walk="1", htmx=True).get_data(as_text=True))
    match = re.search(r'value="(\d+)" data-walk="goto" data-jump="next-visit"', walk)
    assert match
    later = walk_section(post_form("/walk", source=source, type="xdp", walk=match.group(1), htmx=True)
                         .get_data(as_text=True))
    assert current_row(later) == 1 and re.search(r'id="walk-insn-1" class="is-current".*?<td class="visits">2', later,
                                                  re.S)


def test_without_javascript_the_walk_form_posts_to_run(post_form):
    page = post_form("/run", source=PACKET_CHECK, type="xdp", walk="3").get_data(as_text=True)
    assert "<html" in page and 'data-index="3"' in walk_section(page)


def test_bad_walk_positions_are_clamped_or_ignored(post_form):
    for value, index in (("999999", "11"), ("abc", "0"), ("-4", "0"), ("", "0")):
        response = post_form("/walk", source=PACKET_CHECK, type="xdp", walk=value, htmx=True)
        assert response.status_code == 200
        walk = walk_section(response.get_data(as_text=True))
        assert f'data-index="{index}"' in walk or value == "999999"


def test_a_walk_of_a_program_that_no_longer_assembles_shows_the_result_instead(post_form):
    response = post_form("/walk", source="r0 = \nexit", type="xdp", walk="2", htmx=True)
    assert response.headers.get("HX-Retarget") == "#result"
    assert "Assembly error" in response.get_data(as_text=True)


def test_raw_programs_have_no_walk(post_form):
    assert 'id="walk"' not in post_form("/run", source="r0 = 0\nexit").get_data(as_text=True)


def test_the_walk_escapes_what_the_user_wrote(post_form):
    source = BY_SLUG["xdp-filter"].source.replace("# XDP", "# <script>alert(1)</script> XDP")
    html = post_form("/walk", source=source, type="xdp", walk="2", htmx=True).get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_the_url_opens_an_example_at_a_step_and_a_walk_event(client):
    html = client.get("/?example=xdp-filter&step=5&walk=7").get_data(as_text=True)
    assert 'data-index="7"' in walk_section(html)
    assert 'value="5"' in re.search(r'<input type="range" id="step-slider"[^>]*>', html).group(0)
    for bad in ("step=-1", "step=abc", "walk=1e9", "step=99999999999"):
        assert client.get(f"/?example=xdp-filter&{bad}").status_code == 200


def test_a_c_program_steps_its_walk_and_is_in_the_menu(post_form, client):
    from app.ebpf.cc import compiler_available

    if not compiler_available()[0]:
        return  # without a compiler the menu has no C examples and C does not build
    example = BY_SLUG["c-xdp-count"]
    response = post_form("/walk", source=example.source, type="xdp", language="c", walk="3", htmx=True)
    walk = walk_section(response.get_data(as_text=True))
    assert response.headers.get("HX-Retarget") is None and 'data-index="3"' in walk
    lines = [int(n) for n in re.findall(r'<td class="line">(\d+)</td>', walk)]
    assert lines and max(lines) <= example.source.count("\n") + 1  # the C lines of the instructions
    assert 'value="c-xdp-count"' in client.get("/").get_data(as_text=True)


def test_the_walk_names_the_source_line_of_its_instruction(post_form):
    walk = walk_section(post_form("/walk", source=PACKET_CHECK, type="xdp", walk="5", htmx=True)
                        .get_data(as_text=True))
    line = re.search(r'<p class="walk-source">(.*?)</p>', walk, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", line) == "line 6: if r4 > r3 goto +3"


def test_a_prune_offers_the_state_that_covered_it(post_form):
    source = ("r6 = *(u32 *)(r1 + 0)\nr0 = 0\n" + "if r6 > 3 goto +0\n" * 2 + "r2 = 1\n" * 8
              + "if r6 > 5 goto +0\n" * 3 + "exit\n")
    from app.ebpf import assemble
    from app.ebpf.verifier import verify

    walk = verify(assemble(source), "xdp").walk
    prune = next(e for e in walk if e.kind == "prune")
    html = walk_section(post_form("/walk", source=source, type="xdp", walk=str(prune.seq), htmx=True)
                        .get_data(as_text=True))
    assert f'value="{prune.other}" data-walk="goto"' in html
    assert f"the state that covered this one (event {prune.other})" in html


def test_stepping_a_walk_verifies_the_program_once(post_form, monkeypatch):
    from app.web import checkview

    calls = []
    real = checkview.verify
    monkeypatch.setattr(checkview, "verify", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(checkview, "_recent", type(checkview._recent)())
    source = PACKET_CHECK + "# once\n"
    for event in ("1", "2", "3"):
        assert post_form("/walk", source=source, type="xdp", walk=event, htmx=True).status_code == 200
    assert len(calls) == 1
    post_form("/walk", source=source, type="socket_filter", walk="1", htmx=True)  # another hook: its own walk
    assert len(calls) == 2


def test_the_log_of_a_walk_is_built_once_while_it_is_stepped(monkeypatch):
    from app.ebpf import assemble
    from app.ebpf.verifier import verify
    from app.web import walkview

    calls = []
    real = walkview.log_with_positions
    monkeypatch.setattr(walkview, "log_with_positions", lambda *a: calls.append(1) or real(*a))
    program = assemble(PACKET_CHECK)
    result = verify(program, "xdp")
    views = [walkview.walk_view(program, result, i) for i in range(4)]
    assert len(calls) == 1 and [v.index for v in views] == [0, 1, 2, 3]
    walkview.walk_view(program, verify(program, "xdp"), 0)  # another result object: its own log
    assert len(calls) == 2


# --- precision marks (precisionview.py) -------------------------------------------------------------------

PAD = "r3 = 0\n" + "r3 += 1\n" * 7  # as in tests/test_verifier_precision.py: lets the join keep a state
# r7 offsets a stack pointer after the join: the first arm marks r7 precise in the state kept at the join; the
# second arm keeps a state of its own on the way, is pruned at the join and inherits the mark
INHERITED = ("call bpf_get_prandom_u32\nr7 = 4\n" + PAD + "r8 = 1\nif r0 > 7 goto far\nr8 = 2\ngoto join\n"
             "far:\nr8 = 3\n" + PAD + "goto +0\nr9 = 0\n"
             "join:\nr2 = r10\nr2 += -8\nr2 += r7\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit")


def _precise_events(source: str, prog_type: str = "socket_filter"):
    from app.ebpf import assemble
    from app.ebpf.verifier import verify

    return verify(assemble(source), prog_type).walk


def _walk_at(post_form, source: str, event: int, prog_type: str = "socket_filter") -> str:
    return walk_section(post_form("/walk", source=source, type=prog_type, walk=str(event), htmx=True)
                        .get_data(as_text=True))


def _text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", fragment)).strip()


def _precision(walk: str) -> str:
    match = re.search(r'<div class="walk-precision".*?</div>', walk, re.S)
    assert match, "no precision paragraph"
    return match.group(0)


def test_an_event_that_marks_says_why_and_links_the_kept_state(post_form):
    walk = _precise_events(INHERITED)
    marking = next(e for e in walk if e.kind == "visit" and e.precise)
    (mark,) = marking.precise
    html = _precision(_walk_at(post_form, INHERITED, marking.seq))
    text = _text(html)
    assert "This instruction moves a pointer by the scalar r7" in text and "so its exact value matters" in text
    assert f"r7 marked precise in the state kept at insn {mark.insn_idx} event {mark.state_seq}." in text
    assert f'value="{mark.state_seq}" data-walk="goto"' in html  # a button to the kept state's event


def test_a_prune_says_which_scalars_it_compared_and_passes_the_marks_back(post_form):
    walk = _precise_events(INHERITED)
    prune = next(e for e in walk if e.kind == "prune")
    text = _text(_precision(_walk_at(post_form, INHERITED, prune.seq)))
    assert f"Compared with the state kept at event {prune.other}: only its precise scalar r7" in text
    assert "Its other scalars were not compared (imprecise: any value would do)." in text
    (inherited,) = prune.precise
    assert f"r7 marked precise in the state kept at insn {inherited.insn_idx} event {inherited.state_seq}." in text


def test_a_prune_before_any_mark_compared_no_scalar(post_form):
    source = "call bpf_get_prandom_u32\nr2 = 1\nif r0 > 7 goto join\nr2 = 2\n" + PAD + "join:\nr0 = r2\nexit"
    prune = next(e for e in _precise_events(source) if e.kind == "prune")
    text = _text(_precision(_walk_at(post_form, source, prune.seq)))
    assert "no scalar was compared (imprecise: any value would do)" in text


def test_the_event_that_kept_a_state_marks_its_precise_registers(post_form):
    walk = _precise_events(INHERITED)
    mark = next(e for e in walk if e.kind == "visit" and e.precise).precise[0]
    at_kept = _walk_at(post_form, INHERITED, mark.state_seq)
    text = _text(_precision(at_kept))
    assert f"A state was kept here, before insn {mark.insn_idx} ran" in text
    marker = re.search(r'<th scope="row">R7 <span class="precise-mark" title="([^"]*)">P</span>', at_kept)
    assert marker and "R7=4 then" in marker.group(1)
    assert not re.search(r'<th scope="row">R8 <span class="precise-mark"', at_kept)  # r8 stays imprecise
    assert "<code>4</code>" in at_kept  # the kernel notation column is unchanged
    before = _walk_at(post_form, INHERITED, mark.state_seq - 1)  # another event: no P markers
    assert 'class="precise-mark"' not in before


def test_why_follows_the_kind_of_instruction(post_form):
    cases = [
        ("socket_filter", "call bpf_get_prandom_u32\nr6 = 5\nr7 = 6\nif r0 > 7 goto join\nr8 = 1\n" + PAD
         + "join:\nif r6 > r7 goto +1\nr0 = 0\nexit",
         "This comparison's outcome was known from r6 and r7, so their exact values matter"),
        ("kprobe", "call bpf_get_prandom_u32\nr2 = 8\nif r0 > 7 goto join\nr8 = 1\n" + PAD + "join:\nr1 = r10\n"
         "r1 += -8\nr3 = 0\ncall bpf_probe_read_kernel\nr0 = 0\nexit",
         "The checks of bpf_probe_read_kernel relied on the exact value of its size argument r2"),
        ("socket_filter", "call bpf_get_prandom_u32\nr2 = 0\nif r0 > 7 goto join\nr8 = 1\n" + PAD
         + "join:\n*(u8 *)(r10 - 7) = r2\nr0 = 0\nexit",  # not at a slot's start: no spill, zero bytes
         "Storing the zero in r2 on the stack makes those bytes known zeros"),
        ("cgroup_skb", "call bpf_get_prandom_u32\nr6 = 1\nif r0 > 7 goto join\nr8 = 1\n" + PAD
         + "join:\nr0 = r6\nexit", "The return code is checked against the range this hook allows"),
    ]
    for prog_type, source, why in cases:
        marking = next(e for e in _precise_events(source, prog_type) if e.precise)
        assert why in _text(_precision(_walk_at(post_form, source, marking.seq, prog_type))), why


def test_the_precision_index_is_built_once_while_a_walk_is_stepped(monkeypatch):
    from app.ebpf import assemble
    from app.ebpf.verifier import verify
    from app.web import precisionview, walkview

    calls = []
    real = precisionview.build_index
    monkeypatch.setattr(precisionview, "build_index", lambda *a: calls.append(1) or real(*a))
    program = assemble(INHERITED)
    result = verify(program, "socket_filter")
    for i in range(0, len(result.walk), 5):
        walkview.walk_view(program, result, i)
    assert len(calls) == 1


# --- one path through the walk (pathview.py) --------------------------------------------------------------

# A loop (its jump's outcome is known each time round), then two nested branches: three paths. The walk
# checks each fall-through first and puts the jumped side aside.
NESTED = ("r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = 0\nr1 = 0\nloop:\nr1 += 1\nif r1 < 3 goto loop\n"
          "if r2 > 10 goto big\nif r3 > 20 goto huge\nr0 = 1\ngoto out\nhuge:\nr0 = 2\ngoto out\nbig:\nr0 = 3\n"
          "out:\nexit\n")


def _nested_walk():
    from app.ebpf import assemble
    from app.ebpf.verifier import verify

    return verify(assemble(NESTED), "xdp").walk


def _path_nav(walk: str) -> str:
    match = re.search(r'<nav id="walk-path".*?</nav>', walk, re.S)
    assert match, "no path navigation"
    return match.group(0)


def _path_button(nav: str, jump: str) -> tuple[int, str] | None:
    match = re.search(rf'<button[^>]*value="(\d+)"[^>]*data-jump="{jump}"[^>]*>(.*?)</button>', nav, re.S)
    return (int(match.group(1)), _text(match.group(2))) if match else None


def _crumbs(nav: str) -> list[tuple[int, str]]:
    return [(int(v), _text(t)) for v, t in re.findall(r'<button[^>]*value="(\d+)"[^>]*data-crumb="\d+"[^>]*>(.*?)</button>',
                                                       nav, re.S)]


def test_the_breadcrumb_lists_the_branch_points_from_the_entry(post_form):
    walk = _nested_walk()
    (outer, inner) = [e for e in walk if e.kind == "push_branch"]  # insn 6 (→ 12) first, then insn 7 (→ 10)
    assert (outer.other, outer.insn_idx, inner.other, inner.insn_idx) == (6, 12, 7, 10)
    resumed = next(e for e in walk if e.kind == "pop_branch" and e.insn_idx == 10)
    at = resumed.seq + 1  # the visit of insn 10: the outer branch fell through, the inner one jumped
    nav = _path_nav(_walk_at(post_form, NESTED, at, "xdp"))
    crumbs = _crumbs(nav)
    assert [label for _, label in crumbs] == ["insn 5 → 4 (jumped)", "insn 5 → 4 (jumped)", "insn 5 → 6 (fell through)",
                                             "insn 6 → 7 (fell through)", "insn 7 → 10 (jumped)"]
    assert crumbs[3][0] == outer.seq + 1 and crumbs[4][0] == inner.seq  # each a button to where that side starts
    assert [walk[e].insn_idx for e, _ in crumbs] == [4, 4, 6, 7, 10]
    assert "Path 2 of 3" in _text(nav) and "here (insn 10)" in _text(nav)
    assert nav.count("is-forked") == 2 and nav.count("is-known") == 3  # the loop's jumps had known outcomes
    # the other path through the outer branch: it jumped at insn 6
    last = _crumbs(_path_nav(_walk_at(post_form, NESTED, len(walk) - 2, "xdp")))
    assert [label for _, label in last][-1] == "insn 6 → 12 (jumped)" and len(last) == 4
    assert "Every path checked" in _text(_path_nav(_walk_at(post_form, NESTED, len(walk) - 1, "xdp")))


def test_next_and_previous_on_the_path_skip_the_other_branch(post_form):
    walk = _nested_walk()
    _, inner = [e for e in walk if e.kind == "push_branch"]
    jump = inner.seq - 1  # the visit of insn 7, which put the inner branch aside
    nav = _path_nav(_walk_at(post_form, NESTED, jump, "xdp"))
    assert _path_button(nav, "path-next") == (inner.seq + 1, f"on this path (event {inner.seq + 1}) ▶")
    assert _path_button(nav, "other-side") == (inner.seq, f"the other way, put aside (event {inner.seq})")
    nav = _path_nav(_walk_at(post_form, NESTED, inner.seq + 1, "xdp"))
    assert _path_button(nav, "path-prev") == (jump, f"◀ on this path (event {jump})")  # over the push
    end = next(e for e in walk if e.kind == "exit")
    nav = _path_nav(_walk_at(post_form, NESTED, end.seq, "xdp"))
    assert _path_button(nav, "path-next") == (end.seq + 1, f"next path (event {end.seq + 1}) ▶")
    assert "Path 1 of 3" in _text(nav)


def test_a_push_and_its_pop_link_to_each_other(post_form):
    walk = _nested_walk()
    outer, _ = [e for e in walk if e.kind == "push_branch"]
    pop = next(e for e in walk if e.kind == "pop_branch" and e.insn_idx == outer.insn_idx)
    assert pop.seq > outer.seq + 5  # the other paths were walked in between
    nav = _path_nav(_walk_at(post_form, NESTED, outer.seq, "xdp"))
    assert _path_button(nav, "path-next") == (pop.seq, f"continue this branch (event {pop.seq}) ▶")
    assert "Path 3 of 3" in _text(nav)
    nav = _path_nav(_walk_at(post_form, NESTED, pop.seq, "xdp"))
    assert _path_button(nav, "path-prev") == (outer.seq, f"◀ where it was put aside (event {outer.seq})")
    assert _path_button(nav, "path-next") == (pop.seq + 1, f"on this path (event {pop.seq + 1}) ▶")


def test_a_branch_never_resumed_says_so(post_form):
    source = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nif r2 > r3 goto +1\nr0 = *(u8 *)(r2 + 0)\nr0 = 0\nexit\n"
    from app.ebpf import assemble
    from app.ebpf.verifier import verify

    push = next(e for e in verify(assemble(source), "xdp").walk if e.kind == "push_branch")
    nav = _path_nav(_walk_at(post_form, source, push.seq, "xdp"))
    assert _path_button(nav, "path-next") is None and "never resumed: the walk stopped first" in nav
    assert "A branch never resumed" in nav


def test_a_long_loop_folds_its_breadcrumb(post_form):
    from app.web import pathview

    source = "r1 = 0\nloop:\nr1 += 1\nif r1 < 40 goto loop\nr0 = 0\nexit\n"
    from app.ebpf import assemble
    from app.ebpf.verifier import verify

    walk = verify(assemble(source), "xdp").walk
    end = next(e for e in walk if e.kind == "exit")
    nav = _path_nav(_walk_at(post_form, source, end.seq, "xdp"))
    hidden = 40 - pathview.FIRST - pathview.LAST
    assert f"… {hidden} more" in _text(nav)
    crumbs = _crumbs(nav)
    assert len(crumbs) == 40  # the folded ones are listed in a <details>, shown without JavaScript too
    assert re.search(r"<details><summary[^>]*>… \d+ more</summary>", nav)
    assert crumbs[-1][1] == "insn 2 → 3 (fell through)" and crumbs[0][1] == "insn 2 → 1 (jumped)"
    for pos in (pathview.FIRST, len(crumbs) - pathview.LAST):  # in order across the fold
        assert crumbs[pos - 1][0] < crumbs[pos][0]


def test_a_very_long_breadcrumb_shows_a_count_only(monkeypatch):
    from app.ebpf import assemble
    from app.ebpf.verifier import verify
    from app.web import pathview

    monkeypatch.setattr(pathview, "MIDDLE_MAX", 5)
    program = assemble("r1 = 0\nloop:\nr1 += 1\nif r1 < 40 goto loop\nr0 = 0\nexit\n")
    result = verify(program, "xdp")
    view = pathview.path_view(program, result, len(result.walk) - 2)
    assert view.crumbs == 40 and view.hidden == 40 - pathview.FIRST - pathview.LAST and view.middle == ()
    assert len(view.head) == pathview.FIRST and len(view.tail) == pathview.LAST


def test_the_path_index_is_built_once_while_a_walk_is_stepped(monkeypatch):
    from app.ebpf import assemble
    from app.ebpf.verifier import verify
    from app.web import pathview, walkview

    calls = []
    real = pathview.build_index
    monkeypatch.setattr(pathview, "build_index", lambda *a: calls.append(1) or real(*a))
    program = assemble(NESTED)
    result = verify(program, "xdp")
    for i in range(len(result.walk)):
        walkview.walk_view(program, result, i)
    assert len(calls) == 1


def test_the_path_buttons_work_without_javascript(post_form):
    walk = _nested_walk()
    outer = next(e for e in walk if e.kind == "push_branch")
    page = post_form("/run", source=NESTED, type="xdp", walk=str(outer.seq)).get_data(as_text=True)
    assert "<html" in page
    nav = _path_nav(walk_section(page))
    for button in re.findall(r"<button[^>]*>", nav):
        assert 'type="submit"' in button and 'form="walker"' in button and 'name="walk"' in button
    assert f'data-index="{outer.seq}"' in walk_section(page)


def test_calls_and_returns_are_on_the_breadcrumb(post_form):
    source = "r1 = 1\ncall f\nr0 = 0\nexit\nf:\nr0 = r1\nexit\n"
    labels = [label for _, label in _crumbs(_path_nav(_walk_at(post_form, source, 5, "xdp")))]
    assert labels == ["insn 1 → call 4", "insn 5 → return to 2"]
