"""The map declaration panel: ``POST /map`` puts the ``.map`` line for its fields in the program (without
JavaScript: the button submits the editor's form there), or answers 422 naming the field."""
from __future__ import annotations

import pytest

from app.ebpf.maps import MAP_TYPES

from .test_share import textarea

PROGRAM = "r0 = 0\nexit\n"
ARRAY = {"map_name": "counts", "map_type": "array", "map_key_size": "4", "map_value_size": "8",
         "map_max_entries": "16"}


def test_the_panel_offers_every_map_type_of_the_engine(client):
    page = client.get("/").get_data(as_text=True)
    assert 'formaction="/map"' in page and 'name="map_name"' in page
    for kind in MAP_TYPES:
        assert f'<option value="{kind}"' in page


def test_adding_a_map_puts_its_line_at_the_top_and_runs_the_program(post_form):
    response = post_form("/map", source=PROGRAM, **ARRAY)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert textarea(page, "source") == (".map counts type=array key_size=4 value_size=8 max_entries=16\n"
                                        + PROGRAM)
    assert "<code>counts</code>" in page  # the declared maps list it: the program assembled with it
    assert 'id="map-added"' in page


def test_a_new_map_goes_after_the_maps_declared_already(post_form):
    source = "; counting\n.map a type=hash key_size=4 value_size=8 max_entries=4\nr1 = map_fd(0) ll\n" + PROGRAM
    response = post_form("/map", source=source, **{**ARRAY, "map_name": "b", "map_type": "array_of_maps",
                                                   "map_value_size": "4", "map_inner": "a", "map_flags": "0"})
    assert response.status_code == 200, response.get_data(as_text=True)[-3000:]
    lines = textarea(response.get_data(as_text=True), "source").splitlines()
    assert lines[1:3] == [".map a type=hash key_size=4 value_size=8 max_entries=4",
                          ".map b type=array_of_maps key_size=4 value_size=4 max_entries=16 inner=a"]


def test_flags_are_written_when_set(post_form):
    response = post_form("/map", source=PROGRAM, **{**ARRAY, "map_flags": "0x400"})
    assert textarea(response.get_data(as_text=True), "source").startswith(
        ".map counts type=array key_size=4 value_size=8 max_entries=16 flags=0x400\n")


@pytest.mark.parametrize("fields, field", [
    ({"map_name": ""}, "map_name"),
    ({"map_name": "1st"}, "map_name"),
    ({"map_name": "a<b>"}, "map_name"),
    ({"map_type": "nope"}, "map_type"),
    ({"map_key_size": "four"}, "map_key_size"),
    ({"map_value_size": "-1"}, "map_value_size"),
    ({"map_max_entries": ""}, "map_max_entries"),
    ({"map_flags": "x"}, "map_flags"),
    ({"map_key_size": "8"}, "map_key_size"),  # EINVAL: array keys are u32
    ({"map_type": "array_of_maps", "map_value_size": "4"}, "map_inner"),
    ({"map_inner": "nowhere"}, "map_inner"),
])
def test_a_bad_field_answers_422_naming_it_and_keeps_the_program(post_form, fields, field):
    response = post_form("/map", source=PROGRAM, **{**ARRAY, **fields})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert f'id="{field}" name="{field}"' in page or f'id="{field}"' in page
    error = page.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert error.strip(), f"no message for {field}"
    assert "<b>" not in page.split('id="map_name"', 1)[1].split(">", 1)[0]  # escaped
    assert textarea(page, "source") == PROGRAM


def test_a_name_declared_already_is_refused(post_form):
    source = ".map counts type=hash key_size=4 value_size=8 max_entries=4\n" + PROGRAM
    response = post_form("/map", source=source, **ARRAY)
    assert response.status_code == 422 and "already" in response.get_data(as_text=True)


def test_a_c_program_is_told_to_declare_maps_in_its_source(post_form):
    response = post_form("/map", source="int f(void *ctx) { return 0; }", language="c", **ARRAY)
    assert response.status_code == 422
    assert "SEC(&#34;.maps&#34;)" in response.get_data(as_text=True) or ".maps" in response.get_data(as_text=True)


def test_the_map_form_needs_the_csrf_token(client):
    assert client.post("/map", data={"source": PROGRAM, **ARRAY}).status_code in (400, 403)
