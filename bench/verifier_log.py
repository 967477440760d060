"""How closely our level-2 log (app/ebpf/verifier/walklog.py) reproduces the kernel's, over the corpus.

    python bench/verifier_log.py [--show N]

For each corpus case small enough (the kernel's processed count under --max-processed, default 20,000),
load it into the running kernel with log_level 2 and compare every instruction line that carries a state
(``5: (2d) if r4 > r3 goto pc+3          ; R3=pkt_end() R4=pkt(off=14,r=14)``) with ours at the same
instruction: the same registers and slots in the same notation. Map names are masked (the kernel's maps
are named by the harness). Prints the agreement and the first differing lines. Needs root and bpf().
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from verifier_corpus import load  # noqa: E402

from app.ebpf.verifier import verify  # noqa: E402
from app.ebpf.verifier.walklog import log_lines, state_lines  # noqa: E402
from app.oracle import bpf_available  # noqa: E402
from tests.verifier_corpus import compiler_missing, load_cases  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--show", type=int, default=15, help="differing lines to print")
    ap.add_argument("--max-processed", type=int, default=20_000)
    args = ap.parse_args(argv)
    if not bpf_available():
        print("needs the bpf() system call (root on Linux)", file=sys.stderr)
        return 2
    same = differ = cases = 0
    precision_same = precision_total = precision_cases = precision_cases_same = 0
    precision_first: list[tuple[str, str, str]] = []
    differences: list[tuple[str, int, str, str]] = []
    themes: Counter[str] = Counter()
    started = time.perf_counter()
    for case in load_cases(require_expectations=False):
        if (case.processed or 0) > args.max_processed or (case.language == "c" and compiler_missing()):
            continue
        program = case.program()
        try:
            verdict, _ = load(case, 2)
        except Exception:  # a case the kernel cannot load at all (e.g. no such map type here)
            continue
        cases += 1
        ours: dict[int, list[str]] = {}
        our_log = "\n".join(log_lines(program, verify(program, case.prog_type))[0])
        kernel_marks, our_marks = precision_lines(verdict.log), precision_lines(our_log)
        if kernel_marks:
            precision_cases += 1
            precision_cases_same += kernel_marks == our_marks
            precision_total += len(kernel_marks)
            precision_same += sum((Counter(kernel_marks) & Counter(our_marks)).values())
            if kernel_marks != our_marks and len(precision_first) < args.show:
                at = next((i for i, (a, b) in enumerate(zip(kernel_marks, our_marks)) if a != b),
                          min(len(kernel_marks), len(our_marks)))
                precision_first.append((case.name, kernel_marks[at] if at < len(kernel_marks) else "(end)",
                                        our_marks[at] if at < len(our_marks) else "(end)"))
        for idx, text in state_lines(our_log):
            ours.setdefault(idx, []).append(text)
        for idx, text in state_lines(verdict.log):
            if text in ours.get(idx, ()):
                same += 1
                continue
            differ += 1
            mine = ours.get(idx, [""])[0]
            themes["instruction not reached by our walk" if idx not in ours
                   else "pointer id kept after a null check" if "(id=" in mine and "(id=" not in text
                   else "scalar ids of copies" if "scalar(id=" in text
                   else "other"] += 1
            differences.append((case.name, idx, text, mine))
    total = same + differ
    print(f"{cases} cases, {total} kernel state lines: {same} identical ({100 * same / max(total, 1):.1f}%), "
          f"{differ} different, {time.perf_counter() - started:.1f} s")
    for theme, count in themes.most_common():
        print(f"  {count:5}  {theme}")
    print(f"precision-tracking and stack-liveness lines: {precision_same} of {precision_total} "
          f"identical ({100 * precision_same / max(precision_total, 1):.1f}%); the whole sequence identical in "
          f"{precision_cases_same} of {precision_cases} cases that have any")
    for name, idx, theirs, mine in differences[:args.show]:
        print(f"{name} insn {idx}\n  kernel: {theirs}\n  ours:   {mine}")
    for name, theirs, mine in precision_first:
        print(f"{name} first precision line that differs\n  kernel: {theirs}\n  ours:   {mine}")
    return 0


def precision_lines(log: str) -> list[str]:
    """The lines precision tracking prints, in order, with map names left out (the harness creates the
    kernel's maps under its own name) and a map reference's ``ld_imm64`` shown alike (the kernel prints
    the map's address, we its fd index)."""
    lines = [line.rstrip() for line in log.splitlines()
             if line.startswith(("mark_precise:", "force_precise:")) or " propagating " in line
             or re.match(r"\(\d+(,\d+)*\) (frame \d+ insn \d+ [+-]|live stack update done)", line)]
    lines = [re.sub(r"map=[^,)]*", "map=", line) for line in lines]
    return [re.sub(r"\(18\) (r\d+) = (0xffff[0-9a-f]{12}|map_fd\(\d+\))$", r"(18) \1 = <map>", line)
            for line in lines]


if __name__ == "__main__":
    sys.exit(main())
