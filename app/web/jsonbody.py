"""Reading JSON request bodies: the checks behind ``/api/v1/run``, ``/verify`` and ``/share`` (``api.py``) and
behind the stored setup of a share (``setups.py``), written once so that all of them refuse the same things
with the same words.

``read_body`` parses the body (every string must be encodable as UTF-8: JSON's ``\\ud800`` escapes can spell
lone surrogates, which no program, packet or database can hold) and refuses unknown fields. ``run_inputs``
checks everything a run takes besides the program (``type``, ``input``, ``env``, ``seeds``, ``options``,
``view``) and returns it as a ``RunInputs`` record. It refuses, before the engine runs:

* an input the hook does not take (``HOOK_INPUTS``): raw memory for ``xdp``, a packet for ``kprobe``, a context
  for ``raw`` ...;
* for context hooks, what the engine would refuse: an unknown tracepoint event, unknown context fields (or
  aliases), values that do not fit their field (the engine's own ``context_input`` decides);
* ``options.unprivileged`` (load as a user without ``CAP_BPF``, ``CAP_PERFMON`` or ``CAP_SYS_ADMIN``) that is
  not a boolean, or that is true for a ``raw`` program, which no loader loads;
* anything unbounded: integers outside 64 bits, names longer than ``MAX_NAME`` characters, view positions
  past the run limits, pages (``options.walk`` as an object, ``options.trace``) larger than ``PAGE_SIZES``
  allows.

Every failure is an ``ApiError`` (or an ``inputs.FieldError``) naming the field by its JSON path (``source``,
``input.packets[2]``, ``seeds[0].map``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from app.ebpf import InputError, MapDef
from app.ebpf.env import Env
from app.ebpf.maps import MAP_TYPES
from app.ebpf.packets import build_packet, parse_spec
from app.ebpf.progtypes import PROG_TYPES, context_input
from app.ebpf.tracepoints import EVENTS
from app.ebpf.verifier import UNPRIVILEGED_TYPES
from app.ebpf.vm import MapSeed

from .breakpoints import MAX_BREAKPOINTS
from .forms import RAW, TYPES
from .inputs import FieldError, Limits, check_count, parse_hex
from .packetform import FORM_NAMES, build_from_fields

SETUP_FIELDS = ("source", "language", "bytecode", "type", "maps", "input", "env", "seeds", "options", "view")
"""The body of ``run``, ``verify`` and ``share``: each endpoint takes all of them (a share's ``/p/<id>.json``
goes to any of the three) and ignores what does not apply to it."""
SOURCES = ("mem", "packet", "packets", "packet_spec", "packet_fields")
"""Where a run's memory or packets come from: at most one per request."""
CONTEXT_FIELDS = ("ctx", "event", "strings")
INPUT_FIELDS = SOURCES + CONTEXT_FIELDS
OPTION_FIELDS = ("max_insns", "max_processed", "walk", "trace", "unprivileged")
VIEW_FIELDS = ("step", "run", "walk", "break")
"""Where a share opens: the run's ``step``, which packet's ``run``, the verifier walk's event (``walk``; absent:
where the walk opens, at the rejection if any) and the stepper's breakpoints (``break``: instruction indexes)."""
MAX_PROGRAM_INSNS = 1_000_000
"""The most instruction slots a program may have (the kernel's ``BPF_COMPLEXITY_LIMIT_INSNS``): a breakpoint
in a share names one of them. Which ones start an instruction is checked when the page opens
(``breakpoints.parse``)."""
PAGE_FIELDS = ("offset", "limit")
"""A page of a long list in an answer (``options.walk``, ``options.trace``): from item ``offset`` (default 0),
at most ``limit`` items (default and cap in ``PAGE_SIZES``)."""
TRACE_FIELDS = (*PAGE_FIELDS, "run")
"""``options.trace`` is a page, plus with several packets the ``run`` whose trace it is (default: the last)."""
PAGE_SIZES = {"walk": (100, 1000), "trace": (100, 1000)}
"""Per paged list, the ``limit`` used when none is given and the largest one the server takes."""
MAP_FIELDS = ("name", "type", "key_size", "value_size", "max_entries", "flags")
SEED_FIELDS = ("map", "key", "value")
ENV_FIELDS = tuple(f.name for f in dataclass_fields(Env) if f.name != "memory")
STYLES = ("asm", "log")  # how instructions are printed: the assembler's syntax, or the verifier log's
MAX_NAME = 128
"""Longest name (of a map, a context field, an event) a body may use: longer ones name nothing."""
MAX_WALK_OFFSET = 1_000_000
"""Largest ``options.walk.offset`` (the walk keeps fewer events than this: ``walk.MAX_EVENTS``)."""
INT_RANGE = (-(1 << 63), (1 << 64) - 1)
"""Integers a body may hold where the engine takes a 64-bit value (signed or unsigned)."""


def hook_inputs(prog_type: str) -> tuple[str, ...]:
    """The ``input`` fields a hook takes: ``raw`` programs memory or a packet (the legacy packet layout),
    packet hooks a packet, context hooks their context (tracepoints also an ``event`` and its ``strings``)."""
    ptype = PROG_TYPES.get(prog_type)
    if ptype is None:
        return SOURCES
    if ptype.input == "packet":
        return SOURCES[1:]
    return CONTEXT_FIELDS if ptype.name == "tracepoint" else ("ctx",)


class ApiError(Exception):
    """A request the API refuses: HTTP ``status`` and the JSON error object."""

    def __init__(self, status: int, message: str, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.body = {"message": message, **({"field": field} if field else {}), **extra}


@dataclass(frozen=True)
class Page:
    """Which items of a long list to answer with: ``limit`` of them from ``offset``."""

    offset: int
    limit: int

    def of(self, total: int) -> dict[str, Any]:
        """What the answer says about the page: ``{"offset", "limit", "total", "next_offset"}``, where
        ``next_offset`` is the offset of the following page, or null when this one reaches the end."""
        end = self.offset + self.limit
        return {"offset": self.offset, "limit": self.limit, "total": total,
                "next_offset": end if end < total else None}


@dataclass(frozen=True)
class TracePage(Page):
    """A page of a run's trace, and with several packets which ``run`` (None: the last)."""

    run: int | None = None


@dataclass(frozen=True)
class RunInputs:
    """A checked body, apart from the program: the hook (``prog_type``); which of ``SOURCES`` gave the input
    (``source``, or None) and its ``mem`` or ``packets``; the context (``ctx`` by the names given, ``event``,
    ``strings``); ``env`` and ``seeds``; the options (``max_insns`` for runs, ``max_processed`` and ``walk``
    for the verifier, each defaulting to the server's limit; ``unprivileged``, the loader the verifier checks
    for (False: root); ``walk_page`` when ``walk`` asks for one page of the
    walk rather than all of it; ``trace`` when a run's trace is asked for) and the ``view`` (``step``,
    ``run``, the walk's event ``walk_at``, None where the walk opens by itself, and the ``breakpoints``)."""

    prog_type: str
    source: str | None
    mem: bytes | None
    packets: tuple[bytes, ...] | None
    ctx: dict[str, int]
    event: str | None
    strings: dict[str, str]
    env: Env
    seeds: tuple[MapSeed, ...]
    max_insns: int
    max_processed: int
    walk: bool
    step: int
    run: int
    walk_page: Page | None = None
    trace: TracePage | None = None
    walk_at: int | None = None
    breakpoints: tuple[int, ...] = ()
    unprivileged: bool = False


# --- the body and its plain values ---------------------------------------------------------------------------

def read_body(raw: bytes, allowed: tuple[str, ...] = SETUP_FIELDS) -> dict[str, Any]:
    """The JSON object in ``raw``, with only ``allowed`` fields and every string valid UTF-8."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "the body is not valid JSON") from None
    check_utf8(data)
    return object_of(data, "", allowed)


def check_utf8(value: Any, path: str = "") -> None:
    """Refuse a string (value or key) that cannot be encoded as UTF-8, naming where it is."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            _encodable(item, where)
        elif isinstance(item, dict):
            for key, inner in item.items():
                name = f"{where}.{key}" if where else key
                _encodable(key, where or None, f"the field name {key!r}")
                stack.append((inner, name))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]") for i, inner in enumerate(item))


def _encodable(text: str, where: str | None, what: str = "the text") -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ApiError(400, f"{what} holds {text[e.start]!r} at character {e.start + 1}, a lone surrogate: "
                            f"not a character, and not encodable as UTF-8", where or None) from None


def object_of(value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``value`` as a JSON object with only ``allowed`` keys."""
    if not isinstance(value, dict):
        raise ApiError(400, "must be a JSON object", path or None)
    for key in value:
        if key not in allowed:
            raise ApiError(400, f"unknown field {key[:MAX_NAME]!r} (this server accepts: {', '.join(allowed)})",
                           f"{path}.{key[:MAX_NAME]}" if path else key[:MAX_NAME])
    return value


def string(data: dict[str, Any], key: str, path: str | None = None) -> str | None:
    """``data[key]``: a string, or None when missing."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "must be a string", path or key)
    return value


def required_string(data: dict[str, Any], key: str, path: str) -> str:
    value = string(data, key, path)
    if value is None:
        raise ApiError(400, "must be a string", path)
    return value


def integer(value: Any, path: str, lowest: int, highest: int) -> int:
    """A JSON integer (not a boolean) from ``lowest`` to ``highest``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, "must be an integer", path)
    if not lowest <= value <= highest:
        raise ApiError(400, f"must be an integer from {lowest:,} to {highest:,}", path)
    return value


def ints(value: Any, path: str) -> dict[str, int]:
    """An object of names and 64-bit integers."""
    if not isinstance(value, dict):
        raise ApiError(400, "must be a JSON object of field names and integers", path)
    for key, item in value.items():
        _name(key, path)
        integer(item, f"{path}.{key}", *INT_RANGE)
    return value


def strings(value: Any, path: str) -> dict[str, str]:
    """An object of names and strings."""
    if not isinstance(value, dict):
        raise ApiError(400, "must be a JSON object of field names and strings", path)
    for key, item in value.items():
        _name(key, path)
        if not isinstance(item, str):
            raise ApiError(400, "must be a string", f"{path}.{key}")
    return value


def _name(key: str, path: str) -> None:
    if len(key) > MAX_NAME:
        raise ApiError(400, f"a field name of {len(key):,} characters; at most {MAX_NAME} are allowed", path)


def count_option(options: dict[str, Any], key: str, highest: int) -> int:
    """``options[key]``: an integer from 1 to ``highest`` (the server's limit, also the default)."""
    value = options.get(key, highest)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ApiError(400, "must be an integer", f"options.{key}")
    return check_count(f"options.{key}", value, 1, highest)


# --- inputs ----------------------------------------------------------------------------------------------

def packets(given: dict[str, Any], source: str, limits: Limits) -> list[bytes]:
    """The packets of ``input.packet`` (hex), ``input.packets`` (a list of hex) or ``input.packet_spec`` (a
    spec, or a list of specs)."""
    path = f"input.{source}"
    value = given[source]
    if source == "packet":
        items = [required_string(given, source, path)]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        items = value
    elif source == "packet_spec" and isinstance(value, str):
        items = [value]
    else:
        raise ApiError(400, "must be a non-empty list of strings" + (" or a string" if source == "packet_spec" else ""),
                       path)
    if len(items) > limits.packets:
        raise ApiError(400, f"{len(items)} packets; at most {limits.packets} can run in one request", path)
    out = []
    for i, text in enumerate(items):
        where = path if source == "packet" or (source == "packet_spec" and isinstance(value, str)) else f"{path}[{i}]"
        if source == "packet_spec":
            if len(text) > 2 * limits.input_bytes:
                raise ApiError(400, f"a spec of {len(text):,} characters; at most {2 * limits.input_bytes:,}", where)
            try:
                out.append(build_packet(parse_spec(text)))
            except InputError as e:
                detail = e.field.removeprefix("packet").lstrip(".")
                raise ApiError(400, f"{detail + ': ' if detail else ''}{e.message}", where) from None
            if len(out[-1]) > limits.input_bytes:
                raise ApiError(400, f"{len(out[-1]):,} bytes; at most {limits.input_bytes:,} are allowed", where)
        else:
            out.append(parse_hex(where, text, limits.input_bytes))
    total = sum(map(len, out))
    if total > limits.packet_bytes:
        raise ApiError(400, f"the packets add up to {total:,} bytes; at most {limits.packet_bytes:,} are allowed", path)
    return out


def packet_fields(value: Any) -> dict[str, str]:
    """``input.packet_fields`` as it is used: known names, text without surrounding blanks (the payload
    kept as typed), blank fields left out (they take the engine's defaults)."""
    path = "input.packet_fields"
    fields = strings(object_of(value, path, FORM_NAMES), path)
    return {k: (v if k == "payload" else v.strip()) for k, v in fields.items()
            if (v if k == "payload" else v.strip())}


def packet_from_fields(fields: dict[str, str], limits: Limits) -> bytes:
    """The packet of the layer form's ``fields`` (``packetform.FORM_NAMES``), as ``packet_fields`` gives them."""
    path = "input.packet_fields"
    try:
        packet = build_from_fields(fields)
    except FieldError as e:
        raise ApiError(400, e.message, path if e.field == "packet" else f"{path}.{e.field}") from None
    if len(packet) > limits.input_bytes:
        raise ApiError(400, f"{len(packet):,} bytes; at most {limits.input_bytes:,} are allowed", path)
    return packet


def _source(given: dict[str, Any], prog_type: str) -> str | None:
    """Which of ``SOURCES`` gives the input (at most one), after refusing inputs the hook does not take."""
    sources = [k for k in SOURCES if k in given]
    if len(sources) > 1:
        raise ApiError(400, f"give one of {', '.join(SOURCES)}, not {' and '.join(sources)}", f"input.{sources[1]}")
    takes = hook_inputs(prog_type)
    for key in given:
        if key not in takes:
            kind = "a context" if PROG_TYPES.get(prog_type) and PROG_TYPES[prog_type].input == "ctx" else \
                "raw memory" if prog_type == RAW else "a packet"
            raise ApiError(400, f"{prog_type} programs do not take input.{key}: they take {kind} "
                                f"({', '.join(f'input.{k}' for k in takes)})", f"input.{key}")
    return sources[0] if sources else None


def _context(prog_type: str, ctx: dict[str, int], event: str | None, texts: dict[str, str], limits: Limits) -> None:
    """Refuse what the engine would refuse of a context: unknown events and fields, values too wide."""
    ptype = PROG_TYPES.get(prog_type)
    if ptype is None or ptype.input != "ctx":
        return
    if ptype.name == "tracepoint":
        names = {f.name for f in EVENTS[event].fields if f.data_loc} if event in EVENTS else set()
        for key, text in texts.items():
            if key not in names:
                raise ApiError(400, f"{event} has no string field {key!r}"
                                    f"{' (' + ', '.join(sorted(names)) + ')' if names else ''}", f"input.strings.{key}")
            if len(text.encode()) > limits.input_bytes // 16:
                raise ApiError(400, f"at most {limits.input_bytes // 16:,} bytes", f"input.strings.{key}")
    try:
        context_input(ptype, ctx, event, {k: v.encode() for k, v in texts.items()})
    except InputError as e:
        raise ApiError(400, e.message, f"input.{e.field}") from None


# --- the rest of a run ------------------------------------------------------------------------------------

def map_defs(value: Any, first: int) -> tuple[MapDef, ...]:
    """``maps``: declarations for programs given as bytecode; ``ld_imm64`` map references use their position
    (after any maps the source declares). Each is ``{"type", "key_size", "value_size", "max_entries",
    "flags"?, "name"?}``."""
    if not isinstance(value, list):
        raise ApiError(400, "must be a list of map declarations", "maps")
    out = []
    for i, item in enumerate(value):
        path = f"maps[{i}]"
        object_of(item, path, MAP_FIELDS)
        name = item.get("name", f"map{first + i}")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME:
            raise ApiError(400, f"must be a non-empty string of at most {MAX_NAME} characters", f"{path}.name")
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


def env(value: Any) -> Env:
    """``env``: what helpers see (``clock_start_ns``, ``seed``, ``cpu``, ``ncpus``, ``pid``, ``comm`` ...)."""
    object_of(value, "env", ENV_FIELDS)
    for key, item in value.items():
        if key == "comm":
            if not isinstance(item, str):
                raise ApiError(400, "must be a string", "env.comm")
        else:
            integer(item, f"env.{key}", *INT_RANGE)
    result = Env(**value)
    try:
        result.check()
    except InputError as e:
        raise ApiError(400, e.message, e.field) from None
    return result


def seeds(value: Any, limits: Limits) -> tuple[MapSeed, ...]:
    """``seeds``: map entries set before the run, ``[{"map": name or index, "key": hex, "value": hex}]``."""
    if not isinstance(value, list):
        raise ApiError(400, "must be a list of {map, key, value}", "seeds")
    out = []
    for i, item in enumerate(value):
        path = f"seeds[{i}]"
        object_of(item, path, SEED_FIELDS)
        which = item.get("map")
        named = isinstance(which, str) and 0 < len(which) <= MAX_NAME
        indexed = isinstance(which, int) and not isinstance(which, bool) and 0 <= which < 1 << 32
        if not (named or indexed):
            raise ApiError(400, f"must be a map's name (at most {MAX_NAME} characters) or index", f"{path}.map")
        key = parse_hex(f"{path}.key", required_string(item, "key", f"{path}.key"), limits.input_bytes)
        data = parse_hex(f"{path}.value", required_string(item, "value", f"{path}.value"), limits.input_bytes)
        out.append(MapSeed(which, key, data))
    return tuple(out)


def run_inputs(data: dict[str, Any], limits: Limits) -> RunInputs:
    """Check everything but the program in a body of ``SETUP_FIELDS`` (see the module docstring)."""
    prog_type = string(data, "type") or RAW
    if prog_type not in TYPES:
        raise ApiError(400, f"unknown program type {prog_type[:MAX_NAME]!r} (one of: {', '.join(TYPES)})", "type")
    given = object_of(data.get("input", {}), "input", INPUT_FIELDS)
    source = _source(given, prog_type)
    mem = found = None
    if source == "mem":
        mem = parse_hex("input.mem", required_string(given, "mem", "input.mem"), limits.input_bytes)
    elif source == "packet_fields":
        found = [packet_from_fields(packet_fields(given[source]), limits)]
    elif source is not None:
        found = packets(given, source, limits)
    ctx = ints(given.get("ctx", {}), "input.ctx")
    event = string(given, "event", "input.event")
    texts = strings(given.get("strings", {}), "input.strings")
    _context(prog_type, ctx, event, texts, limits)
    options = object_of(data.get("options", {}), "options", OPTION_FIELDS)
    walk = options.get("walk", False)
    walk_page = None
    if isinstance(walk, dict):
        walk_page, walk = page(walk, "walk", MAX_WALK_OFFSET), True
    elif not isinstance(walk, bool):
        raise ApiError(400, "must be true (the whole walk), false, or a page {\"offset\"?: int, \"limit\"?: int}",
                       "options.walk")
    trace = options.get("trace", False)
    if trace is not False:
        if not isinstance(trace, dict):
            raise ApiError(400, "must be false or a page {\"offset\"?: int, \"limit\"?: int, \"run\"?: int}: a trace "
                                f"may be {limits.run_insns:,} steps long, so it comes in pages of at most "
                                f"{PAGE_SIZES['trace'][1]:,}", "options.trace")
        object_of(trace, "options.trace", TRACE_FIELDS)
        first = page(trace, "trace", limits.run_insns)
        which = integer(trace["run"], "options.trace.run", 0, limits.packets - 1) if "run" in trace else None
        trace = TracePage(first.offset, first.limit, which)
    unprivileged = loader_option(options, prog_type)
    view = object_of(data.get("view", {}), "view", VIEW_FIELDS)
    return RunInputs(
        prog_type, source, mem, tuple(found) if found is not None else None, ctx, event, texts,
        env(data.get("env", {})), seeds(data.get("seeds", []), limits),
        count_option(options, "max_insns", limits.run_insns),
        count_option(options, "max_processed", limits.verify_insns),
        walk, integer(view.get("step", 0), "view.step", 0, limits.run_insns + 1),
        integer(view.get("run", 0), "view.run", 0, limits.packets), walk_page, trace or None,
        integer(view["walk"], "view.walk", 0, MAX_WALK_OFFSET) if "walk" in view else None,
        breakpoint_list(view.get("break", [])), unprivileged)


def loader_option(options: dict[str, Any], prog_type: str) -> bool:
    """``options.unprivileged``: whether the program is loaded by a user without capabilities (default
    false, root). A ``raw`` program names no hook, so no loader loads it: asking for one is refused."""
    value = options.get("unprivileged", False)
    if not isinstance(value, bool):
        raise ApiError(400, "must be true (load as a user without CAP_BPF, CAP_PERFMON or CAP_SYS_ADMIN) or false "
                            "(as root, the default)", "options.unprivileged")
    if value and prog_type == RAW:
        raise ApiError(400, f"raw programs are loaded by no hook, so by no loader: choose a program type "
                            f"({' or '.join(UNPRIVILEGED_TYPES)} for an unprivileged user)", "options.unprivileged")
    return value


def breakpoint_list(value: Any) -> tuple[int, ...]:
    """``view.break``: at most ``MAX_BREAKPOINTS`` instruction indexes, in order and each once."""
    path = "view.break"
    if not isinstance(value, list):
        raise ApiError(400, "must be a list of instruction indexes, e.g. [3, 7]", path)
    if len(value) > MAX_BREAKPOINTS:
        raise ApiError(400, f"{len(value):,} breakpoints; at most {MAX_BREAKPOINTS} are kept", path)
    return tuple(sorted({integer(pc, f"{path}[{n}]", 0, MAX_PROGRAM_INSNS - 1) for n, pc in enumerate(value)}))


def page(value: dict[str, Any], name: str, highest_offset: int) -> Page:
    """``options.<name>`` as a page: ``offset`` from 0 to ``highest_offset`` (past the end of the list is
    an empty page), ``limit`` from 1 to the cap of ``PAGE_SIZES``."""
    path = f"options.{name}"
    object_of(value, path, TRACE_FIELDS if name == "trace" else PAGE_FIELDS)
    default, most = PAGE_SIZES[name]
    return Page(integer(value.get("offset", 0), f"{path}.offset", 0, highest_offset),
                integer(value.get("limit", default), f"{path}.limit", 1, most))
