"""The form side of the page -> contexts: the hook picker, the input panel for the chosen hook, the
environment and the map seeds, with each field's error beside it.

Every field that can show an error has a slot ``<name>-error`` (``_macros.html``); ``error_slots`` lists
them so that an htmx run can update them all out of band, clearing old messages.
"""
from __future__ import annotations

from typing import Mapping

from app.ebpf import AsmError, Program
from app.ebpf.cc import compiler_available
from app.ebpf.maps import MAP_TYPES
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.tracepoints import EVENTS

from . import packetform as pf
from .contexts import (
    Choice,
    DeclaredMap,
    EditorContext,
    FieldGroup,
    FormField,
    InputPanel,
    PacketBuilder,
    SeedRowContext,
)
from .ctxform import CONVERSION_NOTES, ENV_INPUTS, ctx_groups, event_of, string_fields
from .forms import LANG_ASM, LANG_C, RAW, RunForm, SeedRow
from .highlight import highlight_source
from .inputs import Limits
from .runs import source_error_location

RAW_DOC = "no hook: r1 points to the input memory and r2 holds its length (the conformance suites' convention)"
GROUPS = {"packet": "Packet hooks (input: a packet)", "ctx": "Context hooks (input: a context)"}

FIXED_LABELS = {
    "type": "Hook", "language": "Language", "source": "Program", "mem": "Input memory", "max_insns": "Max steps",
    "step": "Step", "run": "Packet to step", "packets": "Packets (hex)", "packet_spec": "Packet spec",
    "pcap": "Capture file", "packet": "Packet", "event": "Tracepoint event", "walk": "Verifier walk event",
    "break": "Breakpoints", "unprivileged": "Unprivileged loader",
}
PAGE_ORDER = ("language", "type", "unprivileged", "source", "mem", "packet", "packets", "packet_spec", "pcap", *pf.FORM_NAMES,
              "event")


HOOK_TITLES = {
    RAW: "no hook", "socket_filter": "socket", "xdp": "driver", "sched_cls": "TC classifier",
    "sched_act": "TC action", "cgroup_skb": "cgroup packets", "kprobe": "kernel function",
    "tracepoint": "kernel event", "raw_tracepoint": "raw event", "perf_event": "perf sample",
    "cgroup_sock_addr": "connect()",
}
"""A few words on where each hook runs, for the hook picker's options (``xdp — driver``): short enough that
the select shows them whole. The hook's one-line doc is shown under the picker, in the input panel."""


def hook_choices(selected: str) -> tuple[Choice, ...]:
    """``raw`` and every program type of the engine: its name and title as the option's text, its one-line
    doc beside."""
    out = [Choice(RAW, f"raw — {HOOK_TITLES[RAW]}", RAW_DOC, "", selected == RAW)]
    for name, ptype in PROG_TYPES.items():
        label = f"{name} — {HOOK_TITLES[name]}" if name in HOOK_TITLES else name
        out.append(Choice(name, label, ptype.doc, GROUPS.get(ptype.input, ""), selected == name))
    return tuple(out)


def language_choices(selected: str) -> tuple[Choice, ...]:
    """Assembly, and C (said to be unavailable where this server has no compiler)."""
    available, about = compiler_available()
    c_label = "C" if available else "C (no compiler on this server)"
    c_doc = f"restricted C, compiled on the server by {about}" if available else about
    return (Choice(LANG_ASM, "Assembly", "eBPF assembly, kernel/LLVM or legacy syntax", "", selected != LANG_C),
            Choice(LANG_C, c_label, c_doc, "", selected == LANG_C))


def field_label(key: str) -> str:
    """What the error summary calls a field (by its error key)."""
    if key in FIXED_LABELS:
        return FIXED_LABELS[key]
    layer_field = next((f for f in pf.ALL_FIELDS if f.name == key), None)
    if layer_field is not None:
        return f"Packet: {layer_field.label}"
    for prefix, what in (("ctx_", "Context field"), ("str_", "String field"), ("env_", "Environment")):
        if key.startswith(prefix):
            return f"{what} {key[len(prefix):]}"
    if key.startswith("seed-"):
        return f"Map seed {int(key.split('-')[1]) + 1}"
    return key


def field_target(key: str) -> str:
    """The element a summary entry links to."""
    if key.startswith("seed-"):
        return f"{key}-map"
    return {"packet": "l3", "run": "stepper", "break": "stepper"}.get(key, key)


def _rank(key: str) -> tuple[int, str]:
    if key in PAGE_ORDER:
        return PAGE_ORDER.index(key), ""
    for n, prefix in enumerate(("ctx_", "str_", "env_", "seed-"), len(PAGE_ORDER)):
        if key.startswith(prefix):
            return n, key.zfill(12) if prefix == "seed-" else key
    return 99, key


def ordered(errors: Mapping[str, str]) -> list[str]:
    """Error keys in the order their fields appear on the page (``max_insns``, ``step`` and ``run`` last)."""
    late = ("max_insns", "step", "run")
    return sorted((k for k in errors if k not in late), key=_rank) + [k for k in late if k in errors]


# --- the input panel ------------------------------------------------------------------------------------

def _field(name: str, label: str, value: str, errors: Mapping[str, str], placeholder: str = "", hint: str = "",
           mono: bool = True) -> FormField:
    return FormField(name, label, value, placeholder, hint, errors.get(name, ""), mono)


def _layer_fields(fields: tuple[pf.LayerField, ...], values: Mapping[str, str], errors: Mapping[str, str],
                  v6: bool = False) -> tuple[FormField, ...]:
    return tuple(_field(f.name, f.label, values.get(f.name, ""), errors,
                        f.placeholder6 if v6 and f.placeholder6 else f.placeholder, f.hint) for f in fields)


def packet_builder(form: RunForm, errors: Mapping[str, str], limits: Limits) -> PacketBuilder:
    values = form.layers
    l3, l4, vlan = pf.choice(values, "l3"), pf.choice(values, "l4"), bool(pf.choice(values, "vlan"))
    source = form.packet_from if form.packet_from in pf.SOURCES else "fields"
    v6 = l3 == "ipv6"
    l4_fields: tuple[pf.LayerField, ...] = ()
    if l4 in ("udp", "tcp"):
        l4_fields = pf.PORT_FIELDS + (pf.TCP_FIELDS if l4 == "tcp" else ())
    elif l4 == "icmp":
        l4_fields = pf.ICMP_FIELDS
    sources = tuple(Choice(v, label, "", "", v == source) for v, label in (
        ("fields", "Fields"), ("spec", "Spec"), ("hex", "Hex"), ("pcap", "pcap upload")))
    l3_choices = tuple(Choice(v, {"none": "none"}.get(v, v.replace("ip", "IP")), "", "", v == l3)
                       for v in pf.L3_CHOICES)
    l4_choices = tuple(Choice(v, v.upper() if v != "none" else "none", "", "", v == l4) for v in pf.L4_CHOICES)
    spec_hint = ("one packet per line; layers eth, vlan, ipv4, ipv6, tcp, udp, icmp, icmpv6, payload with "
                 "(field=value,...): eth/ipv4(dst=10.0.0.2)/udp(dport=53)/payload(hi)")
    hex_hint = (f"from the Ethernet header, one packet per line; at most {limits.packets} packets, "
                f"{limits.input_bytes:,} bytes each")
    return PacketBuilder(
        source, sources, vlan, l3, l3_choices, l4, l4_choices,
        _layer_fields(pf.ETH_FIELDS, values, errors), _layer_fields(pf.VLAN_FIELDS, values, errors),
        _layer_fields(pf.IP_FIELDS, values, errors, v6) if l3 != "none" else (),
        _layer_fields(l4_fields, values, errors, v6),
        _field("payload", pf.PAYLOAD_FIELD.label, values.get("payload", ""), errors, "(none)",
               pf.PAYLOAD_FIELD.hint, mono=False),
        _field("packet_spec", "Spec", form.packet_spec, errors, "eth/ipv4(dst=10.0.0.2)/udp(dport=53)/payload(hi)",
               spec_hint),
        _field("packets", "Hex", form.packets, errors, "02 00 00 00 00 02 02 00 00 00 00 01 08 00 45 00 ...",
               hex_hint),
        form.pcap_name, errors.get("pcap", ""), errors.get("packet", ""), limits)


def input_panel(form: RunForm, errors: Mapping[str, str], limits: Limits) -> InputPanel:
    ptype = PROG_TYPES.get(form.prog_type)
    if ptype is None:
        mem_bytes = None if "mem" in errors else len("".join(form.mem.split())) // 2
        mem = _field("mem", "Input memory", form.mem, errors, "e.g. de ad be ef", "hex; r1 = its address, r2 = its length")
        return InputPanel(RAW, RAW_DOC, "mem", mem, mem_bytes, None, (), (), (), (), "")
    if ptype.input == "packet":
        return InputPanel(ptype.name, ptype.doc, "packet", None, None, packet_builder(form, errors, limits), (), (),
                          (), (), ptype.ctx_struct)
    groups = tuple(FieldGroup(g.title, tuple(
        _field(f"ctx_{i.name}", i.label, form.ctx.get(i.name, ""), errors, i.placeholder,
               i.doc + (f" ({'dotted quad' if i.kind == 'ip4' else 'port number'})" if i.kind != "int" else ""))
        for i in g.inputs), g.collapsed) for g in ctx_groups(ptype, form.event))
    events, strings, notes = (), (), []
    if ptype.name == "tracepoint":
        chosen = event_of(form.event).name
        events = tuple(Choice(name, name, ev.doc, "", name == chosen) for name, ev in EVENTS.items())
        strings = tuple(_field(f"str_{s.name}", f"{s.name} (string)", form.strings.get(s.name, ""), errors, "",
                               s.doc or "the text of a __data_loc string field", mono=False)
                        for s in string_fields(ptype, chosen))
        notes.append("The record starts with the common fields (common_type, common_flags, common_preempt_count, "
                     "common_pid), which programs may not read; the event's own fields start at offset 8.")
    kinds = {i.kind for g in ctx_groups(ptype, form.event) for i in g.inputs}
    notes += [f"{'user_ip4' if k == 'ip4' else 'user_port'}: {CONVERSION_NOTES[k]}." for k in ("ip4", "port") if k in kinds]
    notes.append("Numbers may be decimal, 0x hex, 0o octal or 0b binary; negative numbers are stored in two's complement. "
                 "Blank fields take the value in grey.")
    return InputPanel(ptype.name, ptype.doc, "ctx", None, None, None, groups, events, strings, tuple(notes),
                      ptype.ctx_struct, errors.get("event", ""))


def panel_slots(panel: InputPanel) -> list[str]:
    """The error slots an input panel shows."""
    slots = []
    if panel.mem is not None:
        slots.append("mem")
    if panel.packet is not None:
        p = panel.packet
        slots += ["packet", "packet_spec", "packets", "pcap"]
        slots += [f.name for f in (*p.eth, *p.vlan_fields, *p.ip, *p.l4_fields, p.payload)]
    for g in panel.groups:
        slots += [f.name for f in g.fields]
    if panel.events:
        slots.append("event")
    slots += [f.name for f in panel.strings]
    return slots


# --- the whole editor --------------------------------------------------------------------------------------

def declared_maps(program: Program | None) -> tuple[DeclaredMap, ...]:
    if program is None:
        return ()
    return tuple(DeclaredMap(m.name, m.type, m.key_size, m.value_size, m.max_entries,
                             MAP_TYPES[m.type].doc if m.type in MAP_TYPES else "") for m in program.maps)


def editor_context(form: RunForm, errors: Mapping[str, str], asm_error: AsmError | None, program: Program | None,
                   limits: Limits) -> EditorContext:
    panel = input_panel(form, errors, limits)
    env = tuple(_field(f"env_{i.name}", i.label, form.env.get(i.name, ""), errors, i.placeholder, i.doc,
                       mono=i.name != "comm") for i in ENV_INPUTS)
    rows = list(form.seeds)
    if not rows or rows[-1].map or rows[-1].key or rows[-1].value:
        rows.append(SeedRow("", "", ""))  # always one empty row to fill in
    seeds = tuple(SeedRowContext(n, r.map, r.key, r.value, errors.get(f"seed-{n}", "")) for n, r in enumerate(rows))
    # Out-of-band updates reach only the rows the page had when it sent the form.
    slots = ["language", "type", "unprivileged", "source", "max_insns", *panel_slots(panel), *(f.name for f in env),
             *(f"seed-{n}" for n in range(len(form.seeds)))]
    compile_error = source_error_location(errors.get("source", "")) if form.language == LANG_C else None
    error_line = asm_error.line if asm_error else compile_error[0] if compile_error else None
    return EditorContext(
        form.source, form.max_insns, form.source.count("\n") + 1, error_line, dict(errors),
        hook_choices(form.prog_type), panel, env, any(form.env.values()) or any(k.startswith("env_") for k in errors),
        seeds, len(seeds) > 1 or any(k.startswith("seed-") for k in errors), declared_maps(program), tuple(slots),
        LANG_C if form.language == LANG_C else LANG_ASM, language_choices(form.language),
        highlight_source(form.source, LANG_C if form.language == LANG_C else LANG_ASM), not form.privileged)
