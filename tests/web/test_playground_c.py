"""C on the playground page (``language=c``): compiled on the server, run and verified like assembly, the
listing showing the C line of each instruction, compile errors with their line and column, and hostile
sources refused through the page. Tests that compile skip cleanly where this server has no C compiler."""
from __future__ import annotations

import html as html_lib
import re
from contextlib import ExitStack
from dataclasses import replace

import pytest

from app.ebpf.cc import compiler_available
from app.ebpf.progtypes import PROG_TYPES
from app.oracle import bpf_available, create_map, verify_in_kernel
from app.web.examples import BY_SLUG, C_EXAMPLES, MENU
from app.web.forms import RunForm
from app.web.inputs import Limits
from app.web.runs import check, compile_program, execute, program_of
from app.web.setups import check_setup, form_of_setup, setup_of_form

needs_cc = pytest.mark.skipif(not compiler_available()[0], reason="no C compiler (pip install ziglang)")

LIMITS = Limits(64 * 1024, 64 * 1024, 1_000_000)

SOCKET = """\
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int keep(struct __sk_buff *skb)
{
\tif (skb->len < 64)
\t\treturn skb->len;
\treturn 64;
}

char LICENSE[] SEC("license") = "GPL";
"""
PACKET = "eth/ipv4/udp(dport=53)/payload(hi)"  # 14 + 20 + 8 + 2 bytes; skb->len leaves out the Ethernet 14


def c_form(**fields: str) -> dict[str, str]:
    return {"source": SOCKET, "language": "c", "type": "socket_filter", "packet_from": "spec",
            "packet_spec": PACKET, **fields}


def cells(html: str, pc: int) -> dict[str, str]:
    """The cells of listing row ``pc``, as text."""
    row = re.search(rf'<tr id="insn-{pc}"[^>]*>(.*?)</tr>', html, re.S).group(1)
    return {m[1]: html_lib.unescape(re.sub(r"<[^>]+>", "", m[2])).strip()
            for m in re.finditer(r'<td class="(\w+)">(.*?)</td>', row, re.S)}


# --- compiling and running ---------------------------------------------------------------------------------

@needs_cc
def test_c_compiles_runs_and_passes_the_verifier(post_form):
    response = post_form("/run", **c_form())
    html = response.get_data(as_text=True)
    assert response.status_code == 200, re.findall(r'class="field-error"[^>]*>([^<]+)', html)
    assert '<code class="retval">0x1e</code>' in html  # skb->len: 30 bytes
    assert 'class="verdict check is-accept"' in html and "accepted as socket_filter" in html
    assert "<option value=\"c\" selected" in html  # the language picker keeps C


@needs_cc
def test_the_listing_shows_the_c_line_of_each_instruction(post_form):
    html = post_form("/run", htmx=True, **c_form()).get_data(as_text=True)
    first = cells(html, 0)
    assert first["line"] == "7" and first["src"] == "if (skb->len < 64)"
    assert '<th scope="col">C source</th>' in html
    assert '<span class="hl-nl">keep</span>:' in html  # the function's name labels its first instruction
    # the line number goes to the line in the editor (editor.js), and the source is highlighted as C
    assert '<a href="#source" class="goto-line" data-line="7" data-col="1"' in html
    assert '<span class="hl-k">if</span>' in html
    lines = [cells(html, pc)["line"] for pc in range(len(re.findall(r'<tr id="insn-', html)))]
    assert set(lines) <= {"7", "8", "9", "10"} and lines[0] == "7"
    # a line's text is shown once, on the first of its instructions
    repeats = re.findall(r'<tr id="insn-\d+" class="[^"]*is-repeat', html)
    assert repeats and all(cells(html, int(re.search(r"\d+", r).group()))["src"] == "" for r in repeats)


@needs_cc
def test_the_compiled_listing_comes_first_beside_the_source_and_assembly_stays_after_the_walk(post_form):
    html = post_form("/run", htmx=True, **c_form()).get_data(as_text=True)
    assert html.count('id="listing"') == 1
    assert html.index('id="listing"') < html.index('id="walk"') < html.index('id="verdict"')
    assert 'class="listing is-compiled"' in html and 'aria-label="Compiled instructions, with their C lines"' in html
    asm = post_form("/run", htmx=True, source="r0 = 1\nexit", type="socket_filter").get_data(as_text=True)
    assert asm.count('id="listing"') == 1 and asm.index('id="walk"') < asm.index('id="listing"')
    assert 'class="listing"' in asm


@needs_cc
def test_the_verifier_rejection_marks_the_c_line(post_form):
    source = SOCKET.replace("\tif (skb->len < 64)\n", "\tif (*(char *)(long)skb->data == 1)\n")
    html = post_form("/run", **c_form(source=source)).get_data(as_text=True)
    assert "is-reject" in html
    assert 'data-error-line="7"' in html and '<span class="is-error">7</span>' in html


@needs_cc
def test_a_compile_error_is_422_on_the_program_with_line_and_column(post_form):
    source = SOCKET.replace("return 64;", "return undefined_thing;")
    response = post_form("/run", **c_form(source=source))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The program was not run" in html
    assert "line 9, col 9: use of undeclared identifier &#39;undefined_thing&#39;" in html
    assert '<span class="is-error">9</span>' in html and 'data-error-line="9"' in html  # the gutter
    fragment = post_form("/run", htmx=True, **c_form(source=source)).get_data(as_text=True)
    assert re.search(r'<p class="field-error" id="source-error" hx-swap-oob="true">line 9, col 9: ', fragment)


@needs_cc
def test_a_section_for_another_hook_is_said_plainly(post_form):
    response = post_form("/run", **c_form(type="xdp", packet_spec=PACKET))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert ("the C program keep() is in SEC(&#34;socket&#34;), a section for socket_filter programs, but the xdp "
            "hook is chosen" in html)
    assert '<p class="field-error" id="type-error">' in html


@needs_cc
def test_with_several_programs_the_one_for_the_hook_is_run(post_form):
    source = SOCKET + 'SEC("xdp") int pass(struct xdp_md *ctx) { return XDP_PASS; }\n'
    html = post_form("/run", **c_form(source=source, type="xdp")).get_data(as_text=True)
    assert '<span class="retval-name">XDP_PASS</span>' in html and '<span class="hl-nl">pass</span>:' in html


@pytest.mark.parametrize("source,message", [
    ('#include "/etc/passwd"\nint x;\n', "line 1, col 1: #include of an absolute path (/etc/passwd) is not allowed"),
    ("int x;\n#include <../../x>\n", "line 2, col 1: '..' in a header name (../../x) is not allowed"),
    ('#define F "/etc/passwd"\n#include F\n', "line 2, col 1: #include needs a header name in quotes or angle "
                                             "brackets here (no macros)"),
])
def test_hostile_includes_are_refused_through_the_page(post_form, source, message):
    response = post_form("/run", **c_form(source=source))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in html.replace("&#39;", "'")
    assert "root:" not in html  # nothing of the file reaches the page


def test_a_huge_c_source_is_refused_before_compiling(post_form):
    response = post_form("/run", **c_form(source="int x;\n" * 12_000))
    assert response.status_code == 422
    assert "the program is 84,000 bytes; at most 65,536 are allowed" in response.get_data(as_text=True)


def test_without_a_compiler_the_page_says_so(monkeypatch, post_form):
    monkeypatch.setenv("EBPF_PLAYGROUND_CC", "none")
    response = post_form("/run", **c_form())
    assert response.status_code == 422
    assert "C compilation is switched off on this server" in response.get_data(as_text=True)


def test_an_unknown_language_is_422(post_form):
    response = post_form("/run", source="exit", language="rust")
    assert response.status_code == 422
    assert '<p class="field-error" id="language-error">unknown language &#39;rust&#39; (asm or c)</p>' in \
        response.get_data(as_text=True)


# --- steps, walks and shares carry the language ----------------------------------------------------------

def test_the_language_travels_in_the_hidden_fields():
    form = RunForm.from_form(_multidict(c_form(max_insns="100")), LIMITS)
    assert form.language == "c" and ("language", "c") in form.hidden_fields()
    assert RunForm.from_form(_multidict({"source": "exit"}), LIMITS).language == "asm"


@needs_cc
def test_steps_recompute_the_same_c_program(post_form):
    html = post_form("/run", htmx=True, **c_form()).get_data(as_text=True)
    assert '<input type="hidden" name="language" value="c">' in html  # in the step form
    step = post_form("/step", htmx=True, step="1", **c_form()).get_data(as_text=True)
    assert step.lstrip().startswith('<section id="step"') and 'data-index="1"' in step


def step_source(html: str) -> tuple[str, str] | None:
    """The step header's C line: its number and its text without the highlighting's markup."""
    found = re.search(r'<p class="step-source">line (\d+): <code class="hl">(.*?)</code></p>', html, re.DOTALL)
    return (found.group(1), html_lib.unescape(re.sub(r"<[^>]+>", "", found.group(2)))) if found else None


@needs_cc
def test_the_step_header_names_the_c_line_of_the_instruction(client, post_form):
    source = BY_SLUG["c-xdp-count"].source.split("\n")
    for step in (0, 3, 7):
        page = client.get(f"/?example=c-xdp-count&step={step}").get_data(as_text=True)
        pc = int(re.search(r'<section id="step"[^>]*data-pc="(\d+)"', page).group(1))
        row = re.search(rf'<tr id="insn-{pc}".*?<td class="line">(.*?)</td>', page, re.DOTALL).group(1)
        line = re.sub(r"<[^>]+>", "", row).strip()  # the listing's line for the same instruction
        assert step_source(page) == (line, source[int(line) - 1].strip()), step
    fragment = post_form("/step", htmx=True, step="1", **c_form()).get_data(as_text=True)  # stepping with htmx
    assert step_source(fragment) is not None
    assert step_source(client.get("/?example=xdp-filter&step=3").get_data(as_text=True)) is None  # assembly


@needs_cc
def test_the_walk_of_a_c_program_opens(post_form):
    html = post_form("/walk", htmx=True, walk="0", **c_form()).get_data(as_text=True)
    assert 'id="walk"' in html and "Assembly error" not in html


def test_the_language_round_trips_through_a_share_setup():
    form = RunForm(SOCKET, "1000000", type="socket_filter", packet_from="spec", packet_spec=PACKET, language="c")
    setup, errors = setup_of_form(form, LIMITS)
    assert setup is not None, errors
    assert setup["language"] == "c"
    assert check_setup(setup, LIMITS) == setup
    restored = form_of_setup(setup, LIMITS)
    assert restored.language == "c" and restored.source == SOCKET
    assert setup_of_form(restored, LIMITS)[0] == setup


# --- examples ------------------------------------------------------------------------------------------------

@needs_cc
@pytest.mark.parametrize("example", C_EXAMPLES, ids=lambda e: e.slug)
def test_every_c_example_gives_its_result_and_passes_our_verifier(client, example):
    form = example.form(LIMITS)
    request, errors = check(form, LIMITS)
    assert not errors, errors
    outcome = execute(request, form)
    assert [r.retval_name or r.retval for r in outcome.results] == list(example.expect)
    html = client.get(f"/?example={example.slug}").get_data(as_text=True)
    assert 'class="verdict check is-accept"' in html and f"accepted as {example.type}" in html
    assert "<option value=\"c\" selected" in html and f"<option value=\"{example.type}\" selected>" in html
    assert example in MENU and BY_SLUG[example.slug] is example


@needs_cc
@pytest.mark.kernel
@pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")
@pytest.mark.parametrize("example", C_EXAMPLES, ids=lambda e: e.slug)
def test_the_running_kernel_accepts_every_c_example(example):
    """As tests/web/test_examples_kernel.py does for the assembly examples: fresh maps, their fds patched in."""
    program = compile_program(example.source, example.type)
    with ExitStack() as stack:
        fds = [stack.enter_context(create_map(m.type, m.key_size, m.value_size, m.max_entries, m.flags)).fd
               for m in program.maps]
        insns = [replace(i, imm=fds[i.imm]) if i.opcode == 0x18 and i.src in (1, 2) else i for i in program.insns]
        verdict = verify_in_kernel(b"".join(i.encode() for i in insns), example.type,
                                   expected_attach_type=PROG_TYPES[example.type].expected_attach_type)
    assert verdict.accepted, f"{verdict.first_error}\n{verdict.log[-3000:]}"


@needs_cc
def test_program_of_builds_what_a_run_builds():
    form = RunForm(SOCKET, "1000", type="socket_filter", language="c")
    assert program_of(form, LIMITS).insns == compile_program(SOCKET, "socket_filter").insns
    assert program_of(replace(form, type="raw"), LIMITS) is None  # no hook, no walk
    assert program_of(replace(form, source="int x = ;"), LIMITS) is None
    assert program_of(replace(form, language="asm"), LIMITS) is None  # C does not assemble
    assert program_of(RunForm("r0 = 0\nexit\n", "1000", type="xdp"), LIMITS) is not None


def test_without_a_compiler_a_c_example_says_so(monkeypatch, client):
    monkeypatch.setenv("EBPF_PLAYGROUND_CC", "none")
    response = client.get(f"/?example={C_EXAMPLES[0].slug}")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "C compilation is switched off on this server" in html
    assert "C (no compiler on this server)" in html


def _multidict(fields: dict[str, str]):
    from werkzeug.datastructures import MultiDict

    return MultiDict(fields)


# --- in a browser: the lines linked both ways ------------------------------------------------------------------

@needs_cc
@pytest.mark.browser
@pytest.mark.skipif(not __import__("pathlib").Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium")
def test_in_a_browser_lines_and_instructions_are_linked(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    import threading

    from werkzeug.serving import WSGIRequestHandler, make_server

    from app import create_app

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    app = create_app({"SECRET_KEY": "c-browser", "DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}"})
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    caret = ("() => { const t = document.getElementById('source'); "
             "return t.value.slice(0, t.selectionStart).split('\\n').length; }")
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            problems = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"http://127.0.0.1:{httpd.server_port}/?example=c-xdp-count")
            expect = sync_api.expect
            first_line = cells(page.content(), 0)["line"]
            expect(page.locator("#gutter .is-current-line")).to_have_text(first_line)  # the line of step 0
            page.locator("#step-slider").focus()
            page.keyboard.press("End")
            # the gutter follows the step: once the last step is shown, its mark is on the current row's C line
            # (read both together: the listing is replaced when the step arrives)
            page.wait_for_function("""() => {
                const slider = document.getElementById('step-slider');
                const row = document.querySelector('#listing tr.is-current td.line');
                const mark = document.querySelector('#gutter .is-current-line');
                return slider && slider.value === slider.max && row && mark
                    && row.textContent.trim() === mark.textContent.trim();
            }""", timeout=10000)
            page.locator("#insn-16 td.line a").click()  # the map lookup's line number
            line = int(page.locator("#insn-16 td.line").inner_text())
            assert page.evaluate(caret) == line and page.evaluate("document.activeElement.id") == "source"
            expect(page.locator("#listing tr.is-linked").first).to_be_visible()  # the caret's line lights its rows
            assert "insn-16" in page.eval_on_selector_all("#listing tr.is-linked", "rows => rows.map(r => r.id)")
            # a compile error marks the gutter, and the summary's link goes to its line
            page.fill("#source", page.input_value("#source").replace("return XDP_PASS;\n}", "return XDP_PASSS;\n}"))
            page.click("#run")
            expect(page.locator("#source-error")).to_contain_text("use of undeclared identifier 'XDP_PASSS'")
            error_line = re.match(r"line (\d+)", page.locator("#source-error").inner_text()).group(1)
            expect(page.locator("#gutter .is-error")).to_have_text(error_line)
            page.click('.problem a[href="#source"]')
            assert page.evaluate(caret) == int(error_line)
            assert not problems
            browser.close()
    finally:
        httpd.shutdown()
