"""Security headers on every response.

The Content-Security-Policy allows scripts, styles and images from this site only (images also as ``data:``
URLs), no plugins, no ``<base>``, no framing and no form posts elsewhere. Pages therefore have no inline
scripts, inline event handlers or ``style`` attributes; htmx is told not to inject its indicator styles and
never to ``eval`` (see the ``htmx-config`` meta tag in ``templates/base.html``). Framing is refused twice:
by the policy's ``frame-ancestors 'none'`` and, for browsers that predate it, by ``X-Frame-Options: DENY``.

The one exception is every response under ``/embed/`` (``framable``): the read-only embeds other sites put
in an ``<iframe>`` (``share.py``), and the error pages of those addresses too (a 429 when the client runs
too much, a 404 for an unknown id), so that the frame shows the message instead of a blocked frame. They get
``EMBED_HEADERS``: the same policy with ``frame-ancestors *`` and no ``X-Frame-Options``.
"""
from __future__ import annotations

from flask import Flask, Response, request

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

EMBED_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors *")
"""The same policy, except that any site may frame the page: for ``/embed/`` only (``framable``)."""

EMBED_HEADERS = {
    "Content-Security-Policy": EMBED_CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""The headers of a response other sites may frame."""

HEADERS = {**EMBED_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Frame-Options": "DENY"}
"""The headers of every other response."""

EMBED_PREFIX = "/embed/"


def framable(path: str) -> bool:
    """Whether other sites may frame the response to ``path``: the embeds and their error pages."""
    return path.startswith(EMBED_PREFIX)


def add_security_headers(response: Response) -> Response:
    """``after_request`` (which also sees the answers of error handlers): the headers for the request's path,
    where the view did not set one itself."""
    for name, value in (EMBED_HEADERS if framable(request.path) else HEADERS).items():
        response.headers.setdefault(name, value)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
