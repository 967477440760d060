"""Soundness of the verifier against the VM (issue 4): over generated programs and inputs, a program our
verifier accepts never faults in our VM, and at every executed instruction the concrete registers lie in
one of the abstract states the verifier recorded there (``verifier.soundness``).

The programs are those of the differential tests (``tests/differential/gen.py``: ALU, stack, atomics,
branches, bounded loops), with some registers made unknown to the verifier: they start from the socket's
length (``skb->len``), scrambled, so that branches on them are not decided in advance and both sides are
walked. Each accepted program runs on packets of several lengths.
"""
from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ebpf import assemble
from app.ebpf.insn import Insn
from app.ebpf.program import Program
from app.ebpf.verifier import verify
from app.ebpf.verifier.soundness import check_run, states_at
from app.ebpf.verifier.state import const
from app.ebpf.vm import run
from tests.differential.build import FP, I, alu
from tests.differential.gen import REGS, programs
from tests.verifier_corpus import compiler_missing, load_cases

LENGTHS = (14, 60, 61, 255, 256, 1500)
MAX_EXAMPLES = int(os.environ.get("EBPF_SOUND_EXAMPLES", "150"))  # a longer run: EBPF_SOUND_EXAMPLES=5000  # packet lengths: skb->len is each of them in turn


@st.composite
def programs_with_unknowns(draw):
    """A generated program whose chosen registers are overwritten, after the constant prologue, by a
    scramble of skb->len saved at fp-512 first (the body never reads a slot it did not write)."""
    gen = draw(programs(max_statements=16))
    unknown = draw(st.lists(st.sampled_from(REGS), unique=True, min_size=3, max_size=9))
    save = [I("ldxw", 0, 1, off=0), I("stxdw", FP, 0, off=-512)]
    scramble: list[Insn] = []
    for r in unknown:
        scramble.append(I("ldxdw", r, FP, off=-512))
        scramble.append(alu(draw(st.sampled_from(("xor", "add", "mul", "lsh", "rsh"))), 64, r,
                            imm=draw(st.integers(1, 31))))
    insns = tuple(save) + gen.prologue + tuple(scramble) + gen.body + gen.epilogue
    return Program(insns)


@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(program=programs_with_unknowns())
def test_accepted_programs_run_inside_the_recorded_states(program):
    """The real walk (with precision tracking) decides; a walk comparing every scalar exactly must agree
    (pruning on imprecise scalars never changes a verdict: a disagreement is a precision mark missed), and
    its recorded states must admit every concrete step (on a path pruned by an imprecise scalar, that
    scalar may lie outside the states recorded after the prune, so the real walk cannot promise this)."""
    result = verify(program, "socket_filter", max_processed=20_000)
    exact = verify(program, "socket_filter", max_processed=20_000, track_precision=False)
    if "incomplete" not in (result.verdict, exact.verdict):
        assert result.verdict == exact.verdict, (result.error, exact.error)
    if not result.accepted:
        return  # only accepted programs carry a promise
    for length in LENGTHS:
        ran = run(program, prog_type="socket_filter", packet=bytes(length),
                  trace=True, checkpoint_every=64)
        assert ran.fault is None, f"an accepted program faulted on a {length}-byte packet: {ran.fault}"
        if exact.accepted:
            violations = check_run(program, exact, ran.trace)
            assert not violations, f"{length}-byte packet: {violations[0]}"


def test_the_check_finds_a_value_outside_the_recorded_bounds():
    """The check itself: once the recorded state after insn 0 claims r0 == 5, the run's r0 == 1 before
    insn 1 is a violation."""
    program = assemble("r0 = 1\nr0 += 1\nexit")
    result = verify(program, "socket_filter")
    assert result.accepted and 1 in states_at(result)
    ran = run(program, prog_type="socket_filter", packet=bytes(14), trace=True, checkpoint_every=1)
    assert check_run(program, result, ran.trace) == []
    walk = tuple(replace(e, state=e.state.with_frame(e.state.cur.with_reg(0, const(5))))
                 if e.kind == "visit" and e.insn_idx == 0 else e for e in result.walk)
    violations = check_run(program, replace(result, walk=walk), ran.trace)
    assert [(v.pc, v.reg, v.value) for v in violations] == [(1, 0, 1)]


@pytest.mark.skipif(bool(compiler_missing()), reason="no C compiler (pip install ziglang)")
def test_callback_programs_run_inside_the_recorded_states():
    """The corpus's accepted callback programs (bpf_loop, bpf_for_each_map_elem, in C) run without a fault, and
    every step of the run, callback bodies included, lies in a state the exact walk recorded."""
    cases = [c for c in load_cases() if c.topic == "callbacks" and c.accepted]
    assert cases
    for case in cases:
        program = case.program()
        exact = verify(program, case.prog_type, track_precision=False)
        assert exact.accepted, (case.name, exact.error)
        ran = run(program, prog_type=case.prog_type, packet=bytes(64), trace=True, checkpoint_every=64)
        assert ran.fault is None, (case.name, ran.fault)
        violations = check_run(program, exact, ran.trace)
        assert not violations, (case.name, violations[0])


def test_may_goto_programs_run_inside_the_recorded_states(monkeypatch):
    """The corpus's may_goto programs: the walk with precision tracking and the exact one agree, and each
    accepted program, run with a loop budget spent after 0, 1, 3 or 40 fall-throughs (the kernel's is 8M, but
    any budget is a run the verifier must cover), does not fault and lies in the states the exact walk recorded."""
    from app.ebpf.vm import machine

    cases = [c for c in load_cases() if c.topic == "may_goto" or "may_goto" in c.name]
    assert len(cases) > 5
    for case in cases:
        program = case.program()
        result = verify(program, case.prog_type)
        exact = verify(program, case.prog_type, track_precision=False)
        assert result.verdict == exact.verdict, (case.name, result.error, exact.error)
        if not result.accepted:
            continue
        for budget in (0, 1, 3, 40):
            monkeypatch.setattr(machine, "BPF_MAX_LOOPS", budget)
            ran = run(program, prog_type=case.prog_type, packet=bytes(64), trace=True, checkpoint_every=64)
            assert ran.fault is None, (case.name, budget, ran.fault)
            violations = check_run(program, exact, ran.trace)
            assert not violations, (case.name, budget, violations[0])
