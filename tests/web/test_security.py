"""Security headers, CSRF, error pages and request limits, across the whole app."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import ROOT, create_app
from app.web.security import CONTENT_SECURITY_POLICY

TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


def test_policy_is_the_strict_one():
    assert CONTENT_SECURITY_POLICY == CSP


@pytest.mark.parametrize("method, url", [
    ("get", "/"), ("get", "/static/css/app.css"), ("get", "/nope"), ("post", "/run"), ("get", "/api/v1/run"),
    ("post", "/api/v1/run"),
])
def test_security_headers_on_every_kind_of_response(client, method, url):
    with getattr(client, method)(url) as response:
        headers = response.headers
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Frame-Options"] == "DENY"  # for browsers that predate frame-ancestors
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


EMBED_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors *")


def assert_framable(response):
    headers = response.headers
    assert headers["Content-Security-Policy"] == EMBED_CSP
    assert "X-Frame-Options" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "same-origin"


def test_embeds_and_their_error_pages_may_be_framed(tmp_path):
    """Inside another site's iframe, a refused (429) or unknown (404) embed shows its message, not a blocked
    frame; everything else still refuses to be framed."""
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'e.sqlite3'}",
                      "RUN_RATE_PER_MINUTE": 1, "RUN_BURST": 1})
    client = app.test_client()
    ids = [client.post("/api/v1/share", json={"source": f"r0 = {i}\nexit\n"}).json["id"] for i in range(2)]
    built = client.get(f"/embed/{ids[0]}")  # the one token of this client's run bucket
    assert built.status_code == 200
    assert_framable(built)
    refused = client.get(f"/embed/{ids[1]}")
    assert refused.status_code == 429 and "Too many" in refused.get_data(as_text=True)
    assert_framable(refused)
    assert_framable(client.get("/embed/" + "0" * 16))  # 404
    for url in (f"/p/{ids[1]}", "/embedded", "/"):
        response = client.get(url)
        assert response.headers["Content-Security-Policy"] == CSP, url
        assert response.headers["X-Frame-Options"] == "DENY", url


# --- CSRF -------------------------------------------------------------------------------------------------

def test_form_post_without_token_is_refused(client):
    client.get("/")  # a session exists, but the form does not carry its token
    response = client.post("/run", data={"source": "exit"})
    assert response.status_code == 400
    assert "did not come from this site" in response.get_data(as_text=True)


def test_form_post_with_another_sessions_token_is_refused(app, csrf):
    stranger = app.test_client()
    stranger.get("/")
    assert stranger.post("/run", data={"source": "exit", "csrf_token": csrf}).status_code == 400


def test_token_in_field_or_header_is_accepted(client, csrf):
    assert client.post("/run", data={"source": "exit", "csrf_token": csrf}).status_code == 200
    assert client.post("/step", data={"source": "exit"}, headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
                       ).status_code == 200
    assert client.post("/run", data={"source": "exit"}, headers={"X-CSRF-Token": csrf + "x"}).status_code == 400


def test_htmx_post_without_token_is_refused(client):
    client.get("/")
    assert client.post("/step", data={"source": "exit"}, headers={"HX-Request": "true"}).status_code == 400


def test_session_cookie_is_samesite_lax_and_httponly(client):
    cookie = client.get("/").headers["Set-Cookie"]
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie


# --- errors -----------------------------------------------------------------------------------------------

def test_404_is_an_html_page_outside_the_api(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Page not found" in html and "Back to the playground" in html


def test_405_page(client):
    response = client.get("/run")
    assert response.status_code == 405 and "Method not allowed" in response.get_data(as_text=True)
    assert "POST" in response.headers["Allow"]


def test_oversize_form_body_is_413_page(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 2000
    response = client.post("/run", data={"source": "exit\n" * 1000, "csrf_token": "x"})
    assert response.status_code == 413 and response.mimetype == "text/html"
    assert "larger than the 2,000 bytes" in response.get_data(as_text=True)


def test_unexpected_exception_is_a_plain_500_without_traceback(app, client, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")
    monkeypatch.setattr("app.web.playground.execute", explode)
    monkeypatch.setattr("app.web.api.run", explode)
    page = client.get("/")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert "Something went wrong" in html
    assert "Traceback" not in html and "secret internals" not in html
    api = client.post("/api/v1/run", json={"source": "exit"})
    assert api.status_code == 500 and api.get_json()["error"]["message"].startswith("The server failed")
    assert "secret internals" not in api.get_data(as_text=True)
    assert "secret internals" in caplog.text  # logged for the operator


# --- no inline code anywhere (the CSP would block it) ----------------------------------------------------

INLINE = [
    (re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"\shx-on", re.I), "hx-on handler"),
]


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_have_no_inline_scripts_or_styles(template: Path):
    text = template.read_text()
    for pattern, what in INLINE:
        assert not pattern.search(text), f"{what} in {template.name}"


def test_rendered_pages_have_no_inline_scripts_or_styles(client):
    html = client.get("/").get_data(as_text=True)
    for pattern, what in INLINE:
        assert not pattern.search(html), what
    for src in re.findall(r'<script src="([^"]+)"', html):
        assert src.startswith("/static/")
        with client.get(src) as response:
            assert response.status_code == 200


def test_htmx_is_vendored_with_its_licence_and_version():
    folder = STATIC / "vendor" / "htmx"
    version = (folder / "VERSION").read_text()
    number = re.search(r"htmx\.org (2\.0\.\d+)", version).group(1)
    assert f'version:"{number}"' in (folder / "htmx.min.js").read_text()
    assert "BSD" in (folder / "LICENSE").read_text()


def test_page_configures_htmx_for_the_csp(client):
    html = client.get("/").get_data(as_text=True)
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html).group(1)
    assert '"includeIndicatorStyles": false' in config and '"allowEval": false' in config
