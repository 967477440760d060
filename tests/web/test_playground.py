"""The playground blueprint: the page, runs and steps, as full pages and as htmx fragments."""
from __future__ import annotations

import re

import pytest

from app.web.examples import EXAMPLES

SUM = """\
    r0 = 0
    r1 = 3
loop:
    r0 += r1
    r1 -= 1
    if r1 != 0 goto loop
    exit
"""


def ids(html: str) -> list[str]:
    return re.findall(r'\sid="([^"]+)"', html)


def register(html: str, name: str) -> re.Match:
    """The row of one register in the step view: (changed?, hex, unsigned, signed)."""
    match = re.search(rf'<tr( class="is-changed"[^>]*)?>\s*<th scope="row">{name}(?:<span[^>]*>[^<]*</span>)?</th>\s*'
                      rf'<td class="hex">(0x[0-9a-f]{{16}})</td>\s*<td class="dec">(\d+)</td>\s*'
                      rf'<td class="dec(?: same)?">(-?\d+)</td>', html)
    assert match, f"no row for {name}"
    return match


# --- the page ---------------------------------------------------------------------------------------------

def test_page_renders_editor_examples_limits_and_the_first_example_run(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for element in ("editor", "source", "gutter", "mem", "max_insns", "run", "example", "result", "verdict",
                    "stepper", "listing", "step", "registers", "memory"):
        assert element in ids(html), element
    assert "65,536 bytes" in html and "at most 65,536" in html and "1 to 1,000,000" in html  # limits shown
    assert "Returned" in html and "0x37" in html  # the default example (sum 1..10) already ran
    for example in EXAMPLES:
        assert f'value="{example.slug}"' in html


def test_page_loads_a_chosen_example(client):
    html = client.get("/?example=bswap").get_data(as_text=True)
    assert 'value="01 02 03 04 05 06 07 08"' in html
    assert "0x102030405060708" in html
    assert '<option value="bswap" selected>' in html


HOOK_OPTION_LENGTH = 28  # what the hook picker shows whole beside Language and Max steps on a laptop


def test_the_hook_picker_shows_each_hook_whole_and_describes_the_chosen_one(client):
    """Options are the hook's name and a few words (the long doc cut the option short: "xdp — runs in the…");
    the chosen hook's doc is under the picker, in the input panel, and the select is described by it."""
    from app.ebpf.progtypes import PROG_TYPES

    page = client.get("/?example=xdp-filter").get_data(as_text=True)
    select = re.search(r'<select id="type"[^>]*>(.*?)</select>', page, re.DOTALL)
    options = dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]*)</option>', select.group(1)))
    assert set(options) == {"raw", *PROG_TYPES}
    assert options["xdp"] == "xdp — driver"
    for name, text in options.items():
        assert text.startswith(f"{name} — ") and len(text) <= HOOK_OPTION_LENGTH, text
    assert re.search(r'<label for="type">Hook</label>', page)
    assert 'aria-describedby="hook-doc type-error"' in select.group(0)
    doc = re.search(r'<p class="hint hook-doc" id="hook-doc">([^<]*)', page).group(1)
    assert doc.startswith(PROG_TYPES["xdp"].doc)


def test_unknown_example_is_404(client):
    response = client.get("/?example=nope")
    assert response.status_code == 404
    assert "There is no example with that name" in response.get_data(as_text=True)


# --- running ----------------------------------------------------------------------------------------------

def test_run_without_htmx_returns_the_whole_page(post_form):
    response = post_form("/run", source=SUM)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith("<!doctype html>")
    assert "Returned" in html and '<code class="retval">0x6</code>' in html
    assert "r1 = 3" in html  # the editor shows the program that ran
    assert "HX-Request" in response.headers.get("Vary", "")


def test_run_with_htmx_returns_only_the_result_and_field_error_updates(post_form):
    response = post_form("/run", source=SUM, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="result"')
    assert "<html" not in html and 'id="editor"' not in html
    for field in ("source", "mem", "max_insns"):  # out-of-band, to clear earlier messages
        assert f'<p class="field-error" id="{field}-error" hx-swap-oob="true"></p>' in html
    # each partial has one root with a stable id
    assert ids(html)[:5] == ["result", "verdict", "stepper", "step-slider", "step-position"]


def test_listing_rows_show_pc_opcode_log_text_and_source_line(post_form):
    html = post_form("/run", source=SUM + "    r2 = 0x1122334455 ll\n", htmx=True).get_data(as_text=True)
    row = re.search(r'<tr id="insn-4"[^>]*>(.*?)</tr>', html, re.S).group(1)
    assert '<td class="pc">4</td>' in row and '<td class="op">55</td>' in row and '<td class="line">6</td>' in row
    text = re.sub(r"<[^>]+>", "", re.search(r'<td class="insn">(.*?)</td>', row).group(1))
    assert text == "if r1 != 0x0 goto pc-3"  # the verifier log's spelling
    assert re.sub(r"<[^>]+>", "", re.search(r'<td class="src">(.*?)</td>', row).group(1)) == "if r1 != 0 goto loop"
    assert '<span class="hl-nl">loop</span>:' in html  # the label row
    assert 'id="insn-6"' in html and 'id="insn-7"' not in html  # ld_imm64 takes two slots


def test_assembly_error_shows_line_column_and_marks_the_gutter(post_form):
    source = "r0 = 1\n  r11 = 2\nexit\n"
    page = post_form("/run", source=source).get_data(as_text=True)
    assert "Assembly error at line 2, column 3" in page
    assert "unknown register" in page
    assert '<span class="is-error">2</span>' in page  # the gutter line
    assert 'aria-invalid="true"' in page
    fragment = post_form("/run", source=source, htmx=True).get_data(as_text=True)
    assert 'data-error-line="2"' in fragment  # editor.js marks the gutter from this
    assert 'data-line="2" data-col="3"' in fragment


def test_bad_hex_input_is_422_naming_the_field(post_form):
    response = post_form("/run", source=SUM, mem="de ad zz")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The program was not run" in html
    assert '<a href="#mem">Input memory</a>: not hex: &#39;z&#39; at character 7' in html
    assert '<p class="field-error" id="mem-error">not hex' in html
    fragment = post_form("/run", source=SUM, mem="abc", htmx=True).get_data(as_text=True)
    assert '<p class="field-error" id="mem-error" hx-swap-oob="true">not whole bytes: 3 hex digits' in fragment


@pytest.mark.parametrize("value", ["0", "abc", "1000001", ""])
def test_max_steps_out_of_range_is_422(post_form, value):
    response = post_form("/run", source=SUM, max_insns=value)
    assert response.status_code == 422
    assert "Max steps" in response.get_data(as_text=True)


def test_limits_on_source_and_input_are_enforced(app, post_form):
    app.config["MAX_SOURCE_BYTES"] = 100
    app.config["MAX_INPUT_BYTES"] = 4
    response = post_form("/run", source="exit\n" * 30, mem="0102030405")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "the program is 150 bytes; at most 100 are allowed" in html
    assert "5 bytes; at most 4 are allowed" in html


def test_a_run_that_hits_max_steps_is_a_fault_result(post_form):
    html = post_form("/run", source="l: goto l\n", max_insns="50").get_data(as_text=True)
    assert "Instruction limit reached" in html
    assert "50 / 50" in html or 'max="50"' in html


def test_user_text_is_escaped_everywhere(post_form):
    attack = "<script>alert(1)</script>"
    html = post_form("/run", source=f"r0 = 0 # {attack}\nexit\n").get_data(as_text=True)
    assert attack not in html
    assert "&lt;script&gt;" in html  # in the textarea, the step form and the listing's source column
    error_page = post_form("/run", source=f"{attack}\n").get_data(as_text=True)
    assert attack not in error_page and "&lt;script&gt;" in error_page
    fragment = post_form("/run", source=SUM, mem=f'"><{attack}', htmx=True).get_data(as_text=True)
    assert attack not in fragment


# --- stepping ---------------------------------------------------------------------------------------------

def test_step_with_htmx_returns_only_the_step_partial(post_form):
    response = post_form("/step", source=SUM, step="3", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="step"')
    assert 'data-index="3"' in html and 'data-pc="3"' in html  # about to run pc 3 (r1 -= 1)
    assert 'id="listing"' not in html
    changed, hex_value, unsigned, signed = register(html, "r0").groups()
    assert changed and hex_value == "0x0000000000000003" and unsigned == signed == "3"  # step 2 (r0 += r1) wrote r0
    assert not register(html, "r1").group(1)
    assert "r0: 0x0 → 0x3" in html


def test_registers_show_unsigned_and_signed_decimal(post_form):
    html = post_form("/step", source="r0 = -2\nexit\n", step="1", htmx=True).get_data(as_text=True)
    assert "<th scope=\"col\">unsigned</th><th scope=\"col\">signed</th>" in html
    _, hex_value, unsigned, signed = register(html, "r0").groups()
    assert (hex_value, unsigned, signed) == ("0xfffffffffffffffe", "18446744073709551614", "-2")
    assert '<td class="dec">0</td>\n      <td class="dec same">0</td>' in html  # equal values: signed is muted


def test_step_positions_are_clamped_and_the_end_shows_the_outcome(post_form):
    html = post_form("/step", source=SUM, step="999", htmx=True).get_data(as_text=True)
    assert 'data-index="12"' in html and 'data-total="12"' in html
    assert 'data-status="returned"' in html and "the program returned" in html


def test_step_marks_changed_stack_bytes(post_form):
    source = "r1 = 0x41\n*(u8 *)(r10 - 3) = r1\nexit\n"
    html = post_form("/step", source=source, step="2", htmx=True).get_data(as_text=True)
    assert re.search(r'<span class="off">fp-8</span>\s*<span class="bytes">00 00 00 00 00 '
                     r'<span class="is-changed run-written" title="written by the last step, written so far">41'
                     r'</span> 00 00</span>', html)
    assert "stack[0] fp-3: 00 → 41" in html


def test_step_without_htmx_and_run_with_a_step_render_the_page_at_that_step(post_form):
    for url in ("/step", "/run"):
        html = post_form(url, source=SUM, step="2").get_data(as_text=True)
        assert html.lstrip().startswith("<!doctype html>")
        assert 'data-index="2"' in html
        assert re.search(r'<tr id="insn-2" class="is-current is-next" aria-current="step">', html)
        assert 'name="step" value="1" data-step="prev"' in html and 'name="step" value="3" data-step="next"' in html


def test_step_whose_inputs_no_longer_run_replaces_the_whole_result(post_form):
    response = post_form("/step", source="bogus\n", step="1", htmx=True)
    assert response.headers["HX-Retarget"] == "#result"
    assert response.get_data(as_text=True).lstrip().startswith('<section id="result"')
    bad = post_form("/step", source=SUM, step="-1", htmx=True)
    assert bad.status_code == 422 and bad.headers["HX-Retarget"] == "#result"


def test_the_step_form_carries_the_inputs_of_the_result_on_screen(post_form):
    html = post_form("/run", source=SUM, mem="0a0b", max_insns="77", htmx=True).get_data(as_text=True)
    form = re.search(r'<form id="stepper".*?</form>', html, re.S).group(0)
    assert 'name="mem" value="0a0b"' in form and 'name="max_insns" value="77"' in form
    assert 'name="source" value="    r0 = 0\n    r1 = 3\nloop:' in form
    assert 'data-step-url="/step"' in form and 'name="csrf_token"' in form


def test_crlf_from_browsers_is_the_same_program(post_form):
    html = post_form("/run", source=SUM.replace("\n", "\r\n"), htmx=True).get_data(as_text=True)
    assert '<code class="retval">0x6</code>' in html


def test_helper_output_is_shown_from_the_step_that_printed_it(post_form):
    source = ('r1 = 0x0a6968 ll\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 8\n'
              'call bpf_trace_printk\nr0 = 0\nexit\n')
    before = post_form("/step", source=source, step="5", htmx=True).get_data(as_text=True)
    assert 'id="output"' not in before
    after = post_form("/step", source=source, step="6", htmx=True).get_data(as_text=True)
    line = re.search(r'<li class="is-new"><span class="muted">pc 6 trace_printk</span> <code>(.*?)</code></li>', after)
    assert line and line.group(1).endswith("hi")
    assert "printed by trace_printk" in after
    later = post_form("/step", source=source, step="7", htmx=True).get_data(as_text=True)
    assert '<li><span class="muted">pc 6 trace_printk</span>' in later  # still listed, no longer new


@pytest.mark.parametrize("slug", [e.slug for e in EXAMPLES])
def test_element_ids_are_unique(client, slug):
    html = client.get(f"/?example={slug}").get_data(as_text=True)
    seen = ids(html)
    assert len(seen) == len(set(seen)), sorted({i for i in seen if seen.count(i) > 1})


def test_the_verifier_verdict_comes_before_the_run(post_form):
    html = post_form("/run", source="r0 = 1\nr1 = 0\nr0 = *(u8 *)(r1 + 0)\nexit\n", type="socket_filter",
                     packet_from="hex", packets="00" * 14).get_data(as_text=True)
    check = re.search(r'<section id="verifier-check".*?</section>', html, re.S).group(0)
    assert "is-reject" in check and '<a href="#insn-2">insn 2</a>' in check
    assert "<code>R1 invalid mem access &#39;scalar&#39;</code>" in check and "EACCES" in check
    assert html.index('id="verifier-check"') < html.index('id="verdict"')
    assert re.search(r'<tr id="insn-2" class="[^"]*is-rejected', html)
    assert "is-fault" in html  # and the VM still ran it: a fault at the same load
    assert 'data-error-line="3"' in html and '<span class="is-error">3</span>' in html  # the gutter marks line 3


def test_raw_programs_have_no_verifier_verdict(post_form):
    html = post_form("/run", source="r0 = 1\nexit\n", type="raw").get_data(as_text=True)
    assert 'id="verdict"' in html and 'id="verifier-check"' not in html


def test_the_page_limit_on_the_verifier_is_said(app, post_form):
    app.config["MAX_VERIFY_INSNS"] = 50
    source = "r0 = 0\nr1 = 100\nl: r1 -= 1\nif r1 > 0 goto l\nexit\n"
    html = post_form("/run", source=source, type="socket_filter", packet_from="hex",
                     packets="00" * 14).get_data(as_text=True)
    check = re.search(r'<section id="verifier-check".*?</section>', html, re.S).group(0)
    assert "no verdict" in check and "stopped after 50 processed instructions" in check


def test_run_to_here_goes_to_the_next_time_an_instruction_runs(post_form):
    def at(html):
        return int(re.search(r'<section id="step"[^>]*data-index="(\d+)"', html).group(1))

    first = at(post_form("/step", source=SUM, step="0", to="3", htmx=True).get_data(as_text=True))
    again = at(post_form("/step", source=SUM, step=str(first), to="3", htmx=True).get_data(as_text=True))
    assert 0 < first < again  # the loop's pc 3, one iteration later
    never = at(post_form("/step", source=SUM, step="0", to="999", htmx=True).get_data(as_text=True))
    assert never == 0  # a pc the run never reaches: stay
    page = post_form("/run", source=SUM, to="3").get_data(as_text=True)  # without JavaScript: from the start
    assert at(page) == first and 'name="to" value="3"' in page
