"""Sharing in a real browser (Debian's Chromium through Playwright, as in ``test_browser.py``): Share on the
playground lands on ``/p/<id>``, and that link opened elsewhere shows the same program and result."""
from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# The browser and server fixtures come from test_browser.py; tests name them as parameters.
# ruff: noqa: F811
from .test_browser import CHROMIUM, Console, browser, server, type_program  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

PROGRAM = ["# Sum of 4..1, shared", "r0 = 0", "r1 = 4", "loop:", "\tr0 += r1", "r1 -= 1", "if r1 != 0 goto loop", "exit"]
SHARE_URL = re.compile(r".*/p/[0-9A-Za-z]{16}$")
SHARE_OR_PLACE_URL = re.compile(r".*/p/[0-9A-Za-z]{16}(\?.*)?$")  # urlstate.js adds ?step=... at once


@contextmanager
def other_site(html: str):
    """A second web server, on another port (so another origin), that serves ``html`` at ``/``."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def new_page(browser, server, **options):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=server, **options)
    context.set_default_timeout(5000)
    page = context.new_page()
    page.console = Console(page)
    return context, page


def test_share_then_open_the_link_in_a_fresh_browser(browser, server):
    context, page = new_page(browser, server)
    page.goto("/")
    type_program(page, PROGRAM)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#verdict .retval")).to_have_text("0xa")
    source = page.locator("#source").input_value()

    page.locator("#share-button").click()
    page.wait_for_url(SHARE_URL)
    url = page.url
    expect(page.locator("#share-panel")).to_be_visible()
    expect(page.locator("#share-url")).to_have_value(url)
    expect(page.locator("#verdict .retval")).to_have_text("0xa")
    page.console.assert_clean()
    context.close()

    context, fresh = new_page(browser, server)  # no cookies, no history: only the link
    fresh.goto(url)
    expect(fresh.locator("#source")).to_have_value(source)
    expect(fresh.locator("#verdict .retval")).to_have_text("0xa")
    expect(fresh.locator("#verdict")).to_contain_text("15")  # instructions executed
    assert fresh.title() == "Sum of 4..1, shared · eBPF Playground"
    assert fresh.locator("#share-markdown").input_value().startswith("```asm\n# Sum of 4..1, shared\n")
    fresh.screenshot(path="/tmp/share-page.png", full_page=False)
    fresh.console.assert_clean()

    # A fork: edit and share again; the new link records the first as its parent.
    fresh.locator("#source").fill(source.replace("r1 = 4", "r1 = 5"))
    fresh.locator("#share-button").click()
    fresh.wait_for_url(lambda new: SHARE_URL.match(new) is not None and new != url)
    expect(fresh.locator("#share-heading")).to_contain_text("a fork of")
    expect(fresh.locator("#verdict .retval")).to_have_text("0xf")
    context.close()


def test_share_keeps_the_step_the_walk_event_and_the_breakpoints_on_screen(browser, server):
    """Stepping moves the page without reloading it: Share must send the place on screen, not the place the
    page was loaded at."""
    context, page = new_page(browser, server)
    page.goto("/?example=xdp-filter")
    step = page.locator("#step")
    page.locator("#listing").focus()
    for n in range(1, 6):
        page.keyboard.press("ArrowRight")
        expect(step).to_have_attribute("data-index", str(n))
    expect(page).to_have_url(re.compile(r"[?&]step=5"))
    page.keyboard.press("b")  # a breakpoint at pc 5, the instruction about to run
    expect(page.locator("#insn-5")).to_have_class(re.compile(r"\bhas-break\b"))
    page.locator("#walk button[data-walk=next]").click()
    expect(page.locator("#walk")).to_have_attribute("data-index", "1")
    page.keyboard.press("ArrowRight")  # the focus stays in the walk
    expect(page.locator("#walk")).to_have_attribute("data-index", "2")
    page.screenshot(path="/tmp/share2/before-share.png")

    page.locator("#share-button").click()
    page.wait_for_url(SHARE_OR_PLACE_URL)
    link = page.locator("#share-url").input_value()
    assert page.request.get(f"{link}.json").json()["view"] == {"step": 5, "walk": 2, "break": [5]}
    page.console.assert_clean()
    context.close()

    context, fresh = new_page(browser, server)  # only the link
    fresh.goto(link)
    expect(fresh.locator("#step")).to_have_attribute("data-index", "5")
    expect(fresh.locator("#step-position")).to_contain_text("5 /")
    expect(fresh.locator("#walk")).to_have_attribute("data-index", "2")
    expect(fresh.locator("#listing tr.has-break")).to_have_count(1)
    expect(fresh.locator("#insn-5")).to_have_class(re.compile(r"\bhas-break\b"))
    expect(fresh).to_have_url(re.compile(r"[?&]step=5&walk=2&break=5$"))
    fresh.screenshot(path="/tmp/share2/opened-at-step-5.png")
    fresh.console.assert_clean()
    context.close()


def test_share_without_javascript_keeps_the_step_on_screen(browser, server):
    context, page = new_page(browser, server, java_script_enabled=False)
    page.goto("/?example=xdp-filter")
    for n in range(1, 4):
        page.locator("#stepper button[data-step=next]").click()  # a whole page each time
        expect(page.locator("#step")).to_have_attribute("data-index", str(n))
    page.locator("#share-button").click()
    page.wait_for_url(SHARE_URL)
    expect(page.locator("#step")).to_have_attribute("data-index", "3")
    assert page.request.get(f"{page.url}.json").json()["view"] == {"step": 3}
    context.close()


def test_share_works_without_javascript(browser, server):
    context, page = new_page(browser, server, java_script_enabled=False)
    page.goto("/?example=sum")
    page.locator("#share-button").click()
    page.wait_for_url(SHARE_URL)
    expect(page.locator("#share-panel")).to_be_visible()
    expect(page.locator("#verdict .retval")).to_have_text("0x37")
    context.close()


def test_another_site_may_frame_the_embed_but_not_the_page(browser, server):
    context, page = new_page(browser, server)
    page.goto("/?example=sum")
    page.locator("#share-button").click()
    page.wait_for_url(SHARE_URL)
    link = page.locator("#share-url").input_value()
    embed = link.replace("/p/", "/embed/")
    host = ('<!doctype html><title>a blog</title>'
            f'<iframe id="embed" src="{embed}" width="700" height="400"></iframe>'
            f'<iframe id="page" src="{link}" width="700" height="400"></iframe>')
    with other_site(host) as blog:
        page.goto(blog)  # another origin (port) than the playground's
        framed = page.frame_locator("#embed")
        expect(framed.locator("#verdict .retval")).to_have_text("0x37")
        expect(framed.locator(".embed-source")).to_contain_text("r0 += r1")
        page.wait_for_timeout(300)
        assert page.frame_locator("#page").locator("#verdict").count() == 0  # refused: frame-ancestors 'none'
        page.screenshot(path="/tmp/share-embed.png")
    context.close()
