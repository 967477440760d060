"""One position of a traced run -> ``StepContext``: registers, stack and other memory, the context decoded
by field name, the packet as the program sees it, the maps' value memory, and helper output so far. Memory is
marked with the bytes the last step wrote and read, and the bytes the run has written and read so far
(``Trace.marks``).

Positions in a run: position ``k`` (0 <= k <= total) is the machine *before* step ``k``; position ``total``
is the state after the last instruction. What is "changed" at position ``k`` is what step ``k - 1`` did, as a
debugger marks what the last step changed.
"""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from app.ebpf import Program
from app.ebpf.asm import format_insn
from app.ebpf.progtypes import ProgType
from app.ebpf.vm import RunResult
from app.ebpf.vm.marks import RunMarks
from app.ebpf.vm.trace import StepRecord

from . import packetview
from .contexts import CtxFieldRow, CtxView, LastStep, MapRegions, OutputLine, RegionDump, RegisterRow, StepContext
from .ctxform import CONVERSIONS, describe, event_of
from .forms import LANG_C
from .hexdump import NO_MARKS, Marks, hexdump, legend
from .highlight import highlight_c_lines, highlight_lines
from .progress import Progress

_U64 = 1 << 64
_POINTER_KINDS = {"pkt": "→ packet start", "pkt_end": "→ packet end", "pkt_meta": "→ metadata start",
                  "sock": "socket (NULL in test runs)", "flow_keys": "flow keys pointer"}


@dataclass(frozen=True)
class RunSetting:
    """What a step view needs to know about the run besides the trace: the hook (``ptype``, None for raw
    programs), the input ``frame`` (packet hooks), the tracepoint ``event``, and the program's ``source`` text
    in its ``language`` (``asm`` or ``c``), whose line the step names."""

    ptype: ProgType | None
    frame: bytes | None
    event: str | None
    source: str = ""
    language: str = "asm"


def signed64(value: int) -> int:
    return value - _U64 if value >= 1 << 63 else value


def hex64(value: int) -> str:
    return f"0x{value:016x}"


def insn_text(program: Program, pc: int | None) -> Markup | None:
    """The instruction at ``pc`` as the verifier log prints it, highlighted; None outside the program."""
    if pc is None or not 0 <= pc < len(program.insns):
        return None
    return highlight_lines([format_insn(program.insns, pc, "log")])[0]


def source_line(program: Program, source: str, language: str, pc: int | None) -> tuple[int | None, Markup]:
    """The source line instruction ``pc`` came from (``Program.lines``: the assembler's, or a C object's BTF
    line info) and its text, highlighted; ``(None, "")`` when the program does not say or the line is not in
    ``source``. The walk names the same line for its event (``walkview``)."""
    line = program.lines[pc] if pc is not None and 0 <= pc < len(program.lines) else 0
    lines = source.split("\n")
    if not 0 < line <= len(lines) or not lines[line - 1].strip():
        return None, Markup("")
    text = lines[line - 1].strip()
    return line, (highlight_c_lines if language == LANG_C else highlight_lines)([text])[0]


def output_line(o, new: bool = False) -> OutputLine:
    """A helper output record; ``goto`` is the position right after the call that produced it."""
    return OutputLine(o.kind, o.text, o.data.hex(" ") if o.kind != "trace_printk" else "", o.pc, o.step,
                      o.step + 1 if o.step is not None else None, new)


def step_context(program: Program, result: RunResult, index: int, setting: RunSetting | None = None,
                 progress: Progress | None = None) -> StepContext:
    """The machine at position ``index`` of ``result``'s run; ``progress`` holds the work of marking what the
    run read and wrote so far to the request's time limit."""
    setting = setting or RunSetting(None, None, None)
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
        RegisterRow(f"r{i}", hex64(v), str(v), str(signed64(v)), i in changed_regs,
                    hex64(changed_regs[i][0]) if i in changed_regs else None)
        for i, v in enumerate(state.regs))
    marks = _marks(record, trace.marks(index, progress.begin("marks", index) if progress is not None else None))
    map_names = {m.name: m.type for m in program.maps}
    regions, maps, ctx, packet = [], {}, None, None
    for name, base, data in state.regions:
        owner = name.rsplit(".", 1)[0] if "." in name else None
        marked = marks.get(name, NO_MARKS)
        if owner in map_names:
            if not name.endswith(".map"):  # the map object itself: 4 KiB of zeros a program only points at
                maps.setdefault(owner, []).append(_dump(name, base, data, marked))
        elif name.startswith("ctx (") and setting.ptype is not None:
            ctx = _ctx_view(setting, name, base, data, marked.changed)
        elif name == "packet" and setting.ptype is not None and setting.frame is not None:
            packet = packetview.at_step(base, data, setting.frame, setting.ptype, marked)
        else:
            regions.append(_dump(name, base, data, marked))
    sizes = {name: len(data) for name, _, data in state.regions}
    last = _last_step(program, record, sizes) if record else None
    fresh = len(record.output) if record else 0
    output = tuple(output_line(o, i >= len(state.output) - fresh) for i, o in enumerate(state.output))
    named = status == "next" and setting.language == LANG_C  # an assembly line is the instruction itself
    line, source = source_line(program, setting.source, setting.language, pc) if named else (None, Markup(""))
    return StepContext(index, total, status, pc, insn_text(program, pc) if status == "next" else None,
                       _summary(index, total, status, pc, program, result), last, len(state.frames), registers,
                       tuple(regions), ctx, packet,
                       tuple(MapRegions(n, map_names[n], tuple(r)) for n, r in maps.items()), output,
                       line=line, source=source, memory_legend=legend(row for r in regions for row in r.rows),
                       map_legend=legend(row for rs in maps.values() for r in rs for row in r.rows))


def _marks(record: StepRecord | None, run: RunMarks) -> dict[str, Marks]:
    """Each region's marks: the bytes the last step (``record``) changed and read, and those ``run`` says
    the steps up to it wrote and read."""
    def offsets(spans) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for region, offset, size in spans:
            out.setdefault(region, set()).update(range(offset, offset + size))
        return out

    changed = offsets((c.region, c.offset, len(c.new)) for c in record.memory) if record else {}
    read = offsets((r.region, r.offset, r.size) for r in record.reads) if record else {}
    names = set(changed) | set(read) | set(run.read) | set(run.written)
    return {name: Marks(frozenset(changed.get(name, ())), frozenset(read.get(name, ())),
                        run.written.get(name, frozenset()), run.read.get(name, frozenset())) for name in names}


def _dump(name: str, base: int, data: bytes, marks: Marks) -> RegionDump:
    return RegionDump(name, f"0x{base:x}", len(data), hexdump(data, marks, from_end=_is_stack(name)))


def _ctx_view(setting: RunSetting, name: str, base: int, data: bytes, changed: frozenset[int]) -> CtxView:
    ptype = setting.ptype
    assert ptype is not None
    rows = []
    if ptype.name == "tracepoint":
        ev = event_of(setting.event or "")
        for f in ev.fields:
            raw = int.from_bytes(data[f.offset:f.offset + f.size], "little")
            if f.data_loc:
                offset, length = raw & 0xFFFF, raw >> 16
                text = data[offset:offset + length].split(b"\0", 1)[0].decode("utf-8", "replace")
                value = f"{text!r} ({length} bytes at +{offset})"
            else:
                value = describe("int", raw, f.size)
            rows.append(CtxFieldRow(f.name, f.offset, f.size, value,
                                    any(o in changed for o in range(f.offset, f.offset + f.size)), f.offset >= 8))
        note = (f"The {ev.name} record ({ev.doc}). The common fields (greyed) may not be read by programs; "
                f"strings of __data_loc fields follow the fixed fields.")
        return CtxView(f"{ev.name} record", f"0x{base:x}", tuple(rows), note)
    aliases: dict[str, str] = {}
    for alias, target in sorted(ptype.aliases.items()):
        if alias.startswith("arg") or alias in ("ret", "pc"):
            aliases.setdefault(target, alias)
    for f in ptype.fields:
        if f.kind in _POINTER_KINDS:
            value = _POINTER_KINDS[f.kind]
        elif f.size > 8:
            chunk = data[f.offset:f.offset + f.size]
            value = f"{f.size} zero bytes" if not any(chunk) else chunk.hex(" ", 4)
        else:
            raw = int.from_bytes(data[f.offset:f.offset + f.size], "little")
            value = describe(CONVERSIONS.get((ptype.ctx_struct, f.name), "int"), raw, f.size)
        name = f"{f.name} ({aliases[f.name]})" if f.name in aliases else f.name
        rows.append(CtxFieldRow(name, f.offset, f.size, value,
                                any(o in changed for o in range(f.offset, f.offset + f.size)),
                                ptype.is_valid_access(f.offset, f.size if f.size <= 8 else 4, False)))
    pointers = any(f.kind in _POINTER_KINDS for f in ptype.fields)
    note = ("Loads of pointer fields give addresses the kernel computes (the VM does the same). " if pointers else "")
    note += "Greyed fields may not be read by this hook's programs." if any(not r.readable for r in rows) else ""
    return CtxView(ptype.ctx_struct, f"0x{base:x}", tuple(rows), note.strip())


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
    name = f" ({result.retval_name})" if result.retval_name else ""
    return f"{where}: returned 0x{(result.retval or 0):x}{name}"
