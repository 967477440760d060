"""Breakpoints in the VM stepper (``breakpoints.py``): set in the URL and by the listing's gutter buttons,
Continue and Reverse continue through htmx (``POST /step``) and without JavaScript (``POST /run``), and a
clear message, never a 500, for breakpoints that name no instruction."""
from __future__ import annotations

import re
import time

from app.ebpf import assemble
from app.ebpf.vm import run
from app.web.breakpoints import MAX_BREAKPOINTS, MAX_TEXT, instruction_starts, parse

from .conftest import HTMX

# pc:  0 r0 = 0, 1 r1 = 3, 2 r0 += r1, 3 r1 -= 1, 4 if r1 != 0 goto loop, 5 exit
# run: 0 1 2 3 4 2 3 4 2 3 4 5   (12 steps; pc 3 is about to run before steps 3, 6 and 9)
SUM = "r0 = 0\nr1 = 3\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"
WIDE = "r1 = 0x1122334455667788 ll\nr0 = 0\nexit\n"  # pc 1 is the second slot of ld_imm64


def at(html: str) -> int:
    return int(re.search(r'<section id="step"[^>]*data-index="(\d+)"', html).group(1))


def problems(html: str) -> list[str]:
    block = re.search(r'<div class="breaks-problems" role="alert">.*?</div>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", block.group(0), re.S) if block else []


def marked(html: str) -> list[int]:
    """The listing rows marked with a breakpoint."""
    return [int(pc) for pc in re.findall(r'<tr id="insn-(\d+)" class="[^"]*\bhas-break\b', html)]


def go(post_form, direction: str, position: int, breaks: str = "3,5", **fields) -> str:
    return post_form("/step", source=SUM, step=str(position), at=str(position), go=direction, htmx=True,
                     **{"break": breaks}, **fields).get_data(as_text=True)


# --- Continue and Reverse continue --------------------------------------------------------------------------

def test_continue_stops_before_each_breakpoint_hit_then_at_the_end(post_form):
    stops, position = [], 0
    for _ in range(6):
        html = go(post_form, "continue", position)
        position = at(html)
        stops.append(position)
    assert stops == [3, 6, 9, 11, 12, 12]  # pc 3 three times, pc 5 (exit), then the end
    assert "Continue: no breakpoint is hit after this step, so the run went to its end." in html
    html = go(post_form, "continue", 0)
    assert "Continue: stopped at the breakpoint at pc 3, before step 3." in html
    assert 'data-pc="3"' in html


def test_reverse_continue_goes_back_to_the_previous_hit_then_to_the_start(post_form):
    stops, position = [], 12
    for _ in range(6):
        html = go(post_form, "reverse", position)
        position = at(html)
        stops.append(position)
    assert stops == [11, 9, 6, 3, 0, 0]
    assert "Reverse continue: no breakpoint is hit before this step, so the run went back to its start." in html


def test_continue_without_breakpoints_runs_to_the_end_and_says_why(post_form):
    assert at(html := go(post_form, "continue", 2, breaks="")) == 12
    assert "no breakpoints are set" in html
    assert at(go(post_form, "reverse", 7, breaks="")) == 0


def test_the_step_view_lists_the_breakpoints(post_form):
    html = go(post_form, "continue", 0)
    assert re.search(r'Breakpoints:\s*<span class="breaks-pcs"><a href="#insn-3">pc 3</a>, <a href="#insn-5">pc 5</a>',
                     html)


def test_at_falls_back_to_step_and_is_clamped(post_form):
    html = post_form("/step", source=SUM, step="4", at="not a number", go="continue", htmx=True,
                     **{"break": "3"}).get_data(as_text=True)
    assert at(html) == 6
    html = post_form("/step", source=SUM, step="0", at="999999", go="reverse", htmx=True,
                     **{"break": "3"}).get_data(as_text=True)
    assert at(html) == 9  # from the end


def test_an_unknown_direction_is_a_message(post_form):
    response = post_form("/step", source=SUM, step="4", at="4", go="sideways", htmx=True, **{"break": "3"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert at(html) == 4 and problems(html) == ["&#39;sideways&#39; is not a way to continue (continue or reverse)"]


# --- without JavaScript: the step form posts to /run and gets the page ----------------------------------------

def test_without_javascript_continue_posts_the_step_form_and_gets_the_page(post_form):
    response = post_form("/run", source=SUM, at="3", go="continue", **{"break": "3"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert at(html) == 6 and "<html" in html
    assert 'name="break" value="3"' in html and 'name="at" value="6"' in html
    assert marked(html) == [3]
    assert re.search(r'<button type="submit" name="go" value="continue"', html)
    assert re.search(r'<button type="submit" name="go" value="reverse"', html)


def test_without_javascript_the_gutter_button_toggles_and_keeps_the_position(post_form):
    html = post_form("/run", source=SUM, at="4", toggle="2", **{"break": "3"}).get_data(as_text=True)
    assert at(html) == 4 and marked(html) == [2, 3]
    assert 'name="break" value="2,3"' in html
    assert re.search(r'<button type="submit" form="stepper" name="toggle" value="2" class="bp-toggle" data-break-toggle\s+'
                     r'aria-pressed="true"', html)
    html = post_form("/run", source=SUM, at="4", toggle="3", **{"break": "2,3"}).get_data(as_text=True)
    assert marked(html) == [2] and 'name="break" value="2"' in html


def test_run_to_here_without_javascript_starts_from_the_position_on_screen(post_form):
    assert at(post_form("/run", source=SUM, at="3", to="3").get_data(as_text=True)) == 6


# --- the URL ------------------------------------------------------------------------------------------------

def test_breakpoints_in_the_url_open_the_page_with_them(client):
    html = client.get("/?example=sum&break=3,5&step=2").get_data(as_text=True)
    assert marked(html) == [3, 5] and at(html) == 2
    assert 'name="break" value="3,5"' in html
    assert not problems(html)


def test_breakpoints_in_a_shared_link_url(client, csrf):
    from app.web.examples import BY_SLUG

    form = {"csrf_token": csrf, "source": BY_SLUG["sum"].source, "type": "raw", "mem": "", "max_insns": "1000"}
    link = client.post("/share", data=form).headers["Location"]
    html = client.get(f"{link}?break=4").get_data(as_text=True)
    assert marked(html) == [4]


def test_bad_breakpoints_in_the_url_are_named_and_the_good_ones_kept(client):
    response = client.get("/?example=sum&break=x,3,,99,%C2%B2,-1,4")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert marked(html) == [3, 4]
    assert problems(html) == [
        "&#39;x&#39; is not an instruction number (breakpoints are pcs, such as 3,7)",
        "pc 99 is past the end of the program (its instructions are pc 0 to 5)",
        "&#39;²&#39; is not an instruction number (breakpoints are pcs, such as 3,7)",
        "&#39;-1&#39; is not an instruction number (breakpoints are pcs, such as 3,7)",
    ]


def test_breakpoint_text_is_escaped(client):
    html = client.get("/?example=sum&break=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&#39;&lt;script&gt;alert(1)&lt;/sc…&#39; is not an instruction number" in html  # cut at 20 characters


def test_a_breakpoint_in_the_middle_of_a_wide_instruction(post_form):
    html = post_form("/step", source=WIDE, step="0", htmx=True, **{"break": "1,2"}).get_data(as_text=True)
    assert problems(html) == ["pc 1 is the second half of the 16-byte instruction at pc 0: no instruction starts there"]
    assert "pc 2</a>" in html
    html = post_form("/step", source=WIDE, step="0", toggle="1", htmx=True).get_data(as_text=True)
    toggled = "cannot toggle a breakpoint: pc 1 is the second half of the 16-byte instruction at pc 0: no instruction "
    assert problems(html) == [toggled + "starts there"]


def test_too_many_or_too_long_breakpoints_are_cut_with_a_message(post_form):
    source = "r0 = 0\n" * 80 + "exit\n"
    html = post_form("/step", source=source, step="0", htmx=True,
                     **{"break": ",".join(map(str, range(80)))}).get_data(as_text=True)
    assert problems(html) == [f"80 breakpoints; at most {MAX_BREAKPOINTS} are kept (the first by pc)"]
    assert "pc 63</a>" in html and "pc 64</a>" not in html
    response = post_form("/step", source=source, step="0", htmx=True, **{"break": "0," * 2000})
    assert response.status_code == 200
    assert problems(response.get_data(as_text=True)) == [
        f"the breakpoint list is longer than {MAX_TEXT:,} characters: the rest was ignored"]


def test_breakpoints_of_a_program_that_does_not_assemble_are_not_an_error(post_form):
    response = post_form("/run", source="r0 = \nexit\n", at="0", go="continue", **{"break": "3,x"})
    assert response.status_code == 200
    assert "Assembly error" in response.get_data(as_text=True)


# --- the pieces ---------------------------------------------------------------------------------------------

def test_parse_and_instruction_starts():
    program = assemble(WIDE)
    assert instruction_starts(program) == [0, 2, 3]
    marks = parse(" 3 , 0,0 ", program, toggle="2")
    assert marks.pcs == (0, 2, 3) and marks.text == "0,2,3" and marks.problems == ()
    assert parse("0,2", program, toggle="2").pcs == (0,)


def test_continue_on_a_long_trace_is_fast(post_form):
    """A million-step trace: Continue reads the recorded pcs, not the machine states."""
    source = "r0 = 0\nr1 = 330000\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"
    result = run(assemble(source), mem=b"", trace=True, max_insns=1_000_000)
    assert len(result.trace) == 990_003
    start = time.perf_counter()
    assert result.trace.next_hit((5,), 0) == 990_002
    assert result.trace.prev_hit((0,), 990_003) == 0
    assert result.trace.prev_hit((3,), 990_003) == 990_000
    assert time.perf_counter() - start < 0.5
    html = post_form("/step", source=source, step="0", at="0", go="continue", max_insns="1000000", htmx=True,
                     **{"break": "5"}).get_data(as_text=True)
    assert at(html) == 990_002


def test_a_plain_request_gets_the_page_with_breakpoints(client, csrf):
    response = client.post("/step", data={"csrf_token": csrf, "source": SUM, "mem": "", "max_insns": "1000",
                                          "step": "0", "at": "0", "go": "continue", "break": "4"})
    assert response.status_code == 200
    assert marked(response.get_data(as_text=True)) == [4]


def test_the_step_form_refuses_a_post_without_the_csrf_token(client):
    response = client.post("/step", data={"source": SUM, "step": "0", "go": "continue", "break": "3"}, headers=HTMX)
    assert response.status_code in (400, 403)
