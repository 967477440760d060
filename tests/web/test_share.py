"""Shared links: ``POST /share`` and ``/api/v1/share``, ``/p/<id>`` (page, ``.json``, ``.s``) and ``/embed/<id>``."""
from __future__ import annotations

import html
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from app import create_app
from app.store import shares
from app.web.ratelimit import RateLimiter, retry_after

SUM = "r0 = 0\nr1 = 4\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"  # returns 10 in 14 steps
STRICT_CSP_FRAMING = "frame-ancestors 'none'"


def share_api(client, body, **kwargs):
    return client.post("/api/v1/share", json=body, **kwargs)


def shared_id(response) -> str:
    """The id a form share redirected to."""
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    match = re.fullmatch(r"/p/([0-9A-Za-z]{16})", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def textarea(page: str, name: str) -> str:
    match = re.search(rf'<textarea id="{name}"[^>]*>\n?(.*?)</textarea>', page, re.DOTALL)
    assert match, f"no textarea {name}"
    return html.unescape(match.group(1))


# --- the JSON API -----------------------------------------------------------------------------------------

def test_share_answers_a_content_addressed_id(client):
    body = {"source": SUM, "type": "raw"}
    first = share_api(client, body)
    assert first.status_code == 201
    id_ = first.json["id"]
    assert re.fullmatch(r"[0-9A-Za-z]{16}", id_)
    assert first.json["url"] == f"http://localhost/p/{id_}"
    again = share_api(client, {"type": "raw", "source": SUM})  # same content, keys in another order
    assert again.status_code == 200 and again.json["id"] == id_
    assert share_api(client, {"source": SUM + "\n"}).json["id"] != id_


def test_the_json_view_gives_back_a_body_the_api_runs(client):
    body = {"source": "r0 = *(u8 *)(r1 + 0)\nexit\n", "input": {"mem": "2A 00"}, "env": {"pid": 7},
            "seeds": [], "view": {"step": 1}}
    id_ = share_api(client, body).json["id"]
    response = client.get(f"/p/{id_}.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    setup = response.json
    assert setup == {"source": body["source"], "type": "raw", "input": {"mem": "2a00"}, "env": {"pid": 7},
                     "view": {"step": 1}}  # normalised: hex, defaults and empty parts left out
    assert client.post("/api/v1/run", json=setup).json["retval"] == 42
    assert share_api(client, setup).json["id"] == id_  # sharing it again is the same share


@pytest.mark.parametrize("body, field", [
    ({"type": "raw"}, "source"),
    ({"source": 3}, "source"),
    ({"source": "exit", "colour": "red"}, "colour"),
    ({"source": "exit", "type": "xdp2"}, "type"),
    ({"source": "x" * (64 * 1024 + 1)}, "source"),
    ({"source": "exit", "input": {"mem": "zz"}}, "input.mem"),
    ({"source": "exit", "input": {"mem": "00" * (64 * 1024 + 1)}}, "input.mem"),
    ({"source": "exit", "type": "xdp", "input": {"packet_fields": {"ip_dst": "10.0.0.300"}}}, "input.packet_fields.ip_dst"),
    ({"source": "exit", "type": "xdp", "input": {"packet_fields": {"nope": "1"}}}, "input.packet_fields.nope"),
    ({"source": "exit", "type": "xdp", "input": {"packet": "00", "packet_spec": "eth"}}, "input.packet_spec"),
    ({"source": "exit", "env": {"pid": "seven"}}, "env.pid"),
    ({"source": "exit", "seeds": [{"map": 0, "key": "0", "value": "00"}]}, "seeds[0].key"),
    ({"source": "exit", "options": {"max_insns": 0}}, "options.max_insns"),
    ({"source": "exit", "view": {"step": -1}}, "view.step"),
    ({"source": "exit", "view": []}, "view"),
    ({"bytecode": "zz"}, "bytecode"),
    ({"source": "exit", "maps": {}}, "maps"),
])
def test_a_bad_body_is_refused_naming_the_field(client, body, field):
    response = share_api(client, body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field
    assert response.json["error"]["message"]


def test_bad_json_and_other_content_types_are_refused(client):
    response = client.post("/api/v1/share", data="{not json", content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.json["error"]["message"]
    assert client.post("/api/v1/share", json=["exit"]).status_code == 400
    assert client.post("/api/v1/share", data={"source": "exit"}).status_code == 415


def test_a_program_that_does_not_assemble_can_be_shared(client):
    response = share_api(client, {"source": "r0 = \nexit\n"})
    assert response.status_code == 201
    page = client.get(f"/p/{response.json['id']}").get_data(as_text=True)
    assert "Assembly error at line 1" in page


def test_packet_fields_run_like_the_same_packet_spec(client):
    source = "r0 = *(u32 *)(r1 + 4)\nr0 = 1\nexit\n"
    fields = client.post("/api/v1/run", json={"source": source, "type": "xdp",
                                              "input": {"packet_fields": {"ip_dst": "10.9.9.9", "payload": "hi"}}})
    spec = client.post("/api/v1/run", json={"source": source, "type": "xdp",
                                            "input": {"packet_spec": "eth/ipv4(dst=10.9.9.9)/udp/payload(hi)"}})
    assert fields.status_code == 200, fields.json
    assert fields.json["packet_out"] == spec.json["packet_out"]


# --- the page's Share button ------------------------------------------------------------------------------

def test_share_form_stores_the_fields_and_redirects_to_the_link(client, post_form):
    response = post_form("/share", source=SUM, type="raw", mem="01 02", max_insns="500")
    id_ = shared_id(response)
    assert client.get(f"/p/{id_}.json").json == {"source": SUM, "type": "raw", "input": {"mem": "0102"},
                                                  "options": {"max_insns": 500}}
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    assert SUM.splitlines()[1] in page
    assert 'id="share-panel"' in page and f"http://localhost/p/{id_}" in page
    assert '<code class="retval">0xa</code>' in page  # the program ran again: 4+3+2+1
    assert 'value="500"' in page


def test_share_form_with_htmx_navigates_instead_of_swapping(post_form):
    response = post_form("/share", htmx=True, source=SUM)
    assert response.status_code == 204
    assert re.fullmatch(r"/p/[0-9A-Za-z]{16}", response.headers["HX-Redirect"])


def test_share_form_needs_the_csrf_token(client):
    client.get("/")
    response = client.post("/share", data={"source": SUM, "mem": "", "max_insns": "1000"})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)


def test_share_form_with_an_unusable_field_shows_the_error_and_stores_nothing(app, post_form):
    response = post_form("/share", source=SUM, mem="xyz")
    assert response.status_code == 422
    assert "not hex" in response.get_data(as_text=True)
    from sqlalchemy.orm import Session

    from app.store import engine
    from app.store.models import Share

    with app.app_context(), Session(engine()) as session:
        assert session.query(Share).count() == 0


def test_a_shared_step_opens_at_that_step(client, post_form):
    id_ = shared_id(post_form("/share", source=SUM, view_step="3"))
    assert client.get(f"/p/{id_}.json").json["view"] == {"step": 3}
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    assert re.search(r'id="step"[^>]*data-index="3"', page)


def test_a_share_made_from_a_shared_page_is_a_fork(app, client, post_form):
    parent = shared_id(post_form("/share", source=SUM))
    page = client.get(f"/p/{parent}").get_data(as_text=True)
    assert f'<input type="hidden" form="editor" name="parent" value="{parent}">' in page
    child = shared_id(post_form("/share", source=SUM.replace("4", "5"), parent=parent))
    with app.app_context():
        from app.store import engine

        assert shares.load(engine(), child).parent == parent
        assert shares.load(engine(), parent).parent is None
    child_page = client.get(f"/p/{child}").get_data(as_text=True)
    assert f'a fork of <a href="/p/{parent}">' in child_page
    unchanged = shared_id(post_form("/share", source=SUM, parent=child))  # the same content is the parent itself
    assert unchanged == parent


def test_the_shared_page_has_link_previews_and_a_markdown_snippet(client):
    source = "# Count down from four\n" + SUM
    id_ = share_api(client, {"source": source}).json["id"]
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    assert "<title>Count down from four · eBPF Playground</title>" in page
    assert '<meta property="og:title" content="Count down from four">' in page
    description = re.search(r'<meta property="og:description" content="([^"]*)">', page).group(1)
    assert html.unescape(description).startswith("eBPF (raw), 7 lines: r0 = 0; r1 = 4")
    assert re.search(r'<meta name="description" content="[^"]+">', page)
    markdown = textarea(page, "share-markdown")
    assert markdown == f"```asm\n{source.rstrip()}\n```\n\n[Open in the eBPF Playground](http://localhost/p/{id_})\n"


def test_the_markdown_fence_is_longer_than_any_in_the_source(client):
    id_ = share_api(client, {"source": "# ``` inside\nexit\n"}).json["id"]
    markdown = textarea(client.get(f"/p/{id_}").get_data(as_text=True), "share-markdown")
    assert markdown.startswith("````asm\n") and "\n````\n" in markdown


def test_the_playground_page_has_a_share_button_that_works_without_javascript(client):
    page = client.get("/").get_data(as_text=True)
    button = re.search(r'<button type="submit" form="editor" formaction="/share" formmethod="post"', page)
    assert button, "no Share button submitting the editor form"
    assert 'id="share-panel"' not in page and 'name="parent"' not in page


# --- source, embed, errors --------------------------------------------------------------------------------

def test_source_is_plain_text_inline_or_as_a_download(client):
    id_ = share_api(client, {"source": SUM}).json["id"]
    response = client.get(f"/p/{id_}.s")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == SUM
    assert response.headers["Content-Disposition"] == f'inline; filename="{id_}.s"'
    assert "immutable" in response.headers["Cache-Control"]
    assert "immutable" in client.get(f"/p/{id_}.json").headers["Cache-Control"]
    download = client.get(f"/p/{id_}.s?download")
    assert download.headers["Content-Disposition"] == f'attachment; filename="{id_}.s"'


def test_the_other_languages_extension_redirects_to_the_source(client):
    asm = share_api(client, {"source": SUM}).json["id"]
    wrong = client.get(f"/p/{asm}.c?download")
    assert wrong.status_code == 301 and wrong.headers["Location"] == f"/p/{asm}.s?download"
    c_source = "int f(void *ctx) { return 2; }\n"  # not compiled to be stored or served as text
    c = share_api(client, {"source": c_source, "language": "c", "type": "xdp"}).json["id"]
    wrong = client.get(f"/p/{c}.s")
    assert wrong.status_code == 301 and wrong.headers["Location"] == f"/p/{c}.c"
    right = client.get(f"/p/{c}.c")
    assert right.status_code == 200 and right.get_data(as_text=True) == c_source
    assert right.headers["Content-Disposition"] == f'inline; filename="{c}.c"'


def test_the_panel_names_the_source_by_its_language(app, client):
    from app.web.share import share_view

    for language, extension in (("asm", "s"), ("c", "c")):
        id_ = share_api(client, {"source": "exit", "language": language, "type": "xdp"}).json["id"]
        with app.test_request_context():
            from app.store import engine

            found = shares.load(engine(), id_)
            share = share_view(found, json.loads(found.setup))
            panel = app.jinja_env.get_template("share/_panel.html").render(share=share)
        assert f'<a href="http://localhost/p/{id_}.{extension}">source (.{extension})</a>' in panel


def test_only_the_embed_may_be_framed(client):
    id_ = share_api(client, {"source": SUM}).json["id"]
    embed = client.get(f"/embed/{id_}")
    assert embed.status_code == 200
    csp = embed.headers["Content-Security-Policy"]
    assert "frame-ancestors *" in csp and "script-src 'self'" in csp
    assert "X-Frame-Options" not in embed.headers
    body = embed.get_data(as_text=True)
    assert "<script" not in body and "<form" not in body
    assert f'href="http://localhost/p/{id_}"' in body and '<code class="retval">0xa</code>' in body
    for url in ("/", f"/p/{id_}", f"/p/{id_}.json", f"/p/{id_}.s", "/api/v1/share"):
        assert STRICT_CSP_FRAMING in client.get(url).headers["Content-Security-Policy"], url
        assert client.get(url).headers["X-Frame-Options"] == "DENY", url


@pytest.mark.parametrize("path", ["0" * 16, "short", "0" * 17, "with-dash-123456", "%C3%A9" * 8, "..%2F..%2Fetc"])
def test_unknown_or_malformed_ids_are_404(client, path):
    for prefix, suffix in (("/p/", ""), ("/p/", ".s"), ("/embed/", "")):
        response = client.get(f"{prefix}{path}{suffix}")
        assert response.status_code == 404, (prefix, path, suffix)
        assert response.mimetype == "text/html"
        assert "There is no shared program" in response.get_data(as_text=True) or "Page not found" in \
            response.get_data(as_text=True)
    response = client.get(f"/p/{path}.json")
    assert response.status_code == 404
    if "%2F" not in path:  # a slash leaves the /p/<id> routes: werkzeug's plain 404 page
        assert response.json["error"]["message"]


# --- durability, concurrency, limits ----------------------------------------------------------------------

def test_a_link_survives_a_restart(tmp_path):
    config = {"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'kept.sqlite3'}"}
    id_ = share_api(create_app(config).test_client(), {"source": SUM}).json["id"]
    restarted = create_app(config).test_client()
    assert restarted.get(f"/p/{id_}.json").json["source"] == SUM
    assert restarted.get(f"/p/{id_}").status_code == 200


def test_concurrent_shares_of_the_same_and_different_programs(app):
    app.config["SHARE_RATE_PER_MINUTE"] = 0  # one client address for all: no rate limit here
    sources = [f"r0 = {i % 4}\nexit\n" for i in range(24)]
    barrier = threading.Barrier(6)

    def share(source: str):
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        response = share_api(app.test_client(), {"source": source})
        return response.status_code, response.json["id"]

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(share, sources))
    assert {status for status, _ in results} <= {200, 201}
    assert sum(status == 201 for status, _ in results) == 4
    ids = {source: {id_ for (_, id_), s in zip(results, sources) if s == source} for source in set(sources)}
    assert all(len(found) == 1 for found in ids.values()) and len({next(iter(v)) for v in ids.values()}) == 4


def test_too_many_shares_are_refused_with_retry_after(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}",
                      "SHARE_RATE_PER_MINUTE": 6, "SHARE_BURST": 2})
    client = app.test_client()
    assert [share_api(client, {"source": f"r0 = {i}\nexit\n"}).status_code for i in range(2)] == [201, 201]
    refused = share_api(client, {"source": "exit"})
    assert refused.status_code == 429 and refused.json["error"]["message"]
    assert refused.headers["Retry-After"] == "10"
    client.get("/")
    token = client.get_cookie("session")
    assert token is not None
    html_page = client.post("/share", data={"source": "exit", "mem": "", "max_insns": "9",
                                            "csrf_token": _csrf(client)})
    assert html_page.status_code == 429 and html_page.headers["Retry-After"]
    other = share_api(client, {"source": "exit"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 201  # another client has its own bucket


def _csrf(client) -> str:
    page = client.get("/").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.take("a"), limiter.take("a")] == [0.0, 0.0]
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") == 0.0
    now[0] = 0.5
    assert limiter.take("a") == pytest.approx(0.5)
    now[0] = 1.0
    assert limiter.take("a") == 0.0
    assert RateLimiter(per_minute=0, burst=1).take("a") == 0.0  # off
    assert retry_after(0.01) == "1" and retry_after(2.2) == "3"


def test_the_setup_document_is_stored_as_canonical_json(app, client):
    id_ = share_api(client, {"source": "exit", "env": {"comm": "é"}}).json["id"]
    with app.app_context():
        from app.store import engine

        stored = shares.load(engine(), id_).setup
    assert stored == '{"env":{"comm":"é"},"source":"exit","type":"raw"}'
    assert shares.share_id(stored) == id_
    assert json.loads(client.get(f"/p/{id_}.json").get_data(as_text=True)) == json.loads(stored)


def test_a_verify_body_can_be_shared_too(client):
    body = {"source": "r0 = 2\nexit\n", "type": "xdp", "options": {"max_processed": 1000, "walk": True}}
    id_ = share_api(client, body).json["id"]
    default_packet = {"packet_fields": {"l3": "ipv4", "l4": "udp", "payload": "hello"}}  # what the page runs on
    assert client.get(f"/p/{id_}.json").json == {**body, "input": default_packet}
    assert client.post("/api/v1/verify", json=client.get(f"/p/{id_}.json").json).json["verdict"] == "accept"


def test_a_page_share_of_the_packet_builder_runs_the_same_through_the_api(client, post_form):
    source = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = r3\nr0 -= r2\nexit\n"  # returns the length
    id_ = shared_id(post_form("/share", source=source, type="xdp", packet_from="fields", l3="ipv6", l4="tcp",
                              payload="four", ip_dst="fd00::9"))
    setup = client.get(f"/p/{id_}.json").json
    assert setup["input"] == {"packet_fields": {"l3": "ipv6", "l4": "tcp", "payload": "four", "ip_dst": "fd00::9"}}
    assert client.post("/api/v1/run", json=setup).json["retval"] == 14 + 40 + 20 + 4
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    assert '<code class="retval">0x4e</code>' in page


# --- review findings: what a share stores is what runs ---------------------------------------------------

def _page_retval(client, id_: str) -> str:
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    match = re.search(r'<code class="retval">([^<]+)</code>', page)
    assert match, "the shared page shows no return value"
    return match.group(1)


@pytest.mark.parametrize("body", [
    {"source": "r0 = *(u16 *)(r1 + 0)\nexit\n", "type": "raw", "input": {"mem": "3412"}},
    {"source": "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = r3\nr0 -= r2\nexit\n", "type": "xdp",
     "input": {"packet_spec": "eth/ipv4/udp/payload(hello)"}},
    {"source": "r0 = *(u64 *)(r1 + 112)\nexit\n", "type": "kprobe", "input": {"ctx": {"rdi": 0x2A}}},
])
def test_an_api_share_opens_with_the_result_the_api_runs(client, body):
    id_ = share_api(client, body).json["id"]
    setup = client.get(f"/p/{id_}.json").json
    retval = client.post("/api/v1/run", json=setup).json["retval"]
    assert retval != 0
    assert int(_page_retval(client, id_), 0) == retval


@pytest.mark.parametrize("body, field", [
    ({"source": "exit", "type": "raw", "input": {"packets": ["01"]}}, "input.packets"),  # the page shows mem only
    ({"source": "exit", "type": "raw", "input": {"ctx": {"di": 1}}}, "input.ctx"),
    ({"source": "exit", "type": "xdp", "input": {"mem": "00"}}, "input.mem"),
    ({"source": "exit", "type": "kprobe", "input": {"packet": "00" * 14}}, "input.packet"),
    ({"source": "exit", "type": "kprobe", "input": {"event": "x"}}, "input.event"),
    ({"source": "exit", "type": "tracepoint", "input": {"event": "x" * 500_000}}, "input.event"),
    ({"source": "exit", "type": "tracepoint", "input": {"event": "syscalls/sys_enter_openat",
                                                        "strings": {"nope": "x"}}}, "input.strings.nope"),
    ({"source": "exit", "seeds": [{"map": "m" * 500_000, "key": "00", "value": "00"}]}, "seeds[0].map"),
    ({"source": "exit", "seeds": [{"map": 10 ** 30, "key": "00", "value": "00"}]}, "seeds[0].map"),
    ({"source": "exit", "type": "kprobe", "input": {"ctx": {"k" * 3000: 1}}}, "input.ctx"),
    ({"source": "exit", "type": "kprobe", "input": {"ctx": {"nope": 1}}}, "input.ctx.nope"),
    ({"source": "exit", "type": "kprobe", "input": {"ctx": {"di": 10 ** 300}}}, "input.ctx.di"),
    ({"source": "exit", "type": "tracepoint", "input": {"event": "syscalls/sys_enter_openat",
                                                        "ctx": {"flags": 10 ** 300}}}, "input.ctx.flags"),
    ({"source": "exit", "type": "kprobe", "input": {"ctx": {"di": 1, "rdi": 2}}}, "input.ctx.rdi"),
    ({"source": "exit", "env": {"pid": 10 ** 300}}, "env.pid"),
    ({"source": "exit", "view": {"step": 10 ** 1000}}, "view.step"),
    ({"source": "exit", "view": {"step": 1_000_002}}, "view.step"),
    ({"source": "exit", "view": {"run": 65}}, "view.run"),
])
def test_a_share_is_checked_as_the_api_run_checks_it(client, body, field):
    response = share_api(client, body)
    assert response.status_code == 400, response.json
    assert response.json["error"]["field"] == field
    if field not in ("input.packets", "input.ctx.rdi") and not field.startswith("view."):
        ran = client.post("/api/v1/run", json=body)  # the run path refuses it the same way
        assert ran.status_code == 400 and ran.json["error"]["field"] == field


def test_a_setup_larger_than_the_limit_is_refused_with_413(app, client):
    app.config["MAX_PACKETS"] = 1000
    packet = "00" * 60_000  # each within the input limit, together past what a share stores
    response = share_api(client, {"source": "r0 = 0\nexit\n", "type": "xdp", "input": {"packets": [packet] * 2},
                                  "seeds": [{"map": 0, "key": "00", "value": "00" * 60_000}] * 4})
    assert response.status_code == 413
    assert "can be shared" in response.json["error"]["message"]


def test_the_same_content_gets_the_same_id(client):
    by_alias = share_api(client, {"source": "exit", "type": "kprobe", "input": {"ctx": {"rdi": 7, "arg2": 1}}})
    by_name = share_api(client, {"source": "exit", "type": "kprobe", "input": {"ctx": {"di": 7, "si": 1}}})
    assert by_alias.json["id"] == by_name.json["id"]
    assert client.get(f"/p/{by_name.json['id']}.json").json["input"] == {"ctx": {"di": 7, "si": 1}}
    padded = share_api(client, {"source": "exit", "type": "xdp",
                                "input": {"packet_fields": {"l3": " ipv6 ", "ip_dst": " fd00::9", "payload": " a "}}})
    plain = share_api(client, {"source": "exit", "type": "xdp",
                               "input": {"packet_fields": {"l3": "ipv6", "ip_dst": "fd00::9", "payload": " a "}}})
    assert padded.json["id"] == plain.json["id"]
    assert client.get(f"/p/{plain.json['id']}.json").json["input"]["packet_fields"] == \
        {"l3": "ipv6", "ip_dst": "fd00::9", "payload": " a "}  # the payload is data: kept as typed


def test_a_share_json_goes_to_run_and_to_verify(client):
    body = {"source": ".map m type=array key_size=4 value_size=4 max_entries=1\nr0 = 2\nexit\n", "type": "xdp",
            "input": {"packet_spec": "eth/ipv4/udp"}, "env": {"pid": 7},
            "seeds": [{"map": "m", "key": "00000000", "value": "01000000"}],
            "options": {"max_insns": 50, "max_processed": 500, "walk": True}, "view": {"step": 1}}
    id_ = share_api(client, body).json["id"]
    setup = client.get(f"/p/{id_}.json").json
    ran = client.post("/api/v1/run", json=setup)
    assert ran.status_code == 200 and ran.json["retval"] == 2
    verified = client.post("/api/v1/verify", json=setup)
    assert verified.status_code == 200 and verified.json["verdict"] == "accept" and "walk" in verified.json
    assert share_api(client, setup).json["id"] == id_  # and back to share: the same setup


def test_public_url_makes_the_links_not_the_host_header(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'u.sqlite3'}",
                      "PUBLIC_URL": "https://ebpf.example.org/"})
    client = app.test_client()
    response = share_api(client, {"source": "exit"}, headers={"Host": "evil.example"})
    id_ = response.json["id"]
    assert response.json["url"] == f"https://ebpf.example.org/p/{id_}"
    page = client.get(f"/p/{id_}", headers={"Host": "evil.example"}).get_data(as_text=True)
    assert f'<meta property="og:url" content="https://ebpf.example.org/p/{id_}">' in page
    assert "evil.example" not in page


def test_the_embed_is_cacheable_and_holds_no_session(client):
    id_ = share_api(client, {"source": "r0 = 1\nexit\n"}).json["id"]
    fresh = client.application.test_client()  # no session cookie yet
    response = fresh.get(f"/embed/{id_}")
    assert response.status_code == 200
    assert response.cache_control.public and response.cache_control.max_age == 300
    assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", "")
    assert "csrf" not in response.get_data(as_text=True)
    assert fresh.get_cookie("session") is None


# --- a packet hook without an input, and the embed -------------------------------------------------------

LENGTH = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = r3\nr0 -= r2\nexit\n"  # returns the packet's length


def test_a_packet_hook_shared_without_input_stores_the_packet_its_page_runs_on(client):
    body = {"source": LENGTH, "type": "xdp"}
    assert client.post("/api/v1/run", json=body).status_code == 400  # the API names no packet for you
    id_ = share_api(client, body).json["id"]
    setup = client.get(f"/p/{id_}.json").json
    assert setup["input"] == {"packet_fields": {"l3": "ipv4", "l4": "udp", "payload": "hello"}}  # the fresh builder
    ran = client.post("/api/v1/run", json=setup)
    assert ran.status_code == 200, ran.json
    assert ran.json["retval"] == 14 + 20 + 8 + len("hello")
    assert int(_page_retval(client, id_), 0) == ran.json["retval"]
    assert share_api(client, setup).json["id"] == id_
    fresh = client.get("/?example=xdp-filter").get_data(as_text=True)  # the builder as a fresh page holds it
    assert re.search(r'name="payload"[^>]*value="hello"', fresh)


def test_the_embed_links_after_the_run_to_the_full_page(client):
    source = ".map m type=array key_size=4 value_size=4 max_entries=1\n" + LENGTH
    id_ = share_api(client, {"source": source, "type": "xdp",
                             "seeds": [{"map": "m", "key": "00000000", "value": "01000000"}]}).json["id"]
    embed = client.get(f"/embed/{id_}").get_data(as_text=True)
    links = re.findall(r'<p class="after-links">(.*?)</p>', embed, re.DOTALL)
    assert links and 'href="#' not in links[0]  # the embed has no such sections
    assert f'<a href="http://localhost/p/{id_}#packet-out" target="_blank" rel="noopener">' in links[0]
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    assert '<a href="#packet-out">' in page and 'id="packet-out"' in page  # where the embed's link lands


def test_the_embed_lists_every_packets_run(client):
    id_ = share_api(client, {"source": LENGTH, "type": "xdp",
                             "input": {"packet_spec": ["eth/ipv4/udp", "eth/ipv6/tcp/payload(abc)"]}}).json["id"]
    embed = client.get(f"/embed/{id_}").get_data(as_text=True)
    runs = re.search(r'<section id="embed-runs".*?</section>', embed, re.DOTALL)
    assert runs, "the embed does not show the other packets"
    items = re.findall(r"<li.*?</li>", runs.group(0), re.DOTALL)
    assert len(items) == 2
    assert "0x2a" in items[0] and "IPv4" in items[0] and "0x4d" in items[1] and "IPv6" in items[1]
    assert f'href="http://localhost/p/{id_}#runs"' in runs.group(0)


@pytest.mark.parametrize("source, verdict", [
    ("r0 = 2\nexit\n", "accepted as xdp: processed 2 insns"),
    ("r0 = 0\nr1 = r2\nexit\n", "rejected at insn 1 (line 2): <code>R2 !read_ok</code>"),
])
def test_the_embed_shows_the_verifiers_verdict(client, source, verdict):
    id_ = share_api(client, {"source": source, "type": "xdp"}).json["id"]
    embed = client.get(f"/embed/{id_}").get_data(as_text=True)
    check = re.search(r'<p id="embed-check"[^>]*>(.*?)</p>', embed, re.DOTALL)
    assert check, "the embed shows no verifier verdict"
    assert verdict in " ".join(check.group(1).split())


def test_the_embed_escapes_the_verifiers_message(client):
    id_ = share_api(client, {"source": "r0 = 0\ncall 999999\nexit\n", "type": "xdp"}).json["id"]
    check = re.search(r'<p id="embed-check"[^>]*>(.*?)</p>', client.get(f"/embed/{id_}").get_data(as_text=True),
                      re.DOTALL)
    assert check and "rejected at insn 1" in check.group(1) and "<script" not in check.group(1)
