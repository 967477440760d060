"""Where the user looks, in Debian's Chromium: compiled C beside its source on a laptop screen, linked both
ways (the caret's line lights its instructions, a listing's line number moves the caret), and the places the
user went (steps of the run, events of the walk) as entries of the browser's history, Back and Forward moving
between them. Screenshots go to /tmp/clayout/."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.ebpf.cc import compiler_available

# The browser and server fixtures come from test_browser.py; tests name them as parameters.
# ruff: noqa: F811
from .test_browser import CHROMIUM, Console, browser, server  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

SHOTS = Path("/tmp/clayout")


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=server)
    context.set_default_timeout(5000)
    page = context.new_page()
    page.console = Console(page)
    yield page
    context.close()


def settled(page) -> None:
    """Wait until htmx has swapped, settled and bound what it brought (about 20 ms after the swap)."""
    page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-request')")
    page.wait_for_timeout(50)


@pytest.mark.skipif(not compiler_available(), reason="needs clang")
def test_compiled_c_sits_beside_its_source_and_links_both_ways(page):
    page.goto("/?example=c-xdp-count")
    editor = page.locator("#editor").bounding_box()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "c-beside.png"))
    first = page.locator("#listing tbody tr[id^=insn-]").first
    expect(first).to_be_in_viewport()
    row = first.bounding_box()
    assert row["y"] < editor["y"] + editor["height"] and editor["y"] < row["y"] + row["height"]
    assert row["x"] >= editor["x"] + editor["width"]  # right of the editor, not under it
    code, listing = page.locator("#code-editor").bounding_box(), page.locator("#listing").bounding_box()
    assert listing["y"] < code["y"] + code["height"] / 2  # most of the listing is beside the source itself
    # A line number of the listing moves the caret to its line; the caret's line lights its instructions
    link = page.locator("#listing a.goto-line").nth(3)
    line = int(link.get_attribute("data-line"))
    link.click()
    caret = page.evaluate("() => { const t = document.getElementById('source');"
                          " return t.value.slice(0, t.selectionStart).split('\\n').length; }")
    assert caret == line
    expect(page.locator("#listing tr.is-linked").first).to_be_visible()
    for pc in page.locator("#listing tr.is-linked").evaluate_all("rows => rows.map(r => r.id)"):
        expect(page.locator(f"#{pc} a.goto-line")).to_have_attribute("data-line", str(line))
    page.screenshot(path=str(SHOTS / "c-linked.png"))
    page.console.assert_clean()


def test_back_and_forward_move_between_the_steps_the_user_went_to(page):
    page.goto("/?example=sum")
    settled(page)
    length = page.evaluate("history.length")
    step = page.locator("#step")
    for n in (1, 2, 3):
        page.locator("#stepper button[data-step=next]").click()
        expect(step).to_have_attribute("data-index", str(n))
        settled(page)
        page.wait_for_timeout(1100)  # a pause: each step a place of its own
    assert page.url.endswith("step=3")
    assert page.evaluate("history.length") == length + 3  # none for loading the page
    page.go_back()
    expect(step).to_have_attribute("data-index", "2")
    expect(page.locator("#step-position")).to_contain_text("2 /")
    assert page.url.endswith("step=2")
    page.go_back()
    expect(step).to_have_attribute("data-index", "1")
    page.go_forward()
    expect(step).to_have_attribute("data-index", "2")
    page.go_forward()
    expect(step).to_have_attribute("data-index", "3")
    assert page.url.endswith("step=3")
    settled(page)
    # Quick repeats (keys pressed within a second) make one entry, not one each
    page.locator("#listing").focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
        settled(page)
    expect(step).to_have_attribute("data-index", "6")
    assert page.evaluate("history.length") == length + 4
    page.go_back()
    expect(step).to_have_attribute("data-index", "3")
    # A reload opens where the address says
    page.go_forward()
    expect(step).to_have_attribute("data-index", "6")
    settled(page)
    page.reload()
    expect(step).to_have_attribute("data-index", "6")
    page.console.assert_clean()


def test_back_goes_to_the_walk_event_before(page):
    page.goto("/?example=xdp-filter")
    settled(page)
    walk = page.locator("#walk")
    start = int(walk.get_attribute("data-index"))
    for n in (1, 2):
        page.locator("#walk button[data-walk=next]").click()
        expect(walk).to_have_attribute("data-index", str(start + n))
        settled(page)
        page.wait_for_timeout(1100)
    assert f"walk={start + 2}" in page.url
    page.go_back()
    expect(page.locator("#walk")).to_have_attribute("data-index", str(start + 1))
    assert f"walk={start + 1}" in page.url
    page.go_back()
    expect(page.locator("#walk")).to_have_attribute("data-index", str(start))
    assert "walk=" not in page.url


@pytest.mark.skipif(not compiler_available(), reason="needs clang")
def test_on_a_narrow_screen_the_compiled_listing_comes_right_under_the_source(page):
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto("/?example=c-xdp-count")
    source, listing = page.locator(".field-source").bounding_box(), page.locator("#listing").bounding_box()
    inputs, verdict = page.locator("#input-panel").bounding_box(), page.locator("#verifier-check").bounding_box()
    assert source["y"] + source["height"] <= listing["y"] < source["y"] + source["height"] + 40
    assert listing["y"] + listing["height"] <= inputs["y"] < verdict["y"]  # then the inputs, then the result
    assert listing["width"] <= 800 and page.evaluate("document.documentElement.scrollWidth") <= 800
    page.set_viewport_size({"width": 1366, "height": 900})  # wide again: beside the editor, as before
    assert page.locator("#listing").bounding_box()["x"] > page.locator(".field-source").bounding_box()["x"] + 300
    page.locator("#listing").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "c-narrow.png"))
