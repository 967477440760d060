"""Security headers on every response.

The Content-Security-Policy allows scripts, styles and images from this site only (images also as ``data:``
URLs), no plugins, no ``<base>``, no framing (except the read-only ``/embed/<id>`` pages, see
``allow_framing``) and no form posts elsewhere. Pages therefore have no inline scripts, inline event handlers
or ``style`` attributes; htmx is told not to inject its indicator styles and
never to ``eval`` (see the ``htmx-config`` meta tag in ``templates/base.html``).
"""
from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


EMBED_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors *")
"""The same policy, except that any site may frame the page: for ``/embed/<id>`` only (``share.py``)."""


def allow_framing(response: Response) -> Response:
    """Let other sites put this response in an ``<iframe>`` (read-only embeds; every other page refuses)."""
    response.headers["Content-Security-Policy"] = EMBED_CONTENT_SECURITY_POLICY
    response.headers.pop("X-Frame-Options", None)
    return response


def add_security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
