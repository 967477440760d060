"""Our verifier against the corpus of kernel verdicts (tests/data/verifier/*.yaml, recorded from Linux 6.18).

A case agrees when the verdict, the first error message (for rejections) and the processed-instruction
count are the kernel's. The cases we do not agree with yet are listed, with what differs, in
``tests/data/verifier/known_gaps.txt``: the test fails when a listed case starts to agree (take it off the
list) and when any other case stops agreeing. Cases for which the kernel processes 150,000 instructions or
more are left out: our verifier takes about a minute on those. Cases in C (``language: c``) need the C compiler
and are left out without it (a separate test says so by skipping)."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.ebpf.verifier import verify

from tests.verifier_corpus import compiler_missing, load_cases

GAPS = Path(__file__).parent / "data" / "verifier" / "known_gaps.txt"
SLOW = 150_000


def outcome(case) -> str:
    """'' when ours agrees with the kernel, else what differs."""
    result = verify(case.program(), case.prog_type, privileged=case.privileged)
    if result.accepted != (case.expect == "accept"):
        return f"verdict: ours {result.error.message if result.error else 'accept'}"
    if result.error and result.error.message != case.msg:
        return f"message: ours {result.error.message}"
    if result.stats.processed != case.processed:
        return f"processed: ours {result.stats.processed}, kernel {case.processed}"
    return ""


def known_gaps() -> dict[str, str]:
    gaps = {}
    for line in GAPS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, why = line.partition(": ")
            gaps[name.strip()] = why
    return gaps


def test_the_corpus_agrees_except_for_the_known_gaps():
    gaps = known_gaps()
    new_gaps, closed = [], []
    no_cc = compiler_missing()
    for case in load_cases():
        if (case.processed or 0) >= SLOW or (case.language == "c" and no_cc):
            continue
        diff = outcome(case)
        if diff and case.name not in gaps:
            new_gaps.append(f"{case.name}: {diff}")
        if not diff and case.name in gaps:
            closed.append(case.name)
    assert new_gaps == [], "cases that no longer agree with the kernel"
    assert closed == [], "cases that agree now: take them off known_gaps.txt"


@pytest.mark.skipif(bool(compiler_missing()), reason="no C compiler (pip install ziglang): C cases not compared")
def test_the_c_cases_compile_and_carry_func_info():
    """Every C case compiles, and the loaded object has BTF and one func_info record per function."""
    cases = [c for c in load_cases() if c.language == "c"]
    assert cases
    for case in cases:
        elf = case.elf()
        assert elf.btf and len(elf.func_info) == len(elf.program.labels), case.name
