"""The JSON API, ``/api/v1/...``, mirroring the command line (``ebpf-playground asm | disasm | run``).

Requests are JSON objects sent with ``Content-Type: application/json`` (anything else: 415). Unknown fields
are refused rather than ignored, so that a client asking for something this server does not do yet (a
program type, maps) hears so; so are strings that are not valid Unicode (a ``\ud800`` escape alone). Every
4xx answer is ``{"error": {"message": str, "field": str, ...}}``, where ``field`` names the offending field by
its JSON path (``source``, ``input.mem``, ``options.max_insns``); assembly errors add ``line`` and ``col``,
decode errors ``pc``. The bodies are read and checked by ``jsonbody.py``.

``run``, ``verify`` and ``share`` take one body, the *setup*: ``source`` or ``bytecode``, ``type``, ``maps``,
``input``, ``env``, ``seeds``, ``options`` (``max_insns``, ``max_processed``, ``walk``, ``trace``, ``unprivileged``) and
``view``. Each checks all of it and uses what applies: ``run`` ignores ``walk`` and ``view`` (and
``max_processed`` unless ``unprivileged``); ``verify``
ignores ``input``, ``env``, ``seeds``, ``max_insns``, ``trace`` and ``view``. So a share's ``/p/<id>.json`` goes as it is to
either (``verify`` needs a program ``type``, which ``raw`` is not; a share of a packet hook given no input
stores the packet its page runs on, ``setups.DEFAULT_PACKET``). Both are rate-limited per client
(``ratelimit.py``): 429 with ``Retry-After``; and held to ``MAX_RUN_SECONDS`` of engine work (``progress.py``):
503 past it.

Every ``source`` is assembly unless ``"language": "c"``: C is compiled as the playground page compiles it
(sandboxed; the program whose section names the hook ``type``), and errors name its line and column.

``GET /api/v1/openapi.json``
    this API as OpenAPI 3.1, built from the same tables the bodies are checked against (``openapi.py``).
``POST /api/v1/assemble``
    ``{"source": str, "language"?: "asm" | "c", "type"?: str, "style"?: "asm" | "log"}`` ->
    ``{"bytecode": hex, "insns": [{"pc": int, "opcode": int, "text": str, "line": int | null}, ...]}``
``POST /api/v1/disassemble``
    ``{"bytecode": hex, "style"?: "asm" | "log"}`` -> ``{"text": str, "insns": [...]}`` (``line`` is null)
``POST /api/v1/run``
    ``{"source": str | "bytecode": hex, "type"?: str, "maps"?: [...], "input"?: {...}, "env"?: {...},
    "seeds"?: [...], "options"?: {"max_insns": int}}`` -> the CLI's ``run --json`` object: ``retval``,
    ``retval_name``, ``insns_executed``, ``fault``, ``packet_out``, ``maps``, ``output``; with several
    packets, the last run's object plus ``runs`` (each run's result without ``maps``). A fault is a result
    (200), not an error.

    ``type`` is ``raw`` (the default) or a program type (``xdp``, ``sched_cls``, ``kprobe`` ...). ``maps``
    declares maps for bytecode (``[{"type", "key_size", "value_size", "max_entries", "flags"?, "name"?}]``,
    referred to by position after the maps the source declares). ``input`` holds one of ``mem`` (hex),
    ``packet`` (hex), ``packets`` (a list of hex: run one after another on the same maps) or
    ``packet_spec`` (``"eth/ipv4(dst=10.0.0.2)/udp(dport=53)"``, or a list of them) or ``packet_fields``
    (the playground's layer form, ``{"l3": "ipv6", "ip_dst": "fd00::9", "dport": "80"}``: its field names and
    text, blank or missing fields taking the engine's defaults), plus for context hooks
    ``ctx`` (``{"di": 1}``: field names or aliases and integers), ``event`` and ``strings`` (tracepoints).
    Only the inputs the hook takes are accepted (``jsonbody.hook_inputs``): ``raw`` takes ``mem`` or a
    packet, packet hooks a packet, context hooks ``ctx`` (tracepoints also ``event`` and ``strings``).
    ``env`` sets what helpers see (``{"pid": 7, "comm": "nginx", "cpu": 1, ...}``); ``seeds`` sets map
    entries first (``[{"map": name or index, "key": hex, "value": hex}]``).

    ``"options": {"trace": {"offset"?: int, "limit"?: int, "run"?: int}}`` adds one page of the run's trace:
    ``trace``, what each step from ``offset`` did (``StepRecord.to_json``: ``step``, ``pc``, ``next_pc``,
    ``regs``, ``memory``, ``output``, ``frame_depth``, ``fault``, ``retval``), at most ``limit`` of them
    (default 100, at most 1,000: ``jsonbody.PAGE_SIZES``), and ``trace_page``, ``{"offset", "limit", "total",
    "next_offset"}`` (null on the last page; plus ``run``, whose trace it is, with several packets, by
    default the last). The page is computed in one pass from the trace's checkpoint before ``offset``.

    ``"options": {"unprivileged": true}`` runs the program as a user without ``CAP_BPF``, ``CAP_PERFMON`` or
    ``CAP_SYS_ADMIN`` could: it must load first, so the verifier checks it as that loader (within
    ``max_processed``). If it refuses (a program only root may load, or a hook other than ``socket_filter``
    and ``cgroup_skb``), nothing runs: 422, ``{"error": {"message", "field": "source", "verifier":
    {"accepted", "verdict", "error"}}}``; otherwise the answer adds that ``verifier`` object, as ``run --json``
    does. Without it nothing is verified (the playground runs what the kernel would refuse, to show why).

``POST /api/v1/verify``
    ``{"source": str | "bytecode": hex, "type": str, "maps"?: [...], "options"?: {"max_processed": int,
    "walk": bool, "unprivileged": bool}}`` -> the CLI's ``verify --json`` object (``unprivileged``: checked for a
    loader without capabilities, as ``verify --unpriv``; default false, root): ``accepted``, ``verdict`` (``accept``,
    ``reject``, or ``incomplete`` when the walk reached ``max_processed``, by default the server's limit,
    before a verdict), ``error`` (``{"insn", "message", "errno"}`` or null), ``stats`` (``processed_insns``,
    ``total_states``, ``peak_states``, ``max_states_per_insn``, ``max_pending``), ``log``, and with ``walk``
    the walk's events (all of them, and ``walk_truncated``); ``"walk": {"offset"?, "limit"?}`` gives one page
    of them instead, with ``walk_page`` as ``trace_page`` above. ``type`` is required: the verifier's rules depend on the program type. A rejection is a
    result (200), not an error.

``POST /api/v1/share``
    the setup (``source`` or ``bytecode``, and ``maps`` that the page can declare with ``.map`` lines; ``raw``
    with ``mem``, not a packet), with
    ``"view"?: {"step": int, "run": int, "walk": int, "break": [int]}`` (where the page opens) ->
    ``{"id": str, "url": str}``, 201 when stored now, 200 when that setup was shared before (the id comes from
    the content). 413 when the stored setup would be larger than ``Limits.setup_bytes``; 429 with
    ``Retry-After`` when this client shares too fast. See ``setups.py`` for the stored document, ``share.py`` for the pages.

``insns`` has one entry per instruction; ``pc`` is its slot index (``ld_imm64`` takes two slots, so indexes
can skip) and ``text`` is in the requested style: ``asm`` (default, what the assembler reads) or ``log``
(as the kernel verifier log prints it).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request, url_for

from app.ebpf import AsmError, DecodeError, InputError, Program, assemble, disassemble, load_bytes
from app.ebpf.asm import format_insn
from app.ebpf.maps import check_map
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.vm import RunResult, run, run_packets

from .forms import LANG_ASM, LANG_C, LANGUAGES, RAW
from .inputs import FieldError, Limits, check_source, parse_hex
from .jsonbody import SETUP_FIELDS, STYLES, ApiError, RunInputs, TracePage, map_defs, read_body, run_inputs, string
from .openapi import document
from .present import insn_rows
from .progress import Progress
from .runs import compile_program
from .share import share_from_api

bp = Blueprint("api", __name__, url_prefix="/api/v1")

_ENGINE_FIELDS = {"mem": "input.mem", "packet": "input.packet", "max_insns": "options.max_insns",
                  "layout": "input"}


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    return jsonify({"error": error.body}), error.status


@bp.errorhandler(FieldError)
def field_error(error: FieldError):
    return jsonify({"error": {"message": error.message, "field": error.field}}), 400


@bp.errorhandler(AsmError)
def asm_error(error: AsmError):
    return jsonify({"error": {"message": str(error), "field": "source", "line": error.line, "col": error.col}}), 400


@bp.errorhandler(DecodeError)
def decode_error(error: DecodeError):
    return jsonify({"error": {"message": str(error), "field": "bytecode", "pc": error.pc}}), 400


@bp.errorhandler(InputError)
def input_error(error: InputError):
    return jsonify({"error": {"message": error.message, "field": _ENGINE_FIELDS.get(error.field, error.field)}}), 400


@bp.before_request
def require_json() -> None:
    if request.method == "POST" and not request.is_json:
        abort(415, description="Send a JSON object with Content-Type: application/json.")


# --- reading the body (the checks themselves are in jsonbody.py) ----------------------------------------

def _limits() -> Limits:
    return Limits.from_config(current_app.config)


def _body(allowed: tuple[str, ...] = SETUP_FIELDS) -> dict[str, Any]:
    return read_body(request.get_data(), allowed)


def _style(data: dict[str, Any]) -> str:
    style = string(data, "style") or "asm"
    if style not in STYLES:
        raise ApiError(400, "must be \"asm\" or \"log\"", "style")
    return style


def _program(data: dict[str, Any], limits: Limits, *, source_ok: bool, bytecode_ok: bool) -> Program:
    """The program from ``source`` (assembly, or C with ``"language": "c"``, compiled as the page compiles it
    for the hook ``type``) or ``bytecode`` (whichever is allowed and present, never both)."""
    source = string(data, "source") if source_ok else None
    bytecode = string(data, "bytecode") if bytecode_ok else None
    language = string(data, "language") or LANG_ASM
    if language not in LANGUAGES:
        raise ApiError(400, f"unknown language (one of: {', '.join(LANGUAGES)})", "language")
    if source is not None and bytecode is not None:
        raise ApiError(400, "give either source or bytecode, not both", "bytecode")
    if bytecode is not None and language != LANG_ASM:
        raise ApiError(400, "bytecode has no language: give C as source", "language")
    if source is not None and language == LANG_C:
        return compile_program(check_source("source", source, limits.source_bytes), string(data, "type") or RAW)
    if source is not None:
        return assemble(check_source("source", source, limits.source_bytes))
    if bytecode is not None:
        return load_bytes(parse_hex("bytecode", bytecode, limits.source_bytes))
    raise ApiError(400, "required", "source" if source_ok else "bytecode")


def _insns(program: Program, style: str, with_lines: bool) -> list[dict[str, Any]]:
    out = []
    for pc, opcode, log_text in insn_rows(program):
        text = log_text if style == "log" else format_insn(program.insns, pc, "asm", program.labels)
        line = program.lines[pc] if with_lines and pc < len(program.lines) and program.lines[pc] else None
        out.append({"pc": pc, "opcode": opcode, "text": text, "line": line})
    return out


# --- endpoints ------------------------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi_document():
    """This API as OpenAPI 3.1 (``openapi.py``)."""
    return jsonify(document())


@bp.post("/assemble")
def assemble_source():
    data = _body(("source", "language", "type", "style"))
    style = _style(data)
    program = _program(data, _limits(), source_ok=True, bytecode_ok=False)
    return jsonify({"bytecode": program.to_bytes().hex(), "insns": _insns(program, style, with_lines=True)})


@bp.post("/disassemble")
def disassemble_bytecode():
    data = _body(("bytecode", "style"))
    style = _style(data)
    program = _program(data, _limits(), source_ok=False, bytecode_ok=True)
    return jsonify({"text": disassemble(program, style), "insns": _insns(program, style, with_lines=False)})


@bp.post("/run")
def run_program():
    data = _body()
    limits = _limits()
    program = _program(data, limits, source_ok=True, bytecode_ok=True)
    inputs = run_inputs(data, limits)
    program = replace(program, maps=program.maps + map_defs(data.get("maps", []), len(program.maps)))
    prog_type, packets, mem = inputs.prog_type, inputs.packets, inputs.mem
    common = {"prog_type": prog_type, "env": inputs.env, "seeds": inputs.seeds, "max_insns": inputs.max_insns,
              "progress": Progress(limits.run_seconds).begin("run", inputs.max_insns)}  # the time limit
    paged = inputs.trace
    loaded = _loaded_unprivileged(program, inputs, limits, "bytecode" if "bytecode" in data else "source")
    try:
        if packets is not None and len(packets) > 1:
            which = len(packets) - 1 if paged is None or paged.run is None else paged.run
            if which >= len(packets):
                raise ApiError(400, f"there are {len(packets)} packets: runs 0 to {len(packets) - 1}",
                               "options.trace.run")
            results = run_packets(program, list(packets), trace_run=which if paged else None, **common)
            body = results[-1].to_json()
            body["runs"] = [{k: v for k, v in r.to_json().items() if k != "maps"} for r in results]
            return jsonify(_with_trace(body | loaded, results[which], paged, which))
        if paged is not None and paged.run:
            raise ApiError(400, "there is one run: run 0", "options.trace.run")
        if prog_type == RAW and packets is not None:
            mem, layout, packet = packets[0], "packet", None
        else:
            layout, packet = "mem", packets[0] if packets else None
        strings = {k: v.encode() for k, v in inputs.strings.items()}
        result = run(program, mem=mem, layout=layout, packet=packet, ctx=inputs.ctx or None, event=inputs.event,
                     strings=strings or None, trace=paged is not None, **common)
    except InputError as e:
        raise ApiError(400, e.message, _api_field(e.field, inputs.source)) from None
    return jsonify(_with_trace(result.to_json() | loaded, result, paged))


def _loaded_unprivileged(program: Program, inputs: RunInputs, limits: Limits, field: str) -> dict[str, Any]:
    """With ``options.unprivileged``, the program must first load as a user without capabilities would load
    it, so it is verified as that loader: a rejection (or a walk that reaches ``max_processed``) refuses the
    run with 422 and the verifier's answer, as ``ebpf-playground run`` refuses it; an acceptance is answered
    beside the result as ``"verifier"``. Without it, nothing is verified (the CLI's ``--no-verify``) and the
    answer is ``{}``."""
    if not inputs.unprivileged:
        return {}
    from app.ebpf.verifier import verify

    checked = verify(program, inputs.prog_type, privileged=False, max_processed=inputs.max_processed,
                     progress=Progress(limits.run_seconds).begin("verify", inputs.max_processed))
    verdict = {"accepted": checked.accepted, "verdict": checked.verdict,
               "error": checked.error.to_json() if checked.error else None}
    if not checked.accepted:
        error = checked.error
        where = f" at insn {error.insn_idx}" if error.insn_idx >= 0 else ""
        how = "stopped before a verdict" if checked.verdict == "incomplete" else "rejects it"
        raise ApiError(422, f"not run: the verifier {how} for an unprivileged loader{where}: {error.message} "
                            f"({error.errno})", field, verifier=verdict)
    return {"verifier": verdict}


def _with_trace(body: dict[str, Any], result: RunResult, paged: TracePage | None, which: int | None = None):
    """The answer with a page of ``result``'s trace, when one was asked for: ``trace`` lists what each step
    did (``StepRecord.to_json``), ``trace_page`` says where the page is (and, with several packets, whose)."""
    if paged is None or result.trace is None:
        return body
    records = result.trace.step_records(paged.offset, paged.offset + paged.limit)
    body["trace"] = [record.to_json() for record in records]
    body["trace_page"] = paged.of(len(result.trace)) | ({"run": which} if which is not None else {})
    return body


@bp.post("/verify")
def verify_program():
    from app.ebpf.verifier import verify

    data = _body()
    limits = _limits()
    program = _program(data, limits, source_ok=True, bytecode_ok=True)
    prog_type = string(data, "type")
    if prog_type is None or prog_type not in PROG_TYPES:
        raise ApiError(400, f"required: a program type (one of: {', '.join(PROG_TYPES)})", "type")
    inputs = run_inputs(data, limits)  # checked like run's, though only the options matter here
    declared = len(program.maps)
    program = replace(program, maps=program.maps + map_defs(data.get("maps", []), declared))
    for i, mdef in enumerate(program.maps):  # BPF_MAP_CREATE comes before BPF_PROG_LOAD
        problem = check_map(mdef, 1)
        if problem:
            raise ApiError(400, f"map {mdef.name} cannot be created: {problem}",
                           "source" if i < declared else f"maps[{i - declared}]")
    result = verify(program, prog_type, privileged=not inputs.unprivileged, max_processed=inputs.max_processed,
                    progress=Progress(limits.run_seconds).begin("verify", inputs.max_processed))  # the time limit
    paged = inputs.walk_page
    body = result.to_json(walk=inputs.walk and paged is None)
    if paged is not None:
        body["walk"] = [event.to_json() for event in result.walk[paged.offset:paged.offset + paged.limit]]
        body["walk_truncated"] = result.walk_truncated
        body["walk_page"] = paged.of(len(result.walk))
    return jsonify(body)


@bp.post("/share")
def share_setup():
    return share_from_api(_body())


@bp.get("/lessons")
def list_lessons():
    """The course (``ebpf-playground lesson``): each lesson's place, name, hook and languages."""
    from app.lessons import course

    return jsonify({"lessons": [{"slug": lesson.slug, "number": lesson.number, "title": lesson.title,
                                 "unit": lesson.unit, "hook": lesson.hook, "summary": lesson.summary,
                                 "languages": list(lesson.languages), "tests": [t.name for t in lesson.tests],
                                 "url": url_for("learn.lesson_page", slug=lesson.slug)}
                                for lesson in course()]})


@bp.post("/lessons/<slug>/check")
def check_lesson(slug: str):
    """``{"source", "language"?}`` checked against a lesson's tests (``ebpf-playground lesson SLUG FILE
    --json``). Nothing is recorded: progress belongs to the pages' browsers."""
    from app.lessons import check_program, lesson_by_slug

    lesson = lesson_by_slug(slug)
    if lesson is None:
        raise ApiError(404, f"no lesson {slug[:64]!r} (GET /api/v1/lessons lists them)")
    data = _body(("source", "language"))
    language = string(data, "language") or LANG_ASM
    if language not in lesson.languages:
        raise ApiError(400, f"this lesson is written in: {', '.join(lesson.languages)}", "language")
    source = string(data, "source")
    if source is None:
        raise ApiError(400, "required", "source")
    return jsonify(check_program(lesson, source, language, _limits()).to_json())


def _api_field(engine_field: str, source: str | None) -> str:
    """The request's field for a field the engine names (``ctx.di`` -> ``input.ctx.di``)."""
    head = engine_field.split(".", 1)[0].split("[", 1)[0]
    if head == "packet":
        return f"input.{source or 'packet'}"
    if head in ("ctx", "event", "strings", "mem"):
        return f"input.{engine_field}"
    return _ENGINE_FIELDS.get(engine_field, engine_field)
