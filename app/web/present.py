"""Engine results -> the result contexts of ``contexts.py``: the listing, the verdict, the runs of several
packets, the packets in and out, the maps after the run and the helper output. The editor side is in
``panels.py``, one position of a run in ``stepview.py``.

Only presentation happens here: numbers to hex and signed decimal, listings to highlighted rows, JSON
maps to tables. What an instruction means is the engine's business; this module reads its results through
the façade (``disassemble``, ``format_insn``, ``RunResult``, ``Trace``).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from app.ebpf import AsmError, Program, disassemble
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.vm import RunResult

from . import mapview, packetview
from .contexts import (
    AsmErrorContext,
    FaultContext,
    FieldProblem,
    ListingRow,
    ResultContext,
    RunInputs,
    RunRow,
    Verdict,
)
from .ctxform import event_of
from .decode import decode, summary
from .forms import LANG_C, RunForm
from .highlight import highlight_c_lines, highlight_lines
from .panels import field_label, field_target, ordered
from .progress import Progress
from .runs import Outcome
from .stepview import RunSetting, insn_text, output_line, signed64, step_context

__all__ = ["result_context", "asm_error_context", "insn_rows", "listing", "insn_text", "verdict", "run_setting"]

_LOG_LINE = re.compile(r"(\d+): \(([0-9a-f]{2})\) (.*)")

FAULT_TITLES = {
    "memory": "Invalid memory access",
    "context": "Context access not allowed",
    "helper": "Helper call failed",
    "limit": "Instruction limit reached",
    "call-depth": "Call stack too deep",
    "unsupported": "Unsupported instruction",
    "end-of-program": "Ran off the end of the program",
}


def run_setting(form: RunForm, outcome: Outcome) -> RunSetting:
    """What the step view needs to know about the run: the hook, the selected packet, the event, the source."""
    ptype = PROG_TYPES.get(form.prog_type)
    frame = outcome.packets[outcome.selected] if outcome.packets else None
    event = event_of(form.event).name if ptype is not None and ptype.name == "tracepoint" else None
    return RunSetting(ptype, frame, event, form.source, form.language)


def result_context(form: RunForm, errors: Mapping[str, str], outcome: Outcome | None, step: int,
                   progress: Progress | None = None) -> ResultContext:
    selected = outcome.selected if outcome else 0
    inputs = RunInputs(form.hidden_fields(), selected, len(outcome.results) if outcome else 0)
    problems = tuple(FieldProblem(field_target(k), field_label(k), errors[k]) for k in ordered(errors))
    if outcome is None or outcome.program is None or outcome.result is None:
        asm_error = asm_error_context(outcome.asm_error, form.source) if outcome and outcome.asm_error else None
        return ResultContext(inputs, problems, asm_error, (), None, None)
    result, program = outcome.result, outcome.program
    setting = run_setting(form, outcome)
    count = len(outcome.results)
    packet_in = packet_out = None
    if setting.frame is not None and setting.ptype is not None:
        packet_in, packet_out = packetview.input_and_output(setting.frame, result.packet_out, setting.ptype)
    maps = mapview.tables(result.maps, outcome.before)
    output = tuple(output_line(o) for o in result.output)
    links = []
    if packet_out is not None:
        links.append(("packet-out", f"output packet: {packet_out.changed} byte{'' if packet_out.changed == 1 else 's'} "
                                    f"changed" if packet_out.changed else "output packet: unchanged"))
    if maps:
        changes = sum(t.changes for t in maps)
        links.append(("maps", f"maps: {changes} change{'' if changes == 1 else 's'}"))
    if output:
        links.append(("run-output", f"helper output: {len(output)} record{'' if len(output) == 1 else 's'}"))
    which = f"packet {selected + 1} of {count}" if count > 1 else ""
    title = f"Maps after packet {selected + 1} of {count}" if count > 1 else "Maps after the run"
    return ResultContext(
        inputs, problems, None, listing(program, form.source, form.language),
        verdict(result, form.prog_type, which, tuple(links)),
        step_context(program, result, step, setting, progress), run_rows(outcome) if count > 1 else (), packet_in, packet_out,
        maps, title, output)


def asm_error_context(error: AsmError, source: str) -> AsmErrorContext:
    lines = source.split("\n")
    text = lines[error.line - 1] if 0 < error.line <= len(lines) else ""
    caret = "".join(c if c == "\t" else " " for c in text[: max(error.col - 1, 0)]) + "^"
    return AsmErrorContext(error.line, error.col, error.message, text, caret)


# --- the listing ----------------------------------------------------------------------------------------

def insn_rows(program: Program) -> list[tuple[int, int, str]]:
    """``(pc, opcode, text)`` for each instruction, read from the engine's verifier-log disassembly
    (``12: (b7) r0 = 0``), which knows which slots start an instruction."""
    matches = map(_LOG_LINE.fullmatch, disassemble(program, "log").splitlines())
    return [(int(m[1]), int(m[2], 16), m[3]) for m in matches if m]


def listing(program: Program, source: str, language: str = "asm") -> tuple[ListingRow, ...]:
    """One row per instruction, with the source line it came from (for C, from the object's line info: the
    line number links to the editor, and a line's text is shown on the first of its rows only)."""
    rows = insn_rows(program)
    texts = highlight_lines([text for _, _, text in rows])
    source_lines = source.split("\n")
    line_numbers = [_line_of(program, pc, len(source_lines)) for pc, _, _ in rows]
    is_c = language == LANG_C
    repeats = [is_c and i > 0 and n != 0 and n == line_numbers[i - 1] and pc not in program.labels
               for i, (n, (pc, _, _)) in enumerate(zip(line_numbers, rows))]
    shown = [source_lines[n - 1].strip() if n and not repeat else "" for n, repeat in zip(line_numbers, repeats)]
    sources = highlight_c_lines(shown) if is_c else highlight_lines(shown)
    return tuple(
        ListingRow(pc, f"{opcode:02x}", texts[i], program.labels.get(pc), line_numbers[i] or None, sources[i],
                   is_c and bool(line_numbers[i]), repeats[i])
        for i, (pc, opcode, _) in enumerate(rows))


def _line_of(program: Program, pc: int, line_count: int) -> int:
    line = program.lines[pc] if pc < len(program.lines) else 0
    return line if 0 < line <= line_count else 0


# --- the verdict and the runs ---------------------------------------------------------------------------

def _fault(result: RunResult) -> FaultContext | None:
    f = result.fault
    if f is None:
        return None
    return FaultContext(f.kind, FAULT_TITLES.get(f.kind, f.kind), f.message, f.pc, f.region, f.offset, f.size,
                        f"0x{f.addr:x}" if f.addr is not None else None)


def verdict(result: RunResult, hook: str = "raw", packet: str = "", links: tuple = ()) -> Verdict:
    fault = _fault(result)
    if fault is not None:
        return Verdict(result.insns_executed, None, None, None, None, fault, hook, packet, links)
    value = result.retval or 0
    return Verdict(result.insns_executed, f"0x{value:x}", str(value), str(signed64(value)), result.retval_name, None,
                   hook, packet, links)


def run_rows(outcome: Outcome) -> tuple[RunRow, ...]:
    rows = []
    for i, (packet, result) in enumerate(zip(outcome.packets, outcome.results)):
        fault = _fault(result)
        verdict_text = fault.title if fault else (result.retval_name or f"0x{(result.retval or 0):x}")
        rows.append(RunRow(i, len(packet), summary(decode(packet)), verdict_text, fault is not None,
                           result.insns_executed, len(result.output), i == outcome.selected))
    return tuple(rows)
