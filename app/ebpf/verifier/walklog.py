"""The verifier's walk as the kernel's level-2 log prints it (``BPF_LOG_LEVEL2``, Linux 6.18).

``log_lines`` rebuilds the whole log from the walk's events and the states they keep: ``func#N @START`` and the
live registers of each instruction (``preamble``); after each instruction, ``print_insn_state`` with the
registers and stack slots it touched, aligned as ``vlog_alignment`` does (``5: (2d) if r4 > r3 goto pc+3
; R3=pkt_end() R4=pkt(off=14,r=14)``), or on a line of its own when something came between; the frames at a call
and a return (``caller:``, ``returning from callee:``); ``\nfrom 5 to 9: <state>`` when a pending branch is
resumed or a function returns; ``9: safe`` (or ``from 7 to 9: safe``) when a path is pruned; what precision
tracking, the stack liveness analysis and the SCC bookkeeping printed (records on the events); the error and
the statistics. ``_Printer`` follows ``do_check``'s printing step by step. The kernel prints map addresses
where we print ``map_fd(0)``.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from app.ebpf.asm import disassemble
from app.ebpf.helpers import helper_available
from app.ebpf.program import Program

from .. import isa
from ..loadcheck import subprog_starts
from .bounds import s64
from .scalar import alu
from .callbacks import is_sync_callback_call
from .loops import compute_scc
from .notation import SLOT, frame_str, slot_str
from .prune import live_registers
from .result import VerifierResult
from .state import MAX_BPF_STACK as MAX_STACK
from .state import PTR_TO_CTX, PTR_TO_STACK, Frame, VerifierState, initial_frame, ptr
from .walk import COMPLEXITY_LIMIT, Event


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
    lines = preamble(program, result)
    if result.verdict == "reject" and not result.walk:  # refused before the walk: the error and the statistics
        return lines + [result.error.message, result.stats.line(COMPLEXITY_LIMIT)], []
    printer = _Printer(program, lines + ["0: R1=ctx() R10=fp0"], all_precise=not result.privileged)
    line_of = []
    for e in result.walk:
        printer.event(e)
        line_of.append(len(printer.lines) - 1)
    lines = printer.lines
    ending = result.log.strip().splitlines()
    if result.walk and result.walk[-1].kind == "reject":
        lines += ending[-1:]  # the error is printed: the statistics (or the error again, for no verdict)
    else:
        lines += ending  # the statistics, after an error found once the walk was over (the combined stack)
    return lines, line_of


def preamble(program: Program, result: VerifierResult) -> list[str]:
    """What the kernel prints before the walk at level 2: ``func#N @START`` for each subprogram
    (``add_subprog_and_kfunc``; none when a call names no instruction), then, once the control-flow checks
    passed, each instruction's live registers and SCC (``compute_live_registers``)."""
    if result.verdict == "reject" and not result.walk and result.error.message in _BEFORE_SUBPROGS:
        return []
    insns = program.insns
    lines = [f"func#{i} @{start}" for i, start in enumerate(subprog_starts(insns))]
    if result.verdict == "reject" and not result.walk:
        return lines
    helper_ok = None
    if result.prog_type:
        def helper_ok(func_id: int) -> bool:
            return helper_available(func_id, result.prog_type, result.privileged)
    return lines + live_regs_lines(insns, _insn_texts(program), helper_ok)


#: Messages of add_subprog_and_kfunc, which refuses a program before it prints a subprogram.
_BEFORE_SUBPROGS = ("call to invalid destination",
                    "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN")


def live_regs_lines(insns, texts: dict[int, str], helper_ok=None) -> list[str]:
    """``compute_live_registers``' dump: "Live regs before insn:", then per instruction its SCC (``%3d `` or four
    spaces), ``%3d: ``, r0 to r9 live before it (the digit, or ``.``) and the instruction (``verbose_insn``); the
    second half of an ``ld_imm64`` has no line. ``helper_ok(func_id)``: whether the loader may call a helper (a
    call of one it may not reads r1-r5 here)."""
    live, scc = live_registers(insns, helper_ok), compute_scc(insns)
    lines = ["Live regs before insn:"]
    for pc, text in sorted(texts.items()):
        mask = "".join(str(r) if r in live[pc] else "." for r in range(10))
        lines.append(f"{f'{scc[pc]:3d} ' if scc[pc] else '    '}{pc:3d}: {mask} {text}")
    return lines


class _Printer:
    """``do_check``'s printing, event by event (``kernel/bpf/verifier.c``, Linux 6.18). The state an instruction
    scratched is printed by ``print_insn_state`` when the next instruction is about to be printed, joined to the
    instruction's line with ``;`` when nothing came between, else on a line of its own under the index of the
    instruction about to be printed; a conditional jump prints it at once (``check_cond_jmp_op``), and a path
    that is pruned next never prints it. A resumed branch and a return from a function print ``\nfrom %d to
    %d:`` and the whole state first (``do_print_state``); a resumed branch has every register scratched
    (``process_bpf_exit``: ``mark_verifier_state_scratched``), so its state is printed again under the
    instruction's index."""

    def __init__(self, program: Program, lines: list[str], all_precise: bool = False) -> None:
        self.program = program
        self.all_precise = all_precise  # an unprivileged walk: every scalar prints with its P
        self.texts = _insn_texts(program)
        self.maps = program.maps
        self.lines = lines
        self.pushes: list[int] = []
        self.previous: VerifierState | None = initial_state()
        self.scratched: tuple[str, int] | None = None  # a state to print, and the line it may join (or -1)
        self.from_line: tuple[int, str] | None = None  # do_print_state: where from, the whole state
        self.jump_state: tuple[int, str] | None = None  # a conditional jump's last line before its state

    def full(self, state: VerifierState, frame: int | None = None) -> str:
        """``print_verifier_state(..., print_all=true)`` of the current frame (or ``frame``)."""
        f = state.cur if frame is None else state.frames[frame]
        return frame_str(f, self.maps, [r for r, _ in state.refs], all_precise=self.all_precise)

    def event(self, e: Event) -> None:
        marks = [_precision_line(r, self.texts, self.maps) for r in e.precise_log]
        kind = e.kind
        if kind == "push_branch":
            self.pushes.append(e.other)
            return
        if kind == "pop_branch":  # the path before ended: the liveness update at its end comes first
            self.lines += marks
            source = self.pushes.pop() if self.pushes else -1
            full = self.full(e.state) if e.state else ""
            self.from_line = (source, full, _speculative(e.state))
            self.scratched = (full, -1)
            self.previous = e.state
            return
        if kind == "prune":  # what propagate_precision prints comes before the verdict
            self.lines += marks
            if self.from_line is not None:
                self.lines += ["", f"from {self.from_line[0]} to {e.insn_idx}{_speculative(e.state)}: safe"]
            else:
                self.lines.append(f"{e.insn_idx}: safe")
            self.from_line = self.scratched = None
            return
        if kind == "accept":  # the statistics (and a check made after the walk) follow
            self.lines += marks
            return
        # is_state_visited prints "SCC enter" before the instruction's state and line
        entered = 0
        while entered < len(marks) and marks[entered].startswith("SCC enter "):
            entered += 1
        self.lines += marks[:entered]
        marks = marks[entered:]
        if kind == "reject" and _JUMPS_TOO_COMPLEX.match(e.detail):
            # push_stack failed at the jump just printed, before check_cond_jmp_op printed its state
            if self.jump_state is not None:
                at, text = self.jump_state
                self.lines[at:] = [text]
            self.lines += [*marks, e.detail]
            return
        self.begin(e.insn_idx)
        head = f"{e.insn_idx}: {self.texts.get(e.insn_idx, '(95) exit' if kind == 'exit' else '')}"
        self.lines.append(head)
        if kind == "exit":
            self.lines += marks
        elif kind == "nospec":  # a speculative path fenced here: what would have been refused is still printed
            self.lines += marks
            if e.detail:
                self.lines += [e.detail, *_error_follow_up(self.program, e)]
        elif kind == "reject":
            self.lines += marks
            self.lines += [e.detail, *_error_follow_up(self.program, e)]
        else:
            self.visit(e, head, marks)

    def begin(self, idx: int) -> None:
        """The top of ``do_check``'s loop for instruction ``idx``: the resumed path's state, then what the
        previous instruction scratched."""
        if self.from_line is not None:
            source, full, speculative = self.from_line
            self.lines += ["", f"from {source} to {idx}{speculative}: {full}"]
            self.from_line = None
        if self.scratched is not None:
            self.print_insn_state(*self.scratched, idx)
            self.scratched = None

    def print_insn_state(self, tail: str, join: int, idx: int) -> None:
        """``print_insn_state``: after the instruction's line when it is the last line, else as ``idx: ...``."""
        tail = f" {tail}" if tail else ""  # every register scratched may be uninitialised (a void helper's R0)
        if join == len(self.lines) - 1:
            head = self.lines[join]
            self.lines[join] = f"{head.ljust(_semicolon_column(len(head)))};{tail}"
        else:
            self.lines.append(f"{idx}:{tail}")

    def visit(self, e: Event, head: str, marks: list[str]) -> None:
        previous, self.previous = self.previous, e.state
        self.jump_state = None
        self.lines += marks
        if e.state is None:
            return
        insn = self.program.insns[e.insn_idx]
        spec = insn.spec
        if len(e.state.frames) - 1 > e.frame:  # check_func_call
            # setup_func_call prints both frames; the callee's registers are scratched
            self.lines += ["caller:", " " + self.full(e.state, -2), "callee:", " " + self.full(e.state)]
            self.scratched = (self.full(e.state), -1)
            return
        if len(e.state.frames) - 1 < e.frame and previous is not None:  # prepare_func_exit
            callee = previous.cur  # a callback goes back to its helper call, a function to after its call
            back = callee.callsite + (0 if callee.in_callback_fn else 1)
            # a function's caller is printed with R0 set; a callback's before its scalars are widened
            caller = self.full(previous, -2) if callee.in_callback_fn else self.full(e.state)
            self.lines += ["returning from callee:", " " + self.full(previous), f"to caller at {back}:",
                           " " + caller]
            self.from_line = (e.insn_idx, self.full(e.state), "")
            return
        touched = _touched(self.program, e, previous)
        if not any(touched):
            return  # nothing scratched (verifier_state_scratched)
        tail = frame_str(e.state.cur, self.maps, [r for r, _ in e.state.refs], *touched, all_precise=self.all_precise)
        join = len(self.lines) - 1 if not marks else -1
        if spec is not None and spec.cls in (isa.Class.JMP, isa.Class.JMP32) and spec.op in _COMPARISONS:
            self.jump_state = (len(self.lines) - 1, self.lines[-1])
            self.print_insn_state(tail, join, e.insn_idx)  # check_cond_jmp_op prints it at once
        else:
            self.scratched = (tail, join)


_JUMPS_TOO_COMPLEX = re.compile(r"The sequence of \d+ jumps is too complex\.$")
_PACKET_ACCESS = re.compile(r"invalid access to packet, .*, R(\d+)\(")
_MAP_VALUE_ACCESS = re.compile(r"invalid access to map value, value_size=\d+ off=(-?\d+) size=\d+$")


def _error_follow_up(program: Program, e: Event) -> list[str]:
    """The line some checks print after the error their helper printed: ``check_packet_access`` ("R2 offset is
    outside of the packet"), ``check_mem_region_access`` for a load or store ("R0 min value is outside of the
    allowed memory range", or max: which bound's access failed, the smallest offset being tried first) and
    ``check_resource_leak`` at an exit or an ``ld_abs`` ("BPF_EXIT instruction in main prog would lead to
    reference leak")."""
    insn = program.insns[e.insn_idx] if 0 <= e.insn_idx < len(program.insns) else None
    spec = insn.spec if insn is not None else None
    if (m := _PACKET_ACCESS.match(e.detail)) is not None:
        return [f"R{m[1]} offset is outside of the packet"]
    if e.detail.startswith("Unreleased reference ") and spec is not None:
        prefix = {"exit": "BPF_EXIT instruction in main prog", "ld_abs": "BPF_LD_[ABS|IND]",
                  "ld_ind": "BPF_LD_[ABS|IND]"}.get(spec.op)
        return [f"{prefix} would lead to reference leak"] if prefix else []
    m = _MAP_VALUE_ACCESS.match(e.detail)
    if m is not None and spec is not None and e.state is not None and spec.cls == isa.Class.ALU64:
        return _moved_map_value_follow_up(insn, spec, e.state, int(m[1]))
    if m is None or spec is None or e.state is None or spec.cls not in (isa.Class.LDX, isa.Class.ST, isa.Class.STX):
        return []
    regno = insn.src if spec.cls == isa.Class.LDX else insn.dst
    reg = e.state.cur.regs[regno]
    lowest = reg.off + insn.off + reg.b.smin
    return [f"R{regno} {'min' if int(m[1]) == lowest else 'max'} value is outside of the allowed memory range"]


def _moved_map_value_follow_up(insn, spec: isa.OpSpec, state: VerifierState, failed_off: int) -> list[str]:
    """After ``sanitize_check_bounds`` found a moved map value pointer outside the value (an unprivileged loader):
    ``check_mem_region_access``'s line for the bound that failed (the lowest offset is tried first), then the
    sanitizer's own."""
    regs = state.cur.regs
    dst = regs[insn.dst]
    src = regs[insn.src] if spec.source == isa.Source.X else None
    base, moved_by = (dst, src) if dst.is_pointer else (src, dst)
    if moved_by is None:  # an immediate: only the fixed offset moves
        delta = s64(insn.imm & 0xFFFFFFFFFFFFFFFF)
        lowest = base.off + (delta if spec.op == "add" else -delta) + base.b.smin
    elif moved_by.b.is_const():
        delta = s64(moved_by.b.var_off.value)
        lowest = base.off + (delta if spec.op == "add" else -delta) + base.b.smin
    else:
        lowest = base.off + alu(spec.op, 64, base.b, moved_by.b).smin
    which = "min" if failed_off == lowest else "max"
    return [f"R{insn.dst} {which} value is outside of the allowed memory range",
            f"R{insn.dst} pointer arithmetic of map value goes out of range, prohibited for !root"]


def _speculative(state: VerifierState | None) -> str:
    """What ``do_check`` adds to ``from X to Y`` for a path only speculative execution takes."""
    return " (speculative execution)" if state is not None and state.speculative else ""


def initial_state() -> VerifierState:
    """The state the walk starts from (``init_reg_state``, R1 the context): what the first instruction changed."""
    regs = list(initial_frame().regs)
    regs[1] = ptr(PTR_TO_CTX)
    return VerifierState((Frame(tuple(regs)),))


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
        if spec.op in ("ld_abs", "ld_ind"):  # check_ld_abs reads R6 (the context) and writes R0
            regs.update((0, 6))
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
    if is_sync_callback_call(insn) and event.state is not None:
        # a helper calling a callback (bpf_loop, bpf_for_each_map_elem) leaves R10 and the whole stack of its
        # frame scratched too, as the 6.18 kernel's log shows after such a call
        regs.add(10)
        slots.update(range((len(event.state.cur.stack) + SLOT - 1) // SLOT))
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
    if result.error is not None and "(BPF_PROG_LOAD refuses" in result.error.message:
        return result.log  # refused by bpf_prog_load before the verifier runs: the kernel logs nothing
    lines = log_lines(program, result)[0]
    if level == 1:  # func# and the live registers are printed at level 2 only
        lines = lines[len(preamble(program, result)):]
    return "\n".join(lines) + "\n"


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

