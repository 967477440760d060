"""Stack slot liveness (app/ebpf/verifier/liveness.py) against what Linux 6.18 logs for it.

The expected lines are the kernel's level-2 log (``(0) frame 0 insn 4 +written -504``, trailing space included),
taken with ``bench/verifier_corpus.py --show NAME --log-level 2`` for the corpus cases named; the pruning they
lead to is checked by the corpus itself (tests/data/verifier/pruning.yaml)."""
from __future__ import annotations

import pytest

from app.ebpf.loadcheck import subprog_starts
from app.ebpf.verifier.liveness import StackLiveness, insn_successors, subprog_postorder
from app.ebpf.verifier.walk import Walker
from tests.verifier_corpus import load_cases

KERNEL_LINES = {
    "prune_dead_deep_slot": [
        "(0) frame 0 insn 4 +written -504 ",
        "(0) live stack update done in 2 iterations",
    ],
    "prune_partial_write_keeps_slot_live": [
        "(0) frame 0 insn 13 +live -16 ",
        "(0) frame 0 insn 11 +live -16 ",
        "(0) frame 0 insn 5 +written -16 ",
        "(0) frame 0 insn 3 +live -16 ",
        "(0) frame 0 insn 2 +live -16 ",
        "(0) frame 0 insn 0 +live -16 ",
        "(0) live stack update done in 2 iterations",
    ],
    "prune_slot_written_by_callee": [
        "(13,16) frame 0 insn 17 +written -16 ",
        "(13,16) frame 0 insn 16 +written -16 ",
        "(13,16) live stack update done in 2 iterations",
        "(0) frame 0 insn 13 +written -16 ",
        "(0) frame 0 insn 11 +written -16 ",
        "(0) frame 0 insn 5 +written -16 ",
        "(0) frame 0 insn 3 +written -16 ",
        "(0) frame 0 insn 2 +written -16 ",
        "(0) frame 0 insn 0 +written -16 ",
        "(0) live stack update done in 2 iterations",
        "(0) frame 0 insn 14 +live -16 ",
        "(0) live stack update done in 2 iterations",
    ],
    "prune_slot_read_by_callee": [
        "(13,15) frame 0 insn 15 +live -16 ",
        "(13,15) live stack update done in 2 iterations",
        "(0) frame 0 insn 13 +live -16 ",
        "(0) frame 0 insn 11 +live -16 ",
        "(0) frame 0 insn 5 +written -16 ",
        "(0) frame 0 insn 3 +live -16 ",
        "(0) frame 0 insn 2 +live -16 ",
        "(0) frame 0 insn 0 +live -16 ",
        "(0) live stack update done in 2 iterations",
    ],
}


@pytest.mark.parametrize("name", sorted(KERNEL_LINES))
def test_liveness_log_matches_the_kernel(name):
    case = next(c for c in load_cases() if c.name == name)
    program = case.program()
    walker = Walker(program, case.prog_type)
    lines: list[str] = []
    walker.stack_live = StackLiveness(program.insns, subprog_starts(program.insns), walker.prune_points, lines)
    walker.run()
    assert lines == KERNEL_LINES[name]


def test_successors_and_postorder():
    from app.ebpf import assemble

    insns = assemble("r0 = 0\nif r0 > 1 goto +1\nr0 = 1\nexit").insns
    assert insn_successors(insns, 1) == (2, 3)
    assert insn_successors(insns, 3) == ()
    # compute_postorder: the jump target is explored first (pushed last), each insn after all it leads to
    assert subprog_postorder(insns, 0, len(insns)) == [3, 2, 1, 0]
