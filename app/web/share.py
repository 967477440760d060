"""Shared links: store a playground setup under a short id, and open, download and embed it.

Routes:

``POST /share`` (the editor's fields, as ``POST /run`` takes them, plus ``parent``: the share the page was
opened from, and where the page is looking: ``view_step``, ``view_run``, ``view_walk``, ``view_break``, see
``setups.VIEW_FORM_FIELDS``)
    store the setup and answer 303 to ``/p/<id>`` (htmx: ``HX-Redirect`` to it); 422 with the page and its
    field errors when a field cannot be used; 429 when this client shares too fast.
``POST /api/v1/share`` (in ``api.py``)
    the same from a JSON body: ``{"id", "url"}``, 201 (stored now) or 200 (shared before).
``GET /p/<id>``
    the playground with the setup loaded and run again (the engine is deterministic, so the result is the
    one that was shared), opened at the shared step, with the link, a Markdown snippet and the embed code.
    Editing and sharing again makes a new share whose ``parent`` is this one (a fork).
``GET /p/<id>.json``
    the setup (``setups.py``), which ``POST /api/v1/run``, ``/verify`` and ``/share`` take as it is.
``GET /p/<id>.s`` (or ``.c``)
    the program's source as text (as the page's editor opens it, ``setups.program_text``: a bytecode share's
    disassembly, maps declared beside the program as ``.map`` lines) (``?download`` makes it an attachment); the extension of the other language
    redirects to the right one.
``GET /embed/<id>``
    a read-only view for an ``<iframe>``: the program and its result. The only pages other sites may frame;
    it holds no session or CSRF token, so caches may keep it (``EMBED_MAX_AGE``).

``/p/<id>`` and ``/embed/<id>`` share the pages ``pagecache.py`` keeps (an embed is the page opened without
``?step=`` ...): a page built afresh counts against the client's run limit (``ratelimit.RUNS``, 429 past
it), a page kept costs no engine work and counts against nothing.

An unknown id, or text that is not an id, is a 404 (JSON for ``.json``). Links handed out (the share's URL,
``og:url``, the embed code) are built on ``PUBLIC_URL`` when it is configured, never on the ``Host`` header
the client sent (``external_url``). Creating shares is rate-limited per client (``ratelimit.SHARES``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from app import store
from app.store import shares

from .forms import RunForm
from .highlight import highlight_c_lines, highlight_lines
from .inputs import Limits
from .playground import RESULT_FRAGMENTS, build_page, fixed_page
from .ratelimit import SHARES, refuse
from .render import is_htmx, page_or_fragment
from .setups import canonical_json, check_setup, form_of_setup, form_with_view, program_text, setup_of_form

bp = Blueprint("share", __name__)

EMBED_MAX_AGE = 300
"""Seconds caches may keep an embed (it holds no session or CSRF token, and a share never changes; the
short time lets a new deployment's look reach embeds)."""


@dataclass(frozen=True)
class ShareView:
    """What a page shows about the share it was opened from: its ``id``, the absolute ``url`` of the page,
    of the ``json_url``, ``source_url`` (ending in ``source_extension``, ``s`` or ``c``) and ``embed_url``
    views, the ``markdown`` snippet (a code block and a link) and the ``embed_html`` (an ``<iframe>``); the
    ``parent_url`` when it is a fork; a ``title`` and ``description`` for link previews; and ``opened_as``,
    what the editor shows in place of the stored setup's parts: ``bytecode`` (its disassembly) and ``maps``
    (``.map`` lines), each present when the setup has it (``setups.program_text``)."""

    id: str
    url: str
    json_url: str
    source_url: str
    embed_url: str
    markdown: str
    embed_html: str
    parent_url: str | None
    title: str
    description: str
    source_extension: str
    opened_as: tuple[str, ...] = ()


@dataclass(frozen=True)
class EmbedPage:
    """Context of ``share/embed.html``: the ``share``, the program's highlighted ``lines``, the hook's
    ``type`` and the playground ``result`` (``ResultContext``) of running it."""

    share: ShareView
    lines: tuple[Markup, ...]
    type: str
    result: Any


def _limits() -> Limits:
    return Limits.from_config(current_app.config)


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of a page: on ``PUBLIC_URL`` when it is configured (so links never come from the
    client's ``Host`` header), else on the host of this request."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, **values, _external=True)


def _save(setup: dict[str, Any], parent: str | None) -> shares.StoredShare:
    return shares.save(store.engine(), canonical_json(setup), parent)


# --- creating ---------------------------------------------------------------------------------------------

def share_from_api(body: dict[str, Any]) -> Response:
    """``POST /api/v1/share``: check the body, store it, answer ``{"id", "url"}`` (201 new, 200 existing)."""
    refused = refuse(SHARES)
    if refused is not None:
        return refused
    stored = _save(check_setup(body, _limits()), None)
    response = jsonify({"id": stored.id, "url": external_url("share.view", share_id=stored.id)})
    response.status_code = 201 if stored.created else 200
    return response


@bp.post("/share")
def create():
    refused = refuse(SHARES)
    if refused is not None:
        return refused
    limits = _limits()
    form, errors = RunForm.from_request(request.form, request.files, limits)
    form = form_with_view(form, request.form)
    setup, problems = setup_of_form(form, limits) if not errors else (None, errors)
    if setup is None:
        page, _ = build_page(form, limits, errors=problems)
        return page_or_fragment(RESULT_FRAGMENTS, {"result": page.result, "editor": page.editor, "oob": True},
                                lambda: ("playground/page.html", page), 422)
    stored = _save(setup, request.form.get("parent") or None)
    url = url_for("share.view", share_id=stored.id)
    if is_htmx():  # a full navigation, not a swap
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


# --- reading ----------------------------------------------------------------------------------------------

def _load(share_id: str) -> shares.StoredShare:
    found = shares.load(store.engine(), share_id)
    if found is None:
        abort(404, description="There is no shared program at this address. Check the link, or ask for a new one.")
    return found


def share_view(found: shares.StoredShare, setup: dict[str, Any]) -> ShareView:
    """The links, snippets and preview text for a share."""
    url = external_url("share.view", share_id=found.id)
    embed_url = external_url("share.embed", share_id=found.id)
    source = program_text(setup)
    fence = "```"
    while fence in source:
        fence += "`"
    language = "c" if setup.get("language") == "c" else "asm"
    markdown = f"{fence}{language}\n{source.rstrip()}\n{fence}\n\n[Open in the eBPF Playground]({url})\n"
    embed_html = (f'<iframe src="{embed_url}" title="eBPF program {found.id}" width="720" height="480" '
                  f'loading="lazy"></iframe>')
    title, description = _preview(setup)
    parent_url = url_for("share.view", share_id=found.parent) if found.parent else None
    extension = _extension(setup)
    return ShareView(found.id, url, external_url("share.setup_json", share_id=found.id),
                     f"{url}.{extension}", embed_url, markdown, embed_html,
                     parent_url, title, description, extension,
                     tuple(part for part in ("bytecode", "maps") if part in setup))


def _preview(setup: dict[str, Any]) -> tuple[str, str]:
    """A title (the program's first comment, else its hook) and a description (its first instructions)."""
    lines = [line.strip() for line in program_text(setup).splitlines() if line.strip()]
    comments = [line.lstrip("#/; ").strip() for line in lines if line.startswith(("#", "//", ";"))]
    code = [line for line in lines if not line.startswith(("#", "//", ";", "."))]
    hook = setup["type"]
    title = comments[0] if comments and comments[0] else f"A shared eBPF program ({hook})"
    description = f"eBPF ({hook}), {len(code)} lines: " + "; ".join(code[:6])
    return title[:120], description[:300]


@bp.get("/p/<share_id>")
def view(share_id: str):
    found = _load(share_id)
    setup = json.loads(found.setup)
    limits = _limits()
    page, _ = fixed_page(("share", found.id), form_of_setup(setup, limits), request.args, limits)
    return render_template("playground/page.html", page=page, share=share_view(found, setup))


@bp.get("/p/<share_id>.json")
def setup_json(share_id: str):
    found = shares.load(store.engine(), share_id)
    if found is None:
        return jsonify({"error": {"message": "there is no shared program with this id", "field": "id"}}), 404
    return _immutable(current_app.response_class(found.setup, mimetype="application/json"))


@bp.get("/p/<share_id>.s", defaults={"extension": "s"})
@bp.get("/p/<share_id>.c", defaults={"extension": "c"})
def source(share_id: str, extension: str):
    """The source as text, named ``<id>.s`` or ``<id>.c`` after its language. The other extension redirects
    to it (permanently: a share never changes), so the URL always says what the text is."""
    found = _load(share_id)
    setup = json.loads(found.setup)
    if extension != _extension(setup):
        query = request.query_string.decode("ascii", "replace")
        url = url_for("share.source", share_id=found.id, extension=_extension(setup))
        return redirect(f"{url}?{query}" if query else url, 301)
    response = current_app.response_class(program_text(setup), mimetype="text/plain")
    disposition = "attachment" if "download" in request.args else "inline"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{found.id}.{_extension(setup)}"'
    return _immutable(response)


def _extension(setup: dict[str, Any]) -> str:
    return "c" if setup.get("language") == "c" else "s"


def _immutable(response: Response) -> Response:
    """A share never changes: caches may keep its JSON and source for good (not the page: it holds a
    session's CSRF token)."""
    response.cache_control.public = True
    response.cache_control.max_age = 365 * 24 * 3600
    response.cache_control.immutable = True
    return response


@bp.get("/embed/<share_id>")
def embed(share_id: str):
    found = _load(share_id)
    setup = json.loads(found.setup)
    limits = _limits()
    page, _ = fixed_page(("share", found.id), form_of_setup(setup, limits), {}, limits)  # the page at its place
    highlight = highlight_c_lines if setup.get("language") == "c" else highlight_lines
    context = EmbedPage(share_view(found, setup), tuple(highlight(program_text(setup).splitlines())),
                        setup["type"], page.result)
    response = make_response(render_template("share/embed.html", page=context))  # framable: security.py
    response.cache_control.public = True
    response.cache_control.max_age = EMBED_MAX_AGE
    return response
