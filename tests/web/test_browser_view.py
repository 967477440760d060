"""The VM viewer in Debian's Chromium: nothing runs past the viewport on a laptop screen, the theme switch
(light, dark, the system's) works from the keyboard, survives a reload and applies before the first paint,
the system's theme applies without JavaScript, and text on the main panels is readable in both themes."""
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

LIGHT_BG, DARK_BG = "rgb(255, 255, 255)", "rgb(13, 17, 23)"  # --bg of each theme in app.css

CONTRAST = (Path(__file__).parent / "contrast.js").read_text()


def open_page(browser, server, *, width: int = 1366, scheme: str = "light", javascript: bool = True):
    context = browser.new_context(viewport={"width": width, "height": 800}, base_url=server, color_scheme=scheme,
                                  java_script_enabled=javascript)
    context.set_default_timeout(5000)
    page = context.new_page()
    page.console = Console(page)
    return context, page


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


# With the verifier's column beside the registers the stack's hex dump used to be squeezed to 120 px and run
# 200 px past a 1366-px screen.
@pytest.mark.parametrize("width", [1366, 1280])
@pytest.mark.parametrize("url", ["/?example=xdp-filter&step=9", "/?example=atomic&step=6",
                                 "/?example=tracepoint-openat&step=3"])
def test_the_step_view_fits_a_laptop_screen(browser, server, width, url):
    context, page = open_page(browser, server, width=width)
    try:
        page.goto(url)
        expect(page.locator("#step .region").first).to_be_visible()
        if "xdp-filter" in url:
            expect(page.locator("#registers th.abstract")).to_have_text("verifier")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        right = page.evaluate("Math.max(...[...document.querySelectorAll('#step .hexrow > span')]"
                              ".map(e => e.getBoundingClientRect().right))")
        assert right <= width
        page.console.assert_clean()
    finally:
        context.close()


def test_the_theme_switch_works_from_the_keyboard_and_survives_a_reload(browser, server):
    context, page = open_page(browser, server, scheme="light")
    try:
        page.goto("/?example=sum&step=2")
        switch = page.get_by_label("Theme")
        expect(switch).to_be_visible()
        expect(switch).to_have_value("system")
        assert background(page) == LIGHT_BG
        switch.focus()
        page.keyboard.press("End")  # the last option: Dark
        expect(switch).to_have_value("dark")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        assert background(page) == DARK_BG
        page.reload()
        expect(page.get_by_label("Theme")).to_have_value("dark")
        assert background(page) == DARK_BG
        page.get_by_label("Theme").focus()
        page.keyboard.press("Home")  # System: the emulated system is light
        expect(page.locator("html")).not_to_have_attribute("data-theme", "dark")
        assert background(page) == LIGHT_BG
        page.reload()
        assert background(page) == LIGHT_BG and page.evaluate("localStorage.length") == 0
        page.console.assert_clean()
    finally:
        context.close()


def test_a_chosen_light_theme_wins_over_a_dark_system_from_the_first_paint(browser, server):
    context, page = open_page(browser, server, scheme="dark")
    try:
        page.goto("/")
        assert background(page) == DARK_BG  # the system's, as nothing was chosen
        page.evaluate("localStorage.setItem('ebpf-playground:theme', 'light')")
        # the attribute is already set when the page's own scripts (deferred) and its first paint come
        page.add_init_script("document.addEventListener('DOMContentLoaded', () => {"
                             " window.__themeAtParse = document.documentElement.dataset.theme; });")
        page.reload()
        assert page.evaluate("window.__themeAtParse") == "light"
        assert background(page) == LIGHT_BG
        expect(page.get_by_label("Theme")).to_have_value("light")
        color = page.evaluate("getComputedStyle(document.querySelector('.hl .hl-k')).color")
        assert color == "rgb(207, 34, 46)"  # the light highlighting (#CF222E), not the system's dark one
    finally:
        context.close()


def test_without_javascript_the_system_theme_applies_and_no_switch_shows(browser, server):
    context, page = open_page(browser, server, scheme="dark", javascript=False)
    try:
        page.goto("/?example=xdp-filter&step=6")
        assert background(page) == DARK_BG
        expect(page.locator(".theme-switch")).to_be_hidden()
    finally:
        context.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_on_the_main_panels_has_enough_contrast(browser, server, theme):
    """WCAG AA (4.5:1) for every piece of text in the top bar and the workspace, in the chosen theme, on the
    system's other one (faded text counts with its opacity). A C example has listing rows that repeat the line
    before (their line numbers were faded to 0.45 once)."""
    context, page = open_page(browser, server, scheme="dark" if theme == "light" else "light")
    urls = ["/?example=xdp-filter&step=6", "/?example=tracepoint-openat&step=3"]
    if compiler_available()[0]:
        urls.append("/?example=c-xdp-count&step=4")
    try:
        page.goto("/")
        page.evaluate(f"localStorage.setItem('ebpf-playground:theme', '{theme}')")
        for url in urls:
            page.goto(url)
            expect(page.locator("html")).to_have_attribute("data-theme", theme)
            assert page.evaluate(CONTRAST, ".topbar, .workspace") == []
    finally:
        context.close()


def test_byte_marks_differ_in_shape_not_only_colour(browser, server):
    """Just after the map lookup of xdp-filter: bytes read so far are underlined, bytes written so far boxed
    in dashes, bytes the last step read ringed (a box shadow) and written filled; each legend sample is drawn
    as the bytes are, and each marked byte says what it is in its title."""
    context, page = open_page(browser, server)
    try:
        page.goto("/?example=xdp-filter&step=13")
        style = """([selector, property]) => getComputedStyle(document.querySelector(selector))[property]"""
        for where in ("#packet-now .hexrow", "#packet-now .byte-legend"):
            assert "underline" in page.evaluate(style, [f"{where} .run-read", "textDecorationLine"])
            assert page.evaluate(style, [f"{where} .run-read", "boxShadow"]) == "none"
        for where in ("#memory .hexrow", "#memory .byte-legend"):
            assert page.evaluate(style, [f"{where} .run-written", "outlineStyle"]) == "dashed"
            assert page.evaluate(style, [f"{where} .is-read", "boxShadow"]) != "none"
        expect(page.locator("#packet-now .hexrow .run-read").first).to_have_attribute("title", "read so far")
        expect(page.locator("#memory .byte-legend")).to_contain_text("read by the last step (4)")
        page.goto("/?example=xdp-filter&step=23")  # just after bpf_map_update_elem
        filled = page.evaluate(style, ["#map-memory .hexrow .is-changed", "backgroundColor"])
        assert filled != page.evaluate(style, ["#map-memory .hexrow", "backgroundColor"])
        assert page.evaluate(style, ["#map-memory .hexrow .is-changed", "outlineStyle"]) == "dashed"  # and so far
        page.console.assert_clean()
    finally:
        context.close()
