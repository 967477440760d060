"""From the playground form to engine runs: check the fields, build the program, run (once, or once per packet).

The program is assembled (``language`` ``asm``) or, for ``c``, compiled on the server by
``app.ebpf.cc.compile_c`` (sandboxed, time- and memory-limited, includes checked first) and loaded from the
object by ``app.ebpf.elf.load_elf``, which keeps the object's BTF line info as ``Program.lines`` (1-based
lines of the C source). The program loaded is the first one whose section names the chosen hook, else the
object's first program; a section that names another program type (``SEC("xdp")`` with the kprobe hook)
is an error on ``type``, not a guess. Compile errors are errors on ``source`` that start with
``line N, col M:`` (:func:`source_error_location` reads them back, to mark the editor's gutter).

Nothing is kept between requests: every request (a run, or one step of it) sends the program and its
inputs again and the engine recomputes the runs, which it does deterministically, byte for byte. Several
packets run one after another on the same map instances, as repeated ``BPF_PROG_TEST_RUN`` calls on one
loaded program would (``app.ebpf.vm.run_packets``); only the run being stepped keeps a trace.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, TypeVar

from app.ebpf import AsmError, InputError, Program, assemble
from app.ebpf.cc import CompileResult, compile_c
from app.ebpf.elf import ElfError, ElfProgram, ProgramInfo, list_programs, load_elf
from app.ebpf.env import Env
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.verifier import UNPRIVILEGED_TYPES
from app.ebpf.vm import MapSeed, RunResult, create_maps, run

from . import packetform
from .ctxform import event_of, parse_ctx, parse_env, parse_seeds, string_fields
from .forms import CHECKED, LANG_ASM, LANG_C, LANGUAGES, RAW, TYPES, RunForm
from .inputs import FieldError, Limits, check_source, parse_count, parse_hex
from .progress import Progress

T = TypeVar("T")


@dataclass(frozen=True)
class RunRequest:
    """A checked form: the program ``source``, the hook (``prog_type``) and what the engine takes for it.
    ``mem`` is None when no input memory was given; ``packets`` is empty for hooks that do not take packets;
    ``env`` is the environment, ``seeds`` the map seeds, ``max_insns`` the step limit; ``ctx``, ``event`` and ``strings`` are the context of ctx hooks; ``seed_rows``
    gives the form row of each seed (to put an engine error beside it); ``step`` is the position to show
    in run number ``run``; ``language`` is what ``source`` is written in (``asm`` or ``c``); ``unprivileged``
    whether the loader lacks capabilities (only the verifier's verdict depends on it)."""

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
    language: str = LANG_ASM
    unprivileged: bool = False


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
    if form.language not in LANGUAGES:
        errors["language"] = f"unknown language {form.language[:40]!r} (asm or c)"
    source = attempt(lambda: check_source("source", form.source, limits.source_bytes))
    if form.unprivileged not in ("", CHECKED):
        errors["unprivileged"] = f"a checkbox: {CHECKED!r} when ticked, absent otherwise, not {form.unprivileged[:40]!r}"
    elif not form.privileged and form.prog_type == RAW:
        errors["unprivileged"] = ("raw programs are loaded by no hook, so by no loader: choose a hook "
                                  f"({' or '.join(UNPRIVILEGED_TYPES)} for an unprivileged user) or untick the box")
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
                      max_insns, step, which, form.language, not form.privileged), {}


def _packets(form: RunForm, limits: Limits) -> list[bytes]:
    if form.packet_from == "spec":
        return packetform.check_packets("packet_spec", packetform.build_from_specs(form.packet_spec), limits)
    if form.packet_from == "hex":
        return packetform.check_packets("packets", packetform.parse_hex_lines(form.packets, limits), limits)
    if form.packet_from == "pcap":
        raise FieldError("pcap", "choose a pcap or pcapng file")
    return [packetform.build_from_fields(form.layers)]


def execute(request: RunRequest, form: RunForm, progress: Progress | None = None) -> Outcome:
    """Build and run. Raises ``FieldError`` (naming the form field) if the engine refuses the input, or the C
    program does not compile or load; an assembly error is an outcome (shown with its line in the result).
    ``progress`` sees the ``compile`` and ``run`` phases and may stop them (``progress.py``)."""
    if request.language == LANG_C:
        if progress is not None:
            progress.begin("compile")
        program = compile_program(request.source, request.prog_type)
    else:
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
            result = run(program, maps=maps, trace=True, progress=_counter(progress, request.max_insns), **inputs)
            return Outcome(program, (result,), 0, start, start, (), None)
        selected = min(request.run, len(request.packets) - 1)
        results, before = [], start
        several = {"packets": len(request.packets)} if len(request.packets) > 1 else {}
        for i, packet in enumerate(request.packets):
            counted = _counter(progress, request.max_insns, **({"packet": i + 1, **several} if several else {}))
            if i != selected:
                results.append(run(program, packet=packet, maps=maps, progress=counted, **common))
                continue
            before = tuple(m.entries_json() for m in maps)
            results.append(run(program, packet=packet, maps=maps, trace=True, progress=counted, **common))
        return Outcome(program, tuple(results), selected, before, start, request.packets, None)
    except InputError as e:
        raise FieldError(form_field(e.field, form, request.seed_rows), e.message) from None


def _counter(progress: Progress | None, limit: int, **extra: int):
    """The ``run`` phase's callback for one run (None without ``progress``)."""
    return progress.begin("run", limit, **extra) if progress is not None else None


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


# --- C ----------------------------------------------------------------------------------------------------

_LOCATION = re.compile(r"line (\d+), col (\d+): ")


def program_of(form: RunForm, limits: Limits) -> Program | None:
    """The program of a form's source for its hook, built as a run builds it, or None when there is none to
    show (no hook, too large, an unknown language, or it does not assemble or compile). For views that need
    only the program, such as the verifier's walk."""
    if form.prog_type not in PROG_TYPES or len(form.source.encode("utf-8", "surrogatepass")) > limits.source_bytes:
        return None
    try:
        if form.language == LANG_C:
            return compile_program(form.source, form.prog_type)
        return assemble(form.source) if form.language == LANG_ASM else None
    except (AsmError, FieldError):
        return None


def compile_program(source: str, prog_type: str) -> Program:
    """The program of a C source for hook ``prog_type`` (see the module docstring). Raises ``FieldError`` on
    ``source`` (the compiler's first error, with its line and column; a refused include; no compiler on this
    server; an object that cannot be loaded) or on ``type`` (the program's section names another hook)."""
    return load_program(compiled_object(source), prog_type).program


def compiled_object(source: str) -> bytes:
    """The ELF object ``compile_c`` makes of ``source``; ``FieldError`` on ``source`` when it makes none."""
    result = compile_c(source)
    if result.object is None:
        raise FieldError("source", compile_error_message(result))
    return result.object


def compile_error_message(result: CompileResult) -> str:
    """The first error as ``line N, col M: message`` (just the message when it has no place in the
    program), and how many more there are."""
    errors = result.errors or [d for d in result.diagnostics if d.severity != "note"]
    if not errors:
        return "the compiler failed without a message"
    first = errors[0]
    if first.line and first.file == "program.c":
        text = f"line {first.line}, col {max(first.col, 1)}: {first.message}"
    elif first.line and first.file:
        text = f"{first.file}, line {first.line}: {first.message}"
    else:
        text = first.message
    more = len(errors) - 1
    return text + (f" (and {more} more error{'' if more == 1 else 's'})" if more else "")


def source_error_location(message: str) -> tuple[int, int] | None:
    """(line, col) of a ``source`` error that names them (``line 6, col 9: ...``), else None."""
    match = _LOCATION.match(message or "")
    return (int(match[1]), int(match[2])) if match else None


def load_program(obj: bytes, prog_type: str) -> ElfProgram:
    """The program of ``obj`` to run as ``prog_type``: the first whose section names that hook, else the
    first of the object, provided its section names no other hook."""
    try:
        programs = list_programs(obj)
        if not programs:
            raise ElfError("the object has no programs: put the function in a section, e.g. SEC(\"xdp\")")
        chosen = next((p for p in programs if p.prog_type == prog_type), None)
        if chosen is None:
            chosen = programs[0]
            if chosen.prog_type is not None:
                raise FieldError("type", _other_hook(chosen, prog_type))
        return load_elf(obj, _selector(chosen, programs), prog_type=None if chosen.prog_type else prog_type)
    except ElfError as e:
        raise FieldError("source", f"the compiled object cannot be loaded: {e}") from None


def _other_hook(info: ProgramInfo, prog_type: str) -> str:
    chosen = "no hook (raw)" if prog_type == RAW else f"the {prog_type} hook"
    return (f"the C program {info.name}() is in SEC(\"{info.section}\"), a section for {info.prog_type} programs, "
            f"but {chosen} is chosen: choose the {info.prog_type} hook, or change the section")


def _selector(info: ProgramInfo, programs: list[ProgramInfo]) -> str:
    """What ``load_elf`` takes to pick ``info``: its section if it is the section's first program, else its
    name."""
    first = next(p for p in programs if p.section == info.section)
    return info.section if first is info else info.name
