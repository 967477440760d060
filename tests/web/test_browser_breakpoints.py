"""Breakpoints in the VM stepper, in Debian's Chromium: set two from the listing's gutter, Continue and Reverse
continue by button and by key, and find them again after a reload (they live in the URL)."""
from __future__ import annotations

import re

import pytest

# The browser, server and page fixtures come from test_browser.py; tests name them as parameters.
# ruff: noqa: F811
from .test_browser import CHROMIUM, browser, page, server  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

# The "sum" example: pc 0 r0 = 0, 1 r1 = 10, 2 r0 += r1, 3 r1 -= 1, 4 if r1 != 0 goto, 5 exit; 33 steps, pc 3
# about to run before steps 3, 6, 9 ... 30, and pc 5 before step 32.


def breakpoint_button(page, pc: int):
    return page.locator(f"#insn-{pc} button.bp-toggle")


def test_set_continue_reverse_and_reload(page):
    page.goto("/?example=sum")
    step = page.locator("#step")
    expect(step).to_have_attribute("data-index", "0")

    breakpoint_button(page, 3).click()
    breakpoint_button(page, 5).click()
    expect(page.locator("#listing tr.has-break")).to_have_count(2)
    expect(breakpoint_button(page, 3)).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#breaks .breaks-list")).to_contain_text("pc 3, pc 5")
    expect(page).to_have_url(re.compile(r"[?&]break=3%2C5(&|$)"))

    page.locator("#stepper button[data-go=continue]").click()
    expect(step).to_have_attribute("data-index", "3")
    expect(page.locator("#breaks .breaks-note")).to_have_text("Continue: stopped at the breakpoint at pc 3, before step 3.")
    expect(page.locator("#listing tr.is-current")).to_have_id("insn-3")
    page.locator("#stepper button[data-go=continue]").click()
    expect(step).to_have_attribute("data-index", "6")
    page.locator("#stepper button[data-go=reverse]").click()
    expect(step).to_have_attribute("data-index", "3")
    expect(page.locator("#breaks .breaks-note")).to_contain_text("Reverse continue: back at the breakpoint at pc 3")

    page.locator("#listing").focus()
    page.keyboard.press("c")
    expect(step).to_have_attribute("data-index", "6")
    page.keyboard.press("Shift+C")
    expect(step).to_have_attribute("data-index", "3")
    page.keyboard.press("ArrowRight")  # pc 4 is next: B sets a breakpoint there, B again clears it
    expect(step).to_have_attribute("data-index", "4")
    page.keyboard.press("b")
    expect(page.locator("#insn-4")).to_have_class(re.compile(r"\bhas-break\b"))
    expect(page).to_have_url(re.compile(r"break=3%2C4%2C5"))
    page.keyboard.press("b")
    expect(page.locator("#insn-4")).not_to_have_class(re.compile(r"\bhas-break\b"))
    expect(page).to_have_url(re.compile(r"[?&]step=4&break=3%2C5$"))

    page.reload()
    expect(page.locator("#step")).to_have_attribute("data-index", "4")
    expect(page.locator("#listing tr.has-break")).to_have_count(2)
    expect(breakpoint_button(page, 5)).to_have_attribute("aria-pressed", "true")
    page.locator("#stepper button[data-go=continue]").click()  # from 4: the next hit of pc 3 is step 6
    expect(page.locator("#step")).to_have_attribute("data-index", "6")
    page.keyboard.press("End")
    page.locator("#stepper button[data-go=reverse]").click()
    expect(page.locator("#step")).to_have_attribute("data-index", "32")  # exit, pc 5
    breakpoint_button(page, 3).click()  # clearing one from the gutter
    expect(page.locator("#listing tr.has-break")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"[?&]break=5$"))
    page.console.assert_clean()


def test_a_bad_breakpoint_in_the_url_is_explained(page):
    page.goto("/?example=sum&break=3,99,x")
    expect(page.locator("#breaks .breaks-problems")).to_contain_text("pc 99 is past the end of the program")
    expect(page.locator("#breaks .breaks-problems")).to_contain_text("'x' is not an instruction number")
    expect(page.locator("#listing tr.has-break")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"[?&]break=3$"))  # the URL keeps the breakpoints that work
    page.console.assert_clean()


def test_a_run_of_the_same_program_from_the_editor_keeps_the_breakpoints(page):
    page.goto("/?example=sum")
    breakpoint_button(page, 2).click()
    page.locator("#max_insns").fill("500")
    page.locator("#run").click()
    expect(page.locator("#stepper input[name=max_insns]")).to_have_value("500")
    expect(page.locator("#listing tr.has-break")).to_have_count(1)
    expect(breakpoint_button(page, 2)).to_have_attribute("aria-pressed", "true")
    page.console.assert_clean()
