"""Shares of bytecode and of maps declared beside the program (``maps``): stored normalised, given back by
``/p/<id>.json``, opened by the page as ``.map`` lines and the disassembly, and run there as the API runs them."""
from __future__ import annotations

import pytest

from app.ebpf import assemble

from .test_share import _page_retval, share_api, textarea

LOOKUP = """*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = map_fd(0) ll
call 1
if r0 == 0 goto +2
r0 = *(u64 *)(r0 + 0)
exit
r0 = 0
exit
"""  # returns the value at key 0 of the first map
MAPS = [{"name": "counts", "type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}]
SEEDS = [{"map": "counts", "key": "00000000", "value": "2a00000000000000"}]
BYTECODE = assemble(LOOKUP).to_bytes().hex()


@pytest.mark.parametrize("program", [{"source": LOOKUP}, {"bytecode": BYTECODE}], ids=["source", "bytecode"])
def test_a_maps_share_round_trips_and_runs_on_its_page_as_through_the_api(client, program):
    body = {**program, "type": "raw", "maps": MAPS, "seeds": SEEDS}
    assert client.post("/api/v1/run", json=body).json["retval"] == 42
    response = share_api(client, body)
    assert response.status_code == 201, response.json
    id_ = response.json["id"]
    setup = client.get(f"/p/{id_}.json").json
    assert setup == body
    assert client.post("/api/v1/run", json=setup).json["retval"] == 42
    assert share_api(client, setup).json["id"] == id_
    assert int(_page_retval(client, id_), 0) == 42
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    text = textarea(page, "source")
    assert text.startswith(".map counts type=array key_size=4 value_size=8 max_entries=1\n")
    assert assemble(text).to_bytes().hex() == BYTECODE
    assert 'id="share-opened-as"' in page
    assert ("disassembly" in page) == ("bytecode" in program)


def test_a_bytecode_share_downloads_as_its_disassembly(client):
    id_ = share_api(client, {"bytecode": BYTECODE, "maps": MAPS}).json["id"]
    response = client.get(f"/p/{id_}.s")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert "r1 = map_fd(0) ll" in text and assemble(text).to_bytes().hex() == BYTECODE
    assert client.get(f"/p/{id_}.c").status_code == 301


def test_a_bytecode_share_without_maps_opens_and_runs(client):
    id_ = share_api(client, {"bytecode": "b70000000700000095000000000000" + "00"}).json["id"]
    assert int(_page_retval(client, id_), 0) == 7


def test_the_same_maps_and_bytecode_get_the_same_id(client):
    plain = {"bytecode": BYTECODE, "maps": [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}]}
    spelled = {"bytecode": " ".join(BYTECODE.upper()[i:i + 16] for i in range(0, len(BYTECODE), 16)),
               "maps": [{"name": "map0", "type": "array", "key_size": 4, "value_size": 8, "max_entries": 1,
                         "flags": 0}]}
    first, second = share_api(client, plain), share_api(client, spelled)
    assert first.status_code == 201 and second.status_code == 200
    assert first.json["id"] == second.json["id"]
    assert client.get(f"/p/{first.json['id']}.json").json == {"type": "raw", **plain}
    flagged = {**plain, "maps": [{**plain["maps"][0], "flags": 1024}]}  # BPF_F_MMAPABLE: another setup
    assert share_api(client, flagged).json["id"] != first.json["id"]


ARRAY = {"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1}


@pytest.mark.parametrize("body, field", [
    ({"bytecode": "ff00000000000000"}, "bytecode"),
    ({"bytecode": "b7"}, "bytecode"),
    ({"bytecode": "00" * (64 * 1024 + 8)}, "bytecode"),
    ({"bytecode": BYTECODE, "source": "exit"}, "bytecode"),
    ({"bytecode": BYTECODE, "language": "c"}, "language"),
    ({"source": "exit", "maps": [ARRAY, "array"]}, "maps[1]"),
    ({"source": "exit", "maps": [{**ARRAY, "type": "nope"}]}, "maps[0].type"),
    ({"source": "exit", "maps": [{**ARRAY, "type": 1}]}, "maps[0].type"),
    ({"source": "exit", "maps": [{**ARRAY, "key_size": -1}]}, "maps[0].key_size"),
    ({"source": "exit", "maps": [{**ARRAY, "max_entries": "1"}]}, "maps[0].max_entries"),
    ({"source": "exit", "maps": [{**ARRAY, "colour": "red"}]}, "maps[0].colour"),
    ({"source": "exit", "maps": [{**ARRAY, "name": "1st"}]}, "maps[0].name"),
    ({"source": "exit", "maps": [{**ARRAY, "name": "a b"}]}, "maps[0].name"),
    ({"source": "exit", "maps": [{**ARRAY, "key_size": 8}]}, "maps[0]"),  # EINVAL: array keys are u32
    ({"source": "exit", "maps": [{**ARRAY, "name": "a"}, {**ARRAY, "name": "a"}]}, "maps[1]"),
    ({"source": "exit", "maps": [{**ARRAY, "type": "array_of_maps", "value_size": 4}]}, "maps[0]"),
    ({"source": ".map m type=array key_size=4 value_size=8 max_entries=1\nexit", "maps": [ARRAY]}, "maps"),
    ({"source": "int f(void *ctx) { return 0; }", "language": "c", "maps": [ARRAY]}, "maps"),
])
def test_bad_maps_and_bytecode_are_refused_naming_the_field(client, body, field):
    response = share_api(client, body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field
    assert response.json["error"]["message"]
