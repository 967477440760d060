"""From the playground form to engine runs: check the fields, assemble, run (once, or once per packet).

Nothing is kept between requests: every request (a run, or one step of it) sends the program and its
inputs again and the engine recomputes the runs, which it does deterministically, byte for byte. Several
packets run one after another on the same map instances, as repeated ``BPF_PROG_TEST_RUN`` calls on one
loaded program would (``app.ebpf.vm.run_packets``); only the run being stepped keeps a trace.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, TypeVar

from app.ebpf import AsmError, InputError, Program, assemble
from app.ebpf.env import Env
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.vm import MapSeed, RunResult, create_maps, run

from . import packetform
from .ctxform import event_of, parse_ctx, parse_env, parse_seeds, string_fields
from .forms import TYPES, RunForm
from .inputs import FieldError, Limits, check_source, parse_count, parse_hex

T = TypeVar("T")


@dataclass(frozen=True)
class RunRequest:
    """A checked form: the program ``source``, the hook (``prog_type``) and what the engine takes for it.
    ``mem`` is None when no input memory was given; ``packets`` is empty for hooks that do not take packets;
    ``env`` is the environment, ``seeds`` the map seeds, ``max_insns`` the step limit; ``ctx``, ``event`` and ``strings`` are the context of ctx hooks; ``seed_rows``
    gives the form row of each seed (to put an engine error beside it); ``step`` is the position to show
    in run number ``run``."""

    source: str
    prog_type: str
    mem: bytes | None
    packets: tuple[bytes, ...]
    ctx: dict[str, int]
    event: str | None
    strings: dict[str, bytes]
    env: Env
    seeds: tuple[MapSeed, ...]
    seed_rows: tuple[int, ...]
    max_insns: int
    step: int
    run: int


@dataclass(frozen=True)
class Outcome:
    """What the engine made of a request: the ``program`` and its ``results`` (one per packet, or one), the
    index of the ``selected`` run (the only one with a trace, which gives the state at any step), the maps as JSON ``before`` that run and at the ``start`` (after seeding), the ``packets``
    run on; or an ``asm_error``."""

    program: Program | None
    results: tuple[RunResult, ...]
    selected: int
    before: tuple[dict, ...]
    start: tuple[dict, ...]
    packets: tuple[bytes, ...]
    asm_error: AsmError | None

    @property
    def result(self) -> RunResult | None:
        """The selected run's result."""
        return self.results[self.selected] if self.results else None


def check(form: RunForm, limits: Limits) -> tuple[RunRequest | None, dict[str, str]]:
    """The request, or the problems with each field (all of them, not just the first)."""
    errors: dict[str, str] = {}

    def attempt(parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except FieldError as e:
            errors[e.field] = e.message
            return None

    if form.type not in TYPES:
        errors["type"] = f"unknown hook {form.type!r}"
    source = attempt(lambda: check_source("source", form.source, limits.source_bytes))
    ptype = PROG_TYPES.get(form.prog_type)
    mem, packets, ctx, strings, event = None, (), {}, {}, None
    if ptype is None:
        mem = attempt(lambda: parse_hex("mem", form.mem, limits.input_bytes))
    elif ptype.input == "packet":
        packets = attempt(lambda: tuple(_packets(form, limits))) or ()
    else:
        ctx, ctx_errors = parse_ctx(ptype, form.event, form.ctx)
        errors.update(ctx_errors)
        if ptype.name == "tracepoint":
            event = event_of(form.event).name
            if form.event and form.event != event:
                errors["event"] = f"unknown event {form.event!r}"
            strings = {f.name: form.strings.get(f.name, "").encode() for f in string_fields(ptype, event)}
            for name, text in strings.items():
                if len(text) > limits.input_bytes // 16:
                    errors[f"str_{name}"] = f"at most {limits.input_bytes // 16:,} bytes"
    env, env_errors = parse_env(form.env)
    errors.update(env_errors)
    seeds, seed_rows, seed_errors = parse_seeds(form.seeds, limits.input_bytes)
    errors.update(seed_errors)
    max_insns = attempt(lambda: parse_count("max_insns", form.max_insns, 1, limits.run_insns))
    step = attempt(lambda: parse_count("step", form.step or "0", 0, limits.run_insns + 1))
    which = attempt(lambda: parse_count("run", form.run or "0", 0, limits.packets))
    if errors or source is None or max_insns is None or step is None or which is None:
        return None, errors
    return RunRequest(source, form.prog_type, mem or None, packets, ctx, event, strings, env, seeds, seed_rows,
                      max_insns, step, which), {}


def _packets(form: RunForm, limits: Limits) -> list[bytes]:
    if form.packet_from == "spec":
        return packetform.check_packets("packet_spec", packetform.build_from_specs(form.packet_spec), limits)
    if form.packet_from == "hex":
        return packetform.check_packets("packets", packetform.parse_hex_lines(form.packets, limits), limits)
    if form.packet_from == "pcap":
        raise FieldError("pcap", "choose a pcap or pcapng file")
    return [packetform.build_from_fields(form.layers)]


def execute(request: RunRequest, form: RunForm) -> Outcome:
    """Assemble and run. Raises ``FieldError`` (naming the form field) if the engine refuses the input."""
    try:
        program = assemble(request.source)
    except AsmError as e:
        return Outcome(None, (), 0, (), (), (), e)
    try:
        maps = create_maps(program, request.env.ncpus, request.seeds)
        start = tuple(m.entries_json() for m in maps)
        common = dict(prog_type=request.prog_type, env=request.env, max_insns=request.max_insns)
        if not request.packets:
            inputs = dict(mem=request.mem, ctx=request.ctx or None, event=request.event,
                          strings=request.strings or None, **common)
            result = run(program, maps=maps, trace=True, **inputs)
            return Outcome(program, (result,), 0, start, start, (), None)
        selected = min(request.run, len(request.packets) - 1)
        results, before = [], start
        for i, packet in enumerate(request.packets):
            if i != selected:
                results.append(run(program, packet=packet, maps=maps, **common))
                continue
            before = tuple(m.entries_json() for m in maps)
            results.append(run(program, packet=packet, maps=maps, trace=True, **common))
        return Outcome(program, tuple(results), selected, before, start, request.packets, None)
    except InputError as e:
        raise FieldError(form_field(e.field, form, request.seed_rows), e.message) from None


def form_field(engine_field: str, form: RunForm, seed_rows: tuple[int, ...] = ()) -> str:
    """The form field (error slot) for a field the engine names in an ``InputError``."""
    head, _, rest = engine_field.partition(".")
    if engine_field.startswith("seeds["):
        n = int(engine_field[6:engine_field.index("]")])
        return f"seed-{seed_rows[n] if n < len(seed_rows) else n}"
    if head == "packet" or head.startswith("packet["):
        by_source = {"hex": "packets", "spec": "packet_spec", "pcap": "pcap"}
        return by_source.get(form.packet_from) or packetform.form_field_of(engine_field) or "packet"
    if head in ("ctx", "env", "str") and rest:
        return f"{head}_{rest}"
    if head.startswith("maps["):
        return "source"
    return {"layout": "mem", "strings": "event"}.get(head, head)
