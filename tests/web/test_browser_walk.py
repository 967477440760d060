"""The verifier walk viewer in Debian's Chromium: step the walk by buttons, slider and keys, jump to the
next visit of a loop's instruction and to the error, with the VM stepper's keys left alone; the place on
the page kept in the URL; a draft kept in the browser across reloads."""
from __future__ import annotations

import re

import pytest

# The browser, server and page fixtures come from test_browser.py; tests name them as parameters.
# ruff: noqa: F811
from .test_browser import CHROMIUM, browser, page, server, type_program  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
expect = sync_api.expect

LOOP = ["r2 = *(u32 *)(r1 + 0)", "r3 = *(u32 *)(r1 + 4)", "r0 = 0", "r1 = 0", "loop:", "r1 += 1",
        "if r1 < 3 goto loop", "r4 = r2", "r4 += 9", "if r4 > r3 goto out", "r0 = *(u8 *)(r2 + 8)", "out:", "exit"]


def settle(page) -> None:
    """Wait until htmx has no request in flight (choosing a hook fetches its input panel: a run started at
    once would replace that request and find the new panel's error slots missing)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")


def test_step_the_walk_by_keys_and_jumps(page):
    page.goto("/")
    page.select_option("#type", "xdp")
    settle(page)  # the hook's input panel arrives before the run
    type_program(page, LOOP)
    page.keyboard.press("Control+Enter")
    walk = page.locator("#walk")
    expect(walk).to_have_attribute("data-index", "0")
    expect(walk.locator("tr.is-current")).to_have_id("walk-insn-0")

    walk.locator("button[data-walk=next]").click()
    expect(walk).to_have_attribute("data-index", "1")
    for _ in range(3):
        page.keyboard.press("ArrowRight")  # the focus stays in the walk after each swap
    expect(page.locator("#walk")).to_have_attribute("data-index", "4")
    expect(page.locator("#walk tr.is-current")).to_have_id("walk-insn-4")  # r1 += 1, first time
    expect(page.locator("#step")).to_have_attribute("data-index", "0")  # the run's stepper did not move
    reg = page.locator("#walk .walk-regs tr.is-changed")
    expect(reg).to_contain_text("R1")
    expect(reg).to_contain_text("exactly 1")

    page.keyboard.press("n")  # the next visit of insn 4: the loop's second iteration
    expect(page.locator("#walk tr.is-current")).to_have_id("walk-insn-4")
    expect(page.locator("#walk tr.is-current td.visits")).to_have_text("2")
    expect(page.locator("#walk .walk-regs tr.is-changed")).to_contain_text("exactly 2")
    expect(page.locator("#walk .walk-log .log-line.is-current")).to_contain_text("4: (07) r1 += 1")

    page.keyboard.press("End")
    expect(page.locator("#walk .walk-event")).to_contain_text("accepted")
    page.keyboard.press("Home")
    expect(page.locator("#walk")).to_have_attribute("data-index", "0")
    page.console.assert_clean()


def test_a_rejection_opens_the_walk_at_the_error(page):
    page.goto("/")
    page.select_option("#type", "xdp")
    settle(page)  # the hook's input panel arrives before the run
    type_program(page, ["r2 = *(u32 *)(r1 + 0)", "r0 = *(u8 *)(r2 + 0)", "exit"])
    page.keyboard.press("Control+Enter")
    expect(page.locator("#walk .walk-event")).to_contain_text("Rejected at insn 1: invalid access to packet")
    expect(page.locator("#walk tr.is-current")).to_have_id("walk-insn-1")
    page.locator("#walk button[data-walk=first]").click()
    expect(page.locator("#walk")).to_have_attribute("data-index", "0")
    page.locator("#walk button[data-jump=error]").click()
    expect(page.locator("#walk tr.is-current")).to_have_id("walk-insn-1")
    page.console.assert_clean()


def test_the_place_on_the_page_lives_in_the_url(page):
    page.goto("/?example=xdp-filter")
    page.locator("#stepper button[data-step=next]").click()
    page.locator("#stepper button[data-step=next]").click()
    expect(page.locator("#step")).to_have_attribute("data-index", "2")
    page.locator("#walk button[data-walk=next]").click()
    expect(page.locator("#walk")).to_have_attribute("data-index", "1")
    expect(page).to_have_url(re.compile(r"/\?example=xdp-filter&step=2&walk=1$"))
    page.reload()
    expect(page.locator("#step")).to_have_attribute("data-index", "2")
    expect(page.locator("#walk")).to_have_attribute("data-index", "1")
    page.locator("#source").click()  # an edited program is no longer the one the URL names
    page.keyboard.press("End")
    page.keyboard.type("\n# changed")
    page.keyboard.press("Control+Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    page.console.assert_clean()


def test_the_url_stops_naming_the_example_once_its_input_is_changed(page):
    """A run of the example's program on another packet is not the example: a reload of ``?example=`` would
    show the example's own packets. The address names the example again when its setup is run again."""
    page.goto("/?example=xdp-filter&step=2")
    spec = page.locator("#packet_spec")
    served = spec.input_value()
    page.locator("#run").click()  # nothing changed: still the example (a run starts at step 0)
    expect(page.locator("#step")).to_have_attribute("data-index", "0")
    page.locator("#stepper button[data-step=next]").click()
    expect(page).to_have_url(re.compile(r"/\?example=xdp-filter&step=1$"))
    example = page.locator("#result").get_attribute("data-setup")
    spec.fill("eth/ipv4(src=10.0.0.9)/tcp(dport=22)")
    page.locator("#run").click()
    expect(page.locator("#result")).not_to_have_attribute("data-setup", example)
    expect(page).to_have_url(re.compile(r"/$"))
    page.locator("#stepper button[data-step=next]").click()  # stepping the edited run: a place on "/"
    expect(page.locator("#step")).to_have_attribute("data-index", "1")
    expect(page).to_have_url(re.compile(r"/\?step=1$"))
    spec.fill(served)
    page.locator("#run").click()
    expect(page).to_have_url(re.compile(r"/\?example=xdp-filter$"))
    page.console.assert_clean()


def test_a_draft_survives_a_reload_until_it_is_discarded(page):
    page.goto("/")
    served = page.locator("#source").input_value()
    type_program(page, ["r0 = 7", "exit"])
    page.wait_for_timeout(500)  # drafts are saved a moment after typing stops
    page.reload()
    expect(page.locator("#source")).to_have_value("r0 = 7\nexit\n")
    expect(page.locator(".draft-notice")).to_contain_text("Your draft from")
    page.goto("/?example=sum")  # an example asked for by name opens as it is
    expect(page.locator(".draft-notice")).to_have_count(0)
    page.goto("/")
    page.locator(".draft-notice button").click()
    expect(page.locator("#source")).to_have_value(served)
    page.reload()
    expect(page.locator(".draft-notice")).to_have_count(0)
    expect(page.locator("#source")).to_have_value(served)
    page.console.assert_clean()


def test_quick_clicks_on_next_add_up(page):
    page.goto("/?example=xdp-filter")
    for _ in range(3):
        page.locator("#stepper button[data-step=next]").click()
    expect(page.locator("#step")).to_have_attribute("data-index", "3")
    for _ in range(3):
        page.locator("#walk button[data-walk=next]").click()
    expect(page.locator("#walk")).to_have_attribute("data-index", "3")
    page.console.assert_clean()


def test_run_to_here_from_the_listing(page):
    page.goto("/?example=sum")
    page.locator("#insn-3 button.run-to").click()
    expect(page.locator("#listing tr.is-current")).to_have_id("insn-3")
    first = int(page.locator("#step").get_attribute("data-index"))
    page.locator("#insn-3 button.run-to").click()
    expect(page.locator("#step")).not_to_have_attribute("data-index", str(first))
    assert int(page.locator("#step").get_attribute("data-index")) > first
    expect(page.locator("#listing tr.is-current")).to_have_id("insn-3")
    page.console.assert_clean()


def test_a_marking_event_links_to_the_kept_state_and_back(page):
    from app.ebpf import assemble
    from app.ebpf.verifier import verify

    from .test_walk import INHERITED

    walk = verify(assemble(INHERITED), "socket_filter").walk
    marking = next(e for e in walk if e.kind == "visit" and e.precise)
    kept = marking.precise[0].state_seq
    page.goto("/")
    page.select_option("#type", "socket_filter")
    settle(page)  # the hook's input panel arrives before the run
    page.fill("#source", INHERITED)
    page.locator("#source").press("Control+Enter")
    expect(page.locator("#walk")).to_have_attribute("data-index", "0")
    expect(page.locator("#walk .walk-precision")).to_have_count(0)

    page.locator("#walk-slider").fill(str(marking.seq))
    expect(page.locator("#walk")).to_have_attribute("data-index", str(marking.seq))
    made = page.locator("#walk .walk-precision .precision-made")
    expect(made).to_contain_text("moves a pointer by the scalar r7")
    expect(made).to_contain_text(f"r7 marked precise in the state kept at insn {marking.precise[0].insn_idx}")

    made.locator(f"button[data-precise-state='{kept}']").click()
    expect(page.locator("#walk")).to_have_attribute("data-index", str(kept))
    expect(page.locator("#walk .precision-kept")).to_contain_text("A state was kept here")
    r7 = page.locator("#walk .walk-regs th").filter(has_text=re.compile(r"^R7\b"))
    expect(r7.locator(".precise-mark")).to_have_text("P")
    expect(r7.locator(".precise-mark")).to_have_attribute("title", re.compile(r"R7=4 then"))

    page.locator(f"#walk .precision-kept button[data-precise-mark='{marking.seq}']").click()  # and back
    expect(page.locator("#walk")).to_have_attribute("data-index", str(marking.seq))
    page.console.assert_clean()


def test_follow_one_path_by_keys_and_the_breadcrumb(page):
    from app.ebpf import assemble
    from app.ebpf.verifier import verify

    from .test_walk import NESTED

    walk = verify(assemble(NESTED), "xdp").walk
    outer, inner = [e for e in walk if e.kind == "push_branch"]
    pop = next(e for e in walk if e.kind == "pop_branch" and e.insn_idx == outer.insn_idx)
    page.goto("/")
    page.select_option("#type", "xdp")
    settle(page)  # the hook's input panel arrives before the run
    page.fill("#source", NESTED)
    page.locator("#source").press("Control+Enter")
    expect(page.locator("#walk")).to_have_attribute("data-index", "0")
    expect(page.locator("#walk .keys")).to_contain_text("next on this path")

    page.locator("#walk-slider").fill(str(inner.seq - 1))  # the visit of insn 7, which puts insn 10 aside
    expect(page.locator("#walk")).to_have_attribute("data-index", str(inner.seq - 1))
    page.locator("#walk").focus()
    page.keyboard.press("]")  # over the push: this path fell through to insn 8
    expect(page.locator("#walk")).to_have_attribute("data-index", str(inner.seq + 1))
    expect(page.locator("#walk tr.is-current")).to_have_id("walk-insn-8")
    page.keyboard.press("[")
    expect(page.locator("#walk")).to_have_attribute("data-index", str(inner.seq - 1))

    page.locator("#walk-path button.crumb", has_text="insn 6 → 7 (fell through)").click()
    expect(page.locator("#walk")).to_have_attribute("data-index", str(outer.seq + 1))
    page.locator("#walk").focus()
    page.keyboard.press("ArrowLeft")  # the push of insn 12: the other path through the outer branch
    expect(page.locator("#walk")).to_have_attribute("data-index", str(outer.seq))
    expect(page.locator("#walk-path")).to_contain_text(f"continue this branch (event {pop.seq})")
    page.keyboard.press("]")  # to its pop, past the two paths walked in between
    expect(page.locator("#walk")).to_have_attribute("data-index", str(pop.seq))
    expect(page.locator("#walk-path")).to_contain_text("Path 3 of 3")
    expect(page.locator("#walk-path .crumb").last).to_have_text("insn 6 → 12 (jumped)")
    page.keyboard.press("[")
    expect(page.locator("#walk")).to_have_attribute("data-index", str(outer.seq))
    page.keyboard.press("]")
    page.keyboard.press("]")  # quick presses add up
    expect(page.locator("#walk")).to_have_attribute("data-index", str(pop.seq + 1))
    expect(page.locator("#walk tr.is-current")).to_have_id("walk-insn-12")
    page.console.assert_clean()
