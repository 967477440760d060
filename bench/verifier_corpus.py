"""Run the verifier corpus (tests/data/verifier/*.yaml) against the running kernel's verifier.

    python bench/verifier_corpus.py --check            # compare every case with the kernel; exit 1 on a mismatch
    python bench/verifier_corpus.py --update           # rewrite the kernel's fields (expect, errno, msg, insn,
                                                       #   processed, states) from what the kernel says now
    python bench/verifier_corpus.py --show NAME        # print the kernel's log for one case (level 1 keeps only the
                                                       #   path to an error; --log-level 2 shows every state)
    python bench/verifier_corpus.py --summary          # count cases by topic and verdict (no kernel needed)
    options: --only SUBSTRING (cases whose name contains it), --file STEM (one topic file),
             --enable-unprivileged-bpf (see below)

Cases in C (``language: c``) are compiled with app.ebpf.cc and loaded with their object's BTF and func_info
(``prog_btf_fd``), as libbpf loads them; without a C compiler they are skipped, and the run says how many.

Cases marked ``unprivileged: true`` are loaded by user ``nobody`` (``app/oracle_unprivileged.py``), which the
kernel allows only while the sysctl ``kernel.unprivileged_bpf_disabled`` is 0. Where it is not, they are skipped
(the run says how many) unless ``--enable-unprivileged-bpf`` is given: then the sysctl is set to 0 for the run
and restored after it. While it is 0 any local user may load socket filters, so use it on a machine of your own.

Needs the bpf() system call (root). Each case is loaded with BPF_PROG_LOAD at log level 4 (statistics only, full
speed): the verdict, errno, first error line and the final ``processed N insns ... total_states ... peak_states``
line. A rejection is loaded again at level 1 (plus stats), whose walk gives ``insn``, the last instruction line
before the error; both loads must agree on the rest. Programs that hit the 1M-instruction limit skip the level-1
load (it would print a million lines) and keep ``insn: null``. Maps declared by ``.map`` lines are created for each
load and closed after it; ``ld_imm64`` map references are patched to their fds as a loader would. ``--update``
writes files deterministically (schema key order, ``|`` blocks for sources, a document per case in file order,
header comments kept) and prints every field it changed, so a kernel upgrade shows up as a readable diff.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.verifier.walklog import error_insn
from app.kernelload import create_maps, errno_name, kernel_code, uses_fd_array
from app.oracle import KernelVerdict, bpf_available, state_counts, verify_in_kernel, without_glued_stats
from app.oracle_unprivileged import unprivileged_bpf_allowed, unprivileged_bpf_enabled, verify_unprivileged
from tests.verifier_corpus import (
    KPTR,
    Case,
    CorpusError,
    States,
    compiler_missing,
    corpus_files,
    dump_cases,
    file_header,
    load_cases,
    load_file,
    summary,
)

STATS_ONLY = 4  # BPF_LOG_STATS: the error lines and the statistics, no walk (full speed)
PATH_AND_STATS = 1 | 4  # the path to the decision as well
_TOO_LARGE = "BPF program is too large"
_KPTR_RE = re.compile(r"0xffff[0-9a-f]{12}")


@dataclasses.dataclass(frozen=True)
class Observed:
    """What the kernel said about one case, in the corpus's terms."""

    expect: str
    errno: str | None
    msg: str | None
    insn: int | None
    processed: int
    states: States
    seconds: float
    log: str


def load(case: Case, log_level: int) -> tuple[KernelVerdict, float]:
    """BPF_PROG_LOAD ``case`` once at ``log_level`` with fresh maps; the verdict and the seconds the call took.
    A C case also passes its object's BTF, ``func_info`` and license, as libbpf would."""
    program = case.program()
    extra: dict = {}
    if case.language == "c":
        elf = case.elf()
        extra = {"btf": elf.btf or None, "func_info": elf.func_info, "license": elf.license or "GPL"}
    with ExitStack() as stack:
        fds = create_maps(program, stack)
        code = kernel_code(program, fds)
        attach = PROG_TYPES[case.prog_type].expected_attach_type
        by_index = uses_fd_array(program)
        t0 = time.perf_counter()
        if case.unprivileged:
            verdict = verify_unprivileged(code, case.prog_type, log_level=log_level, expected_attach_type=attach,
                                          fd_array=fds if by_index else None)
        else:
            verdict = verify_in_kernel(code, case.prog_type, log_level=log_level, expected_attach_type=attach,
                                       fd_array=fds if by_index else None, **extra)
        return verdict, time.perf_counter() - t0


def summarise(case: Case, verdict: KernelVerdict, seconds: float) -> Observed:
    """The corpus fields read from one load's log."""
    counts = state_counts(verdict.log)
    processed = verdict.processed_insns
    if counts is None or processed is None:
        raise RuntimeError(f"{case.where}: no stats line in the kernel's log (errno {errno_name(verdict.errno)})")
    max_per_insn, total, peak = counts
    states = States(total=total, peak=peak, max_per_insn=max_per_insn)
    if verdict.accepted:
        return Observed("accept", None, None, None, processed, states, seconds, verdict.log)
    raw = verdict.first_error
    msg = None if raw is None else _KPTR_RE.sub(KPTR, without_glued_stats(raw))
    return Observed("reject", errno_name(verdict.errno), msg, error_insn(verdict.log, raw), processed, states,
                    seconds, verdict.log)


def observe(case: Case) -> Observed:
    """What the kernel says about ``case``.

    One load with statistics only (log level 4: verdict, errno, error lines, counts, no walk). A rejection is
    loaded again at level 1 for ``insn`` (the walk's last instruction line), and the two loads must agree on
    everything else. The exception is the complexity limit ("BPF program is too large"): a level-1 walk of 1M
    instructions takes seconds, so its ``insn`` is left null.
    """
    verdict, seconds = load(case, STATS_ONLY)
    quick = summarise(case, verdict, seconds)
    if quick.expect == "accept" or (quick.msg or "").startswith(_TOO_LARGE):
        return quick
    verdict, more = load(case, PATH_AND_STATS)
    full = summarise(case, verdict, seconds + more)
    if [getattr(quick, f) for f in FIELDS if f != "insn"] != [getattr(full, f) for f in FIELDS if f != "insn"]:
        raise RuntimeError(f"{case.where}: log levels 4 and 1 disagree: {quick} vs {full}")
    return full


FIELDS = ("expect", "errno", "msg", "insn", "processed", "states")


def differences(case: Case, seen: Observed) -> list[tuple[str, object, object]]:
    """(field, recorded, kernel) for each field that differs."""
    return [(f, getattr(case, f), getattr(seen, f)) for f in FIELDS if getattr(case, f) != getattr(seen, f)]


def _fmt(value: object) -> str:
    if isinstance(value, States):
        return f"total {value.total}, peak {value.peak}, max/insn {value.max_per_insn}"
    return repr(value)


def select(cases: list[Case], args: argparse.Namespace) -> list[Case]:
    return [c for c in cases if (not args.only or args.only in c.name) and (not args.file or c.topic == args.file)]


def loadable(cases: list[Case]) -> list[Case]:
    """The cases this machine can load: C ones only with a C compiler, unprivileged ones only while unprivileged
    bpf() is allowed (a note says how many were skipped)."""
    kept = cases
    why = compiler_missing()
    if why:
        kept = [c for c in kept if c.language != "c"]
        if len(kept) != len(cases):
            print(f"skipping {len(cases) - len(kept)} C case(s): {why}", file=sys.stderr)
    if not unprivileged_bpf_allowed():
        before = len(kept)
        kept = [c for c in kept if not c.unprivileged]
        if len(kept) != before:
            print(f"skipping {before - len(kept)} unprivileged case(s): kernel.unprivileged_bpf_disabled is not 0 "
                  f"(--enable-unprivileged-bpf turns it on for the run)", file=sys.stderr)
    return kept


def run_check(args: argparse.Namespace) -> int:
    cases = loadable(select(load_cases(), args))
    t0 = time.perf_counter()
    bad = 0
    timings: list[tuple[float, str]] = []
    for case in cases:
        seen = observe(case)
        timings.append((seen.seconds, case.name))
        diffs = differences(case, seen)
        if diffs:
            bad += 1
            for field, want, got in diffs:
                print(f"{case.where}: {field}: recorded {_fmt(want)}, kernel {_fmt(got)}")
    for path in corpus_files():  # hand edits must keep the layout --update writes, or the next update churns
        if (not args.file or path.stem == args.file) and dump_cases(load_file(path), file_header(path)) != \
                path.read_text(encoding="utf-8"):
            print(f"{path.name}: not in the canonical layout (run --update to rewrite it)")
            bad += 1
    wall = time.perf_counter() - t0
    kernel = sum(t for t, _ in timings)
    slowest = ", ".join(f"{name} {t:.2f} s" for t, name in sorted(timings, reverse=True)[:3])
    print(f"{len(cases)} cases, {bad} problem(s); {wall:.2f} s in all, {kernel:.2f} s inside BPF_PROG_LOAD "
          f"(slowest: {slowest})")
    return 1 if bad else 0


def run_update(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    changed_files = 0
    total = 0
    names: dict[str, str] = {}
    for path in corpus_files():
        if args.file and path.stem != args.file:
            continue
        cases = load_file(path, require_expectations=False)
        can_load = {c.name for c in loadable(cases)}
        out = []
        for case in cases:
            if case.name in names:
                raise CorpusError(f"{case.where}: duplicate name, first used in {names[case.name]}")
            names[case.name] = path.name
            if (args.only and args.only not in case.name) or case.name not in can_load:
                out.append(case)
                continue
            total += 1
            seen = observe(case)
            for field, want, got in differences(case, seen):
                print(f"{case.where}: {field}: {_fmt(want)} -> {_fmt(got)}")
            out.append(dataclasses.replace(case, **{f: getattr(seen, f) for f in FIELDS}))
        text = dump_cases(out, file_header(path))
        if text != path.read_text(encoding="utf-8"):
            path.write_text(text, encoding="utf-8")
            changed_files += 1
        if not args.only:
            load_file(path)  # what was written must pass the strict schema
    print(f"{total} cases run, {changed_files} file(s) rewritten, {time.perf_counter() - t0:.2f} s")
    return 0


def run_show(args: argparse.Namespace) -> int:
    cases = [c for c in load_cases(require_expectations=False) if c.name == args.show]
    if not cases:
        print(f"no case named {args.show!r}", file=sys.stderr)
        return 2
    verdict, seconds = load(cases[0], args.log_level | STATS_ONLY)
    seen = summarise(cases[0], verdict, seconds)
    print(seen.log)
    print(f"-> {seen.expect} {seen.errno or ''} msg={seen.msg!r} insn={seen.insn} processed={seen.processed} "
          f"states={_fmt(seen.states)} ({seen.seconds * 1e3:.2f} ms)")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare every case with the kernel")
    mode.add_argument("--update", action="store_true", help="rewrite the kernel's fields from the kernel")
    mode.add_argument("--show", metavar="NAME", help="print the kernel's log for one case")
    mode.add_argument("--summary", action="store_true", help="count cases by topic and verdict (no kernel)")
    ap.add_argument("--only", metavar="SUBSTRING", help="only cases whose name contains this")
    ap.add_argument("--file", metavar="STEM", help="only this topic file (e.g. stack)")
    ap.add_argument("--log-level", type=int, default=1, choices=(1, 2), help="log level for --show")
    ap.add_argument("--enable-unprivileged-bpf", action="store_true",
                    help="set kernel.unprivileged_bpf_disabled to 0 for the run (restored after), so that the "
                         "unprivileged cases can be loaded")
    args = ap.parse_args(argv)
    try:
        if args.summary:
            print(summary(load_cases()))
            return 0
        if not bpf_available():
            print("bpf() is not permitted here (run as root on Linux)", file=sys.stderr)
            return 2
        with unprivileged_bpf_enabled() if args.enable_unprivileged_bpf else ExitStack():
            if args.check:
                return run_check(args)
            if args.update:
                return run_update(args)
            return run_show(args)
    except CorpusError as e:
        print(f"corpus error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
