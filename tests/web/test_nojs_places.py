"""Without JavaScript, the run's stepper and the verifier walk post the whole page (``POST /run``): each must
carry the other's place, so that stepping one does not send the other back to its start (``_stepper.html``
carries the walk's event in a ``form="stepper"`` field of ``_walk.html``; the walk's form carries the step,
the packet's run and the breakpoints in ``form="walker"`` fields of ``_stepper.html``)."""
from __future__ import annotations

import re

from .formfields import form_data


def submit(client, html: str, form_id: str, pick) -> str:
    """Click the first submit button of form ``form_id`` for which ``pick(attributes)`` holds, as a browser
    without JavaScript does, and return the page that comes back."""
    response = client.post("/run", data=form_data(html, form_id, pick))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def walk_event(html: str) -> int:
    return int(re.search(r'<section id="walk"[^>]*data-index="(\d+)"', html).group(1))


def step_index(html: str) -> int:
    return int(re.search(r'<section id="step"[^>]*data-index="(\d+)"', html).group(1))


def breakpoints(html: str) -> str:
    return re.search(r'<input type="hidden" name="break" value="([^"]*)">', html).group(1)


def test_a_step_without_javascript_keeps_the_walks_event(client):
    page = client.get("/?example=xdp-filter&step=3&walk=7&break=9").get_data(as_text=True)
    assert (step_index(page), walk_event(page), breakpoints(page)) == (3, 7, "9")
    after = submit(client, page, "stepper", lambda a: a.get("data-step") == "next")
    assert (step_index(after), walk_event(after), breakpoints(after)) == (4, 7, "9")
    back = submit(client, after, "stepper", lambda a: a.get("data-step") == "first")
    assert (step_index(back), walk_event(back)) == (0, 7)


def test_a_walk_event_without_javascript_keeps_the_runs_step_and_breakpoints(client):
    page = client.get("/?example=xdp-filter&step=5&walk=2&break=9").get_data(as_text=True)
    after = submit(client, page, "walker", lambda a: a.get("data-walk") == "next")
    assert (step_index(after), walk_event(after), breakpoints(after)) == (5, 3, "9")
    again = submit(client, after, "walker", lambda a: a.get("data-walk") == "last")
    assert step_index(again) == 5 and walk_event(again) > 3


def test_with_several_packets_the_walk_keeps_the_packet_being_stepped(client):
    page = client.get("/?example=xdp-filter&run=1&step=2").get_data(as_text=True)
    assert 'packet 2 of' in page
    after = submit(client, page, "walker", lambda a: a.get("data-walk") == "next")
    assert 'packet 2 of' in after and step_index(after) == 2
