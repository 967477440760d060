"""``POST /api/v1/verify``: the verifier over JSON, with the same verdicts as the engine and the CLI."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.verifier import verify

from .test_api import error_of

ACCEPTED = "r0 = 2\nexit\n"
LOOP = "r0 = 0\nr1 = 1000\nl: r1 -= 1\nif r1 > 0 goto l\nexit\n"


def test_accepted_program(client):
    body = client.post("/api/v1/verify", json={"source": ACCEPTED, "type": "xdp"}).get_json()
    assert body == verify(assemble(ACCEPTED), "xdp").to_json()
    assert body["accepted"] is True and body["verdict"] == "accept" and body["error"] is None
    assert body["stats"] == {"processed_insns": 2, "total_states": 0, "peak_states": 0, "max_states_per_insn": 0,
                             "max_pending": 0}
    assert body["log"] == "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"  # the kernel's words


def test_rejection_is_a_result_in_the_kernels_words(client):
    response = client.post("/api/v1/verify", json={"source": "exit\n", "type": "socket_filter"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["verdict"] == "reject"
    assert body["accepted"] is False
    assert body["error"] == {"insn": 0, "message": "R0 !read_ok", "errno": "EACCES"}


def test_bytecode_with_declared_maps(client):
    source = ".map counts type=hash key_size=4 value_size=8 max_entries=1\n" \
             "r1 = 0\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = counts ll\ncall bpf_map_lookup_elem\n" \
             "if r0 == 0 goto out\nr1 = *(u64 *)(r0 + 0)\nout:\nr0 = 0\nexit\n"
    program = assemble(source)
    body = client.post("/api/v1/verify", json={
        "bytecode": program.to_bytes().hex(), "type": "kprobe",
        "maps": [{"type": "hash", "key_size": 4, "value_size": 8, "max_entries": 1}]}).get_json()
    assert body["verdict"] == "accept", body
    unchecked = source.replace("if r0 == 0 goto out\n", "")
    body = client.post("/api/v1/verify", json={"source": unchecked, "type": "kprobe"}).get_json()
    assert body["verdict"] == "reject"
    assert body["error"]["message"] == "R0 invalid mem access 'map_value_or_null'"


def test_walk_on_request(client):
    plain = client.post("/api/v1/verify", json={"source": ACCEPTED, "type": "xdp"}).get_json()
    assert "walk" not in plain
    walked = client.post("/api/v1/verify", json={"source": ACCEPTED, "type": "xdp",
                                                 "options": {"walk": True}}).get_json()
    assert walked["walk"] and walked["walk_truncated"] is False
    assert [(e["insn_idx"], e["kind"]) for e in walked["walk"]] == [(0, "visit"), (1, "exit"), (1, "accept")]


def test_the_servers_limit_gives_incomplete_not_a_verdict(app, client):
    app.config["MAX_VERIFY_INSNS"] = 500
    body = client.post("/api/v1/verify", json={"source": LOOP, "type": "xdp"}).get_json()
    assert body["verdict"] == "incomplete" and body["error"]["errno"] == "LIMIT"
    assert "500 processed instructions" in body["error"]["message"]
    assert error_of(client.post("/api/v1/verify", json={"source": LOOP, "type": "xdp",
                                                         "options": {"max_processed": 501}}), 400)["field"] \
        == "options.max_processed"
    app.config["MAX_VERIFY_INSNS"] = 100_000
    assert client.post("/api/v1/verify", json={"source": LOOP, "type": "xdp"}).get_json()["verdict"] == "accept"
    small = client.post("/api/v1/verify", json={"source": LOOP, "type": "xdp", "options": {"max_processed": 10}})
    assert small.get_json()["verdict"] == "incomplete"


@pytest.mark.parametrize("payload, field", [
    ({"type": "xdp"}, "source"),
    ({"source": "exit"}, "type"),
    ({"source": "exit", "type": "raw"}, "type"),
    ({"source": "exit", "type": 3}, "type"),
    ({"source": "r11 = 0", "type": "xdp"}, "source"),
    ({"source": "exit", "type": "xdp", "input": "00"}, "input"),  # checked, though verify does not use it
    ({"source": "exit", "type": "xdp", "options": {"walk": "yes"}}, "options.walk"),
    ({"source": "exit", "type": "xdp", "options": {"max_processed": 0}}, "options.max_processed"),
    ({"source": "exit", "type": "xdp", "options": {"max_processed": "9"}}, "options.max_processed"),
    ({"source": "exit", "type": "xdp", "options": {"trace": True}}, "options.trace"),
    ({"source": "exit", "type": "xdp", "maps": {}}, "maps"),
    ({"bytecode": "b7000000", "type": "xdp"}, "bytecode"),
    ({"source": "exit", "type": "xdp", "maps": [{"type": "nope", "key_size": 4, "value_size": 4,
                                                  "max_entries": 1}]}, "maps[0]"),
    ({"source": "exit", "type": "xdp", "maps": [{"type": "array", "key_size": 0, "value_size": 4,
                                                  "max_entries": 1}]}, "maps[0]"),
    ({"source": ".map q type=hash key_size=0 value_size=4 max_entries=1\nexit", "type": "xdp"}, "source"),
])
def test_bad_fields_are_named(client, payload, field):
    assert error_of(client.post("/api/v1/verify", json=payload), 400)["field"] == field


@pytest.mark.parametrize("bytecode", [
    "1800000000000000",  # a lone ld_imm64 first half
    "85000000ffffff7f" + "9500000000000000",  # an unknown helper
    "18110000ffff0000" + "0000000000000000" + "9500000000000000",  # map fd 65535, no map declared
    "0500ffff00000000",  # jump to itself, the last insn
    "bf00000000000000" * 3,  # no exit
])
def test_odd_bytecode_gets_an_answer_not_a_500(client, bytecode):
    response = client.post("/api/v1/verify", json={"bytecode": bytecode, "type": "socket_filter"})
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    body = response.get_json()
    assert body.get("verdict") == "reject" or "error" in body
