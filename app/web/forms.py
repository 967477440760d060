"""The playground form as it was sent: every field as text, to run from and to show again.

Field names (the element ids are the same, except the repeated seed rows, ``seed-N-map`` ...):

``source``, ``language`` (``asm``, the default, or ``c``: see ``runs.py``), ``type`` (``raw`` or a program
type), ``max_insns``, ``step`` (position in the run) and ``run`` (which packet's run to step, from 0);
the step form's ``to`` (run to an instruction), ``break`` (breakpoints, ``3,7``), ``toggle`` (a breakpoint to
set or clear), ``go`` (``continue`` or ``reverse``) and ``at`` (the position they start from), see
``breakpoints.py``;
``mem`` (raw programs: input memory as hex);
``packet_from`` (``fields``, ``spec``, ``hex`` or ``pcap``) with ``packets`` (hex, one packet per line),
``packet_spec`` (one spec per line), ``pcap`` (a file) or the layer form (``packetform.FORM_NAMES``);
``ctx_<field>`` (context fields), ``event`` and ``str_<field>`` (tracepoints);
``env_<name>`` (the environment, ``ctxform.ENV_NAMES``);
``seed_map``, ``seed_key``, ``seed_value`` (repeated, one triple per map seed);
``unprivileged`` (a checkbox: ``on`` when the program is loaded by a user without ``CAP_BPF``, ``CAP_PERFMON``
or ``CAP_SYS_ADMIN``, which changes what the verifier checks; absent for root).

A pcap upload is read here and becomes ``hex`` lines, so that every later request (a step, a reload
without JavaScript) carries the packets themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from app.ebpf import InputError
from app.ebpf.pcap import read_pcap
from app.ebpf.progtypes import PROG_TYPES

from .ctxform import ENV_NAMES
from .inputs import Limits, normalise_source
from .packetform import DEFAULT_CHOICES, DEFAULT_VALUES, FORM_NAMES

RAW = "raw"
TYPES = (RAW, *PROG_TYPES)
LANG_ASM = "asm"
LANG_C = "c"
LANGUAGES = (LANG_ASM, LANG_C)
"""What ``source`` is written in: eBPF assembly, or restricted C compiled on the server."""
CHECKED = "on"
"""What a browser sends for a ticked checkbox without a ``value`` attribute (``unprivileged``)."""


@dataclass(frozen=True)
class SeedRow:
    """One map seed as typed: the ``map`` (name or index), ``key`` and ``value`` as hex."""

    map: str
    key: str
    value: str


@dataclass(frozen=True)
class RunForm:
    """The form's fields as sent (all text), kept to show them again (see the module docstring):
    ``source``, ``max_insns``, ``step``, ``type``, ``mem``, ``run``, ``packet_from``, ``packets``,
    ``packet_spec``, ``event`` and ``language`` as named there (``walk``: the verifier walk event to show,
    blank for where the walk opens; ``to``: run from ``step`` to the next time this instruction runs;
    ``breaks`` is the ``break`` field, and ``toggle``, ``go`` and ``at`` are as ``breakpoints.py`` says);
    ``layers``, ``ctx``, ``strings`` and ``env`` hold the layer
    form, ``ctx_*``, ``str_*`` and ``env_*`` fields by their names without the prefix; ``seeds`` the seed
    rows; ``pcap_name`` is the file the packets came from; ``unprivileged`` the loader checkbox as sent
    (``on`` or blank)."""

    source: str
    max_insns: str
    step: str = "0"
    type: str = RAW
    mem: str = ""
    run: str = "0"
    packet_from: str = "fields"
    packets: str = ""
    packet_spec: str = ""
    layers: Mapping[str, str] = field(default_factory=lambda: {**DEFAULT_CHOICES, **DEFAULT_VALUES})
    ctx: Mapping[str, str] = field(default_factory=dict)
    event: str = ""
    strings: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    seeds: tuple[SeedRow, ...] = ()
    pcap_name: str = ""
    walk: str = ""
    to: str = ""
    language: str = LANG_ASM
    breaks: str = ""
    toggle: str = ""
    go: str = ""
    at: str = ""
    unprivileged: str = ""

    @property
    def privileged(self) -> bool:
        """Whether the verifier checks the program for root (the checkbox left blank; ``check`` refuses values
        other than ``on``)."""
        return self.unprivileged != CHECKED

    @property
    def prog_type(self) -> str:
        """The chosen type, or ``raw`` for anything unknown (``check`` reports it)."""
        return self.type if self.type in TYPES else RAW

    @classmethod
    def from_form(cls, form, limits: Limits) -> "RunForm":
        """The fields of a form or query string (a ``MultiDict``), without reading any upload."""
        def prefixed(prefix: str, allowed: tuple[str, ...] | None = None) -> dict[str, str]:
            return {k[len(prefix):]: v for k, v in form.items()
                    if k.startswith(prefix) and (allowed is None or k[len(prefix):] in allowed)}

        layers = {n: form.get(n, "") for n in FORM_NAMES if n in form}
        if "l3" not in form:  # the layer form was not on the page: start from a fresh one
            layers = {**DEFAULT_CHOICES, **DEFAULT_VALUES}
        rows = tuple(SeedRow(m, k, v) for m, k, v in zip(form.getlist("seed_map"), form.getlist("seed_key"),
                                                          form.getlist("seed_value")))
        return cls(
            source=normalise_source(form.get("source", "")), max_insns=form.get("max_insns", str(limits.run_insns)),
            step=form.get("step", "0"), type=form.get("type", RAW), mem=form.get("mem", ""), run=form.get("run", "0"),
            packet_from=form.get("packet_from", "fields"), packets=form.get("packets", ""),
            packet_spec=form.get("packet_spec", ""), layers=layers, ctx=prefixed("ctx_"), event=form.get("event", ""),
            strings=prefixed("str_"), env=prefixed("env_", ENV_NAMES), seeds=rows[:limits.packets],
            pcap_name=form.get("pcap_name", ""), walk=form.get("walk", ""),
            to=form.get("to", ""), language=form.get("language", LANG_ASM), breaks=form.get("break", ""),
            toggle=form.get("toggle", ""), go=form.get("go", ""), at=form.get("at", ""),
            unprivileged=form.get("unprivileged", ""))

    @classmethod
    def from_request(cls, form, files, limits: Limits) -> tuple["RunForm", dict[str, str]]:
        """The form, with an uploaded capture (``packet_from=pcap``) read into hex lines; errors by field."""
        run_form = cls.from_form(form, limits)
        if run_form.packet_from != "pcap":
            return run_form, {}
        upload = files.get("pcap")
        if upload is None or not upload.filename:
            return run_form, {"pcap": "choose a pcap or pcapng file"}
        data = upload.read(limits.pcap_bytes + 1)
        if len(data) > limits.pcap_bytes:
            return run_form, {"pcap": f"the file is larger than {limits.pcap_bytes:,} bytes"}
        try:
            packets = read_pcap(data, max_packets=limits.packets, max_bytes=limits.packet_bytes)
        except InputError as e:
            return run_form, {"pcap": e.message}
        if not packets:
            return run_form, {"pcap": "the capture holds no packets"}
        from dataclasses import replace

        return replace(run_form, packet_from="hex", packets="\n".join(p.hex() for p in packets),
                       pcap_name=upload.filename[:200]), {}

    def hidden_fields(self) -> tuple[tuple[str, str], ...]:
        """Name/value pairs that send this form again (what the step form carries), without ``step``."""
        out = [("source", self.source), ("language", self.language), ("type", self.type),
               ("max_insns", self.max_insns)]
        if self.unprivileged:
            out.append(("unprivileged", self.unprivileged))
        ptype = PROG_TYPES.get(self.type)
        if ptype is None:
            out.append(("mem", self.mem))
        elif ptype.input == "packet":
            out.append(("packet_from", self.packet_from))
            out += {"fields": list(self.layers.items()), "spec": [("packet_spec", self.packet_spec)],
                    "hex": [("packets", self.packets), ("pcap_name", self.pcap_name)]}.get(self.packet_from, [])
        else:
            out += [(f"ctx_{k}", v) for k, v in self.ctx.items() if v]
            out += [(f"str_{k}", v) for k, v in self.strings.items() if v]
            if self.event:
                out.append(("event", self.event))
        out += [(f"env_{k}", v) for k, v in self.env.items() if v]
        for row in self.seeds:
            if row.map or row.key or row.value:
                out += [("seed_map", row.map), ("seed_key", row.key), ("seed_value", row.value)]
        return tuple(out)
