"""The setup document: everything a share stores, and its two conversions to and from the playground form.

A setup is the JSON body of ``POST /api/v1/run`` (and ``/verify``), checked and normalised, plus where the
page was looking::

    {"source": str, "language"?: "asm" | "c", "type": str,
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
are made of those); the page shows the error. ``bytecode`` and ``maps`` are refused for now, and so are
packets for ``raw`` programs, because the playground page cannot show them.

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

from app.ebpf.progtypes import PROG_TYPES

from .ctxform import ENV_NAMES, _shown, ctx_groups
from .forms import CHECKED, LANG_ASM, LANGUAGES, RAW, RunForm, SeedRow
from .inputs import FieldError, Limits, check_source
from .jsonbody import SETUP_FIELDS, ApiError, RunInputs, object_of, packet_fields, run_inputs, string
from .packetform import DEFAULT_CHOICES, DEFAULT_VALUES, FORM_NAMES
from .runs import check

if TYPE_CHECKING:
    from .contexts import ResultContext

DEFAULT_PACKET = {**DEFAULT_CHOICES, **DEFAULT_VALUES}
"""What a share of a packet hook given no input stores: the playground's fresh packet builder (Ethernet, IPv4,
UDP to port 53, payload ``hello``), the packet its page runs on. ``/api/v1/run`` refuses a packet hook without
a packet, so the stored setup names it: ``/p/<id>.json`` then runs through the API as the page runs it."""

NOT_SHAREABLE = {"bytecode": "sharing takes a program as source text; bytecode cannot be shared yet",
                 "maps": "sharing cannot store maps declared beside the program yet: declare them in the source "
                         "with .map"}


def canonical_json(setup: Mapping[str, Any]) -> str:
    """The text that is hashed into the id and stored."""
    return json.dumps(setup, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_setup(body: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """The normalised setup for an API body; raises ``ApiError`` or ``FieldError`` naming the field.

    The body goes through ``jsonbody.run_inputs``, the checks ``/api/v1/run`` makes, so whatever is stored
    opens and runs as the API would run it."""
    for key, message in NOT_SHAREABLE.items():
        if key in body:
            raise ApiError(400, message, key)
    body = dict(body)
    language = _language(body.pop("language", LANG_ASM))
    data = object_of(body, "", SETUP_FIELDS)
    source = string(data, "source")
    if source is None:
        raise ApiError(400, "required: the program's source text", "source")
    setup: dict[str, Any] = {"source": check_source("source", source, limits.source_bytes)}
    if language != LANG_ASM:
        setup["language"] = language
    inputs = run_inputs(data, limits)
    if inputs.prog_type == RAW and inputs.packets is not None:
        raise ApiError(400, "the page runs raw programs on memory: share input.mem, or a packet hook (xdp, "
                            "sched_cls ...) for packets", f"input.{inputs.source}")
    setup["type"] = inputs.prog_type
    parts = {
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
    return RunForm(setup["source"], str(options.get("max_insns", limits.run_insns)),
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
