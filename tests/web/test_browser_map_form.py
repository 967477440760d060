"""The map declaration panel in a real browser (as in ``test_browser.py``): with JavaScript its button loads
the page ``POST /map`` answers, as without, instead of letting htmx swap only the result."""
from __future__ import annotations

import re

import pytest

# ruff: noqa: F811
from .test_browser import CHROMIUM, browser, server  # noqa: F401
from .test_browser_share import new_page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

LOOKUP = ("*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = counts ll\ncall 1\nif r0 == 0 goto +1\n"
          "r0 = 7\nexit\n")


def test_adding_a_map_puts_its_line_in_the_program_and_runs_it(browser, server):
    context, page = new_page(browser, server)
    page.goto("/")
    page.locator("#source").fill(LOOKUP)
    page.locator("#seeds-panel > summary").click()
    page.locator("#map_name").fill("counts")
    page.locator("#map_type").select_option("array")
    page.locator("#map_key_size").fill("8")  # refused: array keys are u32
    page.locator("#map_value_size").fill("8")
    page.locator("#map_max_entries").fill("1")
    page.locator("#add-map").click()
    page.wait_for_url(re.compile(r".*/map$"))
    expect(page.locator("#map_key_size-error")).to_contain_text("key")
    expect(page.locator("#source")).to_have_value(LOOKUP)

    page.locator("#map_key_size").fill("4")
    page.locator("#add-map").click()
    expect(page.locator("#map-added")).to_be_visible()
    expect(page.locator("#source")).to_have_value(
        ".map counts type=array key_size=4 value_size=8 max_entries=1\n" + LOOKUP)
    expect(page.locator("#verdict .retval")).to_have_text("0x7")
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-request')")
    page.console.assert_clean(allow="422")  # the refused map's page
    context.close()


def test_a_draft_does_not_undo_the_map_just_added(browser, server):
    """The page "Add the map" answers holds the program just sent plus its .map line: newer than the draft the
    edit left behind, which must not be put back over it."""
    context, page = new_page(browser, server)
    page.goto("/")
    page.locator("#source").fill(LOOKUP)
    page.wait_for_timeout(400)  # the draft of the edit is saved
    page.locator("#seeds-panel > summary").click()
    page.locator("#map_name").fill("counts")
    page.locator("#map_type").select_option("array")
    page.locator("#map_key_size").fill("4")
    page.locator("#map_value_size").fill("8")
    page.locator("#map_max_entries").fill("1")
    page.locator("#add-map").click()
    expect(page.locator("#map-added")).to_be_visible()
    page.wait_for_timeout(300)  # drafts.js has run
    expect(page.locator("#source")).to_have_value(
        ".map counts type=array key_size=4 value_size=8 max_entries=1\n" + LOOKUP)
    expect(page.locator(".draft-notice")).to_have_count(0)
    context.close()
