"""The one place that decides between a full page and an htmx fragment.

A request sent by htmx carries ``HX-Request: true`` and gets only the partial(s) it will swap in; any other
request (no JavaScript, a reload, a bookmark) gets the whole page, which includes the same partials. Views
never branch on htmx headers themselves.
"""
from __future__ import annotations

from typing import Any, Callable

from flask import Response, make_response, render_template, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def page_or_fragment(fragments: tuple[str, ...], context: dict[str, Any], page: Callable[[], tuple[str, Any]],
                     status: int = 200, retarget: str | None = None) -> Response:
    """The ``fragments`` rendered with ``context`` for htmx, else the page that ``page()`` names and builds.

    ``page`` is called only when the full page is wanted, so views can skip building what the fragment does
    not show. ``retarget`` (a CSS selector) tells htmx to swap the fragment somewhere other than where the
    request asked, e.g. an error that replaces the whole result instead of one step.
    """
    if is_htmx():
        response = make_response(render_fragments(fragments, context), status)
        if retarget:
            response.headers["HX-Retarget"] = retarget
            response.headers["HX-Reswap"] = "outerHTML"
    else:
        template, page_context = page()
        response = make_response(render_template(template, page=page_context), status)
    response.vary.add("HX-Request")
    return response


def render_fragments(fragments: tuple[str, ...], context: dict[str, Any]) -> str:
    """The body htmx gets: the ``fragments`` rendered with ``context``, one after another."""
    return "".join(render_template(name, **context) for name in fragments)
