"""The playground page: write a program, run it, step through the run.

Routes (all answer a full page to a plain request and a fragment to htmx, see ``render.py``):

``GET /`` (``?example=slug``)
    the page with an example loaded and already run (default: the first example); 404 for an unknown slug.
``POST /run`` (form: ``source``, ``mem``, ``max_insns``, ``step``, ``csrf_token``)
    assemble and run; htmx gets ``_result.html`` plus out-of-band updates of the fields' error messages.
    422 when a field cannot be used; an assembly error or a fault is a result (200).
``POST /step`` (the same fields, sent by the step form with the inputs of the result on screen)
    htmx gets ``_step.html`` for position ``step``; if the inputs no longer run, the whole result instead.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from .contexts import ExampleLink, PlaygroundPage
from .examples import BY_SLUG, DEFAULT, EXAMPLES, Example
from .inputs import FieldError, Limits
from .present import editor_context, result_context, step_context
from .render import page_or_fragment
from .runs import Outcome, RunForm, check, execute

bp = Blueprint("playground", __name__)

RESULT_FRAGMENTS = ("playground/_result.html", "playground/_field_errors.html")


def _limits() -> Limits:
    return Limits.from_config(current_app.config)


def _outcome(form: RunForm, limits: Limits) -> tuple[Outcome | None, dict[str, str], int]:
    """The engine's outcome for a form (None when a field is unusable), the field errors, and the step."""
    req, errors = check(form, limits)
    if req is None:
        return None, errors, 0
    try:
        return execute(req), {}, req.step
    except FieldError as e:
        return None, {e.field: e.message}, 0


def build_page(form: RunForm, limits: Limits, example: Example | None = None) -> tuple[PlaygroundPage, int]:
    """The whole page for a form, and the HTTP status it deserves (422 when a field was unusable)."""
    outcome, errors, step = _outcome(form, limits)
    asm_error = outcome.asm_error if outcome else None
    links = tuple(ExampleLink(e.slug, e.title, e.summary, e is example) for e in EXAMPLES)
    selected = next((link for link in links if link.selected), None)
    page = PlaygroundPage(editor_context(form, errors, asm_error), links, selected, limits,
                          result_context(form, errors, outcome, step))
    return page, 422 if errors else 200


@bp.get("/")
def index():
    slug = request.args.get("example", DEFAULT.slug)
    example = BY_SLUG.get(slug)
    if example is None:
        abort(404, description="There is no example with that name.")
    limits = _limits()
    page, status = build_page(RunForm(example.source, example.mem, str(limits.run_insns)), limits, example)
    return render_template("playground/page.html", page=page), status


@bp.post("/run")
def run_program():
    limits = _limits()
    page, status = build_page(RunForm.from_form(request.form, limits), limits)
    return page_or_fragment(RESULT_FRAGMENTS, {"result": page.result, "editor": page.editor, "oob": True},
                            lambda: ("playground/page.html", page), status)


@bp.post("/step")
def step():
    limits = _limits()
    form = RunForm.from_form(request.form, limits)
    outcome, errors, index = _outcome(form, limits)
    if outcome is None or outcome.program is None or outcome.result is None:
        page, status = build_page(form, limits)
        return page_or_fragment(RESULT_FRAGMENTS, {"result": page.result, "editor": page.editor, "oob": True},
                                lambda: ("playground/page.html", page), status, retarget="#result")
    context = step_context(outcome.program, outcome.result, index)
    return page_or_fragment(("playground/_step.html",), {"step": context},
                            lambda: ("playground/page.html", build_page(form, limits)[0]))
