"""The JSON API under /api/v1: each endpoint with good input, and every way to get it wrong."""
from __future__ import annotations

import json
import re

import pytest

from app.ebpf import assemble
from app.ebpf.vm import run

SOURCE = "r0 = 0\nr1 = 3\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"
BYTECODE = assemble(SOURCE).to_bytes().hex()


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"} and isinstance(body["error"]["message"], str)
    return body["error"]


# --- assemble -----------------------------------------------------------------------------------------

def test_assemble(client):
    response = client.post("/api/v1/assemble", json={"source": SOURCE + "r2 = 0x1122334455 ll\n"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["bytecode"].startswith(BYTECODE[:-16])  # all but the final exit, which moved
    assert body["insns"][0] == {"pc": 0, "opcode": 0xB7, "text": "r0 = 0", "line": 1}
    assert body["insns"][4] == {"pc": 4, "opcode": 0x55, "text": "if r1 != 0 goto loop", "line": 6}
    assert [i["pc"] for i in body["insns"]] == [0, 1, 2, 3, 4, 5, 6]  # ld_imm64 at 5 takes slots 5 and 6...
    assert body["insns"][5]["text"] == "exit" and body["insns"][6]["text"] == "r2 = 0x1122334455 ll"


def test_assemble_in_log_style(client):
    body = client.post("/api/v1/assemble", json={"source": SOURCE, "style": "log"}).get_json()
    assert body["insns"][4]["text"] == "if r1 != 0x0 goto pc-3"


def test_assemble_error_names_field_line_and_column(client):
    error = error_of(client.post("/api/v1/assemble", json={"source": "r0 = 1\nr0 += r1\n  r11 = 2\n"}), 400)
    assert error["field"] == "source" and error["line"] == 3 and error["col"] == 3
    assert error["message"].startswith("line 3, col 3: unknown register 'r11'")


# --- disassemble --------------------------------------------------------------------------------------

def test_disassemble(client):
    body = client.post("/api/v1/disassemble", json={"bytecode": BYTECODE}).get_json()
    assert body["text"].splitlines()[0] == "r0 = 0"
    assert body["insns"][4] == {"pc": 4, "opcode": 0x55, "text": "if r1 != 0 goto -3", "line": None}
    log = client.post("/api/v1/disassemble", json={"bytecode": BYTECODE, "style": "log"}).get_json()
    assert log["text"].splitlines()[4] == "4: (55) if r1 != 0x0 goto pc-3"


def test_disassemble_accepts_spaced_hex(client):
    spaced = " ".join(BYTECODE[i:i + 2] for i in range(0, len(BYTECODE), 2))
    assert client.post("/api/v1/disassemble", json={"bytecode": spaced}).status_code == 200


def test_disassemble_errors(client):
    assert error_of(client.post("/api/v1/disassemble", json={"bytecode": "zz"}), 400)["field"] == "bytecode"
    partial = error_of(client.post("/api/v1/disassemble", json={"bytecode": "b700000000000000b7"}), 400)
    assert partial["field"] == "bytecode"
    bad_opcode = error_of(client.post("/api/v1/disassemble", json={"bytecode": "ff00000000000000"}), 400)
    assert bad_opcode["field"] == "bytecode" and bad_opcode["pc"] == 0


# --- run ----------------------------------------------------------------------------------------------

def test_run_from_source_matches_the_engine(client):
    body = client.post("/api/v1/run", json={"source": SOURCE}).get_json()
    assert body == run(assemble(SOURCE)).to_json()
    assert body["retval"] == 6 and body["insns_executed"] == 12 and body["fault"] is None
    assert {"retval", "insns_executed", "fault", "packet_out", "maps", "output"} <= set(body)


def test_run_from_bytecode_with_input_memory(client):
    source = "r0 = *(u32 *)(r1 + 0)\nr0 += r2\nexit\n"
    body = client.post("/api/v1/run", json={"bytecode": assemble(source).to_bytes().hex(),
                                            "input": {"mem": "01000000 ff"}}).get_json()
    assert body["retval"] == 1 + 5


def test_run_with_a_packet(client):
    body = client.post("/api/v1/run", json={"source": "r0 = *(u16 *)skb[0]\nexit\n",
                                            "input": {"packet": "1234"}}).get_json()
    assert body["retval"] == 0x1234 and body["packet_out"] == "1234"


def test_run_fault_is_a_result(client):
    response = client.post("/api/v1/run", json={"source": "r0 = *(u8 *)(r1 + 9)\nexit\n", "input": {"mem": "00"}})
    assert response.status_code == 200
    fault = response.get_json()["fault"]
    assert fault["kind"] == "memory" and fault["pc"] == 0 and fault["region"] == "mem" and fault["offset"] == 9


def test_run_max_insns(client):
    body = client.post("/api/v1/run", json={"source": "l: goto l\n", "options": {"max_insns": 10}}).get_json()
    assert body["fault"]["kind"] == "limit" and body["insns_executed"] == 10


@pytest.mark.parametrize("payload, field", [
    ({}, "source"),
    ({"source": 5}, "source"),
    ({"source": "exit", "bytecode": BYTECODE}, "bytecode"),
    ({"source": "exit", "type": "nope"}, "type"),
    ({"source": "exit", "type": 6}, "type"),
    ({"source": "exit", "type": "xdp"}, "input.packet"),  # a hook that needs a packet, given none
    ({"source": "exit", "input": "00"}, "input"),
    ({"source": "exit", "input": {"mem": 5}}, "input.mem"),
    ({"source": "exit", "input": {"mem": "0g"}}, "input.mem"),
    ({"source": "exit", "input": {"ctx": "00"}}, "input.ctx"),
    ({"source": "exit", "input": {"layers": []}}, "input.layers"),
    ({"source": "exit", "input": {"mem": "00", "packet": "00"}}, "input.packet"),
    ({"source": "exit", "options": {"max_insns": "10"}}, "options.max_insns"),
    ({"source": "exit", "options": {"max_insns": True}}, "options.max_insns"),
    ({"source": "exit", "options": {"max_insns": 0}}, "options.max_insns"),
    ({"source": "exit", "options": {"max_insns": 1_000_001}}, "options.max_insns"),
    ({"source": "exit", "options": {"trace": True}}, "options.trace"),
    ({"bytecode": "b7000000"}, "bytecode"),
])
def test_run_rejects_bad_fields_naming_them(client, payload, field):
    assert error_of(client.post("/api/v1/run", json=payload), 400)["field"] == field


def test_oversize_values_are_refused_by_field(app, client):
    app.config["MAX_SOURCE_BYTES"] = 64
    app.config["MAX_INPUT_BYTES"] = 2
    assert error_of(client.post("/api/v1/run", json={"source": "exit\n" * 20}), 400)["field"] == "source"
    assert error_of(client.post("/api/v1/run", json={"bytecode": "95" + "00" * 71}), 400)["field"] == "bytecode"
    big = error_of(client.post("/api/v1/run", json={"source": "exit", "input": {"mem": "000000"}}), 400)
    assert big["field"] == "input.mem" and "at most 2" in big["message"]


# --- the body itself ----------------------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["assemble", "disassemble", "run", "verify"])
def test_non_json_bodies_are_415(client, endpoint):
    form = client.post(f"/api/v1/{endpoint}", data={"source": "exit"})
    assert "application/json" in error_of(form, 415)["message"]
    text = client.post(f"/api/v1/{endpoint}", data='{"source": "exit"}', content_type="text/plain")
    error_of(text, 415)


@pytest.mark.parametrize("body", ['{"source": ', "[1, 2]", "null", '"exit"', "[" * 100_000 + "]" * 100_000,
                                  b"\xff\xfe{"])
def test_malformed_or_non_object_json_is_400(client, body):
    error_of(client.post("/api/v1/run", data=body, content_type="application/json"), 400)


def test_body_over_the_request_limit_is_413_json(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/api/v1/run", data=json.dumps({"source": "exit\n" * 400}), content_type="application/json")
    assert "1,000 bytes" in error_of(response, 413)["message"]


def test_get_is_405_and_unknown_endpoints_404_in_json(client):
    assert error_of(client.get("/api/v1/run"), 405)
    assert set(client.get("/api/v1/run").headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    error_of(client.post("/api/v1/nope", json={"source": "exit"}), 404)


def test_api_needs_no_csrf_token_because_it_takes_only_json(client):
    assert client.post("/api/v1/run", json={"source": "exit"}).status_code == 200


# --- every endpoint: bodies no program can hold, and the rate limit ----------------------------------------

ENDPOINTS = ("assemble", "disassemble", "run", "verify", "share")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("body, field", [
    ('{"source": "exit ;\\ud800", "bytecode": "\\udfff", "type": "xdp"}', None),
    ('{"source": "exit", "type": "kprobe", "input": {"event": "\\ud800"}}', "input.event"),
    ('{"source": "exit", "type": "xdp", "input": {"packets": ["00", "\\udc00"]}}', "input.packets[1]"),
    ('{"source": "exit", "type": "kprobe", "input": {"ctx": {"\\ud800": 1}}}', "input.ctx"),
])
def test_lone_surrogates_are_refused_naming_the_field(client, endpoint, body, field):
    error = error_of(client.post(f"/api/v1/{endpoint}", data=body, content_type="application/json"), 400)
    if field is None:  # the program's own field, whichever this endpoint reads first
        assert error["field"] in ("source", "bytecode")
    elif endpoint in ("run", "verify", "share"):
        assert error["field"] == field
    assert "surrogate" in error["message"]


@pytest.fixture
def limited(tmp_path):
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'l.sqlite3'}",
                      "RUN_RATE_PER_MINUTE": 6, "RUN_BURST": 2})
    return app.test_client()


@pytest.mark.parametrize("path, body", [
    ("/api/v1/run", {"source": "exit"}),
    ("/api/v1/verify", {"source": "r0 = 0\nexit", "type": "xdp"}),
])
def test_run_and_verify_are_rate_limited_per_client(limited, path, body):
    assert [limited.post(path, json=body).status_code for _ in range(2)] == [200, 200]
    refused = limited.post(path, json=body)
    assert error_of(refused, 429)["message"] and refused.headers["Retry-After"] == "10"
    assert limited.post(path, json=body, environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
    assert limited.post("/api/v1/assemble", json={"source": "exit"}).status_code == 200  # not limited


@pytest.mark.parametrize("path", ["/run", "/step", "/walk"])
def test_the_playground_runs_share_the_bucket_and_answer_an_html_page(limited, path):
    page = limited.get("/").get_data(as_text=True)  # the example's page is built: one token of two
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    form = {"csrf_token": token, "source": "r0 = 0\nexit\n", "mem": "", "max_insns": "1000", "type": "xdp"}
    assert limited.post(path, data=form).status_code != 429
    refused = limited.post(path, data=form)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert refused.headers["Retry-After"] and "Too many runs" in refused.get_data(as_text=True)
    assert error_of(limited.post("/api/v1/run", json={"source": "exit"}), 429)["message"]
