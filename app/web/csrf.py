"""Cross-site request forgery protection for form posts.

Each session gets one random token (kept in Flask's signed session cookie). Pages put it in every form as
the hidden field ``csrf_token`` and in ``<meta name="csrf-token">``, from which ``static/js/csrf.js`` copies it
into an ``X-CSRF-Token`` header on every htmx request. Any request with an unsafe method (POST, PUT, PATCH,
DELETE) must carry the token in one of the two, or it is refused with 400 before its view runs.

Exempt are requests whose body is JSON (``Content-Type: application/json``), and the JSON API blueprint as a
whole, because it refuses every other content type with 415 before reading the body. A page on
another site cannot make a browser send such a request to us: an HTML form can only send
``application/x-www-form-urlencoded``, ``multipart/form-data`` or ``text/plain``, and ``fetch`` with a JSON
content type is not a "simple request", so the browser first asks us with a CORS preflight, which we never
grant. The exemption rests on that: if CORS is ever enabled for the API, this reasoning must be revisited.

The session cookie is sent with ``SameSite=Lax`` (set in ``init_app``), a second layer, not the only one.
"""
from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
_SESSION_KEY = "csrf_token"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_ONLY_BLUEPRINTS = frozenset({"api"})
"""Blueprints that accept nothing but JSON bodies (and so cannot be driven by a cross-site form)."""


def csrf_token() -> str:
    """This session's token, created on first use."""
    token = session.get(_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_SESSION_KEY] = token
    return token


def _sent_token() -> str:
    return request.headers.get(HEADER) or request.form.get(FIELD) or ""


def protect() -> None:
    """``before_request`` hook: refuse an unsafe, non-JSON request without this session's token."""
    if request.method not in _UNSAFE_METHODS or request.is_json or request.blueprint in JSON_ONLY_BLUEPRINTS:
        return
    if request.routing_exception is not None:
        return  # no view will run: let the 404 or 405 be the answer
    expected = session.get(_SESSION_KEY)
    sent = _sent_token()
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="This form has expired or did not come from this site. Reload the page and try again.")


def init_app(app: Flask) -> None:
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.before_request(protect)
    app.jinja_env.globals["csrf_token"] = csrf_token
