"""A lesson in a real browser (Debian's Chromium through Playwright, as in ``test_browser.py``): type a
program, check it with the keyboard, read the verdict and the tests, pass, and see the progress follow; a
draft survives a reload; another browser starts with no progress."""
from __future__ import annotations

from pathlib import Path

import pytest

# The browser and server fixtures come from test_browser.py; tests name them as parameters.
# ruff: noqa: F811
from .test_browser import CHROMIUM, Console, browser, page, server, type_program  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

SETTLED = "() => !document.querySelector('.htmx-settling, .htmx-request')"


def check_with_keyboard(page, lines: list[str]) -> None:
    type_program(page, lines)
    page.keyboard.press("Control+Enter")
    page.wait_for_function(SETTLED)


def test_a_lesson_from_rejection_to_pass(page):
    page.goto("/learn/registers")
    expect(page.locator("#course-count")).to_contain_text("0 of")
    check_with_keyboard(page, ["exit"])
    result = page.locator("#lesson-result")
    expect(result).to_have_class("lesson-result is-error")
    expect(result).to_contain_text("The verifier refuses it at insn 0.")
    expect(result.locator(".explain summary")).to_have_text("Reading a register that holds no value")

    check_with_keyboard(page, ["r0 = 2", "exit"])
    expect(result).to_contain_text("Not yet")
    expect(result.locator(".test.is-fail").first).to_contain_text("XDP_PASS (2)")

    check_with_keyboard(page, ["r0 = 1", "exit"])
    expect(result).to_contain_text("Every test passes.")
    expect(page.locator("#course-count")).to_contain_text("1 of")  # swapped out of band
    page.goto("/learn")
    expect(page.locator(".lesson-entry.is-passed")).to_have_count(1)
    page.console.assert_clean()


def test_a_draft_survives_a_reload_and_another_browser_has_no_progress(page, browser, server):
    page.goto("/learn/registers")
    check_with_keyboard(page, ["r0 = 1", "exit"])
    type_program(page, ["r0 = 1", "# still thinking", "exit"])
    page.wait_for_timeout(400)  # drafts are saved a moment after typing stops
    page.reload()
    expect(page.locator(".draft-notice")).to_contain_text("until you check it")
    assert "# still thinking" in page.locator("#source").input_value()

    other = browser.new_context(base_url=server)
    try:
        fresh = other.new_page()
        fresh.goto("/learn")
        expect(fresh.locator("#course-progress-label")).to_contain_text("0 of")
    finally:
        other.close()


CONTRAST = (Path(__file__).parent / "contrast.js").read_text()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_lesson_pages_have_enough_contrast(browser, server, theme):
    """WCAG AA (4.5:1) for the text of the course and a lesson with a failed check, in each theme."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=server,
                                  color_scheme="dark" if theme == "light" else "light")
    try:
        page = context.new_page()
        page.goto("/learn")
        page.evaluate(f"localStorage.setItem('ebpf-playground:theme', '{theme}')")
        page.goto("/learn")
        expect(page.locator("html")).to_have_attribute("data-theme", theme)
        assert page.evaluate(CONTRAST, ".topbar, .course") == []
        page.goto("/learn/map-values")
        check_with_keyboard(page, ["r0 = 2", "exit"])
        expect(page.locator("#lesson-result")).to_contain_text("Not yet")
        assert page.evaluate(CONTRAST, ".topbar, .lesson-layout") == []
    finally:
        context.close()


def test_a_refused_check_is_said_not_swallowed(page):
    page.goto("/learn/registers")
    page.route("**/learn/registers", lambda route: route.fulfill(
        status=429, content_type="text/html",
        body='<section class="error-page"><p>Too many runs from this address; try again in 9 s.</p></section>')
        if route.request.method == "POST" else route.continue_())
    check_with_keyboard(page, ["r0 = 1", "exit"])
    expect(page.locator("#notice")).to_have_text("The request failed (429). Too many runs from this address; "
                                                 "try again in 9 s.")
    expect(page.locator("#run")).to_be_enabled()


def test_a_c_lesson_is_highlighted_as_c(page):
    with page.expect_request(lambda r: r.url.endswith("/highlight")) as sent:
        page.goto("/learn/packet-bounds?language=c")
        page.locator("#source").press("End")
        page.keyboard.type(" ")
    assert "language=c" in sent.value.post_data
    expect(page.locator("#source-view .hl-cp").first).to_contain_text("#include")  # a preprocessor line


def test_forgetting_progress_asks_and_forgets_the_drafts_too(page):
    page.goto("/learn/alu")
    check_with_keyboard(page, ["r0 = 0", "exit"])
    type_program(page, ["r0 = 0", "# my secret work", "exit"])
    page.wait_for_timeout(400)  # the draft is saved
    page.goto("/learn")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Forget my progress").click()
    assert asked and "Forget" in asked[0]
    expect(page.locator(".lesson-entry.is-tried")).to_have_count(1)  # dismissed: nothing forgotten
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Forget my progress").click()
    expect(page.locator("#course-progress-label")).to_contain_text("0 of")
    expect(page.locator(".lesson-entry.is-tried")).to_have_count(0)
    page.goto("/learn/alu")
    assert "# my secret work" not in page.locator("#source").input_value()
