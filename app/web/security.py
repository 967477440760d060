"""Security headers on every response.

The Content-Security-Policy allows scripts, styles and images from this site only (images also as ``data:``
URLs), no plugins, no ``<base>``, no framing and no form posts elsewhere. Pages therefore have no inline
scripts, inline event handlers or ``style`` attributes; htmx is told not to inject its indicator styles and
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


def add_security_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
