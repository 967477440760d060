"""The verifier: an abstract interpreter that mirrors ``kernel/bpf/verifier.c``.

``verify(program, prog_type) -> VerifierResult``: structural checks first (``cfg.check_cfg``, the map and
subprogram checks of ``loadcheck``), then the walk (``walk.Walker``, ``do_check``): every path from the
entry, each instruction checked against the abstract state, conditional jumps explored on both sides with
what each side implies, until every path reaches ``exit`` or one breaks a rule. The result carries the
kernel's message for the first violation, the number of processed instructions, and the walk as events.

The layers, bottom-up: ``tnum`` (tristate numbers, ``kernel/bpf/tnum.c``) and ``bounds`` (signed and
unsigned 64/32-bit ranges kept consistent as ``reg_bounds_sync`` does) are the value domain; ``scalar``
holds the ALU transfer functions; ``state`` the registers, stack and frames; ``branches`` what jumps
learn; ``helper_args`` helper prototypes; ``callbacks`` helpers that call a function of the program;
``stack_range`` stack accesses over a range of bytes (variable offsets, helper memory); ``prune`` state
equivalence; ``precision`` which scalars a path relied on exactly; ``walk`` the loop.

``max_processed`` lets a caller (the web page) stop the walk earlier than the kernel's 1,000,000: the
result's verdict is then ``"incomplete"``, with an error whose errno is ``LIMIT``, never a kernel verdict.
``progress`` (``progress.py``) is called with the processed count as the walk goes; what it raises stops
the walk.

What is not like the kernel yet (the kernel is the reference; ``tests/test_verifier_corpus.py`` and
``bench/bench_verifier.py`` measure the distance): iterators and kfuncs. ``privileged=False`` checks as for a
loader without capabilities, Spectre v1 paths included (``spectre``). Callbacks (``bpf_loop``, ``bpf_for_each_map_elem``) are walked as the kernel walks them
(``callbacks``): the callback in a frame of its own, then back to the helper call until the visits converge.
"""
from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from dataclasses import replace

from ..helpers import HELPERS
from .. import isa
from ..loadcheck import LoadError, check_map_refs, check_subprogs, refers_to_function
from ..program import Program
from .cfg import check_cfg
from .progress import PROGRESS_EVERY, Progress
from .result import Rejection, Stats, VerifierResult
from .stack_depth import combined_stack_problem
from .walk import COMPLEXITY_LIMIT, LIMIT_ERRNO, Walker


def verify(program: Program, prog_type: str, *, privileged: bool = True,
           max_processed: int = COMPLEXITY_LIMIT, track_precision: bool = True,
           progress: Progress | None = None) -> VerifierResult:
    """Check ``program`` as the kernel would load it as ``prog_type`` (privileged: a root loader).

    ``track_precision=False`` compares every scalar exactly when pruning, as an unprivileged walk does:
    the verdict is the same, but every path is covered by recorded states in all of its scalars, which is
    what checking a concrete run against the walk needs (``soundness.py``).

    ``progress(processed)`` is called every ``PROGRESS_EVERY`` processed instructions (never for a walk
    shorter than that); an exception it raises propagates out of ``verify`` (the result is then lost, not
    partial). The result does not depend on it.

    A source with several named sections is checked as its first program (``Program.first_entry``)."""
    result = _verify(program.first_entry(), prog_type, privileged, max_processed, track_precision, progress)
    return replace(result, privileged=privileged, prog_type=prog_type)


def _verify(program: Program, prog_type: str, privileged: bool, max_processed: int, track_precision: bool,
            progress: Progress | None) -> VerifierResult:
    insns = program.insns
    if not insns:
        return _rejected(0, "the program has no instructions (BPF_PROG_LOAD refuses it with E2BIG)", "E2BIG", 0,
                         (), False)
    if not privileged:  # bpf_prog_load, before the verifier runs
        if prog_type not in UNPRIVILEGED_TYPES:
            return _rejected(-1, f"an unprivileged loader may load only {' and '.join(UNPRIVILEGED_TYPES)} programs "
                                 f"(BPF_PROG_LOAD refuses a {prog_type} program with EPERM)", "EPERM", 0, (), False)
        if len(insns) > BPF_MAXINSNS:
            return _rejected(-1, f"the program has {len(insns):,} instructions; an unprivileged loader may load at "
                                 f"most {BPF_MAXINSNS:,} (BPF_PROG_LOAD refuses it with E2BIG)", "E2BIG", 0, (), False)
        if any(refers_to_function(insn) or (insn.opcode == 0x85 and insn.src == isa.CallSrc.KFUNC) for insn in insns):
            # add_subprog_and_kfunc, before check_subprogs
            return _rejected(-1, "loading/calling other bpf or kernel functions are allowed for CAP_BPF and "
                                 "CAP_SYS_ADMIN", "EPERM", 0, (), False)
    # resolve_pseudo_ldimm64 makes one pass: the first bad instruction, whichever its fault, is reported
    first = min((p for p in (check_insntable(insns), check_map_refs(insns, len(program.maps))) if p),
                key=lambda p: p.pc, default=None)
    for problem in (check_subprogs(insns), first):  # check_subprogs runs first (cfg_ld_imm64_truncated)
        if problem is not None:
            return _rejected(problem.pc, problem.message, "EINVAL", 0, (), False)
    cfg = check_cfg(insns, allow_loops=privileged)
    if cfg is not None:
        return _rejected(cfg.insn_idx, cfg.message, cfg.errno, 0, (), False)
    walker = Walker(program, prog_type, privileged, max_processed, track_precision)
    with _no_cycle_collection():
        idx, rejection = walker.run(progress)
    stats = Stats(walker.processed, walker.max_pending, walker.total_states, walker.peak_states,
                  walker.max_states_per_insn)
    if rejection is not None and rejection.errno == LIMIT_ERRNO:
        return VerifierResult("incomplete", Rejection(idx, rejection.message, LIMIT_ERRNO), stats,
                              f"{rejection.message}\n", tuple(walker.events), walker.truncated)
    if rejection is not None:
        return _rejected(idx, rejection.message, rejection.errno, walker.processed, tuple(walker.events),
                         walker.truncated, stats)
    problem = combined_stack_problem(insns, walker.stack_depth)
    if problem:  # checked after the walk, at no instruction
        return _rejected(-1, problem, "EACCES", walker.processed, tuple(walker.events), walker.truncated, stats)
    log = stats.line(COMPLEXITY_LIMIT) + "\n"
    return VerifierResult("accept", None, stats, log, tuple(walker.events), walker.truncated)


UNPRIVILEGED_TYPES = ("socket_filter", "cgroup_skb")  # bpf_prog_load without CAP_BPF (or CAP_SYS_ADMIN)
BPF_MAXINSNS = 4096  # bpf_prog_load's limit on instructions without CAP_BPF


@contextmanager
def _no_cycle_collection():
    """Pause Python's cyclic garbage collector during a walk. The walk keeps every state it met (for its
    events), so the collector's full passes re-scan an ever larger heap, which cost 40% of a long walk;
    the walk's objects form no cycles, and reference counting frees them as usual. Concurrent walks in
    threads share one count: the collector resumes when the last one ends (if it was on before)."""
    global _walks, _gc_was_on
    with _walks_lock:
        if _walks == 0:
            _gc_was_on = gc.isenabled()
            gc.disable()
        _walks += 1
    try:
        yield
    finally:
        with _walks_lock:
            _walks -= 1
            if _walks == 0 and _gc_was_on:
                _promote_to_oldest_generation()
                gc.enable()


def _promote_to_oldest_generation() -> None:
    """Move every object the collector tracks into its oldest generation, as if it had survived the young
    collections (``gc.freeze`` then ``gc.unfreeze``, which also resets the youngest generation's count).
    Without it, the first allocation after the collector resumes scans every object the walk made: they
    are all still in the youngest generation, whose count passed its threshold long ago (5% of a long walk);
    and the next middle-generation collection scans them again. In the oldest generation they are scanned
    only by full collections, as any long-lived object is. Skipped when objects are already frozen (someone
    else's ``gc.freeze``), which ``gc.unfreeze`` would release."""
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


_walks = 0
_gc_was_on = True
_walks_lock = threading.Lock()


def check_insntable(insns) -> LoadError | None:
    """``resolve_pseudo_ldimm64``'s opcode checks: every opcode in the kernel's ``bpf_opcode_in_insntable``
    (ours, less ``callx``: BPF_CALL|BPF_X is not in it), and every ``ld_imm64`` followed by a second half
    whose fields other than imm are zero."""
    pc = 0
    while pc < len(insns):
        insn = insns[pc]
        spec = insn.spec
        if spec is None or spec.op == "callx":
            return LoadError(pc, f"unknown opcode {insn.opcode:02x}")
        if insn.opcode == 0x18:
            second = insns[pc + 1] if pc + 1 < len(insns) else None
            if second is None or second.opcode or second.dst or second.src or second.off:
                return LoadError(pc, "invalid bpf_ld_imm64 insn")
            pc += 2
            continue
        pc += 1
    return None


def _rejected(idx: int, message: str, errno: str, processed: int, events: tuple, truncated: bool,
              stats: Stats | None = None) -> VerifierResult:
    stats = stats or Stats(processed)
    log = f"{message}\n" + (stats.line(COMPLEXITY_LIMIT) + "\n" if processed else "")
    return VerifierResult("reject", Rejection(idx, message, errno), stats, log, events, truncated)


__all__ = ["verify", "Progress", "PROGRESS_EVERY", "VerifierResult", "Rejection", "Stats", "HELPERS"]
