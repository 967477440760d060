"""A long run in a real browser: the progress bar appears with the phase, the count and the time, then the
result replaces it; Cancel stops the run on the server too. Debian's Chromium through Playwright, skipped
cleanly without it (see test_browser.py). ``SCREENSHOT_DIR=/some/dir`` keeps screenshots of the bar mid-run,
light and dark."""
from __future__ import annotations

import os
import re
import threading
import time

import pytest

from app import create_app

from .test_browser import CHROMIUM, CHROMIUM_ARGS, Console

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

LOOP = """\
    r0 = 0
    r1 = 0
loop:
    r1 += 1
    if r1 < {n} goto loop
    r0 = 2
    exit
"""
"""A counting loop of ``n`` (about 200,000) iterations: 2n + 4 steps, and more than the verifier's limit to walk.
Each test counts to its own ``n``: the server keeps the last few walks, and a walk it has made before would
not be made (nor shown in progress) again."""
VERIFY_LIMIT = 120_000  # processed instructions: about four seconds of walking


def work_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "playground-work"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args, **kwargs):
            pass

    database = tmp_path_factory.mktemp("store") / "store.sqlite3"
    app = create_app({"SECRET_KEY": "browser-tests", "DATABASE_URL": f"sqlite:///{database}",
                      "MAX_VERIFY_INSNS": VERIFY_LIMIT, "RUN_RATE_PER_MINUTE": 100_000, "RUN_BURST": 100_000})
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


def open_page(browser, server, n: int, scheme: str = "light"):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=server, color_scheme=scheme)
    context.set_default_timeout(5000)
    page = context.new_page()
    page.console = Console(page)
    page.goto("/?example=xdp-filter")
    page.locator("#source").fill(LOOP.format(n=n))
    return context, page


def start_long_run(page) -> None:
    expect(page.locator("#limits")).to_contain_text(f"{VERIFY_LIMIT:,} instructions processed by the verifier")
    page.locator("#source").press("Control+Enter")
    expect(page.locator("#run-progress")).to_be_visible()
    expect(page.locator("#limits")).to_be_hidden()  # the bar takes the limits' place
    expect(page.locator("#run-progress-phase")).to_have_text("Verifying…")
    expect(page.locator("#run-progress-count")).to_contain_text(f"/ {VERIFY_LIMIT:,} instructions processed")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_long_run_shows_its_progress_then_the_result(browser, server, scheme):
    n = {"light": 200_000, "dark": 200_001}[scheme]
    context, page = open_page(browser, server, n, scheme)
    try:
        start_long_run(page)
        bar = page.locator("#run-progress-bar")
        expect(bar).to_have_attribute("max", str(VERIFY_LIMIT))
        page.wait_for_function("() => Number(document.getElementById('run-progress-bar').value) >= 20000")
        expect(page.locator("#run-progress-time")).to_have_text(re.compile(r"^ · \d+\.\d s$"))
        shots = os.environ.get("SCREENSHOT_DIR")
        if shots:  # (as they are: hiding the caret or animations would take styles the CSP refuses)
            page.locator(".editor").screenshot(path=os.path.join(shots, f"progress-{scheme}.png"), caret="initial",
                                               animations="allow")
            page.screenshot(path=os.path.join(shots, f"progress-page-{scheme}.png"), caret="initial", animations="allow")

        expect(page.locator("#verifier-check")).to_contain_text("no verdict", timeout=20_000)
        expect(page.locator("#run-progress")).to_be_hidden()
        expect(page.locator("#limits")).to_be_visible()
        expect(page.locator("#verdict")).to_contain_text(f"{2 * n + 4:,}")  # steps executed
        expect(page.locator("#notice")).to_be_hidden()
        if shots:
            page.locator(".editor").screenshot(path=os.path.join(shots, f"progress-after-{scheme}.png"),
                                               caret="initial", animations="allow")
        page.console.assert_clean()
    finally:
        context.close()


def test_cancel_stops_the_run_here_and_on_the_server(browser, server):
    context, page = open_page(browser, server, 200_002)
    try:
        before = page.locator("#verdict").inner_text()
        start_long_run(page)
        page.locator("#run-cancel").click()
        expect(page.locator("#run-progress")).to_be_hidden()
        expect(page.locator("#notice")).to_contain_text("cancelled")
        assert page.locator("#verdict").inner_text() == before  # the earlier result stays
        deadline = time.monotonic() + 3  # the server notices at its next record and stops the walk
        while work_threads() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not work_threads()
        page.console.assert_clean(allow="htmx:")  # htmx logs an aborted request (sendAbort) as an error
    finally:
        context.close()
