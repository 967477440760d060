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
    ``{"source": str | "bytecode": hex, "input"?: {"mem": hex} | {"packet": hex},
    "options"?: {"max_insns": int}}`` -> the CLI's ``run --json`` object: ``retval``, ``insns_executed``,
    ``fault``, ``packet_out``, ``maps``, ``output``. A fault is a result (200), not an error.

``insns`` has one entry per instruction; ``pc`` is its slot index (``ld_imm64`` takes two slots, so indexes
can skip) and ``text`` is in the requested style: ``asm`` (default, what the assembler reads) or ``log``
(as the kernel verifier log prints it).
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from app.ebpf import AsmError, DecodeError, InputError, Program, assemble, disassemble, load_bytes
from app.ebpf.asm import format_insn
from app.ebpf.vm import run

from .inputs import FieldError, Limits, check_count, check_source, parse_hex
from .present import insn_rows

bp = Blueprint("api", __name__, url_prefix="/api/v1")

STYLES = ("asm", "log")
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
    data = _body(("source", "bytecode", "input", "options"))
    limits = _limits()
    program = _program(data, limits, source_ok=True, bytecode_ok=True)
    given = _object(data.get("input", {}), "input", ("mem", "packet"))
    if "mem" in given and "packet" in given:
        raise ApiError(400, "give either mem or packet, not both", "input.packet")
    layout = "packet" if "packet" in given else "mem"
    text = _string(given, layout, f"input.{layout}")
    mem = parse_hex(f"input.{layout}", text, limits.input_bytes) if text is not None else None
    options = _object(data.get("options", {}), "options", ("max_insns",))
    max_insns = options.get("max_insns", limits.run_insns)
    if not isinstance(max_insns, int) or isinstance(max_insns, bool):
        raise ApiError(400, "must be an integer", "options.max_insns")
    check_count("options.max_insns", max_insns, 1, limits.run_insns)
    result = run(program, mem=mem, layout=layout, max_insns=max_insns)
    return jsonify(result.to_json())
