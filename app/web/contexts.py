"""What each playground template is given: one documented, frozen dataclass per page or partial.

Templates read only these fields (``page.result.verdict.retval_hex``), so a template's needs are written
down here rather than scattered through views. Every field is named in its class docstring; a test keeps
it that way. Text a user wrote stays ``str`` and is escaped by Jinja; only ``Markup`` fields (Pygments
output, which escapes its input) are inserted as HTML.
"""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from .hexdump import HexGap, HexRow
from .inputs import Limits


@dataclass(frozen=True)
class ExampleLink:
    """An entry of the examples menu: its ``slug`` (``/?example=slug``), ``title``, one-line ``summary``,
    and whether it is the ``selected`` one."""

    slug: str
    title: str
    summary: str
    selected: bool


@dataclass(frozen=True)
class EditorContext:
    """The run form (``_editor.html``) as the user filled it in.

    ``source``, ``mem`` (input memory as hex) and ``max_insns`` are echoed exactly as sent; ``mem_bytes`` is the
    input's length when it is valid hex (else None); ``line_count`` sizes the gutter; ``error_line`` is the
    source line an assembly error points at (marked in the gutter); ``errors`` maps a field name to what is
    wrong with it.
    """

    source: str
    mem: str
    max_insns: str
    mem_bytes: int | None
    line_count: int
    error_line: int | None
    errors: dict[str, str]


@dataclass(frozen=True)
class FieldProblem:
    """One entry of the error summary: the form ``field`` (its element id), its ``label`` and the ``message``."""

    field: str
    label: str
    message: str


@dataclass(frozen=True)
class AsmErrorContext:
    """An assembly error: 1-based ``line`` and ``col``, the assembler's ``message``, the offending source line
    as ``text`` and ``caret`` (spaces up to the column, then ``^``) to point under it."""

    line: int
    col: int
    message: str
    text: str
    caret: str


@dataclass(frozen=True)
class ListingRow:
    """One instruction of the listing (``_listing.html``).

    ``pc`` is its index (``ld_imm64`` takes two, so indexes can skip), ``opcode`` the opcode byte in hex,
    ``text`` the instruction as the verifier log prints it, highlighted; ``label`` the name the source gave
    this index, if any; ``line`` the 1-based source line (None if unknown) and ``source`` that line,
    highlighted.
    """

    pc: int
    opcode: str
    text: Markup
    label: str | None
    line: int | None
    source: Markup


@dataclass(frozen=True)
class FaultContext:
    """Why a run stopped early: a plain-words ``title`` for its ``kind``, the engine's ``message``, the ``pc``
    of the instruction, and where applicable the memory ``region``, ``offset`` into it, access ``size`` and
    ``addr`` (hex) involved."""

    kind: str
    title: str
    message: str
    pc: int
    region: str | None
    offset: int | None
    size: int | None
    addr: str | None


@dataclass(frozen=True)
class Verdict:
    """The outcome of the run (``_verdict.html``): ``insns_executed``, and either the return value (r0 at
    exit) as ``retval_hex``, ``retval_unsigned`` and ``retval_signed``, or a ``fault``."""

    insns_executed: int
    retval_hex: str | None
    retval_unsigned: str | None
    retval_signed: str | None
    fault: FaultContext | None


@dataclass(frozen=True)
class RegisterRow:
    """A register at the current step: ``name`` (``r0``..``r10``), value as ``hex`` and ``signed`` decimal;
    ``changed`` when the last step wrote it, with the value it had before as ``was``."""

    name: str
    hex: str
    signed: str
    changed: bool
    was: str | None


@dataclass(frozen=True)
class RegionDump:
    """A memory region at the current step (``_memory.html``): its ``name`` (``stack[0]``, ``mem``), ``base``
    address in hex, ``size`` in bytes, and its ``rows`` (hex rows and folded gaps)."""

    name: str
    base: str
    size: int
    rows: tuple[HexRow | HexGap, ...]


@dataclass(frozen=True)
class LastStep:
    """The instruction that ran just before the current position: its ``step`` number, ``pc``, ``text``
    (highlighted) and ``changes`` in words (``r1: 0xa → 0x9``)."""

    step: int
    pc: int
    text: Markup
    changes: tuple[str, ...]


@dataclass(frozen=True)
class OutputLine:
    """Something a helper printed or emitted: its ``kind`` (``trace_printk``, ...), the ``text``, the ``pc``
    of the call, and ``new`` when the last step produced it."""

    kind: str
    text: str
    pc: int
    new: bool


@dataclass(frozen=True)
class StepContext:
    """The machine at one position of the run (``_step.html``).

    ``index`` runs from 0 (before the first instruction) to ``total`` (after the last); ``status`` is
    ``"next"`` (``pc`` and ``text`` name the instruction about to run), ``"returned"`` or ``"fault"`` (the run
    is over; ``pc`` is where it ended); ``summary`` says all that in one sentence for screen readers;
    ``last`` is what the previous instruction did; ``frame`` is the call depth (0 in the main program, 1 in
    a subprogram it called, ...); ``registers`` and ``regions`` are the machine state; ``output`` is what
    helpers printed so far.
    """

    index: int
    total: int
    status: str
    pc: int | None
    text: Markup | None
    summary: str
    last: LastStep | None
    frame: int
    registers: tuple[RegisterRow, ...]
    regions: tuple[RegionDump, ...]
    output: tuple[OutputLine, ...]


@dataclass(frozen=True)
class RunInputs:
    """The inputs a result was computed from, carried in the step form's hidden fields so that each step
    is recomputed from exactly the same program (``source``), input memory (``mem``) and ``max_insns``,
    whatever the editor holds by then."""

    source: str
    mem: str
    max_insns: str


@dataclass(frozen=True)
class ResultContext:
    """Everything right of the editor (``_result.html``).

    ``problems`` lists form fields that could not be used (nothing ran); otherwise ``asm_error`` says why the
    program did not assemble, or ``listing``, ``verdict`` and ``step`` show the run. ``inputs`` are what it
    ran on.
    """

    inputs: RunInputs
    problems: tuple[FieldProblem, ...]
    asm_error: AsmErrorContext | None
    listing: tuple[ListingRow, ...]
    verdict: Verdict | None
    step: StepContext | None


@dataclass(frozen=True)
class PlaygroundPage:
    """The playground page (``playground/page.html``): the ``editor`` form, the ``examples`` menu and the
    ``example`` loaded from it (None once the user has run their own text), the ``limits`` shown beside the
    fields, and the ``result`` of the last run."""

    editor: EditorContext
    examples: tuple[ExampleLink, ...]
    example: ExampleLink | None
    limits: Limits
    result: ResultContext
