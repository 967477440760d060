"""Engine results -> the page contexts of ``contexts.py``.

Only presentation happens here: numbers to hex and signed decimal, listings to highlighted rows, traces to
the state at one position. What an instruction means is the engine's business; this module reads its
results through the façade (``disassemble``, ``format_insn``, ``RunResult``, ``Trace``).

Positions in a run: position ``k`` (0 <= k <= total) is the machine *before* step ``k``; position ``total``
is the state after the last instruction. What is "changed" at position ``k`` is what step ``k - 1`` did, as a
debugger marks what the last step changed.
"""
from __future__ import annotations

import re

from markupsafe import Markup

from app.ebpf import AsmError, Program, disassemble
from app.ebpf.asm import format_insn
from app.ebpf.vm import RunResult

from .contexts import (
    AsmErrorContext,
    EditorContext,
    FaultContext,
    FieldProblem,
    LastStep,
    ListingRow,
    OutputLine,
    RegionDump,
    RegisterRow,
    ResultContext,
    RunInputs,
    StepContext,
    Verdict,
)
from .hexdump import hexdump
from .highlight import highlight_lines
from .runs import FIELD_LABELS, Outcome, RunForm

_LOG_LINE = re.compile(r"(\d+): \(([0-9a-f]{2})\) (.*)")

FAULT_TITLES = {
    "memory": "Invalid memory access",
    "helper": "Helper call failed",
    "limit": "Instruction limit reached",
    "call-depth": "Call stack too deep",
    "unsupported": "Unsupported instruction",
    "end-of-program": "Ran off the end of the program",
}

_U64 = 1 << 64


def signed64(value: int) -> int:
    return value - _U64 if value >= 1 << 63 else value


def hex64(value: int) -> str:
    return f"0x{value:016x}"


# --- the editor and the result --------------------------------------------------------------------------

def editor_context(form: RunForm, errors: dict[str, str], asm_error: AsmError | None) -> EditorContext:
    mem_bytes = None
    if "mem" not in errors:
        mem_bytes = len("".join(form.mem.split())) // 2
    return EditorContext(form.source, form.mem, form.max_insns, mem_bytes, form.source.count("\n") + 1,
                         asm_error.line if asm_error else None, errors)


def result_context(form: RunForm, errors: dict[str, str], outcome: Outcome | None, step: int) -> ResultContext:
    inputs = RunInputs(form.source, form.mem, form.max_insns)
    problems = tuple(FieldProblem(f, FIELD_LABELS[f], errors[f]) for f in FIELD_LABELS if f in errors)
    if outcome is None or outcome.program is None or outcome.result is None:
        asm_error = asm_error_context(outcome.asm_error, form.source) if outcome and outcome.asm_error else None
        return ResultContext(inputs, problems, asm_error, (), None, None)
    return ResultContext(inputs, problems, None, listing(outcome.program, form.source), verdict(outcome.result),
                         step_context(outcome.program, outcome.result, step))


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


def listing(program: Program, source: str) -> tuple[ListingRow, ...]:
    """One row per instruction, with the source line it came from."""
    rows = insn_rows(program)
    texts = highlight_lines([text for _, _, text in rows])
    source_lines = source.split("\n")
    line_numbers = [_line_of(program, pc, len(source_lines)) for pc, _, _ in rows]
    sources = highlight_lines([source_lines[n - 1].strip() if n else "" for n in line_numbers])
    return tuple(
        ListingRow(pc, f"{opcode:02x}", texts[i], program.labels.get(pc), line_numbers[i] or None, sources[i])
        for i, (pc, opcode, _) in enumerate(rows))


def _line_of(program: Program, pc: int, line_count: int) -> int:
    line = program.lines[pc] if pc < len(program.lines) else 0
    return line if 0 < line <= line_count else 0


def insn_text(program: Program, pc: int | None) -> Markup | None:
    """The instruction at ``pc`` as the verifier log prints it, highlighted; None outside the program."""
    if pc is None or not 0 <= pc < len(program.insns):
        return None
    return highlight_lines([format_insn(program.insns, pc, "log")])[0]


# --- the verdict ----------------------------------------------------------------------------------------

def verdict(result: RunResult) -> Verdict:
    if result.fault is not None:
        f = result.fault
        fault = FaultContext(f.kind, FAULT_TITLES.get(f.kind, f.kind), f.message, f.pc, f.region, f.offset, f.size,
                             f"0x{f.addr:x}" if f.addr is not None else None)
        return Verdict(result.insns_executed, None, None, None, fault)
    value = result.retval or 0
    return Verdict(result.insns_executed, f"0x{value:x}", str(value), str(signed64(value)), None)


# --- one position of the run ----------------------------------------------------------------------------

def step_context(program: Program, result: RunResult, index: int) -> StepContext:
    trace = result.trace
    assert trace is not None, "the playground always runs with a trace"
    total = len(trace)
    index = min(max(index, 0), total)
    state = trace.state_at(index)
    record = trace.step_record(index - 1) if index > 0 else None
    if index < total:
        status, pc = "next", int(trace.pcs[index])
    else:
        status = "fault" if result.fault else "returned"
        pc = result.fault.pc if result.fault else (int(trace.pcs[-1]) if total else None)
    changed_regs = record.regs if record else {}
    registers = tuple(
        RegisterRow(f"r{i}", hex64(v), str(signed64(v)), i in changed_regs,
                    hex64(changed_regs[i][0]) if i in changed_regs else None)
        for i, v in enumerate(state.regs))
    changed_bytes: dict[str, set[int]] = {}
    for change in record.memory if record else ():
        changed_bytes.setdefault(change.region, set()).update(range(change.offset, change.offset + len(change.new)))
    regions = tuple(
        RegionDump(name, f"0x{base:x}", len(data),
                   hexdump(data, frozenset(changed_bytes.get(name, ())), from_end=_is_stack(name)))
        for name, base, data in state.regions)
    sizes = {name: len(data) for name, _, data in state.regions}
    last = _last_step(program, record, sizes) if record else None
    fresh = len(record.output) if record else 0
    output = tuple(OutputLine(o.kind, o.text, o.pc, i >= len(state.output) - fresh)
                   for i, o in enumerate(state.output))
    return StepContext(index, total, status, pc, insn_text(program, pc) if status == "next" else None,
                       _summary(index, total, status, pc, program, result), last, len(state.frames), registers,
                       regions, output)


def _last_step(program: Program, record, sizes: dict[str, int]) -> LastStep:
    changes = [f"r{r}: 0x{old:x} → 0x{new:x}" for r, (old, new) in sorted(record.regs.items())]
    for m in record.memory:
        if _is_stack(m.region) and m.region in sizes:
            where = f"{m.region} fp-{sizes[m.region] - m.offset}"
        else:
            where = f"{m.region}+0x{m.offset:x}"
        if len(m.new) <= 16:
            changes.append(f"{where}: {m.old.hex(' ')} → {m.new.hex(' ')}")
        else:
            changes.append(f"{where}: {len(m.new)} bytes")
    changes.extend(f"printed by {o.kind}" for o in record.output)
    before, after = record.frame_depth
    if after > before:
        changes.append(f"entered a subprogram (frame {after})")
    elif after < before:
        changes.append(f"returned to frame {after}")
    return LastStep(record.step, record.pc, insn_text(program, record.pc) or Markup(""), tuple(changes))


def _is_stack(region: str) -> bool:
    """Stack frames (the engine names them ``stack[0]``, ``stack[1]`` ...) are shown from the frame pointer
    down (``fp-8``), as programs address them."""
    return region.startswith("stack[")


def _summary(index: int, total: int, status: str, pc: int | None, program: Program, result: RunResult) -> str:
    where = f"Step {index} of {total}"
    if status == "next":
        text = format_insn(program.insns, pc, "log") if pc is not None and 0 <= pc < len(program.insns) else "?"
        return f"{where}: next is pc {pc}, {text}"
    if status == "fault" and result.fault is not None:
        return f"{where}: stopped at pc {result.fault.pc}: {result.fault.message}"
    return f"{where}: returned 0x{(result.retval or 0):x}"
