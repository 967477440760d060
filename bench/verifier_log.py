"""How closely our level-2 log (app/ebpf/verifier/walklog.py) reproduces the kernel's, over the corpus.

    python bench/verifier_log.py [--show N]

For each corpus case small enough (the kernel's processed count under --max-processed, default 20,000),
load it into the running kernel with log_level 2 and compare every instruction line that carries a state
(``5: (2d) if r4 > r3 goto pc+3          ; R3=pkt_end() R4=pkt(off=14,r=14)``) with ours at the same
instruction: the same registers and slots in the same notation; the lines precision tracking and the stack
liveness analysis print, in order; and the whole log, every line in order (``whole_log`` masks only what we
cannot know: the addresses ``ld_imm64`` of a map prints, the map names the harness gives, the verification time).
Map names are masked (the kernel's maps are named by the harness). Prints the agreement and the first
differing lines. Needs root and bpf().
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
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
    whole = WholeLog()
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
        our_log = "\n".join(log_lines(program, verify(program, case.prog_type, privileged=case.privileged))[0])
        whole.add(case.name, verdict.log, our_log)
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
    whole.report(args.show)
    for name, idx, theirs, mine in differences[:args.show]:
        print(f"{name} insn {idx}\n  kernel: {theirs}\n  ours:   {mine}")
    for name, theirs, mine in precision_first:
        print(f"{name} first precision line that differs\n  kernel: {theirs}\n  ours:   {mine}")
    return 0


class WholeLog:
    """The whole-log comparison: every line of the kernel's log, in order, against ours (a shortest edit script,
    so a missing or extra line costs only itself), and the kinds of line that differ."""

    def __init__(self) -> None:
        self.kernel_lines = self.same_lines = self.our_lines = self.cases = self.cases_same = 0
        self.missing: Counter[str] = Counter()  # kernel lines we do not print, by kind
        self.extra: Counter[str] = Counter()  # lines we print that the kernel does not, by kind
        self.first: list[tuple[str, list[str]]] = []

    def add(self, name: str, kernel_log: str, our_log: str) -> None:
        theirs, mine = whole_log(kernel_log), whole_log(our_log)
        self.cases += 1
        self.kernel_lines += len(theirs)
        self.our_lines += len(mine)
        if theirs == mine:
            self.cases_same += 1
            self.same_lines += len(theirs)
            return
        hunks = line_diff(theirs, mine)
        missing = [line[1:] for line in hunks if line.startswith("-")]
        self.same_lines += len(theirs) - len(missing)
        self.missing.update(map(line_kind, missing))
        self.extra.update(line_kind(line[1:]) for line in hunks if line.startswith("+"))
        if len(self.first) < 40:
            self.first.append((name, hunks[:10]))

    def report(self, show: int) -> None:
        print(f"whole log: {self.same_lines} of {self.kernel_lines} kernel lines identical, in order "
              f"({100 * self.same_lines / max(self.kernel_lines, 1):.1f}%; we print {self.our_lines}); "
              f"the whole log identical in {self.cases_same} of {self.cases} cases")
        for title, counts in (("  kernel lines we do not print:", self.missing),
                              ("  lines we print that the kernel does not:", self.extra)):
            print(title)
            for kind, count in counts.most_common(12):
                print(f"    {count:6}  {kind}")
        for name, diff in self.first[:show]:
            print(f"{name}, whole log:\n    " + "\n    ".join(diff))


def line_diff(theirs: list[str], mine: list[str]) -> list[str]:
    """The lines of a unified diff (one line of context) from the kernel's lines to ours, without its file
    header: GNU diff's shortest edit script (difflib's matcher is quadratic on the longest logs here)."""
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp, "kernel"), Path(tmp, "ours")
        a.write_text("".join(line + "\n" for line in theirs))
        b.write_text("".join(line + "\n" for line in mine))
        out = subprocess.run(["diff", "-U1", str(a), str(b)], capture_output=True, text=True, check=False).stdout
    return out.split("\n")[2:-1]


_ADDRESS = re.compile(r"\(18\) (r\d+) = (0xffff[0-9a-f]{12}|map_fd\(\d+\))( +;)?")


def whole_log(log: str) -> list[str]:
    """A level-2 log's lines as the whole-log comparison reads them: a map's ``ld_imm64`` shown alike (the
    kernel prints the map's address, we its fd index, so the padding before the state differs too), map names
    masked, and the verification time dropped."""
    lines = [_ADDRESS.sub(lambda m: f"(18) {m[1]} = <map>" + (" ;" if m[3] else ""), line.rstrip())
             for line in log.rstrip("\n").split("\n")]
    return [re.sub(r"map=[^,)]*", "map=", line) for line in lines if not line.startswith("verification time ")]


def line_kind(line: str) -> str:
    """What a log line is, to sum up the differences: its instruction index and register names removed."""
    line = re.sub(r"^ *\d+: ", "N: ", line)
    if line.startswith("N: (") and ";" in line:
        return "N: (op) insn ; state"
    if line.startswith("N: ("):
        return "N: (op) insn"
    if line.startswith("N: ") and re.match(r"N: [.0-9]{10} ", line):
        return "live regs line"
    kind = re.sub(r"\d+", "N", line)
    return kind if len(kind) < 40 else kind[:40] + "..."


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
