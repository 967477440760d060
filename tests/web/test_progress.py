"""The streamed answer of ``POST /run`` (``app/web/progress.py``): progress records, then the same fragment
as without streaming; errors answered as before; cancelling and the time limit stop the work."""
from __future__ import annotations

import json
import threading
import time

import pytest

from app.ebpf.cc import compiler_available
from app.web import progress as progress_module

from .conftest import HTMX

STREAM = {**HTMX, "Accept": "application/x-ndjson"}
LOOP = "r0 = 0\nr1 = 0\nloop:\nr1 += 1\nif r1 < {n} goto loop\nr0 = 2\nexit\n"
"""A counting loop the verifier walks iteration by iteration: about 2n processed instructions."""
needs_cc = pytest.mark.skipif(not compiler_available()[0], reason="no C compiler (pip install ziglang)")


def loop_form(n: int, **fields: str) -> dict[str, str]:
    return {"source": LOOP.format(n=n), "type": "socket_filter", "packet_from": "hex", "packets": "00" * 14,
            "max_insns": "1000000", **fields}


def records(response) -> list[dict]:
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def work_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "playground-work"]


@pytest.fixture
def every_record(monkeypatch):
    """Send a record for every engine callback (the page gets at most one every 0.1 s)."""
    monkeypatch.setattr(progress_module, "INTERVAL", 0.0)


@pytest.fixture
def post(client, csrf):
    def post(headers: dict[str, str], **fields: str):
        return client.post("/run", data={"csrf_token": csrf, **fields}, headers=headers)
    return post


def test_records_come_in_order_then_the_fragment_of_an_unstreamed_answer(post, every_record):
    form = loop_form(3000)
    streamed = post(STREAM, **form)
    assert streamed.status_code == 200 and streamed.mimetype == "application/x-ndjson"
    assert streamed.headers["Cache-Control"] == "no-store" and "Accept" in streamed.headers["Vary"]
    got = records(streamed)
    assert got[0] == {"phase": "start", "count": None, "limit": None, "elapsed": 0.0}
    phases = [r["phase"] for r in got]
    assert phases[-1] == "done" and phases.count("done") == 1
    assert phases[1] == "run" and "verify" in phases
    assert phases.index("verify") > max(i for i, p in enumerate(phases) if p == "run")  # run, then verify
    run = [r for r in got if r["phase"] == "run"]
    assert run[0]["count"] == 0 and run[-1]["count"] == 3000 * 2 + 4 and {r["limit"] for r in run} == {1_000_000}
    verify = [r["count"] for r in got if r["phase"] == "verify"]
    assert verify[0] == 0 and verify == sorted(verify) and verify[-1] >= 5000  # every 1,000 processed
    assert {r["limit"] for r in got if r["phase"] == "verify"} == {100_000}
    elapsed = [r["elapsed"] for r in got]
    assert elapsed == sorted(elapsed)

    done = got[-1]
    plain = post(HTMX, **form)
    assert done["status"] == plain.status_code == 200
    assert done["html"] == plain.get_data(as_text=True)
    assert 'id="result"' in done["html"] and 'id="verifier-check"' in done["html"]


def test_several_packets_are_numbered(post, every_record):
    got = records(post(STREAM, **loop_form(10, packets="00" * 14 + "\n" + "11" * 14)))
    runs = [(r["packet"], r["packets"]) for r in got if r["phase"] == "run"]
    assert runs[0] == (1, 2) and runs[-1] == (2, 2)


def test_only_htmx_requests_that_ask_are_streamed(post):
    form = loop_form(10)
    page = post({"Accept": "application/x-ndjson"}, **form)  # no htmx: the whole page, as without JavaScript
    assert page.mimetype == "text/html" and "<!doctype html>" in page.get_data(as_text=True)
    fragment = post(HTMX, **form)
    assert fragment.mimetype == "text/html" and "<!doctype html>" not in fragment.get_data(as_text=True)


def test_a_refused_field_is_a_plain_422(post):
    form = loop_form(10, max_insns="0")
    streamed, plain = post(STREAM, **form), post(HTMX, **form)
    assert streamed.status_code == plain.status_code == 422
    assert streamed.mimetype == "text/html"
    assert streamed.get_data(as_text=True) == plain.get_data(as_text=True)
    assert 'id="max_insns-error"' in streamed.get_data(as_text=True)


@needs_cc
def test_a_c_compile_error_comes_at_the_end_with_422(post):
    form = {**loop_form(10), "language": "c", "source": "int f(void) { return x; }\n"}
    got = records(post(STREAM, **form))
    assert [r["phase"] for r in got] == ["start", "compile", "done"]
    assert got[1]["count"] is None and got[1]["limit"] is None
    plain = post(HTMX, **form)
    assert got[-1]["status"] == plain.status_code == 422
    assert got[-1]["html"] == plain.get_data(as_text=True) and "undeclared identifier" in got[-1]["html"]


def test_csrf_is_still_enforced(client):
    client.get("/")
    refused = client.post("/run", data=loop_form(10), headers=STREAM)
    assert refused.status_code == 400 and refused.mimetype == "text/html"
    assert "did not come from this site" in refused.get_data(as_text=True)


def test_the_rate_limit_still_answers_429(app, post):
    app.config.update(RUN_RATE_PER_MINUTE=1, RUN_BURST=1)
    app.extensions.pop("rate_limiter.runs")  # made with the default settings when the page gave out its token
    assert post(STREAM, **loop_form(10)).status_code == 200
    refused = post(STREAM, **loop_form(10))
    assert refused.status_code == 429 and refused.mimetype == "text/html" and refused.headers["Retry-After"]


def test_the_time_limit_ends_a_stream_with_an_error_and_refuses_a_plain_request(app, post):
    app.config["MAX_RUN_SECONDS"] = 1e-9
    got = records(post(STREAM, **loop_form(10)))
    assert [r["phase"] for r in got] == ["start", "error"]
    assert got[-1]["status"] == 503 and "of the server's time" in got[-1]["message"]
    for headers in (HTMX, {}):
        plain = post(headers, **loop_form(10))
        assert plain.status_code == 503 and "of the server&#39;s time" in plain.get_data(as_text=True)


def test_the_time_limit_stops_a_long_walk(app, post):
    app.config["MAX_RUN_SECONDS"] = 0.3
    started = time.monotonic()
    got = records(post(STREAM, **loop_form(200_000)))  # a walk of 100,000 processed: seconds
    assert got[-1]["phase"] == "error" and got[-1]["status"] == 503
    assert time.monotonic() - started < 2


def test_a_server_error_ends_the_stream_with_500(post, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("app.web.playground.build_page", broken)
    got = records(post(STREAM, **loop_form(10)))
    assert got[-1]["phase"] == "error" and got[-1]["status"] == 500
    assert "a bug" not in json.dumps(got)  # logged, not shown


def test_a_client_that_goes_away_stops_the_work(client, csrf):
    response = client.post("/run", data={"csrf_token": csrf, **loop_form(200_000)}, headers=STREAM,
                           buffered=False)
    lines = iter(response.response)
    first = json.loads(next(lines))
    assert first["phase"] == "start" and work_threads()
    while json.loads(next(lines))["phase"] != "verify":  # the walk has started: seconds of work ahead
        pass
    started = time.monotonic()
    response.close()  # what the WSGI server does when a write fails: close the response iterator
    assert time.monotonic() - started < 1  # the walk stopped at its next callback, and the worker waited for it
    assert not work_threads()


def test_heartbeats_repeat_the_last_record_while_nothing_moves(post, monkeypatch):
    from app.web.playground import build_page

    def slow_build(*args, **kwargs):
        time.sleep(0.1)  # as a C compile would: no counts for a while
        return build_page(*args, **kwargs)

    monkeypatch.setattr(progress_module, "HEARTBEAT", 0.01)
    monkeypatch.setattr("app.web.playground.build_page", slow_build)
    got = records(post(STREAM, **loop_form(10)))
    starts = [r for r in got if r["phase"] == "start"]
    assert len(starts) >= 3 and starts[-1]["elapsed"] >= 0.05  # the first record, then heartbeats
    assert got[-1]["phase"] == "done"


def test_the_api_is_held_to_the_time_limit_too(app, client):
    app.config["MAX_RUN_SECONDS"] = 1e-9
    for path, body in (("/api/v1/run", {"source": "r0 = 0\nexit\n"}),
                       ("/api/v1/verify", {"source": "r0 = 0\nexit\n", "type": "socket_filter"})):
        refused = client.post(path, json=body)
        assert refused.status_code == 503 and "of the server's time" in refused.json["error"]["message"]
    app.config["MAX_RUN_SECONDS"] = 30
    assert client.post("/api/v1/run", json={"source": "r0 = 0\nexit\n"}).json["retval"] == 0
