"""The verifier's walk as the kernel's level-2 log prints it (``BPF_LOG_LEVEL2``, Linux 6.18).

``log_lines`` rebuilds the log from the walk's events and the states they keep: after each instruction,
``print_insn_state`` with the registers and stack slots it touched, aligned as ``vlog_alignment`` does
(``5: (2d) if r4 > r3 goto pc+3          ; R3=pkt_end() R4=pkt(off=14,r=14)``); ``from 5 to 9: <state>``
when a pending branch is resumed; ``9: safe`` (or ``from 7 to 9: safe``) when a path is pruned; the error
and the statistics. What the kernel prints about precision tracking (``mark_precise: ...``) and liveness is
not reproduced, and the kernel prints map addresses where we print ``map_fd(0)``.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from app.ebpf.asm import disassemble
from app.ebpf.program import Program

from .. import isa
from .bounds import s64
from .notation import SLOT, frame_str, slot_str
from .result import VerifierResult
from .state import MAX_BPF_STACK as MAX_STACK
from .state import PTR_TO_STACK, VerifierState
from .walk import Event


def _insn_texts(program: Program) -> dict[int, str]:
    """``(b7) r0 = 0`` for each instruction index, from the log-style disassembly. A function's address
    (``ld_imm64`` of a callback) prints as the kernel's verifier prints it, its offset in hex
    (``r2 = 0x5``: the verifier's disassembler has no callback naming it)."""
    out = {}
    for line in disassemble(program.insns, "log").splitlines():
        index, _, text = line.partition(": ")
        if index.isdigit():
            out[int(index)] = text
    for pc, insn in enumerate(program.insns):
        spec = insn.spec
        if spec is not None and spec.name == "ld_func":
            out[pc] = f"(18) r{insn.dst} = {insn.imm & 0xFFFFFFFF:#x}"
    return out


def log_lines(program: Program, result: VerifierResult, index: int = 0) -> tuple[list[str], int]:
    """The walk as the kernel's level-2 log prints it (state after each instruction limited to the registers
    and stack slots it touched, and what precision tracking and the stack liveness analysis printed), and the
    line of event ``index``."""
    lines, line_of = log_with_positions(program, result)
    return lines, line_of[index] if 0 <= index < len(line_of) else 0


def log_with_positions(program: Program, result: VerifierResult) -> tuple[list[str], list[int]]:
    """``log_lines`` for every event at once: the lines, and for each event the line it printed (or the
    line before, for events the kernel prints nothing for)."""
    texts = _insn_texts(program)
    maps = program.maps
    lines = ["0: R1=ctx() R10=fp0"]
    line_of = []
    pushes: list[int] = []
    previous: VerifierState | None = None
    after_pop = None
    for e in result.walk:
        marks = [_precision_line(r, texts, maps) for r in e.precise_log]
        if e.kind == "visit":
            head = f"{e.insn_idx}: {texts.get(e.insn_idx, '')}"
            touched = _touched(program, e, previous)
            tail = frame_str(e.state.cur, maps, [r for r, _ in e.state.refs], *touched) if e.state else ""
            if not set(tail.split()) - {f"frame{e.state.cur.frameno}:", "cb"}:
                tail = ""  # nothing scratched (an exit back to a caller's frame)
            if marks:  # print_insn_state: the state goes on a line of its own after what came between
                lines += [head, *marks] + ([f"{e.insn_idx}: {tail}"] if tail else [])
            else:
                lines.append(head if not tail else f"{head.ljust(_semicolon_column(len(head)))}; {tail}")
            previous, after_pop = e.state, None
        elif e.kind == "push_branch":
            pushes.append(e.other)
        elif e.kind == "pop_branch":
            source = pushes.pop() if pushes else -1
            full = frame_str(e.state.cur, maps, [r for r, _ in e.state.refs]) if e.state else ""
            after_pop = f"from {source} to {e.insn_idx}:"
            lines += marks  # the path before ended: the liveness update at its end comes first
            lines.append(f"{after_pop} {full}")
            previous = e.state
        elif e.kind == "prune":  # what propagate_precision prints comes before the verdict
            if after_pop is not None and lines[-1].startswith(after_pop):
                lines[-1:] = [*marks, f"{after_pop} safe"]
            else:
                lines += [*marks, f"{e.insn_idx}: safe"]
            after_pop = None
        elif e.kind == "exit":
            lines.append(f"{e.insn_idx}: {texts.get(e.insn_idx, '(95) exit')}")
            lines += marks
            after_pop = None
        elif e.kind == "reject":
            lines.append(f"{e.insn_idx}: {texts.get(e.insn_idx, '')}")
            lines += marks
            lines.append(e.detail)
        elif e.kind == "accept":
            lines += marks
            lines.append(result.log.strip().splitlines()[-1] if result.log.strip() else "")
        line_of.append(len(lines) - 1)
    if result.verdict == "reject" and result.log.strip():
        lines.append(result.log.strip().splitlines()[-1])
    return lines, line_of


def _precision_line(record: tuple, texts: dict[int, str], maps) -> str:
    """One line of what precision tracking prints at level 2 (``__mark_chain_precision``, ``backtrack_insn``,
    ``propagate_precision``, ``mark_all_scalars_precise``), from a record of ``precision.mark_chain``."""
    kind, frame = record[0], record[1]
    if kind == "text":  # a line of the stack liveness analysis (liveness.py), already in the kernel's words
        return record[1]
    if kind == "head":
        _, _, last, first, subseq = record
        return f"mark_precise: frame{frame}: last_idx {last} first_idx {first} subseq_idx {subseq} "
    if kind == "step":
        _, _, regs, slots, idx = record
        return f"mark_precise: frame{frame}: regs={_reg_mask(regs)} stack={_stack_mask(slots)} before {idx}: " \
               f"{texts.get(idx, '')}"
    if kind == "parent":
        _, _, regs, slots, f, (precise_regs, precise_slots), refs = record
        state = frame_str(f, maps, [r for r, _ in refs], precise_regs=precise_regs, precise_slots=precise_slots)
        return f"mark_precise: frame{frame}: parent state regs={_reg_mask(regs)} stack={_stack_mask(slots)}:  {state}"
    if kind == "propagate":
        return f"frame {frame}: propagating {','.join(record[2])}"
    if kind == "fallback":
        return f"mark_precise: frame{frame}: falling back to forcing all scalars precise"
    return f"force_precise: frame{frame}: forcing {record[2]} to be precise"


def _reg_mask(regs) -> str:
    """``fmt_reg_mask``: r1,r2."""
    return ",".join(f"r{n}" for n in regs)


def _stack_mask(slots) -> str:
    """``fmt_stack_mask``: -8,-16."""
    return ",".join(f"-{(spi + 1) * SLOT}" for spi in slots)


def _semicolon_column(length: int) -> int:
    """``print_insn_state`` pads an instruction line of ``length`` characters (``vlog_alignment`` of the
    position after its newline) so that the ``;`` lands at a multiple of 8, less 2, and at least at 38."""
    return max(-(-max(length + 5, 40) // 8) * 8 - 2, length + 1)


def _touched(program: Program, event: Event, previous: VerifierState | None) -> tuple[list[int], list[int]]:
    """The registers and stack slots an instruction "scratched" (``mark_reg_scratched``): its register
    operands (R0 for a call), and the stack slots whose contents changed. Registers that changed as a side
    effect (a packet range or a null check learned by a comparison) are not among them, as in the kernel."""
    insn = program.insns[event.insn_idx]
    regs: set[int] = set()
    spec = insn.spec
    if spec is not None:
        names = dict(spec.fields)
        if names.get("dst") == "reg":
            regs.add(insn.dst)
        if names.get("src") == "reg":
            regs.add(insn.src)
        if spec.op in ("call", "atomic_cmpxchg"):  # a helper's result; cmpxchg compares with and loads R0
            regs.add(0)
    slots = set()
    # a comparison scratches no slot: spilled copies that learn from it (sync_linked_regs, a null check) are
    # changed without mark_stack_slot_scratched
    compares = spec is not None and spec.cls in (isa.Class.JMP, isa.Class.JMP32) and spec.op in _COMPARISONS
    if previous is not None and event.state is not None and len(previous.frames) == len(event.state.frames) \
            and not compares:
        old, new = previous.cur, event.state.cur
        for slot in range((max(len(old.stack), len(new.stack)) + SLOT - 1) // SLOT):
            if slot_str(old, slot) != slot_str(new, slot) or old.spill_at(slot) != new.spill_at(slot):
                slots.add(slot)
        read = _stack_slot_read(insn, spec, old)
        if read is not None and slot_str(new, read) is not None:
            slots.add(read)  # check_stack_read_fixed_off scratches the slot it reads
    return sorted(regs), sorted(slots)


_COMPARISONS = frozenset({"jeq", "jne", "jgt", "jge", "jlt", "jle", "jsgt", "jsge", "jslt", "jsle", "jset"})


def _stack_slot_read(insn, spec, frame) -> int | None:
    """The slot of this frame's stack a load (or an atomic's read) reads at a known offset, if any."""
    if spec is None or not (spec.cls == isa.Class.LDX or spec.op.startswith("atomic_")):
        return None
    base = frame.regs[insn.src if spec.cls == isa.Class.LDX else insn.dst]
    if base.type != PTR_TO_STACK or base.frameno != frame.frameno or not base.b.is_const():
        return None
    off = base.off + s64(base.b.var_off.value) + insn.off
    return (-off - 1) // SLOT if -MAX_STACK <= off < 0 else None


def kernel_log(program: Program, result: VerifierResult, level: int) -> str:
    """The log a loader asking for ``log_level`` 1 or 2 would read. Level 2 is the whole walk. Level 1 is
    the walk too when the program is rejected, but the kernel keeps only the statistics of an accepted
    program (its level-1 log is rolled back on success), and so do we."""
    if level not in (1, 2):
        raise ValueError("the log level is 1 or 2")
    if level == 1 and result.verdict == "accept":
        return result.log
    return "\n".join(log_lines(program, result)[0]) + "\n"


_STATE_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\) .*?; (.*)$")
_MAP_NAME = re.compile(r"map=[^,)]*")


def state_lines(log: str) -> list[tuple[int, str]]:
    """(instruction, state after its ``;``) for each instruction line of a level-2 log (ours or the kernel's)
    that carries a state, map names masked (the kernel's maps are named by whoever created them)."""
    return [(int(m[1]), _MAP_NAME.sub("map=…", m[2]).rstrip()) for m in map(_STATE_LINE.match, log.splitlines())
            if m]


_INSN_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\) ")


def error_insn(log: str, message: str | None, clean: Callable[[str], str] = str) -> int | None:
    """The instruction of the last instruction line (``12: (bf) r1 = r6``) before the last line reading
    ``message`` (after ``clean``; the whole log when it is None or absent): where a log reports its error."""
    lines = log.splitlines()
    end = next((i for i in range(len(lines) - 1, -1, -1) if message is not None and clean(lines[i]) == message),
               len(lines))
    for line in reversed(lines[:end]):
        m = _INSN_LINE.match(line)
        if m:
            return int(m.group(1))
    return None

