"""The playground in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser).

The app runs in a background thread (werkzeug's ``make_server`` on 127.0.0.1, port 0). Skipped cleanly where
``/usr/bin/chromium`` or the ``playwright`` package is missing.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

PROGRAM_LINES = ["r0 = 0", "r1 = 3", "loop:", "\tr0 += r1", "r1 -= 1", "if r1 != 0 goto loop", "exit"]
# "\t" is typed as the Tab key, which the editor turns into four spaces.


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    database = tmp_path_factory.mktemp("store") / "store.sqlite3"
    # One server serves a whole module of tests that step quickly: the per-client run limit is lifted here
    # (its own tests use their own apps).
    app = create_app({"SECRET_KEY": "browser-tests", "DATABASE_URL": f"sqlite:///{database}",
                      "RUN_RATE_PER_MINUTE": 100_000, "RUN_BURST": 100_000})
    httpd = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Console:
    """Everything the page said: console messages, uncaught errors and CSP violation events."""

    def __init__(self, page):
        self.messages: list[str] = []
        self.page = page
        page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.messages.append(f"pageerror: {e}"))
        page.add_init_script("window.__cspViolations = [];"
                             "document.addEventListener('securitypolicyviolation', e =>"
                             " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")

    def assert_clean(self, allow: str | None = None):
        """No CSP violation, no script error; ``allow`` is a message expected in this test."""
        violations = self.page.evaluate("window.__cspViolations")
        assert violations == [], violations
        assert not [m for m in self.messages if "Content Security Policy" in m or "Refused" in m], self.messages
        errors = [m for m in self.messages if m.startswith(("error", "pageerror")) and not (allow and allow in m)]
        assert not errors, errors


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=server)
    context.set_default_timeout(5000)
    page = context.new_page()
    page.console = Console(page)
    yield page
    context.close()


def type_program(page, lines: list[str]) -> None:
    editor = page.locator("#source")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    for line in lines:
        if line.startswith("\t"):
            page.keyboard.press("Tab")
            line = line[1:]
        page.keyboard.type(line)
        page.keyboard.press("Enter")


def register_row(page, name: str):
    return page.locator("#registers tbody tr").filter(has=page.locator("th", has_text=re.compile(rf"^{name}\b")))


def test_type_run_and_step_with_the_keyboard(page):
    page.goto("/")
    type_program(page, PROGRAM_LINES)
    assert page.locator("#source").input_value().splitlines()[3] == "    r0 += r1"  # Tab indented
    expect(page.locator("#gutter span")).to_have_count(8)  # seven lines and the empty last one

    page.keyboard.press("Control+Enter")
    expect(page.locator("#verdict")).to_contain_text("Returned")
    expect(page.locator("#verdict .retval")).to_have_text("0x6")
    expect(page.locator("#verdict")).to_contain_text("12")  # instructions executed
    expect(page.locator("#listing tr.is-current")).to_have_id("insn-0")

    page.keyboard.press("Escape")  # leaves the editor for the stepper
    expect(page.locator("#step-slider")).to_be_focused()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#step")).to_have_attribute("data-index", "3")
    expect(page.locator("#listing tr.is-current")).to_have_id("insn-3")
    expect(page.locator("#step-position")).to_have_text("3 / 12")
    r0 = register_row(page, "r0")
    expect(r0).to_have_class("is-changed")  # step 2 ran r0 += r1
    expect(r0.locator("td.hex")).to_have_text("0x0000000000000003")

    page.keyboard.press("ArrowLeft")
    expect(page.locator("#step")).to_have_attribute("data-index", "2")
    expect(page.locator("#listing tr.is-current")).to_have_id("insn-2")
    expect(register_row(page, "r1")).to_have_class("is-changed")  # step 1 ran r1 = 3
    expect(register_row(page, "r0")).not_to_have_class("is-changed")

    page.keyboard.press("End")
    expect(page.locator("#step")).to_have_attribute("data-status", "returned")
    expect(page.locator("#listing tr.is-current")).to_have_id("insn-5")
    page.locator("#listing").click()  # keys work with the focus anywhere outside the fields
    page.keyboard.press("Home")
    expect(page.locator("#step")).to_have_attribute("data-index", "0")
    page.console.assert_clean()


def test_step_buttons_and_fast_key_repeat_land_on_the_right_step(page):
    page.goto("/?example=sum")
    page.locator("#stepper button[data-step=next]").click()
    expect(page.locator("#step")).to_have_attribute("data-index", "1")
    page.locator("#listing").focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")  # faster than the server answers: only the last one counts
    expect(page.locator("#step")).to_have_attribute("data-index", "11")
    expect(page.locator("#stepper button[data-step=prev]")).to_have_attribute("value", "10")
    page.console.assert_clean()


def test_assembly_error_marks_the_gutter_and_goes_to_the_line(page):
    page.goto("/")
    type_program(page, ["r0 = 1", "r11 = 2", "exit"])
    page.keyboard.press("Control+Enter")
    expect(page.locator("#result")).to_contain_text("Assembly error at line 2, column 1")
    expect(page.locator("#gutter .is-error")).to_have_text("2")
    page.locator("#result a.goto-line").click()
    assert page.evaluate("document.activeElement.id") == "source"
    assert page.evaluate("document.getElementById('source').selectionStart") == len("r0 = 1\n")
    page.console.assert_clean()


def test_a_verifier_rejection_is_shown_first_and_marks_its_line(page):
    page.goto("/?example=xdp-filter")
    expect(page.locator("#verifier-check")).to_contain_text("accepted as xdp")
    source = page.locator("#source")
    source.fill(source.input_value().replace("if r4 > r3 goto", "# if r4 > r3 goto"))  # no bounds check
    source.press("Control+Enter")
    check = page.locator("#verifier-check")
    expect(check).to_contain_text("rejected at insn 4")
    expect(check).to_contain_text("invalid access to packet, off=12 size=2, R2(id=0,off=12,r=0)")
    expect(page.locator("#gutter .is-error")).to_have_text("10")  # the line of insn 4
    expect(page.locator("#listing tr.is-rejected")).to_have_id("insn-4")
    expect(page.locator("#verdict")).to_contain_text("XDP_PASS")  # the VM still ran it
    page.console.assert_clean()


def test_bad_hex_shows_the_message_beside_the_field(page):
    page.goto("/")
    page.fill("#mem", "12 3z")
    expect(page.locator("#mem-count")).to_contain_text("not hex")
    page.locator("#run").click()
    expect(page.locator("#mem-error")).to_contain_text("not hex: 'z' at character 5")
    expect(page.locator("#result")).to_contain_text("The program was not run")
    page.console.assert_clean(allow="status of 422")  # Chromium logs every 4xx answer (htmx swaps 422)


def test_a_refused_request_is_explained_not_swallowed(page):
    page.goto("/")
    page.context.clear_cookies()  # the session, and with it the CSRF token, is gone
    page.locator("#stepper button[data-step=next]").click()
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#notice")).to_contain_text("The request failed (400)")
    expect(page.locator("#notice")).to_contain_text("Reload the page")
    expect(page.locator("#step")).to_have_attribute("data-index", "0")  # nothing was swapped in
    page.console.assert_clean(allow=" 400 ")  # the browser and htmx both log the 400


def test_without_javascript_the_forms_still_work(browser, server):
    context = browser.new_context(java_script_enabled=False, base_url=server)
    try:
        page = context.new_page()
        page.goto("/?example=call")
        page.locator("#stepper button[data-step=next]").click()
        page.wait_for_load_state()
        assert page.locator("#step").get_attribute("data-index") == "1"
        assert page.locator("#listing tr.is-current").get_attribute("id") == "insn-1"
        page.locator("#stepper button[data-step=last]").click()
        page.wait_for_load_state()
        assert "the program returned" in page.locator("#step").inner_text()
        page.fill("#source", "r0 = 7\nexit\n")
        page.locator("#run").click()
        page.wait_for_load_state()
        assert page.locator("#verdict .retval").inner_text() == "0x7"
        page.select_option("#type", "kprobe")  # without JavaScript, a button asks for the hook's inputs
        page.locator("button", has_text="Show its inputs").click()
        page.wait_for_load_state()
        assert page.locator("#ctx_di").is_visible()
        page.fill("#source", "r0 = *(u64 *)(r1 + 112)\nexit\n")
        page.fill("#ctx_di", "9")
        page.locator("#run").click()
        page.wait_for_load_state()
        assert page.locator("#verdict .retval").inner_text() == "0x9"
    finally:
        context.close()


LONG_PROGRAM = "r0 = *(u64 *)(r1 + 112)\n" + "r0 += 0 // a long program, still short enough to read\n" * 120 + "exit\n"
"""About 6 KB: more than gunicorn takes in a request line, so its inputs must not be asked for in a URL."""


def test_without_javascript_a_long_program_asks_for_its_inputs_by_post(browser, server):
    assert len(LONG_PROGRAM.encode()) > 6000
    context = browser.new_context(java_script_enabled=False, base_url=server, viewport={"width": 1366, "height": 900})
    try:
        page = context.new_page()
        page.goto("/")
        page.fill("#source", LONG_PROGRAM)
        page.select_option("#type", "kprobe")
        with page.expect_request(lambda r: "/input" in r.url) as sent:
            page.locator("button", has_text="Show its inputs").click()
        page.wait_for_load_state()
        assert sent.value.method == "POST" and sent.value.url == f"{server}/input"  # nothing in the address
        assert page.url == f"{server}/input"
        assert page.locator("#ctx_di").is_visible()
        assert page.input_value("#source") == LONG_PROGRAM
        shots = os.environ.get("SCREENSHOT_DIR")
        if shots:
            page.locator("#input-panel").scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(shots, "input-without-js.png"))
        page.fill("#ctx_di", "9")
        page.locator("#run").click()
        page.wait_for_load_state()
        assert page.locator("#verdict .retval").inner_text() == "0x9"
    finally:
        context.close()


def test_a_new_hook_asks_for_its_panel_by_post_without_the_program(page):
    page.goto("/")
    page.fill("#source", LONG_PROGRAM)
    with page.expect_request(lambda r: r.url.endswith("/input")) as sent:
        page.select_option("#type", "kprobe")
    expect(page.locator("#ctx_di")).to_be_visible()
    request = sent.value
    assert request.method == "POST" and request.headers["x-csrf-token"]
    body = request.post_data or ""
    assert "type=kprobe" in body and "source=" not in body  # the panel needs no program
    with page.expect_request(lambda r: r.url.endswith("/input")) as sent:
        page.select_option("#type", "tracepoint")
    expect(page.locator("#event")).to_be_visible()
    # htmx binds the new panel's elements once it has settled (20 ms after the swap): a choice made before is lost
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-request')")
    page.select_option("#event", "sched/sched_process_exec")  # the panel's own selects ask the same way
    expect(page.locator("#str_filename")).to_be_visible()
    expect(page.locator("#source")).to_have_value(LONG_PROGRAM)
    page.console.assert_clean()


# --- hooks, packets, maps ---------------------------------------------------------------------------------

def pcap_file(path: Path, specs: list[str]) -> Path:
    import struct

    from app.ebpf.packets import build_packet, parse_spec

    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for spec in specs:
        packet = build_packet(parse_spec(spec))
        data += struct.pack("<IIII", 0, 0, len(packet), len(packet)) + packet
    path.write_bytes(data)
    return path


def test_xdp_packet_from_fields_verdicts_maps_and_stepping_to_the_update(page):
    from app.web.examples import BY_SLUG

    page.goto("/")
    page.fill("#source", BY_SLUG["xdp-filter"].source)
    page.select_option("#type", "xdp")  # the input panel follows the hook
    expect(page.locator("#packet_from-fields")).to_be_checked()
    expect(page.locator("#eth_dst")).to_be_visible()
    expect(page.locator("#packet_spec")).to_be_hidden()  # only the chosen source shows
    page.select_option("#l3", "ipv6")
    expect(page.locator("#ip_src")).to_have_attribute("placeholder", "fd00::1")
    page.locator("#run").click()
    expect(page.locator("#verdict .retval-name")).to_have_text("XDP_DROP")
    expect(page.locator("#map-proto_count")).to_contain_text("No entries.")

    page.select_option("#l3", "ipv4")
    expect(page.locator("#ip_src")).to_have_attribute("placeholder", "10.0.0.1")
    page.fill("#ip_src", "10.0.0.9")
    page.select_option("#l4", "tcp")
    expect(page.locator("#tcp_flags")).to_be_visible()
    expect(page.locator("#ip_src")).to_have_value("10.0.0.9")  # kept across the panel's swap
    page.fill("#dport", "443")
    page.keyboard.press("Control+Enter")  # runs from any field of the form
    expect(page.locator("#verdict .retval-name")).to_have_text("XDP_PASS")
    entry = page.locator("#map-proto_count tbody tr.is-added")
    expect(entry).to_contain_text("06 00 00 00")
    expect(entry).to_contain_text("01 00 00 00 00 00 00 00 = 1")
    expect(page.locator("#run-packets")).to_contain_text("10.0.0.9 → 10.0.0.2, TCP")

    page.locator("#step-slider").focus()
    page.keyboard.press("End")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")  # just after bpf_map_update_elem
    expect(page.locator("#step")).to_have_attribute("data-index", "23")
    expect(page.locator("#map-memory .hexrow .is-changed")).to_have_text("01")
    expect(page.locator("#step .last")).to_contain_text("proto_count.values+0x0: 00 → 01")
    page.console.assert_clean()


def test_kprobe_arguments_and_a_jump_to_helper_output(page):
    page.goto("/")
    page.fill("#source", "r0 = *(u64 *)(r1 + 112)\nr2 = *(u64 *)(r1 + 104)\nr0 += r2\nexit\n")
    page.select_option("#type", "kprobe")
    expect(page.locator("label[for=ctx_di]")).to_have_text("arg1 (di)")
    page.fill("#ctx_di", "40")
    page.fill("#ctx_si", "0x2")
    page.locator("#run").click()
    expect(page.locator("#verdict .retval")).to_have_text("0x2a")
    expect(page.locator("#context")).to_contain_text("di (arg1)")
    page.fill("#ctx_si", "two")
    page.locator("#run").click()
    expect(page.locator("#ctx_si-error")).to_contain_text("must be a number")
    expect(page.locator("#ctx_si")).to_have_attribute("aria-invalid", "true")

    page.goto("/?example=kprobe-args")
    button = page.locator("#run-output button.goto")
    target = button.get_attribute("value")
    button.click()
    expect(page.locator("#step")).to_have_attribute("data-index", target)
    expect(page.locator("#output li.is-new")).to_contain_text("dfd=-100")
    page.console.assert_clean(allow="status of 422")


def test_pcap_upload_runs_every_packet_and_steps_the_chosen_one(page, tmp_path):
    capture = pcap_file(tmp_path / "three.pcap", ["eth/ipv4/udp", "eth/ipv6/tcp", "eth/ipv4/tcp(dport=22)"])
    page.goto("/?example=xdp-filter")
    page.locator("label.segment", has_text="pcap upload").click()
    expect(page.locator("#pcap")).to_be_visible()
    page.set_input_files("#pcap", str(capture))
    page.locator("#run").click()
    expect(page.locator("#runs tbody tr")).to_have_count(3)
    expect(page.locator("#runs .verdict-name")).to_have_text(["XDP_PASS", "XDP_DROP", "XDP_PASS"])
    page.locator("#runs input[name=run][value='1']").check()  # step through the second packet
    expect(page.locator("#verdict")).to_contain_text("packet 2 of 3")
    expect(page.locator("#verdict .retval-name")).to_have_text("XDP_DROP")
    expect(page.locator("#stepper .which-run")).to_have_text("packet 2 of 3")
    page.locator("#stepper button[data-step=next]").click()
    expect(page.locator("#step")).to_have_attribute("data-index", "1")
    expect(page.locator("#step .now")).to_contain_text("pc 1")
    page.console.assert_clean()


def test_map_seeds_rows_and_environment(page):
    page.goto("/?example=cgroup-deny")
    expect(page.locator("#seeds-panel")).to_have_attribute("open", "")
    page.locator("#add-seed").click()
    expect(page.locator("#seed-2-map")).to_be_focused()
    page.fill("#seed-2-map", "denied_ports")
    page.fill("#seed-2-key", "0050")  # port 80
    page.fill("#seed-2-value", "01")
    page.locator("#run").click()
    expect(page.locator("#runs .verdict-name")).to_have_text(["drop", "drop", "allow"])
    page.fill("#seed-2-key", "zz")
    page.locator("#run").click()
    expect(page.locator("#seed-2-error")).to_contain_text("key: not hex")
    page.console.assert_clean(allow="status of 422")
