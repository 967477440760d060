"""From the playground form to an engine run: read the fields, check them, assemble and run.

Nothing is kept between requests: every request (a run, or one step of it) sends the program and input
again and the engine recomputes the run, which it does deterministically, byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, TypeVar

from app.ebpf import AsmError, InputError, Program, assemble
from app.ebpf.vm import RunResult, run

from .inputs import FieldError, Limits, check_source, normalise_source, parse_count, parse_hex

FIELD_LABELS = {"source": "Program", "mem": "Input memory", "max_insns": "Max steps", "step": "Step"}
"""The form's fields in page order, with the labels the page gives them."""

T = TypeVar("T")


@dataclass(frozen=True)
class RunForm:
    """The form's fields as sent (all text), kept to show them again."""

    source: str
    mem: str
    max_insns: str
    step: str = "0"

    @classmethod
    def from_form(cls, form: Mapping[str, str], limits: Limits) -> "RunForm":
        return cls(normalise_source(form.get("source", "")), form.get("mem", ""),
                   form.get("max_insns", str(limits.run_insns)), form.get("step", "0"))


@dataclass(frozen=True)
class RunRequest:
    """A checked form: ``mem`` is None when no input was given; ``step`` is the position to show."""

    source: str
    mem: bytes | None
    max_insns: int
    step: int


@dataclass(frozen=True)
class Outcome:
    """What the engine made of a request: the ``program`` and its traced ``result``, or an ``asm_error``."""

    program: Program | None
    result: RunResult | None
    asm_error: AsmError | None


def check(form: RunForm, limits: Limits) -> tuple[RunRequest | None, dict[str, str]]:
    """The request, or the problems with each field (all of them, not just the first)."""
    errors: dict[str, str] = {}

    def attempt(parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except FieldError as e:
            errors[e.field] = e.message
            return None

    source = attempt(lambda: check_source("source", form.source, limits.source_bytes))
    mem = attempt(lambda: parse_hex("mem", form.mem, limits.input_bytes))
    max_insns = attempt(lambda: parse_count("max_insns", form.max_insns, 1, limits.run_insns))
    step = attempt(lambda: parse_count("step", form.step or "0", 0, limits.run_insns + 1))
    if errors or source is None or max_insns is None or step is None:
        return None, errors
    return RunRequest(source, mem or None, max_insns, step), {}


def execute(request: RunRequest) -> Outcome:
    """Assemble and run with a trace. Raises ``FieldError`` if the engine refuses the input."""
    try:
        program = assemble(request.source)
    except AsmError as e:
        return Outcome(None, None, e)
    try:
        result = run(program, mem=request.mem, max_insns=request.max_insns, trace=True)
    except InputError as e:
        raise FieldError(e.field if e.field in FIELD_LABELS else "mem", e.message) from None
    return Outcome(program, result, None)
