"""A share keeps where the page was looking: the run's step, the packet's run, the verifier walk's event and
the breakpoints (``view`` in the setup; the Share button's ``view_*`` fields, ``setups.VIEW_FORM_FIELDS``).
The browser side, stepping with the keyboard and then sharing, is in ``test_browser_share.py``."""
from __future__ import annotations

import html
import re

import pytest

from .test_share import SUM, share_api, shared_id


def view_fields(page: str) -> dict[str, str]:
    """The Share button's hidden view fields on a page, by name."""
    found = re.findall(r'<input type="hidden" form="editor" name="(view_[a-z]+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in found}


def test_the_share_button_carries_the_place_the_page_shows(client):
    page = client.get("/?example=xdp-filter&step=5&walk=3&break=2,7").get_data(as_text=True)
    assert view_fields(page) == {"view_step": "5", "view_run": "0", "view_walk": "3", "view_break": "2,7"}


def test_the_walk_where_it_opens_by_itself_is_not_pinned(client):
    page = client.get("/?example=xdp-filter").get_data(as_text=True)
    assert view_fields(page) == {"view_step": "0", "view_run": "0", "view_walk": "", "view_break": ""}


def test_a_step_past_the_end_is_shared_where_the_page_shows_it(client):
    page = client.get("/?example=sum&step=999999").get_data(as_text=True)
    shown = re.search(r'id="step"[^>]*data-index="(\d+)"', page).group(1)
    assert view_fields(page)["view_step"] == shown != "999999"


def test_the_view_fields_go_into_the_share_and_it_opens_there(client, post_form):
    id_ = shared_id(post_form("/share", source=SUM, type="xdp", view_step="3", view_walk="4", view_break="5, 1"))
    assert client.get(f"/p/{id_}.json").json["view"] == {"step": 3, "walk": 4, "break": [1, 5]}
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    assert re.search(r'id="step"[^>]*data-index="3"', page)
    assert re.search(r'id="walk"[^>]*data-index="4"', page)
    assert '<input type="hidden" name="break" value="1,5">' in page
    assert view_fields(page) == {"view_step": "3", "view_run": "0", "view_walk": "4", "view_break": "1,5"}


def test_the_editors_own_step_is_not_the_view(client, post_form):
    """Only the Share button's view fields say where the page is: a ``step`` field alone (the step form's)
    is not part of what the editor shares."""
    id_ = shared_id(post_form("/share", source=SUM, step="3"))
    assert "view" not in client.get(f"/p/{id_}.json").json


def test_the_packet_being_stepped_is_shared(client, post_form):
    id_ = shared_id(post_form("/share", source="r0 = 2\nexit\n", type="xdp", packet_from="spec",
                              packet_spec="eth/ipv4/udp\neth/ipv6/tcp", view_run="1", view_step="1"))
    assert client.get(f"/p/{id_}.json").json["view"] == {"step": 1, "run": 1}
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    assert "packet 2 of 2" in page
    assert view_fields(page)["view_run"] == "1"


@pytest.mark.parametrize("fields, name", [
    ({"view_step": "x"}, "Step"),
    ({"view_run": "-1"}, "Packet to step"),
    ({"view_walk": "abc"}, "Verifier walk event"),
    ({"view_break": "3,seven"}, "Breakpoints"),
    ({"view_break": ",".join(map(str, range(65)))}, "Breakpoints"),
])
def test_an_unusable_view_field_is_refused_by_name(client, post_form, fields, name):
    response = post_form("/share", source=SUM, **fields)
    assert response.status_code == 422
    assert f">{name}</a>:" in response.get_data(as_text=True)


def test_the_api_stores_the_walk_and_breakpoints_in_order(client):
    id_ = share_api(client, {"source": SUM, "view": {"walk": 0, "break": [5, 1, 5]}}).json["id"]
    assert client.get(f"/p/{id_}.json").json["view"] == {"walk": 0, "break": [1, 5]}
    assert share_api(client, {"source": SUM, "view": {"break": []}}).json["id"] == \
        share_api(client, {"source": SUM}).json["id"]  # no breakpoints is the default, left out


@pytest.mark.parametrize("view, field", [
    ({"walk": -1}, "view.walk"),
    ({"walk": "3"}, "view.walk"),
    ({"break": 3}, "view.break"),
    ({"break": [1, "x"]}, "view.break[1]"),
    ({"break": [1_000_000]}, "view.break[0]"),
    ({"break": list(range(65))}, "view.break"),
    ({"where": 1}, "view.where"),
])
def test_a_bad_view_is_refused_naming_the_field(client, view, field):
    response = share_api(client, {"source": SUM, "view": view})
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field
