"""The JSON API, ``/api/v1/...``, mirroring the command line (``ebpf-playground asm | disasm | run``).

Requests are JSON objects sent with ``Content-Type: application/json`` (anything else: 415). Unknown fields
are refused rather than ignored, so that a client asking for something this server does not do yet (a
program type, maps) hears so. Every 4xx answer is ``{"error": {"message": str, "field": str, ...}}``, where
``field`` names the offending field by its JSON path (``source``, ``input.mem``, ``options.max_insns``);
assembly errors add ``line`` and ``col``, decode errors ``pc``.

``POST /api/v1/assemble``
    ``{"source": str, "style"?: "asm" | "log"}`` ->
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
    ``packet_spec`` (``"eth/ipv4(dst=10.0.0.2)/udp(dport=53)"``, or a list of them), plus for context hooks
    ``ctx`` (``{"di": 1}``: field names or aliases and integers), ``event`` and ``strings`` (tracepoints).
    ``env`` sets what helpers see (``{"pid": 7, "comm": "nginx", "cpu": 1, ...}``); ``seeds`` sets map
    entries first (``[{"map": name or index, "key": hex, "value": hex}]``).

``POST /api/v1/verify``
    ``{"source": str | "bytecode": hex, "type": str, "maps"?: [...], "options"?: {"max_processed": int,
    "walk": bool}}`` -> the CLI's ``verify --json`` object: ``verdict`` (``accept``, ``reject``, or
    ``incomplete`` when the walk reached ``max_processed``, by default the server's limit, before a verdict),
    ``error`` (``{"insn_idx", "message", "errno"}`` or null), ``stats``, ``log``, and with ``walk`` the
    walk's events. ``type`` is required: the verifier's rules depend on the program type. A rejection is a
    result (200), not an error.

``insns`` has one entry per instruction; ``pc`` is its slot index (``ld_imm64`` takes two slots, so indexes
can skip) and ``text`` is in the requested style: ``asm`` (default, what the assembler reads) or ``log``
(as the kernel verifier log prints it).
"""
from __future__ import annotations

import json
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from app.ebpf import AsmError, DecodeError, InputError, MapDef, Program, assemble, disassemble, load_bytes
from app.ebpf.asm import format_insn
from app.ebpf.env import Env
from app.ebpf.maps import MAP_TYPES, check_map
from app.ebpf.packets import build_packet, parse_spec
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.vm import MapSeed, run, run_packets

from .forms import RAW, TYPES
from .inputs import FieldError, Limits, check_count, check_source, parse_hex
from .present import insn_rows

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STYLES = ("asm", "log")
INPUT_FIELDS = ("mem", "packet", "packets", "packet_spec", "ctx", "event", "strings")
MAP_FIELDS = ("name", "type", "key_size", "value_size", "max_entries", "flags")
_ENGINE_FIELDS = {"mem": "input.mem", "packet": "input.packet", "max_insns": "options.max_insns",
                  "layout": "input"}


class ApiError(Exception):
    """A request the API refuses: HTTP ``status`` and the JSON error object."""

    def __init__(self, status: int, message: str, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"message": message, **({"field": field} if field else {}), **extra}


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


# --- reading the body -----------------------------------------------------------------------------------

def _limits() -> Limits:
    return Limits.from_config(current_app.config)


def _body(allowed: tuple[str, ...]) -> dict[str, Any]:
    try:
        data = json.loads(request.get_data())
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not valid JSON") from None
    return _object(data, "", allowed)


def _object(value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ApiError(400, "must be a JSON object", path or None)
    for key in value:
        if key not in allowed:
            raise ApiError(400, f"unknown field {key!r} (this server accepts: {', '.join(allowed)})",
                           f"{path}.{key}" if path else key)
    return value


def _string(data: dict[str, Any], key: str, path: str | None = None) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "must be a string", path or key)
    return value


def _style(data: dict[str, Any]) -> str:
    style = _string(data, "style") or "asm"
    if style not in STYLES:
        raise ApiError(400, "must be \"asm\" or \"log\"", "style")
    return style


def _program(data: dict[str, Any], limits: Limits, *, source_ok: bool, bytecode_ok: bool) -> Program:
    """The program from ``source`` or ``bytecode`` (whichever is allowed and present, never both)."""
    source = _string(data, "source") if source_ok else None
    bytecode = _string(data, "bytecode") if bytecode_ok else None
    if source is not None and bytecode is not None:
        raise ApiError(400, "give either source or bytecode, not both", "bytecode")
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

@bp.post("/assemble")
def assemble_source():
    data = _body(("source", "style"))
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
    data = _body(("source", "bytecode", "type", "maps", "input", "options", "env", "seeds"))
    limits = _limits()
    program = _program(data, limits, source_ok=True, bytecode_ok=True)
    prog_type = _string(data, "type") or RAW
    if prog_type not in TYPES:
        raise ApiError(400, f"unknown program type {prog_type!r} (one of: {', '.join(TYPES)})", "type")
    program = replace(program, maps=program.maps + _map_defs(data.get("maps", []), len(program.maps)))
    given = _object(data.get("input", {}), "input", INPUT_FIELDS)
    sources = [k for k in ("mem", "packet", "packets", "packet_spec") if k in given]
    if len(sources) > 1:
        raise ApiError(400, f"give one of mem, packet, packets and packet_spec, not {' and '.join(sources)}",
                       f"input.{sources[1]}")
    source = sources[0] if sources else None
    mem = packets = None
    if source == "mem":
        mem = parse_hex("input.mem", _required_string(given, "mem", "input.mem"), limits.input_bytes)
    elif source is not None:
        packets = _packets(given, source, limits)
    ctx = _ints(given.get("ctx", {}), "input.ctx")
    event = _string(given, "event", "input.event")
    strings = {k: v.encode() for k, v in _strings(given.get("strings", {}), "input.strings").items()}
    env = _env(data.get("env", {}))
    seeds = _seeds(data.get("seeds", []), limits)
    options = _object(data.get("options", {}), "options", ("max_insns",))
    max_insns = _count_option(options, "max_insns", limits.run_insns)
    try:
        if packets is not None and len(packets) > 1:
            results = run_packets(program, packets, prog_type=prog_type, env=env, seeds=seeds, max_insns=max_insns)
            body = results[-1].to_json()
            body["runs"] = [{k: v for k, v in r.to_json().items() if k != "maps"} for r in results]
            return jsonify(body)
        if prog_type == RAW and packets is not None:
            mem, layout, packet = packets[0], "packet", None
        else:
            layout, packet = "mem", packets[0] if packets else None
        result = run(program, prog_type=prog_type, mem=mem, layout=layout, packet=packet, ctx=ctx or None,
                     event=event, strings=strings or None, env=env, seeds=seeds, max_insns=max_insns)
    except InputError as e:
        raise ApiError(400, e.message, _api_field(e.field, source)) from None
    return jsonify(result.to_json())


@bp.post("/verify")
def verify_program():
    from app.ebpf.verifier import verify

    data = _body(("source", "bytecode", "type", "maps", "options"))
    limits = _limits()
    program = _program(data, limits, source_ok=True, bytecode_ok=True)
    prog_type = _string(data, "type")
    if prog_type is None or prog_type not in PROG_TYPES:
        raise ApiError(400, f"required: a program type (one of: {', '.join(PROG_TYPES)})", "type")
    declared = len(program.maps)
    program = replace(program, maps=program.maps + _map_defs(data.get("maps", []), declared))
    for i, mdef in enumerate(program.maps):  # BPF_MAP_CREATE comes before BPF_PROG_LOAD
        problem = check_map(mdef, 1)
        if problem:
            raise ApiError(400, f"map {mdef.name} cannot be created: {problem}",
                           "source" if i < declared else f"maps[{i - declared}]")
    options = _object(data.get("options", {}), "options", ("max_processed", "walk"))
    max_processed = _count_option(options, "max_processed", limits.verify_insns)
    walk = options.get("walk", False)
    if not isinstance(walk, bool):
        raise ApiError(400, "must be true or false", "options.walk")
    return jsonify(verify(program, prog_type, max_processed=max_processed).to_json(walk=walk))


def _count_option(options: dict[str, Any], key: str, highest: int) -> int:
    """``options[key]``: an integer from 1 to ``highest`` (the server's limit, also the default)."""
    value = options.get(key, highest)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, "must be an integer", f"options.{key}")
    return check_count(f"options.{key}", value, 1, highest)


def _required_string(data: dict[str, Any], key: str, path: str) -> str:
    value = _string(data, key, path)
    if value is None:
        raise ApiError(400, "must be a string", path)
    return value


def _packets(given: dict[str, Any], source: str, limits: Limits) -> list[bytes]:
    """The packets of ``input.packet`` (hex), ``input.packets`` (a list of hex) or ``input.packet_spec`` (a
    spec, or a list of specs)."""
    path = f"input.{source}"
    value = given[source]
    if source == "packet":
        items = [_required_string(given, source, path)]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        items = value
    elif source == "packet_spec" and isinstance(value, str):
        items = [value]
    else:
        raise ApiError(400, "must be a non-empty list of strings" + (" or a string" if source == "packet_spec" else ""),
                       path)
    if len(items) > limits.packets:
        raise ApiError(400, f"{len(items)} packets; at most {limits.packets} can run in one request", path)
    packets = []
    for i, text in enumerate(items):
        where = path if source == "packet" or (source == "packet_spec" and isinstance(value, str)) else f"{path}[{i}]"
        if source == "packet_spec":
            try:
                packets.append(build_packet(parse_spec(text)))
            except InputError as e:
                detail = e.field.removeprefix("packet").lstrip(".")
                raise ApiError(400, f"{detail + ': ' if detail else ''}{e.message}", where) from None
            if len(packets[-1]) > limits.input_bytes:
                raise ApiError(400, f"{len(packets[-1]):,} bytes; at most {limits.input_bytes:,} are allowed", where)
        else:
            packets.append(parse_hex(where, text, limits.input_bytes))
    total = sum(map(len, packets))
    if total > limits.packet_bytes:
        raise ApiError(400, f"the packets add up to {total:,} bytes; at most {limits.packet_bytes:,} are allowed", path)
    return packets


def _ints(value: Any, path: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ApiError(400, "must be a JSON object of field names and integers", path)
    for key, item in value.items():
        if not isinstance(item, int) or isinstance(item, bool):
            raise ApiError(400, "must be an integer", f"{path}.{key}")
    return value


def _strings(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ApiError(400, "must be a JSON object of field names and strings", path)
    for key, item in value.items():
        if not isinstance(item, str):
            raise ApiError(400, "must be a string", f"{path}.{key}")
    return value


def _map_defs(value: Any, first: int) -> tuple[MapDef, ...]:
    """``maps``: declarations for programs given as bytecode; ``ld_imm64`` map references use their position
    (after any maps the source declares). Each is ``{"type", "key_size", "value_size", "max_entries",
    "flags"?, "name"?}``."""
    if not isinstance(value, list):
        raise ApiError(400, "must be a list of map declarations", "maps")
    out = []
    for i, item in enumerate(value):
        path = f"maps[{i}]"
        _object(item, path, MAP_FIELDS)
        name = item.get("name", f"map{first + i}")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "must be a non-empty string", f"{path}.name")
        kind = item.get("type")
        if not isinstance(kind, str):
            raise ApiError(400, f"required: one of {', '.join(MAP_TYPES)}", f"{path}.type")
        sizes = {}
        for key in ("key_size", "value_size", "max_entries", "flags"):
            number = item.get(key, 0 if key == "flags" else None)
            if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number < 1 << 32:
                raise ApiError(400, "must be an integer from 0 to 2^32-1", f"{path}.{key}")
            sizes[key] = number
        out.append(MapDef(name=name, type=kind, **sizes))
    return tuple(out)


def _env(value: Any) -> Env:
    """``env``: what helpers see (``clock_start_ns``, ``seed``, ``cpu``, ``ncpus``, ``pid``, ``comm`` ...)."""
    allowed = tuple(f.name for f in dataclass_fields(Env) if f.name != "memory")
    _object(value, "env", allowed)
    for key, item in value.items():
        if key == "comm":
            if not isinstance(item, str):
                raise ApiError(400, "must be a string", "env.comm")
        elif not isinstance(item, int) or isinstance(item, bool):
            raise ApiError(400, "must be an integer", f"env.{key}")
    env = Env(**value)
    try:
        env.check()
    except InputError as e:
        raise ApiError(400, e.message, e.field) from None
    return env


def _seeds(value: Any, limits: Limits) -> tuple[MapSeed, ...]:
    """``seeds``: map entries set before the run, ``[{"map": name or index, "key": hex, "value": hex}]``."""
    if not isinstance(value, list):
        raise ApiError(400, "must be a list of {map, key, value}", "seeds")
    out = []
    for i, item in enumerate(value):
        path = f"seeds[{i}]"
        _object(item, path, ("map", "key", "value"))
        which = item.get("map")
        if not (isinstance(which, str) and which) and not (isinstance(which, int) and not isinstance(which, bool)):
            raise ApiError(400, "must be a map's name or index", f"{path}.map")
        key = parse_hex(f"{path}.key", _required_string(item, "key", f"{path}.key"), limits.input_bytes)
        data = parse_hex(f"{path}.value", _required_string(item, "value", f"{path}.value"), limits.input_bytes)
        out.append(MapSeed(which, key, data))
    return tuple(out)


def _api_field(engine_field: str, source: str | None) -> str:
    """The request's field for a field the engine names (``ctx.di`` -> ``input.ctx.di``)."""
    head = engine_field.split(".", 1)[0].split("[", 1)[0]
    if head == "packet":
        return f"input.{source or 'packet'}"
    if head in ("ctx", "event", "strings", "mem"):
        return f"input.{engine_field}"
    return _ENGINE_FIELDS.get(engine_field, engine_field)
