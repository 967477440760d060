"""Form fields for hooks whose input is their context (kprobe registers, a tracepoint record, raw tracepoint
arguments, a perf event sample, a socket address), for the deterministic environment, and for map seeds.

The fields come from the engine's tables (``ProgType.fields``, ``ProgType.aliases``,
``tracepoints.EVENTS``, ``Env``); this module only decides how they are entered. Two conversions make
``bpf_sock_addr`` usable by hand, and the page says so beside the fields:

* ``user_ip4`` (and ``msg_src_ip4``) take a dotted quad. The kernel keeps the address in network byte
  order, so ``10.0.0.2`` is the bytes ``0a 00 00 02`` and a u32 load reads ``0x0200000a``.
* ``user_port`` takes a port number; the field holds it in network byte order in its low 16 bits, so
  ``80`` is stored as ``0x5000`` (``bpf_htons(80)``).

Every other field takes a number: decimal, ``0x`` hex, ``0o`` octal or ``0b`` binary; negative numbers are stored in
two's complement.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Mapping

from app.ebpf.env import Env
from app.ebpf.progtypes import PT_REGS, ProgType
from app.ebpf.tracepoints import EVENTS, TpEvent
from app.ebpf.vm import MapSeed

from .inputs import FieldError, parse_hex, parse_int

CONVERSIONS = {
    ("bpf_sock_addr", "user_ip4"): "ip4",
    ("bpf_sock_addr", "msg_src_ip4"): "ip4",
    ("bpf_sock_addr", "user_port"): "port",
}
"""Context fields entered in a friendlier form than a raw number: ``ip4`` (a dotted quad, kept in network
byte order) and ``port`` (a port number, kept as ``bpf_htons(port)``)."""

CONVERSION_NOTES = {
    "ip4": "a dotted quad, stored in network byte order: 10.0.0.2 is the bytes 0a 00 00 02, which a u32 load "
           "reads as 0x0200000a",
    "port": "a port number, stored in network byte order in the low 16 bits: 80 is stored as 0x5000 "
            "(bpf_htons(80))",
}

_REGISTERS = frozenset(f.name for f in PT_REGS)
DEFAULT_EVENT = next(iter(EVENTS))


@dataclass(frozen=True)
class CtxInput:
    """One context field on the form. ``name`` is the engine's field name (the form field is ``ctx_<name>``),
    ``label`` what the page calls it (``arg1 (di)``), ``doc`` what it holds, ``offset`` and ``size`` where it
    lies in the context, ``kind`` how text becomes its value (``int``, ``ip4`` or ``port``), ``placeholder``
    the value used when the field is left blank."""

    name: str
    label: str
    doc: str
    offset: int
    size: int
    kind: str
    placeholder: str


@dataclass(frozen=True)
class CtxGroup:
    """Context fields (``inputs``) shown together under a ``title``; ``collapsed`` groups start folded away."""

    title: str
    inputs: tuple[CtxInput, ...]
    collapsed: bool = False


def event_of(name: str) -> TpEvent:
    return EVENTS.get(name) or EVENTS[DEFAULT_EVENT]


def _readable(ptype: ProgType, offset: int, size: int) -> bool:
    return ptype.is_valid_access(offset, size if size <= 8 else 4, False)


def ctx_groups(ptype: ProgType, event: str = "") -> tuple[CtxGroup, ...]:
    """The form's groups of context fields for ``ptype`` (tracepoints: for ``event``)."""
    if ptype.name == "tracepoint":
        ev = event_of(event)
        inputs = tuple(CtxInput(f.name, f.name, f.doc, f.offset, f.size, "int", "0")
                       for f in ev.fields if f.offset >= 8 and not f.data_loc)
        return (CtxGroup(f"{ev.name} record fields", inputs),)
    by_target: dict[str, list[str]] = {}
    for alias, target in ptype.aliases.items():
        by_target.setdefault(target, []).append(alias)
    inputs = []
    for f in ptype.fields:
        if f.kind != "value" or not _readable(ptype, f.offset, f.size):
            continue
        args = sorted(a for a in by_target.get(f.name, ()) if a.startswith("arg"))
        label = f"{args[0]} ({f.name})" if args else f.name
        kind = CONVERSIONS.get((ptype.ctx_struct, f.name), "int")
        default = ptype.defaults.get(f.name, 0)
        inputs.append(CtxInput(f.name, label, f.doc, f.offset, f.size, kind, _shown(kind, default)))
    if not ptype.aliases:
        return (CtxGroup(f"{ptype.ctx_struct} fields", tuple(inputs)),)
    args = tuple(sorted((i for i in inputs if i.label.startswith("arg")), key=lambda i: i.label))
    main_regs = {ptype.aliases.get(a) for a in ("ret", "pc", "rsp")}
    main = tuple(i for i in inputs if i.name in main_regs)
    other = tuple(i for i in inputs if i.name not in main_regs and i not in args and i.name in _REGISTERS)
    extra = tuple(i for i in inputs if i.name not in _REGISTERS)
    groups = [CtxGroup("Sample", extra)] if extra else []
    groups += [CtxGroup("Function arguments (x86-64: di, si, dx, cx, r8)", args),
               CtxGroup("Return value, instruction and stack pointer", main),
               CtxGroup("Other registers", other, collapsed=True)]
    return tuple(groups)


def string_fields(ptype: ProgType, event: str = "") -> tuple[CtxInput, ...]:
    """Tracepoint ``__data_loc`` string fields (the form field is ``str_<name>``)."""
    if ptype.name != "tracepoint":
        return ()
    return tuple(CtxInput(f.name, f.name, f.doc, f.offset, f.size, "string", "")
                 for f in event_of(event).fields if f.data_loc)


def _shown(kind: str, value: int) -> str:
    if kind == "ip4":
        return str(ipaddress.IPv4Address(value.to_bytes(4, "little")))
    if kind == "port":
        return str(int.from_bytes((value & 0xFFFF).to_bytes(2, "little"), "big"))
    return str(value)


def ctx_value(field: str, kind: str, size: int, text: str) -> int:
    """The context value for what was typed into one field (see the module docstring)."""
    if kind == "ip4" and "." in text:
        try:
            return int.from_bytes(ipaddress.IPv4Address(text.strip()).packed, "little")
        except ValueError:
            raise FieldError(field, f"{text.strip()!r} is not an IPv4 address like 10.0.0.2") from None
    if kind == "port":
        port = parse_int(field, text, 2, signed_ok=False)
        return int.from_bytes(port.to_bytes(2, "big"), "little")
    return parse_int(field, text, size)


def describe(kind: str, value: int, size: int) -> str:
    """A context value as the stepper shows it: the number, plus what it means for converted fields."""
    if kind == "ip4":
        return f"{_shown(kind, value)} (0x{value:08x})"
    if kind == "port":
        return f"port {_shown(kind, value)} (0x{value:04x})"
    signed = value - (1 << (8 * size)) if value >> (8 * size - 1) else value
    return f"0x{value:x} ({value})" if signed >= 0 else f"0x{value:x} ({signed})"


def parse_ctx(ptype: ProgType, event: str, values: Mapping[str, str]) -> tuple[dict[str, int], dict[str, str]]:
    """Context values by engine field name from the form's ``ctx_*`` values (blank fields left out), and
    the errors by form field."""
    out: dict[str, int] = {}
    errors: dict[str, str] = {}
    for group in ctx_groups(ptype, event):
        for i in group.inputs:
            text = values.get(i.name, "").strip()
            if not text:
                continue
            try:
                out[i.name] = ctx_value(f"ctx_{i.name}", i.kind, i.size, text)
            except FieldError as e:
                errors[e.field] = e.message
    return out, errors


# --- the environment ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnvInput:
    """A setting of the deterministic environment: ``name`` (the ``Env`` field; form field ``env_<name>``),
    ``label``, ``doc`` (what helpers make of it) and ``placeholder`` (the default)."""

    name: str
    label: str
    doc: str
    placeholder: str


_ENV_DOCS = (
    ("clock_start_ns", "Clock start (ns)", "what bpf_ktime_get_ns returns at its first call"),
    ("clock_tick_ns", "Clock tick (ns)", "added to the clock after every read, so each call sees a later time"),
    ("seed", "Random seed", "starts the sequence bpf_get_prandom_u32 returns"),
    ("cpu", "CPU", "what bpf_get_smp_processor_id returns, and which copy of a per-CPU map the program sees"),
    ("ncpus", "CPUs", "how many CPUs there are: per-CPU maps keep one value for each"),
    ("pid", "pid (thread id)", "the low 32 bits of bpf_get_current_pid_tgid"),
    ("tgid", "tgid (process id)", "the high 32 bits of bpf_get_current_pid_tgid"),
    ("uid", "uid", "the low 32 bits of bpf_get_current_uid_gid"),
    ("gid", "gid", "the high 32 bits of bpf_get_current_uid_gid"),
    ("comm", "comm", "the task name bpf_get_current_comm copies (at most 15 bytes)"),
)
_DEFAULT_ENV = Env()
ENV_INPUTS = tuple(EnvInput(n, label, doc, str(getattr(_DEFAULT_ENV, n))) for n, label, doc in _ENV_DOCS)
ENV_NAMES = tuple(i.name for i in ENV_INPUTS)


def parse_env(values: Mapping[str, str]) -> tuple[Env, dict[str, str]]:
    """The environment from the form's ``env_*`` values (blank: the default), and errors by form field."""
    kwargs: dict[str, object] = {}
    errors: dict[str, str] = {}
    for name in ENV_NAMES:
        text = values.get(name, "")
        if name == "comm":
            if text:
                kwargs[name] = text
            continue
        if not text.strip():
            continue
        try:
            kwargs[name] = parse_int(f"env_{name}", text, 8, signed_ok=False)
        except FieldError as e:
            errors[e.field] = e.message
    known = {f.name for f in dataclass_fields(Env)}
    return Env(**{k: v for k, v in kwargs.items() if k in known}), errors  # type: ignore[arg-type]


# --- map seeds --------------------------------------------------------------------------------------------

def parse_seeds(rows: tuple, limit: int) -> tuple[tuple[MapSeed, ...], tuple[int, ...], dict[str, str]]:
    """Seeds from the rows that are not blank, the row index of each, and errors by row (``seed-N``)."""
    seeds: list[MapSeed] = []
    where: list[int] = []
    errors: dict[str, str] = {}
    for n, row in enumerate(rows):
        if not (row.map.strip() or row.key.strip() or row.value.strip()):
            continue
        slot = f"seed-{n}"
        name = row.map.strip()
        if not name:
            errors[slot] = "name the map to seed"
            continue
        try:
            key = parse_hex(slot, row.key, limit)
        except FieldError as e:
            errors[slot] = f"key: {e.message}"
            continue
        try:
            value = parse_hex(slot, row.value, limit)
        except FieldError as e:
            errors[slot] = f"value: {e.message}"
            continue
        seeds.append(MapSeed(int(name) if name.isdigit() else name, key, value))
        where.append(n)
    return tuple(seeds), tuple(where), errors
