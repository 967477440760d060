"""Our verifier beside the real one: ``POST /kernel-check`` loads the program on screen into the running
kernel and shows the kernel's verdict, first error, statistics and level-2 log beside ours, with the
differences marked.

Off unless the setting ``KERNEL_CHECK`` is true (``EBPF_PLAYGROUND_KERNEL_CHECK=true``). Off, the route does
not exist (404, even before the CSRF check) and the page offers no button. It is meant for a local install:
the kernel's verifier becomes reachable from the web page, and a verifier bug in the host kernel (a program
accepted that should not be) is a host compromise, even though nothing is ever attached. On, but without
``bpf()`` (not root, or a seccomp filter), the button says so and the route answers 503 with the reason.

One check, for the fields of the walk form (the inputs of the result on screen, ``RunForm.hidden_fields``):

1. the source is assembled or compiled as the page does; raw bytecode names no hook, so it is refused (400);
   the loader is the page's: root, or with the "Unprivileged loader" box ticked a user without capabilities;
2. every map reference must name one of the program's own ``.map`` declarations, so that no other file
   descriptor of this process can be handed to the kernel, and the maps may take at most :data:`MAP_BYTES`
   of kernel memory (:func:`map_problem`); otherwise the kernel is not asked and the answer says why;
3. the maps are created in the kernel, fresh and empty, and their fds patched into the ``ld_imm64``
   references as a loader would (``bench/verifier_corpus.py`` does the same);
4. ``BPF_PROG_LOAD`` at log level 4 (statistics only, the kernel's full speed: verdict, errno, the error lines
   and the ``processed ... total_states ... peak_states`` line), then, only if the kernel processed at most
   :data:`LOG_INSNS` instructions, again at level 2 | 4 for the walk (about 900 bytes of log and 20 times
   the time per processed instruction: 1,000,000 would take 13 s and 880 MB). One check at a time per
   process; every fd is closed before the answer is written (the oracle's context managers). For an
   unprivileged loader the loads are made by user ``nobody`` in a forked child
   (``app.oracle_unprivileged.verify_unprivileged``: the maps are created by root first, as a privileged
   process would hand their fds over), which the kernel allows only while the sysctl
   ``kernel.unprivileged_bpf_disabled`` is 0; otherwise the kernel is not asked and the answer says why
   (comparing with a root load instead would compare two different verifiers);
5. our verifier runs with the page's limit, for the same loader, (``Limits.verify_insns``) and renders its walk as the kernel's
   level-2 log (``walklog.kernel_log``);
6. :func:`compare` marks what differs (verdict, errno, first message, its instruction, processed count) and
   :func:`compare_states` compares the state lines (``5: (2d) if r4 > r3 goto pc+3   ; R3=pkt_end() ...``) at
   the same instruction, as ``bench/verifier_log.py`` does, with map names masked.

Kernel addresses in the kernel's log (``r1 = 0xffff8881...`` for a map) are shown as ``0xKPTR``: the page
must not hand out where the kernel's objects live.
"""
from __future__ import annotations

import os
import re
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, fields
from functools import partial

from flask import Blueprint, Flask, abort, current_app, request

from app import kernelload, oracle, oracle_unprivileged
from app.ebpf import AsmError, MapDef, Program, assemble
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.verifier import verify
from app.ebpf.verifier.walklog import error_insn, kernel_log, state_lines
from app.kernelload import errno_name

from . import ratelimit
from .contexts import PlaygroundPage
from .forms import CHECKED, LANG_C, LANGUAGES, RunForm
from .inputs import FieldError, Limits
from .render import page_or_fragment
from .runs import compile_program

bp = Blueprint("kernel_check", __name__)

SETTING = "KERNEL_CHECK"
STATS_ONLY = 4  # BPF_LOG_STATS
LOG_AND_STATS = 2 | 4  # BPF_LOG_LEVEL2 | BPF_LOG_STATS
LOG_INSNS = 20_000
"""The level-2 load is made only when the first load processed at most this many instructions (~18 MB of log)."""
SHOWN_LOG_CHARS = 200_000
"""Each log is shown up to this many characters (the comparison reads them whole)."""
SHOWN_STATE_DIFFS = 20
MAP_BYTES = 64 << 20
"""The most kernel memory one check's maps may take, by :func:`map_bytes`' estimate."""
BUSY_SECONDS = 10.0
KPTR = "0xKPTR"
UNAVAILABLE = ("This server may not use bpf() (it needs root, or CAP_BPF and CAP_PERFMON, and no seccomp "
               "filter refusing the call), so the running kernel cannot be asked.")

_KPTR_RE = re.compile(r"0xffff[0-9a-f]{12}(?=( ))?")


# --- what the page shows ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Side:
    """One verifier's answer: ``verdict`` (``accept``, ``reject``, or ours ``incomplete`` at the page's limit),
    ``errno`` name, first error ``message`` and its instruction ``insn_idx`` (None when unknown),
    ``processed`` instructions (None when the kernel printed no statistics), ``total_states`` and
    ``peak_states`` (the kernel's), the ``log`` as shown (at most :data:`SHOWN_LOG_CHARS`) and its full length
    ``log_chars`` (0: none fetched, ``log_note`` says why), ``seconds`` the call took and the kernel's own
    ``verification_usec``."""

    verdict: str
    errno: str
    message: str
    insn_idx: int | None
    processed: int | None
    log: str
    log_chars: int
    seconds: float
    log_note: str = ""
    total_states: int | None = None
    peak_states: int | None = None
    verification_usec: int | None = None

    @property
    def log_truncated(self) -> bool:
        return self.log_chars > len(self.log)


@dataclass(frozen=True)
class CompareRow:
    """One row of the side-by-side table: ``what`` is compared, ``ours`` and ``kernel`` as text, and whether
    they ``differ`` (rows that cannot be compared, such as the kernel's states, never do)."""

    what: str
    ours: str
    kernel: str
    differs: bool


@dataclass(frozen=True)
class StateDiff:
    """A kernel state line with no identical line of ours at instruction ``insn``: the ``kernel``'s text after
    ``;`` and ``ours`` at the same visit of that instruction (None: our walk never reached it)."""

    insn: int
    kernel: str
    ours: str | None


@dataclass(frozen=True)
class StateComparison:
    """The kernel's ``compared`` state lines, of which ``same`` have an identical line of ours at the same
    instruction; ``diffs`` are the first differing ones (``differing`` in all)."""

    compared: int
    same: int
    differing: int
    diffs: tuple[StateDiff, ...]


@dataclass(frozen=True)
class KernelCheck:
    """``_kernel_check.html``: the program checked as ``hook`` by the kernel ``release``; ``ours`` and
    ``kernel`` (None when the kernel could not be asked, ``problem`` says why), the ``rows`` of the table,
    and the state lines compared (None without both level-2 logs); ``privileged``: both sides loaded it as
    root (else as a user without capabilities)."""

    hook: str
    release: str
    ours: Side
    kernel: Side | None
    rows: tuple[CompareRow, ...] = ()
    states: StateComparison | None = None
    problem: str = ""
    privileged: bool = True

    @property
    def differences(self) -> tuple[CompareRow, ...]:
        return tuple(row for row in self.rows if row.differs)


@dataclass(frozen=True)
class KernelCheckPage(PlaygroundPage):
    """The playground page after a kernel check without JavaScript: the page plus the ``kernel`` check, which
    ``_verifier_check.html`` shows in place of its button."""

    kernel: KernelCheck | None = None


@dataclass(frozen=True)
class Offer:
    """What the page offers (``kernel_check_offer()`` in templates): the button, or why it cannot work."""

    available: bool
    reason: str = ""


# --- the view ---------------------------------------------------------------------------------------------------

@bp.post("/kernel-check")
def check():
    if not current_app.config.get(SETTING):
        abort(404)
    if not oracle.bpf_available():
        abort(503, description=UNAVAILABLE)
    refused = ratelimit.refuse(ratelimit.RUNS)
    if refused is not None:
        return refused
    limits = Limits.from_config(current_app.config)
    form = RunForm.from_form(request.form, limits)
    if form.unprivileged not in ("", CHECKED):
        abort(400, description="Unprivileged loader: a checkbox, 'on' when ticked and absent otherwise.")
    context = kernel_check(_program(form, limits), form.prog_type, limits, form.privileged)
    return page_or_fragment(("playground/_kernel_check.html",), {"kernel": context},
                            lambda: ("playground/page.html", _page(form, limits, context)))


def _program(form: RunForm, limits: Limits) -> Program:
    """The form's program, or a 400 saying why there is none to load."""
    if form.prog_type not in PROG_TYPES:
        abort(400, description="Raw bytecode is loaded by no hook: choose a program type to check it with the kernel.")
    if form.language not in LANGUAGES:
        abort(400, description="Unknown language: the kernel check takes assembly or C.")
    if len(form.source.encode("utf-8", "surrogatepass")) > limits.source_bytes:
        abort(400, description=f"The program is larger than the {limits.source_bytes:,} bytes allowed.")
    try:
        if form.language == LANG_C:
            return compile_program(form.source, form.prog_type)  # as a run builds it
        return assemble(form.source)
    except AsmError as e:
        abort(400, description=f"The program does not assemble (line {e.line}): {e.message}")
    except FieldError as e:
        abort(400, description=f"The program does not compile: {e.message}")


def _page(form: RunForm, limits: Limits, context: KernelCheck) -> KernelCheckPage:
    from .playground import build_page  # the playground imports nothing from here

    page, _ = build_page(form, limits)
    return KernelCheckPage(**{f.name: getattr(page, f.name) for f in fields(PlaygroundPage)}, kernel=context)


def kernel_check(program: Program, prog_type: str, limits: Limits, privileged: bool = True) -> KernelCheck:
    """Ours and the kernel's verdict on ``program`` as ``prog_type``, loaded by root or (``privileged``
    false) by a user without capabilities, compared (see the module docstring)."""
    ours, our_log = our_side(program, prog_type, limits.verify_insns, privileged)
    release = f"Linux {os.uname().release}"
    problem = map_problem(program) or ("" if privileged else unprivileged_problem())
    if problem:
        return KernelCheck(prog_type, release, ours, None, problem=problem, privileged=privileged)
    lock = current_app.extensions.setdefault("kernel_check.lock", threading.Lock())
    if not lock.acquire(timeout=BUSY_SECONDS):
        abort(503, description="Another kernel check is running. Try again in a moment.")
    try:
        kernel, full_log = kernel_side(program, prog_type, privileged)
    except NotLoaded as e:
        return KernelCheck(prog_type, release, ours, None, problem=str(e), privileged=privileged)
    except OSError as e:  # the log buffer, or bpf() itself
        return KernelCheck(prog_type, release, ours, None, problem=f"The kernel could not be asked: {e.strerror}.",
                           privileged=privileged)
    finally:
        lock.release()
    states = compare_states(full_log, our_log) if full_log else None
    return KernelCheck(prog_type, release, ours, kernel, compare(ours, kernel), states, privileged=privileged)


def unprivileged_problem() -> str:
    """Why the kernel cannot be asked as a user without capabilities, or "" when it can (the sysctl
    ``kernel.unprivileged_bpf_disabled`` reads 0)."""
    setting = oracle_unprivileged.unprivileged_bpf_setting()
    if setting == "0":
        return ""
    state = f"is {setting}" if setting is not None else "cannot be read"
    return (f"This kernel cannot be asked how it loads the program for an unprivileged user: its setting "
            f"kernel.unprivileged_bpf_disabled {state}, so users without capabilities may not call bpf() at all "
            f"(their load fails with EPERM before the verifier runs). A root load would be checked by other rules, "
            f"so it is not compared instead: untick Unprivileged loader to compare a root load.")


# --- the kernel's side ------------------------------------------------------------------------------------------

def map_problem(program: Program) -> str:
    """Why ``program`` must not be handed to the kernel, or "" when it may: every ``ld_imm64`` map reference
    (src 1, 2, 5, 6) must be an index into the program's maps, and kfunc calls may not name a module's BTF
    (``off`` indexes ``fd_array``), so that only the maps made for the check can be named; and its maps may
    take at most :data:`MAP_BYTES` of kernel memory (:func:`map_bytes`)."""
    count = len(program.maps)
    total = sum(map_bytes(m) for m in program.maps)
    if total > MAP_BYTES:
        return (f"The program's maps would take about {total / (1 << 20):,.0f} MiB of kernel memory; the kernel "
                f"check creates at most {MAP_BYTES >> 20} MiB.")
    for pc, insn in enumerate(program.insns):
        if insn.opcode == 0x18 and insn.src in (1, 2, 5, 6) and not 0 <= insn.imm < count:
            return (f"insn {pc} refers to map {insn.imm}, but the program declares {count} map(s): only the "
                    f"program's own maps can be loaded with it.")
        if insn.opcode == 0x85 and insn.src == 2 and insn.off != 0:
            return f"insn {pc} calls a kfunc of a kernel module (off={insn.off}), which the kernel check does not load."
    return ""


def map_bytes(m: MapDef) -> int:
    """An over-estimate of the kernel memory map ``m`` takes: a ring buffer its ``max_entries`` bytes, other
    maps every entry preallocated (key and value rounded up to 8 bytes, a value per possible CPU for per-CPU
    maps) plus 64 bytes of bookkeeping each."""
    if m.type == "ringbuf":
        return m.max_entries
    cpus = oracle.possible_cpus() if m.type in oracle.PERCPU_MAP_TYPES else 1
    return m.max_entries * (-(-m.key_size // 8) * 8 + -(-m.value_size // 8) * 8 * cpus + 64)


class NotLoaded(Exception):
    """The kernel could not be asked about the program (a map it refused to create); the message says why."""


def create_maps(program: Program, stack: ExitStack) -> list[int]:
    """``kernelload.create_maps``, with a map the kernel refuses to create named in :class:`NotLoaded`."""
    try:
        return kernelload.create_maps(program, stack)
    except OSError as e:
        raise NotLoaded(f"The kernel refused to create map {e.filename} ({program_map_type(program, e.filename)}): "
                        f"{errno_name(e.errno)} ({e.strerror}).") from None


def program_map_type(program: Program, name: str) -> str:
    return next((m.type for m in program.maps if m.name == name), "?")


def kernel_side(program: Program, prog_type: str, privileged: bool = True) -> tuple[Side, str]:
    """The kernel's answer and its whole level-2 log ("" when not fetched), loaded by root or (``privileged``
    false) by user ``nobody``. Raises :class:`NotLoaded` if a map cannot be created; every fd is closed on
    return."""
    loader = oracle.verify_in_kernel if privileged else oracle_unprivileged.verify_unprivileged
    with ExitStack() as stack:
        fds = create_maps(program, stack)
        load = partial(loader, kernelload.kernel_code(program.first_entry(), fds), prog_type,
                       expected_attach_type=PROG_TYPES[prog_type].expected_attach_type,
                       fd_array=fds if kernelload.uses_fd_array(program) else None)
        started = time.perf_counter()
        quick = load(log_level=STATS_ONLY)
        seconds = time.perf_counter() - started
        full = None
        if quick.processed_insns is None or quick.processed_insns <= LOG_INSNS:
            started = time.perf_counter()
            full = load(log_level=LOG_AND_STATS)
            seconds += time.perf_counter() - started
    log = mask(full.log, pad=True) if full else ""
    note = "" if full else (f"The kernel processed {quick.processed_insns:,} instructions: its level-2 log is "
                            f"fetched only up to {LOG_INSNS:,}.")
    counts = oracle.state_counts(quick.log)
    message = _message(quick.first_error)
    return Side(
        verdict="accept" if quick.accepted else "reject", errno="" if quick.accepted else errno_name(quick.errno),
        message=message, insn_idx=error_insn(log, _message(full.first_error), _message) if full and message else None,
        processed=quick.processed_insns, log=log[:SHOWN_LOG_CHARS], log_chars=len(log), seconds=seconds,
        log_note=note, total_states=counts[1] if counts else None, peak_states=counts[2] if counts else None,
        verification_usec=oracle.verification_usec(quick.log),
    ), log


def _message(raw: str | None) -> str:
    """The first error line, without statistics glued to it and with kernel addresses masked."""
    if not raw:
        return ""
    return mask(oracle.without_glued_stats(raw))


def mask(text: str, pad: bool = False) -> str:
    """``text`` with kernel addresses replaced by :data:`KPTR`; ``pad`` keeps the width of an address followed
    by a space, so that the ``;`` of an instruction line stays in its column."""
    return _KPTR_RE.sub(lambda m: KPTR.ljust(len(m[0])) if pad and m[1] else KPTR, text)


# --- our side and the comparison ----------------------------------------------------------------------------

def our_side(program: Program, prog_type: str, limit: int, privileged: bool = True) -> tuple[Side, str]:
    """Our verifier's answer for the loader ``privileged`` says (with the time it and its log took) and its
    whole level-2 log (``walklog.kernel_log``)."""
    started = time.perf_counter()
    result = verify(program, prog_type, privileged=privileged, max_processed=limit)
    log = kernel_log(program, result, 2)
    seconds = time.perf_counter() - started
    error = result.error
    note = "Our walk stopped at the page's limit: its log ends there." if result.verdict == "incomplete" else \
        "Our walk was too long to record in full: its log ends early." if result.walk_truncated else ""
    return Side(result.verdict, error.errno if error else "", error.message if error else "",
                error.insn_idx if error and error.insn_idx >= 0 else None, result.stats.processed,
                log[:SHOWN_LOG_CHARS], len(log), seconds, note), log


def compare(ours: Side, kernel: Side) -> tuple[CompareRow, ...]:
    """The side-by-side rows: verdict, errno, first message, its instruction and the processed count, each
    marked when they differ; the kernel's states and times, which we do not count, unmarked. Our counts
    are compared only when our walk reached a verdict (``incomplete`` stops at the page's limit)."""
    def text(value) -> str:
        return "—" if value in (None, "") else f"{value:,}" if isinstance(value, int) else str(value)

    rejected = "reject" in (ours.verdict, kernel.verdict)
    complete = ours.verdict != "incomplete"
    rows = [CompareRow("verdict", ours.verdict, kernel.verdict, ours.verdict != kernel.verdict)]
    if rejected:
        rows += [
            CompareRow("errno", text(ours.errno), text(kernel.errno), complete and ours.errno != kernel.errno),
            CompareRow("first message", text(ours.message), text(kernel.message),
                       complete and ours.message != kernel.message),
            CompareRow("at insn", text(ours.insn_idx), text(kernel.insn_idx),
                       None not in (ours.insn_idx, kernel.insn_idx) and ours.insn_idx != kernel.insn_idx),
        ]
    rows += [
        CompareRow("processed insns", text(ours.processed), text(kernel.processed),
                   complete and None not in (ours.processed, kernel.processed) and ours.processed != kernel.processed),
        CompareRow("states (total / peak)", "not counted", f"{text(kernel.total_states)} / {text(kernel.peak_states)}",
                   False),
        CompareRow("time", f"{ours.seconds * 1e3:,.1f} ms",
                   f"{kernel.seconds * 1e3:,.2f} ms" + (f" (verification {kernel.verification_usec:,} µs)"
                                                        if kernel.verification_usec is not None else ""), False),
    ]
    return tuple(rows)


def compare_states(kernel_log: str, our_log: str, limit: int = SHOWN_STATE_DIFFS) -> StateComparison:
    """Each kernel state line against ours at the same instruction (as ``bench/verifier_log.py``): the same
    when any of our visits of that instruction printed the same state; a difference shows our line at the
    same visit (the n-th time the instruction is logged), or our last one if we visited it fewer times."""
    ours: dict[int, list[str]] = {}
    for idx, text in state_lines(our_log):
        ours.setdefault(idx, []).append(text)
    seen: dict[int, int] = {}
    same = differing = 0
    diffs: list[StateDiff] = []
    for idx, text in state_lines(kernel_log):
        visit = seen[idx] = seen.get(idx, -1) + 1
        mine = ours.get(idx, [])
        if text in mine:
            same += 1
            continue
        differing += 1
        if len(diffs) < limit:
            diffs.append(StateDiff(idx, text, mine[min(visit, len(mine) - 1)] if mine else None))
    return StateComparison(same + differing, same, differing, tuple(diffs))


# --- wiring -----------------------------------------------------------------------------------------------------

def offer() -> Offer | None:
    """For templates: None when the setting is off, else whether the kernel can be asked."""
    if not current_app.config.get(SETTING):
        return None
    return Offer(True) if oracle.bpf_available() else Offer(False, UNAVAILABLE)


def init_app(app: Flask) -> None:
    """Give templates ``kernel_check_offer()``; register the route only when the setting is on."""
    app.jinja_env.globals["kernel_check_offer"] = offer
    if app.config.get(SETTING):
        app.register_blueprint(bp)
