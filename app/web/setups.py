"""The setup document: everything a share stores, and its two conversions to and from the playground form.

A setup is the JSON body of ``POST /api/v1/run`` (and ``/verify``), checked and normalised, plus where the
page was looking::

    {"source": str, "language"?: "asm" | "c" | "bytecode": hex, "type": str,
     "maps"?: [{"name"?: str, "type": str, "key_size": int, "value_size": int, "max_entries": int, "flags"?: int}],
     "input"?: {"mem": hex} | {"packets": [hex, ...]} | {"packet_spec": [spec, ...]}
               | {"packet_fields": {name: text}} | {"ctx"?: {field: int}, "event"?: str, "strings"?: {field: str}},
     "env"?: {name: int | str}, "seeds"?: [{"map": name | index, "key": hex, "value": hex}],
     "options"?: {"max_insns"?: int, "max_processed"?: int, "walk"?: true, "unprivileged"?: true},
     "view"?: {"step"?: int, "run"?: int, "walk"?: int, "break"?: [int, ...]}}

Normalising makes equal setups equal text, so that they get the same id: hex is lowercase without spaces, a
single ``packet`` becomes ``packets``, a ``packet_spec`` string becomes a one-item list, blank layer-form
fields are left out and the others lose surrounding blanks (the payload is kept as typed), context fields go
by their own names (``rdi`` and ``arg1`` are ``di``), and defaults are left out (``type`` is always present;
``language`` ``asm``, ``max_insns`` equal to the server's limit, ``walk`` false, ``unprivileged`` false (a
root loader, as every share made before the option existed), a ``view`` at step 0 of run 0
with the walk where it opens by itself and no breakpoints, and empty objects are dropped, so setups made
before C existed keep their ids; breakpoints are sorted, each once; pages asked of the walk or the trace,
``options.walk`` as an object and ``options.trace``, are how an answer is read, not part of the setup, and are
dropped too). A packet hook given no input gets the page's default packet (``DEFAULT_PACKET``) written in, so
that the setup says what it runs on. ``canonical_json`` is the text that is hashed and stored: sorted keys, no
spaces, UTF-8, at most ``Limits.setup_bytes``.

A setup is checked as ``/api/v1/run`` checks its body (``jsonbody.run_inputs``: shapes, sizes, inputs the
hook takes, context fields and values), so a share opens as it runs. What needs the program is not
checked: a program that does not assemble, or seeds for a map it lacks, can still be shared (bug reports
are made of those); the page shows the error. Packets for ``raw`` programs are refused, because the
playground page cannot show them. ``bytecode`` (hex, lowercase without spaces, at most as many bytes as a
source) is taken when its disassembly assembles back to the same bytes, and ``maps`` (a ``name`` left out when
it is the default ``mapN``, ``flags`` when 0) when ``.map`` lines declare exactly those maps: the page's
editor holds assembly, and opens such a setup as ``program_text``, the ``.map`` lines followed by the source
or the disassembly.

``setup_of_form`` and ``form_of_setup`` convert between a setup and ``forms.RunForm``, the page's fields
as text; a setup made from a form comes back unchanged from a round trip through the form. The view is the
form's ``step``, ``run``, ``walk`` and ``break``; the page's Share button sends them as ``VIEW_FORM_FIELDS``
(``view_step`` ...: the editor's own fields say nothing of where the page is looking, and a Run must not
start where the last result was), and ``form_with_view`` puts them in place.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from app.ebpf import AsmError, assemble, disassemble, load_bytes
from app.ebpf.asm import map_directive
from app.ebpf.asm.parse import MAP_NAME
from app.ebpf.maps import MAP_TYPES, check_map
from app.ebpf.progtypes import PROG_TYPES

from .ctxform import ENV_NAMES, _shown, ctx_groups
from .forms import CHECKED, LANG_ASM, LANG_C, LANGUAGES, RAW, RunForm, SeedRow
from .inputs import FieldError, Limits, check_source, parse_hex
from .jsonbody import SETUP_FIELDS, ApiError, RunInputs, map_defs, object_of, packet_fields, run_inputs, string
from .packetform import DEFAULT_CHOICES, DEFAULT_VALUES, FORM_NAMES
from .runs import check

if TYPE_CHECKING:
    from .contexts import ResultContext

DEFAULT_PACKET = {**DEFAULT_CHOICES, **DEFAULT_VALUES}
"""What a share of a packet hook given no input stores: the playground's fresh packet builder (Ethernet, IPv4,
UDP to port 53, payload ``hello``), the packet its page runs on. ``/api/v1/run`` refuses a packet hook without
a packet, so the stored setup names it: ``/p/<id>.json`` then runs through the API as the page runs it."""



def canonical_json(setup: Mapping[str, Any]) -> str:
    """The text that is hashed into the id and stored."""
    return json.dumps(setup, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_setup(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """The normalised setup for an API body; raises ``ApiError`` or ``FieldError`` naming the field (or the
    engine's ``DecodeError`` for ``bytecode`` that does not decode, which the API answers naming it).

    The body goes through ``jsonbody.run_inputs``, the checks ``/api/v1/run`` makes, so whatever is stored
    opens and runs as the API would run it."""
    body = dict(body)
    language = _language(body.pop("language", LANG_ASM))
    data = object_of(body, "", SETUP_FIELDS)
    setup = _program(data, language, limits)
    inputs = run_inputs(data, limits)
    if inputs.prog_type == RAW and inputs.packets is not None:
        raise ApiError(400, "the page runs raw programs on memory: share input.mem, or a packet hook (xdp, "
                            "sched_cls ...) for packets", f"input.{inputs.source}")
    setup["type"] = inputs.prog_type
    parts = {
        "maps": _maps(data, setup),
        "input": _input(data.get("input", {}), inputs),
        "env": dict(data.get("env", {})),
        "seeds": [{"map": s.map, "key": s.key.hex(), "value": s.value.hex()} for s in inputs.seeds],
        "options": _options(inputs, limits),
        "view": _view(inputs),
    }
    setup.update((key, value) for key, value in parts.items() if value)
    size = len(canonical_json(setup).encode())
    if size > limits.setup_bytes:
        raise ApiError(413, f"the setup is {size:,} bytes as stored; at most {limits.setup_bytes:,} can be shared")
    return setup


def _program(data: dict[str, Any], language: str, limits: Limits) -> dict[str, Any]:
    """``{"source"}`` (and ``language`` unless assembly) or ``{"bytecode"}``: hex lowercase without spaces, at
    most ``Limits.source_bytes``, and only bytecode the page can open (it decodes, and its disassembly
    assembles back to the same bytes)."""
    source, bytecode = string(data, "source"), string(data, "bytecode")
    if source is not None and bytecode is not None:
        raise ApiError(400, "give either source or bytecode, not both", "bytecode")
    if bytecode is not None:
        if language != LANG_ASM:
            raise ApiError(400, "bytecode has no language: give C as source", "language")
        code = parse_hex("bytecode", bytecode, limits.source_bytes)
        text = disassemble(load_bytes(code))  # DecodeError: a 400 naming bytecode and the instruction
        try:
            same = assemble(text).to_bytes() == code
        except AsmError:
            same = False
        if not same:
            raise ApiError(400, "its disassembly does not assemble back to the same bytes, so the page could "
                                "not open it", "bytecode")
        return {"bytecode": code.hex()}
    if source is None:
        raise ApiError(400, "required: the program's source text (or its bytecode)", "source")
    setup = {"source": check_source("source", source, limits.source_bytes)}
    if language != LANG_ASM:
        setup["language"] = language
    return setup


def _maps(data: dict[str, Any], setup: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``maps`` as ``/api/v1/run`` reads them (``jsonbody.map_defs``), each ``{"type", "key_size",
    "value_size", "max_entries"}`` plus ``name`` unless it is the default ``mapN`` and ``flags`` unless 0.
    The page opens them as ``.map`` lines before the program (``program_text``), so only maps those lines
    declare exactly are taken: names that ``.map`` reads, each once, and a program that declares no maps of
    its own (the ones given here come after those, as ``map_fd(N)`` counts them)."""
    if "maps" not in data:
        return []
    if setup.get("language") == LANG_C:
        raise ApiError(400, "a C program declares its maps in its source (SEC(\".maps\")): share them there",
                       "maps")
    defs = map_defs(data["maps"], 0)
    if "source" in setup and _declared_maps(setup["source"]):
        raise ApiError(400, "the source declares maps with .map already: declare these there too", "maps")
    for i, mdef in enumerate(defs):
        if not MAP_NAME.fullmatch(mdef.name):
            raise ApiError(400, "the page declares maps with .map lines: a name is letters, digits and _, "
                                "not starting with a digit", f"maps[{i}].name")
        if mdef.type not in MAP_TYPES:
            raise ApiError(400, f"unknown map type (one of: {', '.join(MAP_TYPES)})", f"maps[{i}].type")
        problem = check_map(mdef, 1)  # as /api/v1/verify checks them
        if problem:
            raise ApiError(400, f"map {mdef.name} cannot be created: {problem}", f"maps[{i}]")
    try:
        declared = assemble("\n".join(map(map_directive, defs))).maps
    except AsmError as e:  # a name declared twice, an array_of_maps without its inner map ...
        raise ApiError(400, e.message, f"maps[{e.line - 1}]") from None
    assert declared == defs, "map_directive writes what .map reads"
    return [{"type": m.type, "key_size": m.key_size, "value_size": m.value_size, "max_entries": m.max_entries,
             **({"name": m.name} if m.name != f"map{i}" else {}), **({"flags": m.flags} if m.flags else {})}
            for i, m in enumerate(defs)]


def _declared_maps(source: str) -> int:
    """How many maps an assembly source declares (0 when it does not assemble: the page shows that error)."""
    try:
        return len(assemble(source).maps)
    except AsmError:
        return 0


def program_text(setup: Mapping[str, Any]) -> str:
    """The program as the page's editor opens it, and as ``/p/<id>.s`` serves it: its ``maps`` as ``.map``
    lines, then the source, or the disassembly of the bytecode (which ``check_setup`` made sure assembles
    back to the same bytes). Assembling it gives the program ``/api/v1/run`` runs for the setup."""
    maps = "".join(map_directive(m) + "\n" for m in map_defs(setup.get("maps", []), 0))
    if "bytecode" in setup:
        return maps + disassemble(load_bytes(bytes.fromhex(setup["bytecode"])))
    return maps + setup["source"]


def _view(inputs: RunInputs) -> dict[str, Any]:
    """Where the page opens, without the defaults."""
    view: dict[str, Any] = {k: v for k, v in (("step", inputs.step), ("run", inputs.run)) if v}
    if inputs.walk_at is not None:
        view["walk"] = inputs.walk_at
    if inputs.breakpoints:
        view["break"] = list(inputs.breakpoints)
    return view


def _language(value: Any) -> str:
    """``asm`` or ``c``; anything else is refused by name."""
    if value not in LANGUAGES:
        raise ApiError(400, f"unknown language (one of: {', '.join(LANGUAGES)})", "language")
    return value


def _input(given: Mapping[str, Any], inputs: RunInputs) -> dict[str, Any]:
    """The normalised ``input``: hex lowercase, one packet source spelled one way, context fields by their
    canonical names, blank text left out."""
    out: dict[str, Any] = {}
    if inputs.source == "mem":
        if inputs.mem:
            out["mem"] = inputs.mem.hex()
    elif inputs.source in ("packet", "packets"):
        out["packets"] = [p.hex() for p in inputs.packets or ()]
    elif inputs.source == "packet_spec":
        specs = given["packet_spec"]
        out["packet_spec"] = [s.strip() for s in ([specs] if isinstance(specs, str) else specs)]
    elif inputs.source == "packet_fields":
        out["packet_fields"] = packet_fields(given["packet_fields"])
    elif inputs.prog_type in PROG_TYPES and PROG_TYPES[inputs.prog_type].input == "packet":
        out["packet_fields"] = packet_fields(DEFAULT_PACKET)  # none given: the packet the page runs on
    ctx = _canonical_ctx(inputs.prog_type, inputs.ctx)
    out.update((k, v) for k, v in (("ctx", ctx), ("event", inputs.event), ("strings", inputs.strings)) if v)
    return out


def _canonical_ctx(prog_type: str, values: Mapping[str, int]) -> dict[str, int]:
    """Context values by the field's own name (``rdi`` and ``arg1`` are ``di``), each field once."""
    ptype = PROG_TYPES.get(prog_type)
    aliases = ptype.aliases if ptype is not None else {}
    out: dict[str, int] = {}
    given: dict[str, str] = {}
    for key, value in values.items():
        name = aliases.get(key, key)
        if name in out:
            raise ApiError(400, f"the field {name!r} is given twice, as {given[name]!r} and {key!r}",
                           f"input.ctx.{key}")
        out[name], given[name] = value, key
    return out


def _options(inputs: RunInputs, limits: Limits) -> dict[str, Any]:
    """The options that differ from the defaults."""
    out: dict[str, Any] = {}
    if inputs.max_insns != limits.run_insns:
        out["max_insns"] = inputs.max_insns
    if inputs.max_processed != limits.verify_insns:
        out["max_processed"] = inputs.max_processed
    if inputs.walk and inputs.walk_page is None:  # pages of the walk or trace are how an answer is read
        out["walk"] = True
    if inputs.unprivileged:
        out["unprivileged"] = True
    return out


# --- the playground form ----------------------------------------------------------------------------------

def setup_of_form(form: RunForm, limits: Limits) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The setup for the page's fields, or None and the problems by form field (as a run would report
    them). The program is not assembled: one that does not assemble can be shared."""
    request, errors = check(form, limits)
    if request is None:
        return None, errors
    body: dict[str, Any] = {"source": request.source, "language": request.language, "type": form.type}
    ptype = PROG_TYPES.get(form.type)
    if ptype is None:
        body["input"] = {"mem": (request.mem or b"").hex()}
    elif ptype.input == "packet":
        body["input"] = {
            "fields": lambda: {"packet_fields": dict(form.layers)},
            "spec": lambda: {"packet_spec": [line for line in form.packet_spec.splitlines() if line.strip()]},
        }.get(form.packet_from, lambda: {"packets": [p.hex() for p in request.packets]})()
    else:
        strings = {k: v.decode() for k, v in request.strings.items() if v}
        extra = {"event": request.event, "strings": strings} if ptype.name == "tracepoint" else {}
        body["input"] = {"ctx": request.ctx, **extra}
    body["env"] = {k: getattr(request.env, k) for k in ENV_NAMES if form.env.get(k, "").strip()}
    body["seeds"] = [{"map": s.map, "key": s.key.hex(), "value": s.value.hex()} for s in request.seeds]
    body["options"] = {"max_insns": request.max_insns, "unprivileged": request.unprivileged}
    try:
        body["view"] = {"step": request.step, "run": request.run, **_walk_and_breakpoints(form)}
        return check_setup(body, limits), {}
    except ApiError as e:
        return None, {_form_field(e.body.get("field", "source")): e.body["message"]}
    except FieldError as e:
        return None, {_form_field(e.field): e.message}


def setup_key(form: RunForm, limits: Limits) -> str:
    """A short name for the setup of the page's fields, the same for every place on the page (step, run,
    walk, breakpoints), so equal for the fields of an example's page and for a run from its editor with
    nothing changed; empty when a field cannot be used. Not an id of anything stored: the page compares two
    of them (``contexts.RunInputs.setup``)."""
    setup, _ = setup_of_form(replace(form, step="0", run="0", walk="", breaks=""), limits)
    if setup is None:
        return ""
    return hashlib.sha256(canonical_json(setup).encode()).hexdigest()[:16]


def _walk_and_breakpoints(form: RunForm) -> dict[str, Any]:
    """The view's ``walk`` (left out when blank: where the walk opens) and ``break`` from the form's text;
    raises ``FieldError`` naming ``walk`` or ``break``."""
    out: dict[str, Any] = {}
    walk = form.walk.strip()
    if walk:
        if not (walk.isascii() and walk.isdigit()):
            raise FieldError("walk", f"the walk's event must be a number, not {walk[:40]!r}")
        out["walk"] = int(walk)
    parts = [p.strip() for p in form.breaks.split(",") if p.strip()]
    bad = next((p for p in parts if not (p.isascii() and p.isdigit())), None)
    if bad is not None:
        raise FieldError("break", f"breakpoints are instruction numbers separated by commas, not {bad[:40]!r}")
    if parts:
        out["break"] = [int(p) for p in parts]
    return out


VIEW_FORM_FIELDS = {"step": "view_step", "run": "view_run", "walk": "view_walk", "breaks": "view_break"}
"""The Share button's hidden fields for where the page is looking, by the ``RunForm`` field each one sets."""


def view_fields(result: ResultContext) -> tuple[tuple[str, str], ...]:
    """The Share button's ``VIEW_FORM_FIELDS`` for the place ``result`` shows: the step and the packet's run
    on screen, the walk's event unless it is where the walk opens by itself, the breakpoints. (With
    JavaScript, ``urlstate.js`` sets them again when Share is pressed, as the page moves without reloading.)"""
    step = result.step
    walk = result.walk
    opens_at = walk.error_event if walk is not None and walk.error_event is not None else 0
    values = {"step": str(step.index) if step is not None else "0", "run": str(result.inputs.run),
              "walk": str(walk.index) if walk is not None and walk.index != opens_at else "",
              "breaks": step.breakpoints.text if step is not None else ""}
    return tuple((sent, values[name]) for name, sent in VIEW_FORM_FIELDS.items())


def form_with_view(form: RunForm, fields: Mapping[str, str]) -> RunForm:
    """``form`` (the editor's fields) at the place the Share button's ``VIEW_FORM_FIELDS`` name (missing
    ones: the run's start, and the walk where it opens)."""
    defaults = {"step": "0", "run": "0", "walk": "", "breaks": ""}
    return replace(form, **{name: fields.get(sent, defaults[name]) for name, sent in VIEW_FORM_FIELDS.items()})


def _form_field(api_field: str) -> str:
    """The form field for a setup field (``input.packet_fields.ip_dst`` -> ``ip_dst``), for error messages."""
    if api_field.startswith("view.break"):  # view.break[3]
        return "break"
    for prefix, name in (("input.packet_fields.", ""), ("input.ctx.", "ctx_"), ("input.strings.", "str_"),
                         ("env.", "env_")):
        if api_field.startswith(prefix):
            return name + api_field[len(prefix):]
    return {"language": "language", "input.mem": "mem", "input.packets": "packets", "input.packet_spec": "packet_spec",
            "input.event": "event", "options.max_insns": "max_insns", "options.unprivileged": "unprivileged",
            "view.step": "step",
            "view.run": "run", "view.walk": "walk", "walk": "walk", "break": "break"}.get(api_field, "source")


def form_of_setup(setup: Mapping[str, Any], limits: Limits) -> RunForm:
    """The page's fields for a (checked) setup."""
    given = setup.get("input", {})
    prog_type = setup.get("type", RAW)
    ptype = PROG_TYPES.get(prog_type)
    packet_from, packets, spec, layers = "fields", "", "", None
    if "packet_fields" in given:
        layers = {name: given["packet_fields"].get(name, "") for name in FORM_NAMES}
    elif "packet_spec" in given:
        packet_from, spec = "spec", "\n".join(given["packet_spec"])
    elif "packets" in given:
        packet_from, packets = "hex", "\n".join(given["packets"])
    ctx = _ctx_texts(ptype, given.get("event", ""), given.get("ctx", {})) if ptype is not None else {}
    env = {k: str(v) for k, v in setup.get("env", {}).items()}
    seeds = tuple(SeedRow(str(s["map"]), s["key"], s["value"]) for s in setup.get("seeds", []))
    view = setup.get("view", {})
    extra = {"layers": layers} if layers is not None else {}
    walk, breaks = str(view.get("walk", "")), ",".join(str(pc) for pc in view.get("break", []))
    options = setup.get("options", {})
    return RunForm(program_text(setup), str(options.get("max_insns", limits.run_insns)),
                   step=str(view.get("step", 0)), type=prog_type, mem=given.get("mem", ""), run=str(view.get("run", 0)),
                   packet_from=packet_from, packets=packets, packet_spec=spec, ctx=ctx, event=given.get("event", ""),
                   strings=dict(given.get("strings", {})), env=env, seeds=seeds,
                   language=setup.get("language", LANG_ASM), walk=walk, breaks=breaks,
                   unprivileged=CHECKED if options.get("unprivileged") else "", **extra)


def _ctx_texts(ptype, event: str, values: Mapping[str, int]) -> dict[str, str]:
    """Context values as the form shows them: dotted quads and ports where the form takes those, negative
    numbers for values with the sign bit set, large numbers in hex."""
    inputs = {i.name: i for group in ctx_groups(ptype, event) for i in group.inputs}
    out = {}
    for key, value in values.items():
        name = ptype.aliases.get(key, key)
        field = inputs.get(name)
        if field is None or value < 0:
            out[name] = str(value)
        elif field.kind != "int":
            out[name] = _shown(field.kind, value)
        elif value >> (8 * field.size - 1):
            out[name] = str(value - (1 << (8 * field.size)))
        else:
            out[name] = hex(value) if value > 0xFFFF else str(value)
    return out
