"""What each playground template is given: one documented, frozen dataclass per page or partial.

Templates read only these fields (``page.result.verdict.retval_hex``), so a template's needs are written
down here rather than scattered through views. Every field is named in its class docstring; a test keeps
it that way. Text a user wrote stays ``str`` and is escaped by Jinja; only ``Markup`` fields (Pygments
output, which escapes its input) are inserted as HTML.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup

from app.ebpf.verifier.explain import Explanation

from .decode import Header
from .hexdump import ByteMark, HexGap, HexRow
from .inputs import Limits
from .mapform import MapForm

if TYPE_CHECKING:
    from .abstractview import AbstractView
    from .walkview import WalkView

# --- the editor: program, hook, inputs, environment, seeds -------------------------------------------------


@dataclass(frozen=True)
class ExampleLink:
    """An entry of the examples menu: its ``slug`` (``/?example=slug``), ``title``, one-line ``summary``, the
    ``group`` it is listed under (the hook's name), and whether it is the ``selected`` one."""

    slug: str
    title: str
    summary: str
    group: str
    selected: bool


@dataclass(frozen=True)
class Choice:
    """An option of a select or a radio group: its ``value``, the ``label`` shown, a longer ``doc`` (may be
    empty), the ``group`` it belongs to (an optgroup label, may be empty), and whether it is ``selected``."""

    value: str
    label: str
    doc: str
    group: str
    selected: bool


@dataclass(frozen=True)
class FormField:
    """A text field: its ``name`` (form name and element id), ``label``, ``value`` as sent, ``placeholder``
    (what a blank field means), ``hint`` (shown under it), ``error`` (what is wrong with it, or empty);
    ``mono`` for code-like text (hex, numbers, addresses)."""

    name: str
    label: str
    value: str
    placeholder: str
    hint: str
    error: str
    mono: bool = True


@dataclass(frozen=True)
class FieldGroup:
    """``fields`` shown together under a ``title``; ``collapsed`` groups start folded (a ``<details>``)."""

    title: str
    fields: tuple[FormField, ...]
    collapsed: bool = False


@dataclass(frozen=True)
class PacketBuilder:
    """The packet builder (``_packet_builder.html``). ``source`` is where packets come from (``fields``,
    ``spec``, ``hex``, ``pcap``) and ``sources`` the choices; the layer form has the ``vlan`` switch, the
    ``l3`` and ``l4`` choices (``l3_choices``, ``l4_choices``) and fields ``eth``, ``vlan_fields``, ``ip``,
    ``l4_fields`` (ports, TCP flags or ICMP type and code, by ``l4``) and ``payload``; ``spec`` and ``hex``
    are the text forms; ``pcap_name`` is the capture the current packets came from (or empty) and
    ``pcap_error`` what is wrong with an upload;
    ``problem`` is an error about the packet as a whole; ``limits`` the request limits."""

    source: str
    sources: tuple[Choice, ...]
    vlan: bool
    l3: str
    l3_choices: tuple[Choice, ...]
    l4: str
    l4_choices: tuple[Choice, ...]
    eth: tuple[FormField, ...]
    vlan_fields: tuple[FormField, ...]
    ip: tuple[FormField, ...]
    l4_fields: tuple[FormField, ...]
    payload: FormField
    spec: FormField
    hex: FormField
    pcap_name: str
    pcap_error: str
    problem: str
    limits: Limits


@dataclass(frozen=True)
class InputPanel:
    """The input panel for the chosen hook (``_input.html``, id ``input-panel``).

    ``type`` is the hook and ``doc`` its one-line description; ``kind`` says what it takes: ``mem``
    (raw programs: ``mem`` memory as hex, ``mem_bytes`` its length when valid), ``packet`` (the ``packet``
    builder) or ``ctx`` (``groups`` of context fields; tracepoints add the ``events`` choice, with
    ``event_error``, and their ``strings``); ``notes`` explain conversions the fields make; ``ctx_struct``
    names the context.
    """

    type: str
    doc: str
    kind: str
    mem: FormField | None
    mem_bytes: int | None
    packet: PacketBuilder | None
    groups: tuple[FieldGroup, ...]
    events: tuple[Choice, ...]
    strings: tuple[FormField, ...]
    notes: tuple[str, ...]
    ctx_struct: str
    event_error: str = ""


@dataclass(frozen=True)
class SeedRowContext:
    """One row of the map seeds (``_seeds.html``): its ``index`` (ids ``seed-<index>-map`` ...), the ``map``,
    ``key`` and ``value`` as typed, and ``error`` (or empty)."""

    index: int
    map: str
    key: str
    value: str
    error: str


@dataclass(frozen=True)
class DeclaredMap:
    """A map the program declares, as the seeds panel lists it: ``name``, ``type``, ``key_size``,
    ``value_size``, ``max_entries``, and the map type's ``doc``."""

    name: str
    type: str
    key_size: int
    value_size: int
    max_entries: int
    doc: str


@dataclass(frozen=True)
class EditorContext:
    """The run form (``_editor.html``) as the user filled it in.

    ``source`` and ``max_insns`` are echoed exactly as sent; ``line_count`` sizes the gutter; ``error_line`` is
    the source line an assembly error or the verifier's rejection points at (marked in the gutter); ``errors`` maps a field to what is
    wrong with it. ``hooks`` is the hook picker, ``panel`` the input panel for the chosen hook, ``env`` the
    environment's fields (``env_open`` when any is set or wrong), ``seeds`` the map seed rows (``seeds_open``
    likewise), ``maps`` the maps the program declares (as far as it assembled), and ``error_slots`` every
    field whose error message the page shows (updated out of band after an htmx run). ``language`` is what
    the program is written in (``asm`` or ``c``; a C compile error's line is the ``error_line``) and
    ``languages`` the language picker. ``highlighted`` is ``source`` as highlighted HTML
    (``highlight.highlight_source``), shown under the editor's text once ``static/js/highlight.js`` runs.
    ``unprivileged``: the loader checkbox is ticked (the verifier checks the program for a user without
    capabilities). ``map_form`` is the map declaration panel (``mapform.MapForm``).
    """

    source: str
    max_insns: str
    line_count: int
    error_line: int | None
    errors: dict[str, str]
    hooks: tuple[Choice, ...]
    panel: InputPanel
    env: tuple[FormField, ...]
    env_open: bool
    seeds: tuple[SeedRowContext, ...]
    seeds_open: bool
    maps: tuple[DeclaredMap, ...]
    error_slots: tuple[str, ...]
    language: str = "asm"
    languages: tuple[Choice, ...] = ()
    highlighted: Markup = Markup("")  # noqa: RUF009 - a str, immutable
    unprivileged: bool = False
    map_form: MapForm = MapForm()  # noqa: RUF009 - frozen


# --- the result -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldProblem:
    """One entry of the error summary: the ``field`` to go to (its element id), its ``label`` and the
    ``message``."""

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
    highlighted. For C (from the object's BTF line info) ``goto`` makes the line number a link to that line
    of the editor, and ``repeat`` marks a row from the same line as the row before it (its source text is
    left out, as ``llvm-objdump -S`` prints each line once).
    """

    pc: int
    opcode: str
    text: Markup
    label: str | None
    line: int | None
    source: Markup
    goto: bool = False
    repeat: bool = False


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
    exit) as ``retval_hex``, ``retval_unsigned`` and ``retval_signed`` with ``retval_name`` (``XDP_PASS``,
    ``TC_ACT_SHOT``, when the hook names it), or a ``fault``. ``hook`` is the program type; ``packet`` says which packet's run this is (``packet 2 of 5``)
    or is empty; ``links`` point to the after-run sections as (anchor, text) pairs."""

    insns_executed: int
    retval_hex: str | None
    retval_unsigned: str | None
    retval_signed: str | None
    retval_name: str | None
    fault: FaultContext | None
    hook: str
    packet: str
    links: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class VerifierCheck:
    """What our verifier says of the program for its hook (``_verifier_check.html``), shown before the run:
    ``verdict`` is ``accept``, ``reject`` or ``incomplete`` (the walk reached ``limit`` processed
    instructions, the page's limit, before a verdict); a rejection has the kernel's ``message`` and
    ``errno`` at instruction ``insn_idx``, from source ``line`` (None if unknown), and the catalogue's
    ``explanation`` of the message (``verifier.explain``; None when it has none); ``processed`` counts
    instructions as the kernel's log does; ``privileged``: the loader checked for is root (else a user
    without ``CAP_BPF``, ``CAP_PERFMON`` or ``CAP_SYS_ADMIN``); ``hook_refused``: such a user may not load
    this hook at all (only ``verifier.UNPRIVILEGED_TYPES``), the rejection before any walk."""

    verdict: str
    insn_idx: int | None
    line: int | None
    message: str
    errno: str
    processed: int
    limit: int
    explanation: Explanation | None = None
    privileged: bool = True
    hook_refused: bool = False


@dataclass(frozen=True)
class RunRow:
    """One packet's run in the runs table (``_runs.html``): its ``index`` (from 0), ``length`` in bytes, the
    packet's decoded ``summary``, the ``verdict`` (return value name or hex, or the fault's title),
    ``fault`` when it stopped early, ``insns`` executed, ``outputs`` (helper output records) and whether
    it is the ``selected`` run, the one the stepper shows."""

    index: int
    length: int
    summary: str
    verdict: str
    fault: bool
    insns: int
    outputs: int
    selected: bool


@dataclass(frozen=True)
class PacketView:
    """A packet as hex with its headers decoded (``_packet.html``): an element ``id``, a ``title``, its
    ``length``, the ``rows`` (16 bytes each, every byte tagged with the header it belongs to and marked when
    changed or read; long stretches folded), the decoded ``headers``, how many bytes ``changed``, ``notes``
    (what the view leaves out or how the output was made), and at a step of a run how many bytes the last
    step ``read`` and the ``legend`` of its byte marks (``hexdump.legend``: each mark shown, with its count)."""

    id: str
    title: str
    length: int
    rows: tuple[HexRow | HexGap, ...]
    headers: tuple[Header, ...]
    changed: int
    notes: tuple[str, ...]
    read: int = 0
    legend: tuple[tuple[ByteMark, int], ...] = ()


@dataclass(frozen=True)
class MapCell:
    """One value (or one CPU's value): ``hex`` bytes, ``number`` (the value read as a little-endian
    unsigned integer when it is 1, 2, 4 or 8 bytes, else empty) and ``changed`` by the run."""

    hex: str
    number: str
    changed: bool


@dataclass(frozen=True)
class MapEntry:
    """A row of a map table: the ``key`` as hex and ``key_number`` (a 4-byte key read as an index, else
    empty), its ``cells`` (one per CPU for per-CPU maps), ``status`` (``""``, ``changed``, ``added``,
    ``deleted``) against the state before the run, and ``was`` (the old value as hex, or empty)."""

    key: str
    key_number: str
    cells: tuple[MapCell, ...]
    status: str
    was: str


@dataclass(frozen=True)
class MapGap:
    """Array entries not shown: ``count`` of them, described by ``label`` (``indexes 4 to 1023``), all
    zero and unchanged."""

    count: int
    label: str


@dataclass(frozen=True)
class MapRecord:
    """A keyless value (ring buffer record, queue or stack value, perf event sample): its position
    ``index``, ``hex`` bytes, printable ``text``, ``cpu`` (perf samples) or empty, and ``new`` when this run
    added it."""

    index: int
    hex: str
    text: str
    cpu: str
    new: bool


@dataclass(frozen=True)
class MapTable:
    """One map after the run (``_maps.html``): ``name``, ``type``, the map type's ``doc``, ``key_size``,
    ``value_size``, ``max_entries``; ``columns`` heads the value cells (``value`` or ``cpu0``, ``cpu1``...);
    ``rows`` are its entries (arrays: every index, runs of zero entries folded), ``records`` its keyless
    values, ``records_title`` what they are, ``facts`` other state as (label, value) pairs, ``changes`` how
    many entries or records the run changed, and ``note`` says what an empty map means."""

    name: str
    type: str
    doc: str
    key_size: int
    value_size: int
    max_entries: int
    columns: tuple[str, ...]
    rows: tuple[MapEntry | MapGap, ...]
    records: tuple[MapRecord, ...]
    records_title: str
    facts: tuple[tuple[str, str], ...]
    changes: int
    note: str


@dataclass(frozen=True)
class OutputLine:
    """Something a helper printed or emitted: its ``kind`` (``trace_printk``, ``ringbuf``, ``perf_event``), the
    ``text`` (trace_printk lines as trace_pipe shows them), the record's bytes as ``data`` hex (or empty),
    the ``pc`` of the call, the ``step`` that produced it and ``goto`` (the stepper position just after it;
    None when unknown), and ``new`` when the last step produced it."""

    kind: str
    text: str
    data: str
    pc: int
    step: int | None
    goto: int | None
    new: bool


@dataclass(frozen=True)
class RegisterRow:
    """A register at the current step: ``name`` (``r0``..``r10``), value as ``hex``, ``unsigned`` and ``signed``
    decimal; ``changed`` when the last step wrote it, with the value it had before as ``was``."""

    name: str
    hex: str
    unsigned: str
    signed: str
    changed: bool
    was: str | None


@dataclass(frozen=True)
class RegionDump:
    """A memory region at the current step (``_memory.html``): its ``name`` (``stack[0]``, ``mem``), ``base``
    address in hex, ``size`` in bytes, its ``rows`` (hex rows and folded gaps), and a ``note`` (or empty)."""

    name: str
    base: str
    size: int
    rows: tuple[HexRow | HexGap, ...]
    note: str = ""


@dataclass(frozen=True)
class MapRegions:
    """A map's value memory at the current step: the map's ``name`` and ``type``, and its ``regions``."""

    name: str
    type: str
    regions: tuple[RegionDump, ...]


@dataclass(frozen=True)
class CtxFieldRow:
    """A context field at the current step: ``name`` (with its alias: ``di (arg1)``), ``offset`` and ``size``
    in the context, the ``value`` decoded (``0x2 (2)``, ``10.0.0.2 (0x0200000a)``, or what a pointer field
    gives), ``changed`` when the last step wrote it, and ``readable`` unless programs of the hook may not
    read it."""

    name: str
    offset: int
    size: int
    value: str
    changed: bool
    readable: bool = True


@dataclass(frozen=True)
class CtxView:
    """The context at the current step (``_context.html``): the ``struct`` name, its ``base`` address, its
    field ``rows``, and a ``note``."""

    struct: str
    base: str
    rows: tuple[CtxFieldRow, ...]
    note: str


@dataclass(frozen=True)
class LastStep:
    """The instruction that ran just before the current position: its ``step`` number, ``pc``, ``text``
    (highlighted) and ``changes`` in words (``r1: 0xa → 0x9``)."""

    step: int
    pc: int
    text: Markup
    changes: tuple[str, ...]


@dataclass(frozen=True)
class Breakpoints:
    """The VM stepper's breakpoints (``_stepper.html``, ``_listing.html``, ``_step.html``; ``breakpoints.py``
    reads and uses them): the ``pcs`` set, in order, and its ``text`` as the ``break`` field and the URL carry
    it (``3,7``); ``problems``, one sentence for each part of the text given that names no instruction;
    ``note``, what the last Continue or Reverse continue did (blank when the position came another way)."""

    pcs: tuple[int, ...] = ()
    problems: tuple[str, ...] = ()
    note: str = ""

    @property
    def text(self) -> str:
        return ",".join(map(str, self.pcs))


@dataclass(frozen=True)
class StepContext:
    """The machine at one position of the run (``_step.html``).

    ``index`` runs from 0 (before the first instruction) to ``total`` (after the last); ``status`` is
    ``"next"`` (``pc`` and ``text`` name the instruction about to run), ``"returned"`` or ``"fault"`` (the run
    is over; ``pc`` is where it ended); ``summary`` says all that in one sentence for screen readers;
    ``last`` is what the previous instruction did; ``frame`` is the call depth (0 in the main program, 1 in
    a subprogram it called, ...); ``registers`` and ``regions`` (stacks, input memory, anything else) are
    the machine state, with the ``ctx`` decoded field by field, the ``packet`` as the program sees it and
    the ``maps``' value memory; ``output`` is what helpers printed so far; ``abstract`` is what the verifier
    knew about the registers at this instruction (``abstractview.AbstractView``; None for raw programs);
    ``breakpoints`` are the stepper's breakpoints (``Breakpoints``); ``line`` is the C line of the
    instruction about to run and ``source`` its text, highlighted (None and empty for assembly, whose line is
    the instruction itself, when the object has no line info for it, and when the run is over);
    ``memory_legend`` and ``map_legend`` say which byte marks the ``regions`` and the ``maps`` show, with their
    counts (``hexdump.legend``).
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
    ctx: CtxView | None
    packet: PacketView | None
    maps: tuple[MapRegions, ...]
    output: tuple[OutputLine, ...]
    abstract: AbstractView | None = None
    breakpoints: Breakpoints = Breakpoints()
    line: int | None = None
    source: Markup = Markup("")
    memory_legend: tuple[tuple[ByteMark, int], ...] = ()
    map_legend: tuple[tuple[ByteMark, int], ...] = ()


@dataclass(frozen=True)
class RunInputs:
    """The inputs a result was computed from, carried in the step form's hidden ``fields`` ((name, value)
    pairs) so that each step is recomputed from exactly the same program and inputs, whatever the editor
    holds by then; ``run`` is the packet whose run is stepped (from 0), ``runs`` how many there are;
    ``setup`` names the setup they make, leaving out the place on the page (``setups.setup_key``; empty when
    a field is unusable): ``urlstate.js`` compares it with the one the page was opened with, to know whether
    the address (``?example=`` or ``/p/<id>``) still names what is on screen."""

    fields: tuple[tuple[str, str], ...]
    run: int
    runs: int
    setup: str = ""


@dataclass(frozen=True)
class ResultContext:
    """Everything right of the editor (``_result.html``).

    ``problems`` lists form fields that could not be used (nothing ran); otherwise ``asm_error`` says why the
    program did not assemble, or ``listing``, ``verdict`` and ``step`` show the run. ``inputs`` are what it
    ran on. After the run: ``runs`` (one row per packet when there are several), the ``packet_out`` (with
    ``packet_in`` beside it), the ``maps`` and their ``maps_title`` (which state they show), and all helper
    ``output`` of the run. ``check`` is the verifier's verdict for the hook (None for raw bytecode, which
    no hook loads), and ``walk`` the verifier's walk shown at one event (``walkview.WalkView``; None
    likewise).
    """

    inputs: RunInputs
    problems: tuple[FieldProblem, ...]
    asm_error: AsmErrorContext | None
    listing: tuple[ListingRow, ...]
    verdict: Verdict | None
    step: StepContext | None
    runs: tuple[RunRow, ...] = ()
    packet_in: PacketView | None = None
    packet_out: PacketView | None = None
    maps: tuple[MapTable, ...] = ()
    maps_title: str = ""
    output: tuple[OutputLine, ...] = ()
    walk: WalkView | None = None
    check: VerifierCheck | None = None

    @property
    def compiled(self) -> bool:
        """Whether the listing is compiled C (its rows link to lines of the editor): the page then shows it first,
        beside the source, as Compiler Explorer does, rather than under the verifier's walk."""
        return any(row.goto for row in self.listing)


@dataclass(frozen=True)
class PlaygroundPage:
    """The playground page (``playground/page.html``): the ``editor`` form, the ``examples`` menu and the
    ``example`` loaded from it (None once the user has run their own text), the ``limits`` shown beside the
    fields, and the ``result`` of the last run; ``view_fields``, the Share button's hidden fields for the place
    on the page (``setups.view_fields``)."""

    editor: EditorContext
    examples: tuple[ExampleLink, ...]
    example: ExampleLink | None
    limits: Limits
    result: ResultContext
    view_fields: tuple[tuple[str, str], ...] = ()
