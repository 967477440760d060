"""The "Unprivileged loader" checkbox in Debian's Chromium: ticked, a socket filter whose jump is decided is
also walked on the side a mispredicting CPU could take, and the walk labels that path speculative; a draft
keeps the box; without JavaScript the box is sent and kept.
``SCREENSHOT_DIR=/some/dir`` keeps a screenshot of it."""
from __future__ import annotations

import os

import pytest

# The browser, server and page fixtures come from test_browser.py; tests name them as parameters.
# ruff: noqa: F811
from .test_browser import CHROMIUM, browser, page, server, type_program  # noqa: F401
from .test_browser_walk import settle

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

DECIDED = ["r1 = 5", "if r1 > 3 goto +1", "r0 = 1", "r0 = 0", "exit"]


def test_the_unprivileged_walk_shows_the_speculative_path(page):
    page.goto("/")
    page.select_option("#type", "socket_filter")
    settle(page)
    type_program(page, DECIDED)
    page.locator("#run").click()
    expect(page.locator("#verifier-check")).to_contain_text("processed 4 insns")  # root: one path
    expect(page.locator("#walk .walk-event .badge.speculative")).to_have_count(0)

    page.check("#unprivileged")
    page.locator("#run").click()
    expect(page.locator("#verifier-check")).to_contain_text("accepted as socket_filter for an unprivileged loader")
    expect(page.locator("#verifier-check")).to_contain_text("processed 7 insns")
    walk = page.locator("#walk")
    walk.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(walk).to_have_attribute("data-index", "2")
    event = page.locator("#walk .walk-event")
    expect(event.locator(".badge.speculative")).to_have_text("speculative")
    expect(event).to_contain_text("a mispredicting CPU could take the other side")
    expect(page.locator("#walk .walk-pending li").first).to_contain_text("insn 2 speculative")
    expect(page.locator("#unprivileged")).to_be_checked()  # an htmx run keeps the form as it is
    shots = os.environ.get("SCREENSHOT_DIR")
    if shots:
        page.locator("#walk").scroll_into_view_if_needed()
        page.screenshot(path=os.path.join(shots, "unprivileged-walk.png"), full_page=False)
        page.locator(".editor .toolbar").screenshot(path=os.path.join(shots, "unprivileged-checkbox.png"))
    page.wait_for_timeout(500)  # drafts are saved a moment after a change
    page.reload()
    expect(page.locator(".draft-notice")).to_contain_text("Your draft from")
    expect(page.locator("#unprivileged")).to_be_checked()  # the draft keeps the loader with the program
    page.locator(".draft-notice button").click()
    expect(page.locator("#unprivileged")).not_to_be_checked()
    page.console.assert_clean()


def test_without_javascript_the_box_is_sent_and_kept(browser, server):
    context = browser.new_context(java_script_enabled=False, base_url=server)
    try:
        plain = context.new_page()
        plain.goto("/")
        plain.select_option("#type", "socket_filter")
        plain.fill("#source", "\n".join(DECIDED))
        plain.check("#unprivileged")
        plain.locator("#run").click()
        plain.wait_for_load_state()
        assert plain.locator("#unprivileged").is_checked()
        assert "processed 7 insns" in plain.locator("#verifier-check").inner_text()
    finally:
        context.close()
