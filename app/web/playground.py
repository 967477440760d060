"""The playground page: pick a hook, write a program, give it an input, run it, step through the run.

Routes (all answer a full page to a plain request and a fragment to htmx, see ``render.py``):

``GET /`` (``?example=slug``, and ``step``, ``run``, ``walk``, ``break`` as in ``view_args``)
    the page with an example loaded and already run (default: the first example); 404 for an unknown slug.
``POST /run`` (the form of ``forms.py``: ``source``, ``type``, the hook's input fields, ``env_*``, seeds,
``max_insns``, ``step``, ``run``, ``csrf_token``; multipart when it carries a ``pcap`` upload)
    assemble and run; htmx gets ``_result.html`` plus out-of-band updates of the fields' error messages
    and of the declared maps. 422 when a field cannot be used; an assembly error or a fault is a result.
    With ``Accept: application/x-ndjson`` (the page's script) htmx gets progress records and then that
    fragment in one streamed response (``progress.py``).

The engine work of each request is held to ``Limits.run_seconds`` (503 past it, ``progress.py``).
``POST /step`` (the same fields, sent by the step form with the inputs of the result on screen)
    htmx gets ``_step.html`` for position ``step`` of run ``run``; if the inputs no longer run, the whole
    result instead. ``to`` runs to an instruction, ``go`` (``continue``, ``reverse``) to the next or previous
    breakpoint hit of ``break`` from position ``at``, and ``toggle`` sets or clears a breakpoint there
    (``breakpoints.py``); ``/run`` takes them too (the step form without JavaScript posts there).
``POST /walk`` (the same fields plus ``walk``, sent by the walk form with the inputs of the result on screen)
    htmx gets ``_walk.html`` at event ``walk`` of the verifier's walk; if the program no longer builds
    or names no hook, the whole result instead.
``POST /input`` (the editor's fields, as ``/run`` takes them; htmx leaves out ``source`` and ``pcap``)
    htmx gets the input panel (``_input.html``) for the hook ``type``, keeping the values sent (the hook
    picker, the packet's layers and the tracepoint event ask for it when they change); a plain request
    (the "Show its inputs" button of a browser without JavaScript) gets the page for those fields, run as
    ``/run`` runs it and within the same rate limit. A POST, so that neither the program nor the CSRF token
    goes into a URL (where servers refuse long ones and logs keep them); ``GET /input`` is a 405 saying so.
``POST /map`` (the editor's fields plus the map declaration panel's, ``mapform.FIELDS``)
    the page with the panel's ``.map`` line put in the program (``mapform.py``) and run as ``/run`` runs it,
    within the same rate limit; 422 with the panel's problems by field. The panel's button submits the whole
    editor form there, with or without JavaScript (``static/js/mapform.js`` keeps htmx out of it).

``GET /`` builds an example's page once per place on it (``pagecache.py``); a page built afresh counts
against the client's run limit (``ratelimit.RUNS``), as every request that runs or verifies a program does.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from flask import Blueprint, abort, current_app, make_response, render_template, request
from werkzeug.exceptions import MethodNotAllowed

from . import breakpoints, pagecache, ratelimit
from .abstractview import abstract_view
from .checkview import verified, verifier_check
from .contexts import Breakpoints, ExampleLink, PlaygroundPage
from .examples import BY_SLUG, DEFAULT, MENU, Example
from .forms import CHECKED, LANG_ASM, LANGUAGES, RunForm
from .highlight import highlight_source
from .inputs import FieldError, Limits
from .mapform import FIELDS, MapForm, map_line, with_map
from .panels import editor_context, input_panel
from .present import listing, result_context, run_setting
from .progress import Progress, stream, wants_stream
from .render import page_or_fragment, render_fragments
from .runs import Outcome, check, execute, program_of
from .setups import setup_key, view_fields
from .stepview import step_context
from .walkview import start_index, walk_view

bp = Blueprint("playground", __name__)

RESULT_FRAGMENTS = ("playground/_result.html", "playground/_field_errors.html")


def _limits() -> Limits:
    return Limits.from_config(current_app.config)


def _outcome(form: RunForm, limits: Limits, errors: Mapping[str, str],
             progress: Progress | None = None) -> tuple[Outcome | None, dict[str, str], int]:
    """The engine's outcome for a form (None when a field is unusable), the field errors, and the step."""
    req, found = check(form, limits)
    found = {**found, **errors}
    if req is None or found:
        return None, found, 0
    try:
        return execute(req, form, progress), {}, req.step
    except FieldError as e:
        return None, {e.field: e.message}, 0


def build_page(form: RunForm, limits: Limits, example: Example | None = None,
               errors: Mapping[str, str] | None = None, progress: Progress | None = None) -> tuple[PlaygroundPage, int]:
    """The whole page for a form, and the HTTP status it deserves (422 when a field was unusable).
    ``progress`` sees the engine's work and may stop it (``progress.py``)."""
    outcome, errors, step = _outcome(form, limits, errors or {}, progress)
    step, marks = navigate(outcome, form, step)
    asm_error = outcome.asm_error if outcome else None
    links = tuple(ExampleLink(e.slug, e.title, e.summary, e.type, e is example) for e in MENU)
    selected = next((link for link in links if link.selected), None)
    editor = editor_context(form, errors, asm_error, outcome.program if outcome else None, limits)
    result = result_context(form, errors, outcome, step, progress)
    result = replace(result, inputs=replace(result.inputs, setup=setup_key(form, limits)))
    if result.step is not None:
        result = replace(result, step=replace(result.step, breakpoints=marks))
    checked = None
    if outcome is not None and outcome.program is not None and result.verdict is not None:
        checked = verified(outcome.program, form.prog_type, limits.verify_insns, progress=progress,
                           privileged=form.privileged)
    if checked is not None:
        program = outcome.program
        result = replace(result, check=verifier_check(program, checked, limits.verify_insns, form.prog_type,
                                                      form.privileged),
                         walk=walk_view(program, checked, _walk_index(form, checked), result.listing),
                         step=_with_abstract(result.step, program, checked, outcome.result,
                                             lambda: verified(program, form.prog_type, limits.verify_insns, True,
                                                              progress, form.privileged)))
        if result.check.verdict == "reject" and result.check.line:
            editor = replace(editor, error_line=result.check.line)  # the gutter marks the rejected line
    page = PlaygroundPage(editor, links, selected, limits, result, view_fields(result))
    return page, 422 if errors else 200


def _result_response(form: RunForm, limits: Limits, errors: Mapping[str, str], retarget: str | None = None):
    """The result for htmx, with out-of-band updates of the editor's error messages unless the request
    came from the step form (whose inputs may no longer be the editor's); the page otherwise."""
    page, status = build_page(form, limits, errors=errors, progress=_budget(limits))
    return page_or_fragment(*_result_fragments(page), lambda: ("playground/page.html", page), status,
                            retarget=retarget)


def _result_fragments(page: PlaygroundPage) -> tuple[tuple[str, ...], dict]:
    fragments = RESULT_FRAGMENTS if request.form.get("origin") != "stepper" else RESULT_FRAGMENTS[:1]
    return fragments, {"result": page.result, "editor": page.editor, "oob": True}


def _streamed_result(form: RunForm, limits: Limits, progress: Progress) -> tuple[str, int]:
    """The htmx fragment of ``_result_response`` and its status, built under ``progress``."""
    page, status = build_page(form, limits, progress=progress)
    return render_fragments(*_result_fragments(page)), status


def _budget(limits: Limits) -> Progress:
    """The time limit of a request that reports to nobody."""
    return Progress(limits.run_seconds)


VIEW_ARGS = ("step", "run", "walk")


def view_args(args: Mapping[str, str]) -> dict[str, str]:
    """The form fields a URL sets to open a page where it says: ``?step=N`` (position in the run), ``run=R``
    (which packet's run), ``walk=E`` (the verifier walk's event) and ``break=3,7`` (the stepper's
    breakpoints, as ``breaks``), which the page's scripts keep in the address bar so that a reload,
    back/forward and a copied link show the same place. For the first three anything but a plain number is
    ignored (the views clamp numbers into range); the breakpoints are checked against the program, which says
    what is wrong with them. All that a page of a fixed setup depends on besides the setup, so part of the
    key its page is kept under (``fixed_page``)."""
    given = {k: args[k] for k in VIEW_ARGS if _number(args.get(k, ""))}
    if args.get("break"):
        given["breaks"] = args["break"][:breakpoints.MAX_TEXT + 1]
    return given


def fixed_page(name: tuple[str, str], form: RunForm, args: Mapping[str, str], limits: Limits,
               example: Example | None = None) -> tuple[PlaygroundPage, int]:
    """``build_page`` for the setup ``form`` that never changes (``name``: ``("example", slug)`` or
    ``("share", id)``) opened where ``args`` say (``view_args``): kept by ``pagecache.cached`` under
    the name and the place, and counted against the client's run limit when built."""
    given = view_args(args)
    opened = replace(form, **given) if given else form
    key = (*name, tuple(sorted(given.items())))
    return pagecache.cached(key, lambda: build_page(opened, limits, example, progress=_budget(limits)))


@bp.get("/")
def index():
    slug = request.args.get("example", DEFAULT.slug)
    example = BY_SLUG.get(slug)
    if example is None:
        abort(404, description="There is no example with that name.")
    limits = _limits()
    page, status = fixed_page(("example", example.slug), example.form(limits), request.args, limits, example)
    return render_template("playground/page.html", page=page), status


@bp.post("/run")
def run_program():
    limits = _limits()
    form, errors = RunForm.from_request(request.form, request.files, limits)
    if wants_stream() and not errors and not check(form, limits)[1]:  # refused fields answer 422 at once
        return stream(lambda progress: _streamed_result(form, limits, progress), limits.run_seconds)
    return _result_response(form, limits, errors)


@bp.post("/step")
def step():
    limits = _limits()
    form = RunForm.from_form(request.form, limits)
    budget = _budget(limits)
    outcome, errors, index = _outcome(form, limits, {}, budget)
    if outcome is None or outcome.program is None or outcome.result is None:
        return _result_response(form, limits, errors, retarget="#result")
    index, marks = navigate(outcome, form, index)
    context = replace(step_context(outcome.program, outcome.result, index, run_setting(form, outcome), budget),
                      breakpoints=marks)
    checked = verified(outcome.program, form.prog_type, limits.verify_insns, progress=budget,
                       privileged=form.privileged)
    context = _with_abstract(context, outcome.program, checked, outcome.result,
                             lambda: verified(outcome.program, form.prog_type, limits.verify_insns, True, budget,
                                              form.privileged))
    return page_or_fragment(("playground/_step.html",), {"step": context},
                            lambda: ("playground/page.html", build_page(form, limits, progress=_budget(limits))[0]))


def navigate(outcome: Outcome | None, form: RunForm, step: int) -> tuple[int, Breakpoints]:
    """The position to show and the breakpoints: position ``step``, unless the step form asked to run to an
    instruction (``to``), to continue to a breakpoint (``go``) or to toggle one (``toggle``), which start from
    the position on screen (``at``; ``step`` when it is not given)."""
    trace = outcome.result.trace if outcome is not None and outcome.result is not None else None
    if outcome is None or outcome.program is None or trace is None:
        return step, Breakpoints()
    marks = breakpoints.parse(form.breaks, outcome.program, form.toggle)
    at = form.at.strip()
    start = min(int(at), len(trace)) if _number(at) else step
    if form.go:
        return breakpoints.go(trace, marks, start, form.go)
    if form.to:
        return run_to(outcome, start, form.to), marks
    return (start if form.toggle else step), marks


def run_to(outcome: Outcome | None, step: int, to: str) -> int:
    """"Run to here": the position of the next time instruction ``to`` is about to run, after ``step``
    (the position stays when the run never gets there again)."""
    if outcome is None or outcome.result is None or outcome.result.trace is None or not _number(to):
        return step
    hit = outcome.result.trace.next_hit((int(to),), step)
    return step if hit is None else hit


def _number(text: str) -> bool:
    """A plain decimal number of at most 9 digits (``isdigit`` alone takes ``²``, which ``int`` refuses)."""
    return text.isascii() and text.isdigit() and len(text) <= 9


def _walk_index(form: RunForm, result) -> int:
    text = form.walk.strip()
    return int(text) if text.isdigit() and len(text) < 10 else start_index(result)


def _with_abstract(step, program, checked, run, exact):
    """The step view with the verifier's state at its instruction beside the run's registers (``exact``
    gives the exactly-pruned walk, asked for only when the real one does not cover the run)."""
    if step is None or checked is None or run is None or run.trace is None or step.status != "next":
        return step
    machine = run.trace.state_at(step.index)
    return replace(step, abstract=abstract_view(program, checked, machine.pc, machine.regs,
                                                len(machine.frames) + 1, exact))


@bp.post("/walk")
def walk():
    limits = _limits()
    form = RunForm.from_form(request.form, limits)
    program = program_of(form, limits) if form.unprivileged in ("", CHECKED) else None  # else the form's errors
    checked = verified(program, form.prog_type, limits.verify_insns, progress=_budget(limits),
                       privileged=form.privileged) if program is not None else None
    view = walk_view(program, checked, _walk_index(form, checked), listing(program, form.source, form.language)) \
        if checked is not None else None
    if view is None:
        return _result_response(form, limits, {}, retarget="#result")
    return page_or_fragment(("playground/_walk.html",), {"walk": view, "fields": form.hidden_fields()},
                            lambda: ("playground/page.html", build_page(form, limits, progress=_budget(limits))[0]))


@bp.post("/input")
def input_fields():
    limits = _limits()
    form, errors = RunForm.from_request(request.form, request.files, limits)

    def page() -> PlaygroundPage:
        ratelimit.require(ratelimit.RUNS)  # only the whole page runs the program
        return build_page(form, limits, errors=errors, progress=_budget(limits))[0]

    return page_or_fragment(("playground/_input.html",), {"panel": input_panel(form, {}, limits), "limits": limits},
                            lambda: ("playground/page.html", page()))


@bp.post("/map")
def add_map():
    """The map declaration panel's button (``mapform.py``): the page with the ``.map`` line added to the
    program and the program run, or 422 with the panel's problems by field."""
    limits = _limits()
    form, errors = RunForm.from_request(request.form, request.files, limits)
    values = {name: request.form.get(name, "") for name in FIELDS}
    line, problems = map_line(values, form.source, form.language)
    if line is not None:
        form = replace(form, source=with_map(form.source, line))
        values = {}
    else:
        errors = {**errors, **problems}
    ratelimit.require(ratelimit.RUNS)
    page, status = build_page(form, limits, errors=errors, progress=_budget(limits))
    editor = replace(page.editor, seeds_open=True, map_form=MapForm(values, added=line or ""))
    return render_template("playground/page.html", page=replace(page, editor=editor)), status


@bp.get("/input")
def input_fields_by_get():
    raise MethodNotAllowed(valid_methods=["POST"], description=(
        "The inputs of a hook are asked for with the editor's form (POST /input), so that the program stays "
        "out of the address. Go back to the playground and use the Show its inputs button."))


@bp.post("/highlight")
def highlight():
    limits = _limits()
    source = request.form.get("source")
    language = request.form.get("language", LANG_ASM)
    if source is None:
        abort(400, description="The field source is missing: send the program to highlight.")
    if len(source.encode()) > limits.source_bytes:
        abort(400, description=f"The field source is larger than the {limits.source_bytes:,} bytes allowed.")
    if language not in LANGUAGES:
        abort(400, description=f"The field language must be one of {', '.join(LANGUAGES)}.")
    response = make_response(highlight_source(source, language))
    response.mimetype = "text/html"
    return response
