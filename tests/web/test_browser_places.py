"""Where the user looks, in Debian's Chromium: compiled C beside its source on a laptop screen, linked both
ways (the caret's line lights its instructions, a listing's line number moves the caret), and the places the
user went (steps of the run, events of the walk) as entries of the browser's history, Back and Forward moving
between them. Screenshots go to /tmp/clayout/."""
from __future__ import annotations

import re
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


def test_an_edited_program_keeps_its_places_and_its_result_across_a_reload(page):
    """An edited program is not in its address (sources travel in POST bodies only), but its places are: on
    "/" each step is a history entry as on an example, and a reload puts the draft back (with the packet it
    ran on) and runs it again where the address says."""
    page.goto("/?example=xdp-filter")
    settled(page)
    page.locator("#packet_spec").fill("eth/ipv6/udp")  # dropped: not the example's packets
    page.locator("#source").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# my edit")
    page.locator("#run").click()
    expect(page).to_have_url(re.compile(r"/$"))  # the example no longer describes the page
    settled(page)
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("XDP_DROP")
    length = page.evaluate("history.length")
    step = page.locator("#step")
    for n in (1, 2, 3):
        page.locator("#stepper button[data-step=next]").click()
        expect(step).to_have_attribute("data-index", str(n))
        settled(page)
        page.wait_for_timeout(1100)  # a pause: each step a place of its own
    expect(page).to_have_url(re.compile(r"/\?step=3$"))
    assert page.evaluate("history.length") == length + 3
    page.go_back()
    expect(step).to_have_attribute("data-index", "2")
    expect(page).to_have_url(re.compile(r"/\?step=2$"))
    page.go_forward()
    expect(step).to_have_attribute("data-index", "3")
    expect(page).to_have_url(re.compile(r"/\?step=3$"))
    settled(page)
    shown = verdict.inner_text()
    page.reload()
    expect(page.locator(".draft-notice")).to_contain_text("Your draft from")
    expect(page.locator("#source")).to_have_value(re.compile(r"# my edit$"))
    expect(page.locator("#type")).to_have_value("xdp")
    expect(page.locator("#example")).to_have_value("")  # the menu no longer names the default example
    expect(page.locator("#packet_spec")).to_have_value("eth/ipv6/udp")  # the input it ran on
    expect(verdict).to_contain_text("XDP_DROP")  # its own result, not the default example's
    expect(verdict).not_to_contain_text("0x37")  # the default example's sum, 55
    expect(step).to_have_attribute("data-index", "3")
    expect(page.locator("#step-position")).to_contain_text("3 /")
    settled(page)
    assert verdict.inner_text() == shown
    expect(page).to_have_url(re.compile(r"/\?step=3$"))
    expect(page.locator("#result")).not_to_have_class(re.compile(r"\bis-stale\b"))
    expect(page.locator("#gutter .is-current-line")).to_have_count(1)  # the marks are the draft's result's
    SHOTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # the reload keeps the scroll; the notice and verdict are on top
    page.screenshot(path=str(SHOTS / "edited-reloaded.png"), caret="initial")  # hiding it injects a style
    page.go_back()  # the entries made before the reload are still places of this program
    expect(step).to_have_attribute("data-index", "2")
    settled(page)
    # the walk's events are places on "/" too, and a reload opens at the one the address names
    walk = page.locator("#walk")
    start = int(walk.get_attribute("data-index"))
    page.locator("#walk button[data-walk=next]").click()
    expect(walk).to_have_attribute("data-index", str(start + 1))
    settled(page)
    expect(page).to_have_url(re.compile(rf"/\?step=2&walk={start + 1}$"))
    page.reload()
    expect(page.locator("#packet_spec")).to_have_value("eth/ipv6/udp")
    expect(walk).to_have_attribute("data-index", str(start + 1))
    expect(step).to_have_attribute("data-index", "2")
    settled(page)
    # Discarding the draft whose result is on screen opens the page's own program and result
    page.locator(".draft-notice button").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".draft-notice")).to_have_count(0)
    expect(verdict).to_contain_text("0x37")
    assert "# my edit" not in page.locator("#source").input_value()
    page.console.assert_clean()


def test_an_edited_program_not_run_leaves_the_pages_result_until_it_is_run(page):
    """A draft that was never run is put back with its inputs, but not run by itself."""
    page.goto("/?example=xdp-filter")
    settled(page)
    page.locator("#packet_spec").fill("eth/ipv6/udp")
    page.locator("#source").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# not run")
    page.locator("#run").click()
    settled(page)
    page.locator("#source").click()
    page.keyboard.press("Control+End")
    page.keyboard.type(" yet")  # edited after its run: what the draft holds was not run
    page.wait_for_timeout(500)
    page.reload()
    expect(page.locator(".draft-notice")).to_contain_text("until you run it")
    expect(page.locator("#source")).to_have_value(re.compile(r"# not run yet$"))
    expect(page.locator("#packet_spec")).to_have_value("eth/ipv6/udp")
    expect(page.locator("#result")).to_have_class(re.compile(r"\bis-stale\b"))
    expect(page.locator("#verdict")).to_contain_text("0x37")  # the page's own result, the sum's 55
    settled(page)
    page.locator("#run").click()
    expect(page.locator("#verdict")).to_contain_text("XDP_DROP")
    page.console.assert_clean()


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
