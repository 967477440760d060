"""Pages of long answers in the JSON API: the verifier walk (``options.walk`` as a page, ``/api/v1/verify``)
and the VM trace (``options.trace``, ``/api/v1/run``), with totals and next offsets, limits capped and bad
values refused naming the field."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.vm import run
from app.web.jsonbody import PAGE_SIZES

SUM = "r0 = 0\nr1 = 3\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"  # 12 steps


def post(client, url, **body):
    return client.post(url, json=body)


# --- the trace --------------------------------------------------------------------------------------------

def test_run_answers_a_page_of_the_trace_with_what_each_step_changed(client):
    body = post(client, "/api/v1/run", source=SUM, options={"trace": {"offset": 2, "limit": 4}}).get_json()
    assert body["retval"] == 6  # the rest of the answer is as before
    assert body["trace_page"] == {"offset": 2, "limit": 4, "total": 12, "next_offset": 6}
    assert [s["step"] for s in body["trace"]] == [2, 3, 4, 5]
    assert [s["pc"] for s in body["trace"]] == [2, 3, 4, 2]
    assert body["trace"][0]["regs"] == {"r0": {"old": 0, "new": 3}}
    expected = run(assemble(SUM), mem=b"", trace=True).trace
    assert body["trace"] == [expected.step_record(k).to_json() for k in range(2, 6)]


def test_the_pages_of_a_trace_add_up_to_the_whole_run(client):
    steps, offset = [], 0
    while offset is not None:
        body = post(client, "/api/v1/run", source=SUM, options={"trace": {"offset": offset, "limit": 5}}).get_json()
        steps += [s["step"] for s in body["trace"]]
        offset = body["trace_page"]["next_offset"]
    assert steps == list(range(12))
    last = body["trace"][-1]
    assert last["retval"] == 6 and last["next_pc"] is None


def test_trace_defaults_and_a_page_past_the_end(client):
    body = post(client, "/api/v1/run", source=SUM, options={"trace": {}}).get_json()
    assert body["trace_page"] == {"offset": 0, "limit": PAGE_SIZES["trace"][0], "total": 12, "next_offset": None}
    assert len(body["trace"]) == 12
    body = post(client, "/api/v1/run", source=SUM, options={"trace": {"offset": 50}}).get_json()
    assert body["trace"] == [] and body["trace_page"]["next_offset"] is None


def test_no_trace_unless_asked(client):
    for options in ({}, {"trace": False}):
        body = post(client, "/api/v1/run", source=SUM, options=options).get_json()
        assert "trace" not in body and "trace_page" not in body


def test_a_faulting_run_pages_up_to_the_fault(client):
    body = post(client, "/api/v1/run", source="r1 = 0\nr0 = *(u64 *)(r1 + 0)\nexit\n",
                options={"trace": {}}).get_json()
    assert body["fault"]["pc"] == 1
    assert [s["pc"] for s in body["trace"]] == [0, 1] and body["trace_page"]["total"] == 2
    assert body["trace"][-1]["fault"] == body["fault"]  # the last step is the one that faulted


def test_several_packets_page_the_last_run_or_the_one_named(client):
    source = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = 2\nexit\n"
    packets = ["00" * 14, "11" * 14, "22" * 14]
    body = post(client, "/api/v1/run", source=source, type="xdp", input={"packets": packets},
                options={"trace": {"limit": 2}}).get_json()
    assert len(body["runs"]) == 3
    assert body["trace_page"] == {"offset": 0, "limit": 2, "total": 4, "next_offset": 2, "run": 2}
    body = post(client, "/api/v1/run", source=source, type="xdp", input={"packets": packets},
                options={"trace": {"run": 0}}).get_json()
    assert body["trace_page"]["run"] == 0 and len(body["trace"]) == 4


@pytest.mark.parametrize("trace, field, message", [
    (True, "options.trace", "must be false or a page"),
    (None, "options.trace", "must be false or a page"),
    ([0, 5], "options.trace", "must be false or a page"),
    ({"limit": 0}, "options.trace.limit", "must be an integer from 1 to 1,000"),
    ({"limit": 1001}, "options.trace.limit", "must be an integer from 1 to 1,000"),
    ({"limit": 2.5}, "options.trace.limit", "must be an integer"),
    ({"offset": -1}, "options.trace.offset", "must be an integer from 0 to"),
    ({"offset": "0"}, "options.trace.offset", "must be an integer"),
    ({"offset": True}, "options.trace.offset", "must be an integer"),
    ({"page": 2}, "options.trace.page", "unknown field 'page' (this server accepts: offset, limit, run)"),
    ({"run": -1}, "options.trace.run", "must be an integer from 0 to"),
    ({"run": 1}, "options.trace.run", "there is one run: run 0"),
])
def test_bad_trace_pages_are_refused_naming_the_field(client, trace, field, message):
    response = post(client, "/api/v1/run", source=SUM, options={"trace": trace})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == field and message in error["message"]


def test_a_trace_run_past_the_packets_is_refused(client):
    response = post(client, "/api/v1/run", source="r0 = 2\nexit\n", type="xdp", input={"packets": ["00" * 14] * 2},
                    options={"trace": {"run": 2}})
    assert response.status_code == 400
    assert response.get_json()["error"] == {"field": "options.trace.run", "message": "there are 2 packets: runs 0 to 1"}


# --- the walk ---------------------------------------------------------------------------------------------

def test_verify_answers_a_page_of_the_walk(client):
    whole = post(client, "/api/v1/verify", source=SUM, type="xdp", options={"walk": True}).get_json()
    assert "walk_page" not in whole  # true is still the whole walk, as the CLI's verify --walk --json
    body = post(client, "/api/v1/verify", source=SUM, type="xdp", options={"walk": {"offset": 2, "limit": 3}}).get_json()
    assert body["walk"] == whole["walk"][2:5]
    assert body["walk_page"] == {"offset": 2, "limit": 3, "total": len(whole["walk"]), "next_offset": 5}
    assert body["walk_truncated"] is False
    assert body["verdict"] == whole["verdict"] and body["log"] == whole["log"]


def test_the_pages_of_a_walk_add_up_to_the_whole_walk(client):
    whole = post(client, "/api/v1/verify", source=SUM, type="xdp", options={"walk": True}).get_json()["walk"]
    events, offset = [], 0
    while offset is not None:
        body = post(client, "/api/v1/verify", source=SUM, type="xdp",
                    options={"walk": {"offset": offset, "limit": 4}}).get_json()
        events += body["walk"]
        offset = body["walk_page"]["next_offset"]
    assert events == whole and events[-1]["kind"] == "accept"


def test_walk_page_defaults(client):
    body = post(client, "/api/v1/verify", source=SUM, type="xdp", options={"walk": {}}).get_json()
    assert body["walk_page"]["offset"] == 0 and body["walk_page"]["limit"] == PAGE_SIZES["walk"][0]
    assert body["walk_page"]["next_offset"] is None


@pytest.mark.parametrize("walk, field, message", [
    (3, "options.walk", "must be true (the whole walk), false, or a page"),
    ("yes", "options.walk", "must be true (the whole walk), false, or a page"),
    ({"limit": 0}, "options.walk.limit", "must be an integer from 1 to 1,000"),
    ({"limit": 5000}, "options.walk.limit", "must be an integer from 1 to 1,000"),
    ({"offset": -3}, "options.walk.offset", "must be an integer from 0 to 1,000,000"),
    ({"offset": 10 ** 7}, "options.walk.offset", "must be an integer from 0 to 1,000,000"),
    ({"run": 0}, "options.walk.run", "unknown field 'run' (this server accepts: offset, limit)"),
])
def test_bad_walk_pages_are_refused_naming_the_field(client, walk, field, message):
    for url in ("/api/v1/verify", "/api/v1/run"):  # run checks the walk option too, and ignores it
        response = post(client, url, source=SUM, type="xdp", options={"walk": walk})
        assert response.status_code == 400, url
        error = response.get_json()["error"]
        assert error["field"] == field and message in error["message"]


def test_verify_ignores_a_trace_page_and_run_a_walk_page(client):
    body = post(client, "/api/v1/verify", source=SUM, type="xdp", options={"trace": {"limit": 3}}).get_json()
    assert body["verdict"] == "accept" and "trace" not in body
    body = post(client, "/api/v1/run", source=SUM, options={"walk": {"limit": 3}}).get_json()
    assert body["retval"] == 6 and "walk" not in body


def test_a_share_does_not_store_pages(client):
    body = {"source": SUM, "type": "xdp", "input": {"packet": "00" * 14},
            "options": {"walk": {"limit": 3}, "trace": {"limit": 3}}}
    link = client.post("/api/v1/share", json=body).get_json()["url"]
    stored = client.get(link.replace("http://localhost", "") + ".json").get_json()
    assert "options" not in stored


def test_the_openapi_document_describes_the_pages(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert set(schemas["Options"]["properties"]) == {"max_insns", "max_processed", "walk", "trace", "unprivileged"}
    assert schemas["TracePage"]["properties"]["limit"]["maximum"] == PAGE_SIZES["trace"][1]
    assert schemas["WalkPage"]["properties"]["limit"]["default"] == PAGE_SIZES["walk"][0]
    assert set(schemas["WalkPage"]["properties"]) == {"offset", "limit"}
    assert set(schemas["TracePage"]["properties"]) == {"offset", "limit", "run"}
    assert set(schemas["PageInfo"]["required"]) == {"offset", "limit", "total", "next_offset"}
