"""The JSON API described as OpenAPI 3.1 (``GET /api/v1/openapi.json``), built from the tables the API
itself checks bodies against (``jsonbody``: the setup, input, option, map and seed fields; the program types,
map types, languages and styles), so that the description cannot drift from what the server accepts. The
prose of each field lives in the README and the ``api`` module docstring; this document gives the shapes.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from app.ebpf.maps import MAP_TYPES
from app.ebpf.progtypes import PROG_TYPES

from .forms import LANGUAGES, RAW
from .jsonbody import (
    ENV_FIELDS,
    INPUT_FIELDS,
    MAP_FIELDS,
    OPTION_FIELDS,
    PAGE_FIELDS,
    PAGE_SIZES,
    SEED_FIELDS,
    SETUP_FIELDS,
    STYLES,
    TRACE_FIELDS,
    VIEW_FIELDS,
)

_STRING = {"type": "string"}
_INTEGER = {"type": "integer"}
_HEX = {"type": "string", "pattern": "^[0-9a-fA-F\\s]*$", "description": "hex bytes, spaces allowed"}
_OBJECT = {"type": "object"}

_FIELD_SCHEMAS: dict[str, dict[str, Any]] = {
    # setup
    "source": {**_STRING, "description": "assembly (kernel/LLVM or legacy syntax), or C with language c"},
    "language": {"enum": list(LANGUAGES)},
    "bytecode": _HEX,
    "type": {"enum": [RAW, *PROG_TYPES]},
    "maps": {"type": "array", "items": {"$ref": "#/components/schemas/MapDecl"}},
    "input": {"$ref": "#/components/schemas/Input"},
    "env": {"$ref": "#/components/schemas/Env"},
    "seeds": {"type": "array", "items": {"$ref": "#/components/schemas/Seed"}},
    "options": {"$ref": "#/components/schemas/Options"},
    "view": {"$ref": "#/components/schemas/View"},
    # input
    "mem": _HEX,
    "packet": _HEX,
    "packets": {"type": "array", "items": _HEX},
    "packet_spec": {"oneOf": [_STRING, {"type": "array", "items": _STRING}],
                    "description": "eth/ipv4(dst=10.0.0.2)/udp(dport=53), one per packet"},
    "packet_fields": {"type": "object", "additionalProperties": _STRING,
                      "description": "the playground's layer form, by field name"},
    "ctx": {"type": "object", "additionalProperties": _INTEGER, "description": "context fields or aliases"},
    "event": {**_STRING, "description": "tracepoint event, e.g. syscalls/sys_enter_openat"},
    "strings": {"type": "object", "additionalProperties": _STRING},
    # options and view
    "max_insns": _INTEGER,
    "max_processed": _INTEGER,
    "walk": {"oneOf": [{"type": "boolean"}, {"$ref": "#/components/schemas/WalkPage"}],
             "description": "verify: true for the whole walk, or one page of its events"},
    "trace": {"oneOf": [{"const": False}, {"$ref": "#/components/schemas/TracePage"}],
              "description": "run: one page of the trace"},
    "unprivileged": {"type": "boolean", "default": False,
                     "description": "load as a user without CAP_BPF, CAP_PERFMON or CAP_SYS_ADMIN (verify --unpriv); "
                                    "run verifies as that loader first and refuses (422) what it rejects"},
    "offset": {**_INTEGER, "minimum": 0, "default": 0},
    "step": _INTEGER,
    "run": _INTEGER,
    # maps and seeds
    "name": _STRING,
    "key_size": _INTEGER,
    "value_size": _INTEGER,
    "max_entries": _INTEGER,
    "flags": _INTEGER,
    "map": {"oneOf": [_STRING, _INTEGER], "description": "a map's name or index"},
    "key": _HEX,
    "value": _HEX,
}


def _page(name: str, fields: tuple[str, ...], what: str) -> dict:
    """A page request of ``options.<name>``, with its default and largest ``limit`` (``PAGE_SIZES``)."""
    default, most = PAGE_SIZES[name]
    limit = {**_INTEGER, "minimum": 1, "maximum": most, "default": default}
    run = {**_INTEGER, "minimum": 0, "description": "with several packets, whose run (default: the last)"}
    out = _object(fields, overrides={"limit": limit, "run": run})
    out["description"] = f"{what}: at most {most:,} items from offset (the answer says the total and next offset)"
    return out


def _object(fields: tuple[str, ...], required: tuple[str, ...] = (), overrides: dict | None = None) -> dict:
    properties = {name: (overrides or {}).get(name, _FIELD_SCHEMAS.get(name, {})) for name in fields}
    out = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def _post(summary: str, body: dict, answer: str, *, errors: str = "400 (the field is named), 413, 415, 429") -> dict:
    return {"post": {
        "summary": summary,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": {"description": answer, "content": {"application/json": {"schema": _OBJECT}}},
            "4XX": {"description": f"refused: {errors}",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    }}


@cache
def document() -> dict[str, Any]:
    setup = {"$ref": "#/components/schemas/Setup"}
    style = {"style": {"enum": list(STYLES)}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "eBPF Playground API", "version": "1",
                 "description": "Mirrors the command line (ebpf-playground asm | disasm | run | verify); see the "
                                "README's table for what each field does."},
        "paths": {
            "/api/v1/assemble": _post("Assemble (or compile, for C) a program",
                                      _object(("source", "language", "type", "style"), ("source",), style),
                                      "{bytecode, insns: [{pc, opcode, text, line}]}"),
            "/api/v1/disassemble": _post("Disassemble bytecode", _object(("bytecode", "style"), ("bytecode",), style),
                                         "{text, insns}"),
            "/api/v1/run": _post("Run a program in the VM", setup,
                                 "the CLI's run --json object: retval, retval_name, insns_executed, fault, "
                                 "packet_out, maps, output (runs with several packets); with options.trace, "
                                 "trace (what each step of the page changed) and trace_page (a PageInfo); with "
                                 "options.unprivileged, verifier ({accepted, verdict, error})",
                                 errors="400 (the field is named), 413, 415, 422 (options.unprivileged: the "
                                        "verifier refuses the program for that loader), 429"),
            "/api/v1/verify": _post("Check a program as the kernel's verifier would", setup,
                                    "the CLI's verify --json object: accepted, verdict, error, stats, log; with "
                                    "options.walk, walk and walk_truncated, and for a page walk_page (a PageInfo)"),
            "/api/v1/share": _post("Store a setup under a permanent link", setup, "{id, url} (201 when new)"),
            "/api/v1/lessons": {"get": {
                "summary": "The course of lessons (ebpf-playground lesson)",
                "responses": {"200": {"description": "{lessons: [{slug, number, title, unit, hook, summary, "
                                                     "languages, tests, url}]}",
                                      "content": {"application/json": {"schema": _OBJECT}}}},
            }},
            "/api/v1/lessons/{slug}/check": {**_post(
                "Check a program against a lesson's tests (ebpf-playground lesson SLUG FILE --json)",
                {"type": "object", "properties": {"source": _STRING, "language": {"enum": ["asm", "c"]}},
                 "required": ["source"], "additionalProperties": False},
                "{status: pass|fail|error, message, line, insn, lesson, processed_insns, tests: [{name, status, "
                "message, expected, got}]}", errors="400 (the field is named), 404 (no such lesson), 413, 415, 429")},
            "/p/{id}.json": {"get": {
                "summary": "A shared setup, in the shape the POST endpoints take",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": _STRING}],
                "responses": {"200": {"description": "the setup",
                                      "content": {"application/json": {"schema": setup}}},
                              "404": {"description": "no such share"}},
            }},
        },
        "components": {"schemas": {
            "Setup": _object(SETUP_FIELDS),
            "Input": _object(INPUT_FIELDS),
            "Options": _object(OPTION_FIELDS),
            "View": _object(VIEW_FIELDS, overrides={
                "walk": {**_INTEGER, "description": "the verifier walk's event (absent: where the walk opens)"},
                "break": {"type": "array", "items": _INTEGER, "description": "breakpoints: instruction indexes"}}),
            "WalkPage": _page("walk", PAGE_FIELDS, "a page of the verifier walk's events (verify)"),
            "TracePage": _page("trace", TRACE_FIELDS, "a page of the run's trace, what each step changed (run)"),
            "PageInfo": {"type": "object", "required": ["offset", "limit", "total", "next_offset"], "properties": {
                "offset": _INTEGER, "limit": _INTEGER, "total": _INTEGER,
                "next_offset": {"oneOf": [_INTEGER, {"type": "null"}]},
                "run": {**_INTEGER, "description": "trace_page with several packets: whose run"}}},
            "Env": _object(ENV_FIELDS, overrides={name: {"oneOf": [_INTEGER, _STRING]} for name in ENV_FIELDS}),
            "MapDecl": _object(MAP_FIELDS, ("type", "key_size", "value_size", "max_entries"),
                               {"type": {"enum": list(MAP_TYPES)}}),
            "Seed": _object(SEED_FIELDS, SEED_FIELDS),
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["message"],
                "properties": {"message": _STRING, "field": _STRING, "line": _INTEGER, "col": _INTEGER,
                               "pc": _INTEGER,
                               "verifier": {**_OBJECT, "description": "run with options.unprivileged, refused "
                                                                      "(422): {accepted, verdict, error}"}}}}},
        }},
    }
