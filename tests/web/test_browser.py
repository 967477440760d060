"""The playground in a real browser: Debian's Chromium driven by Playwright (never a downloaded browser).

The app runs in a background thread (werkzeug's ``make_server`` on 127.0.0.1, port 0). Skipped cleanly where
``/usr/bin/chromium`` or the ``playwright`` package is missing.
"""
from __future__ import annotations

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
def server():
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    app = create_app({"SECRET_KEY": "browser-tests"})
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
    finally:
        context.close()
