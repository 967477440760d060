"""The program editor in Debian's Chromium: syntax highlighting under the textarea (assembly and C, escaped,
the caret where it was typed, scrolled with the text), and drafts that follow the user's work across
reloads: after an edited share is run (its address becomes "/"), with another hook, before the save's delay
has passed. Screenshots of the editor, light and dark, go to /tmp/draft-editor/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

# The browser, server and page fixtures come from test_browser.py; tests name them as parameters.
# ruff: noqa: F811
from .test_browser import CHROMIUM, Console, browser, page, server, type_program  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

SHOTS = Path("/tmp/draft-editor")
SHARE_URL = re.compile(r".*/p/[0-9A-Za-z]{16}$")


def settle(page) -> None:
    """Wait until htmx has no request in flight."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def clear_editor(page) -> None:
    page.locator("#source").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")


def colour(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).color")


def test_typing_is_highlighted_and_the_caret_stays_where_typed(page):
    asked = []
    page.on("request", lambda request: asked.append(request.url) if request.url.endswith("/highlight") else None)
    page.goto("/")
    view = page.locator("#source-view")
    expect(view).to_be_visible()
    expect(view.locator(".hl-nb").first).to_be_visible()  # the page's program, highlighted by the server
    page.wait_for_timeout(300)
    assert asked == []  # ... in the page itself: nothing to ask until the program changes
    clear_editor(page)
    page.keyboard.type("r0 = 1")
    register = view.locator(".hl-nb", has_text="r0")
    expect(register).to_have_count(1)
    assert colour(register) != colour(view)  # the register is coloured, not plain text
    assert colour(page.locator("#source")) == "rgba(0, 0, 0, 0)"  # the textarea's own text is transparent
    assert page.evaluate("() => [document.activeElement.id, document.activeElement.selectionStart,"
                         " document.activeElement.selectionEnd]") == ["source", 6, 6]
    # Tab still indents; the copy under the textarea has the same text, line for line
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("exit")
    expect(view.locator(".hl-k", has_text="exit")).to_have_count(1)
    assert view.evaluate("e => e.textContent") == page.locator("#source").input_value() + "\n"
    # Ctrl+Enter still runs
    page.keyboard.press("Control+Enter")
    expect(page.locator("#verdict .retval")).to_have_text("0x1")
    page.console.assert_clean()


def test_the_highlighted_copy_never_runs_or_renders_what_the_user_typed(page):
    page.goto("/")
    clear_editor(page)
    typed = "r0 = 0 # </pre><script>window.pwned = 1</script> <b>bold</b> &lt;\nexit"
    page.locator("#source").fill(typed)
    view = page.locator("#source-view")
    expect(view.locator(".hl-c1")).to_contain_text("<script>")  # highlighted by the server as a comment
    assert view.locator("script, b").count() == 0
    assert view.evaluate("e => e.textContent") == typed + "\n"
    assert page.evaluate("() => window.pwned") is None
    page.console.assert_clean()


def test_c_is_highlighted_too_and_the_copy_scrolls_with_the_text(page):
    page.goto("/")
    page.select_option("#language", "c")
    settle(page)
    clear_editor(page)
    page.keyboard.type("int x = 1; // a comment")
    view = page.locator("#source-view")
    expect(view.locator(".hl-kt", has_text="int")).to_have_count(1)
    expect(view.locator(".hl-c1")).to_have_text("// a comment")
    page.locator("#source").fill("\n".join(f"int line{n} = {n}; // {'x' * 200}" for n in range(80)))
    expect(view.locator(".hl-kt")).to_have_count(80)
    page.locator("#source").evaluate("e => { e.scrollTop = 700; e.scrollLeft = 300; }")
    page.wait_for_timeout(50)
    scrolled = page.evaluate("() => { const t = document.getElementById('source'),"
                             " v = document.getElementById('source-view');"
                             " return [t.scrollTop, v.scrollTop, t.scrollLeft, v.scrollLeft]; }")
    assert scrolled[0] == scrolled[1] > 0 and scrolled[2] == scrolled[3] > 0
    # scrolled to the very end, the copy's text still lies under the textarea's
    page.locator("#source").evaluate("e => { e.scrollTop = e.scrollHeight; e.scrollLeft = e.scrollWidth; }")
    page.wait_for_timeout(50)
    assert page.evaluate("() => { const t = document.getElementById('source'),"
                         " v = document.getElementById('source-view');"
                         " return t.scrollTop === v.scrollTop && t.scrollLeft === v.scrollLeft; }")
    page.console.assert_clean()


def test_without_javascript_the_textarea_shows_the_program(browser, server):
    context = browser.new_context(base_url=server, java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("#source-view")).to_be_hidden()
    assert colour(page.locator("#source")) != "rgba(0, 0, 0, 0)"
    context.close()


def test_an_edited_share_run_and_reloaded_keeps_the_edit_there_and_nowhere_else(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=server)
    context.set_default_timeout(5000)
    page = context.new_page()
    page.console = Console(page)
    links = []
    for example in ("sum", "xdp-filter"):
        page.goto(f"/?example={example}")
        page.locator("#share-button").click()
        page.wait_for_url(SHARE_URL)
        links.append(page.url)
    page.goto(links[0])
    shared = page.locator("#source").input_value()
    page.locator("#source").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# my edit")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(r"/$"))  # the link no longer describes the page
    settle(page)
    page.reload()  # at once: what is kept was saved before the run and when the page went away
    expect(page.locator("#source")).to_have_value(shared + "\n# my edit")
    expect(page.locator(".draft-notice")).to_contain_text("Your draft from")
    page.goto(links[1])  # another share: its own program, no notice
    expect(page.locator(".draft-notice")).to_have_count(0)
    assert "# my edit" not in page.locator("#source").input_value()
    page.goto(links[0])  # the edited share itself opens as shared: the work moved to "/"
    expect(page.locator(".draft-notice")).to_have_count(0)
    expect(page.locator("#source")).to_have_value(shared)
    page.console.assert_clean()
    context.close()


def test_a_draft_is_saved_when_the_page_goes_away_before_the_delay(page):
    page.goto("/")
    clear_editor(page)
    page.keyboard.type("r0 = 42\nexit")
    page.reload()  # well within the 300 ms the save waits for a pause in typing
    expect(page.locator("#source")).to_have_value("r0 = 42\nexit")
    page.console.assert_clean()


def test_a_draft_with_another_hook_brings_that_hooks_inputs_and_drops_stale_marks(page):
    page.goto("/")
    expect(page.locator("#gutter .is-current-line")).to_have_count(1)  # the example's first step
    page.select_option("#type", "kprobe")
    settle(page)
    expect(page.locator("#input-panel legend")).to_contain_text("kprobe")
    type_program(page, ["r0 = *(u64 *)(r1 + 112)", "exit"])
    page.wait_for_timeout(400)
    page.reload()
    expect(page.locator("#type")).to_have_value("kprobe")
    expect(page.locator("#input-panel legend")).to_contain_text("kprobe")  # the panel followed the hook
    expect(page.locator("#ctx_di")).to_be_visible()
    expect(page.locator("#result")).to_have_class(re.compile(r"\bis-stale\b"))
    # the result on screen is the example's: its current line and error marks are not the draft's
    expect(page.locator("#gutter .is-current-line")).to_have_count(0)
    expect(page.locator("#gutter .is-error")).to_have_count(0)
    page.locator("#listing tbody tr").first.hover()
    expect(page.locator("#gutter .is-linked")).to_have_count(0)
    settle(page)
    page.locator("#run").click()
    expect(page.locator("#verdict")).to_contain_text("Returned")
    expect(page.locator("#gutter .is-current-line")).to_have_count(1)  # the new result's marks are back
    page.console.assert_clean()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot_of_the_highlighted_editor(browser, server, scheme):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, base_url=server, color_scheme=scheme)
    page = context.new_page()
    page.console = Console(page)
    page.goto("/?example=xdp-filter")
    expect(page.locator("#source-view .hl-nb").first).to_be_visible()
    page.locator("#source").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# <script> and &lt; stay text")
    expect(page.locator("#source-view .hl-c1", has_text="stay text")).to_have_count(1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#code-editor").screenshot(path=str(SHOTS / f"editor-{scheme}.png"))
    page.screenshot(path=str(SHOTS / f"page-{scheme}.png"))
    page.console.assert_clean()
    context.close()
