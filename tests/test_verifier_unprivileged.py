"""The unprivileged walk's Spectre checks (spectre.py), the loader's other limits, and the unprivileged oracle.

The corpus (``tests/data/verifier/unprivileged.yaml``, recorded as user nobody on Linux 6.18) checks verdicts,
messages and counts; these tests check what the walk records on the way: speculative paths, the barrier that
ends one, the log's words for them, and the parts of the model the counts do not show.
"""
from __future__ import annotations

import errno

import pytest

from app.ebpf import assemble
from app.ebpf.verifier import verify
from app.ebpf.verifier.walklog import log_lines
from app.oracle import bpf_available
from app.oracle_unprivileged import unprivileged_bpf_allowed, verify_unprivileged


def unpriv(source: str, prog_type: str = "socket_filter"):
    program = assemble(source)
    return program, verify(program, prog_type, privileged=False)


DECIDED = "r1 = 5\nif r1 > 3 goto +1\nr0 = 1\nr0 = 0\nexit"


def test_a_decided_branch_pushes_its_other_side_as_a_speculative_path():
    _, result = unpriv(DECIDED)
    pushes = [e for e in result.walk if e.kind == "push_branch"]
    assert [(e.insn_idx, e.other) for e in pushes] == [(2, 1)]
    pushed = pushes[0].state
    assert pushed.speculative and pushed.cur.regs[1].type == "scalar" and not pushed.cur.regs[1].b.is_const()
    assert result.accepted and result.stats.processed == 7
    assert verify(assemble(DECIDED), "socket_filter").stats.processed == 4  # root: no speculative path


def test_the_log_names_the_speculative_path_and_prints_every_scalar_precise():
    program, result = unpriv(DECIDED)
    lines = log_lines(program, result)[0]
    assert "from 1 to 2 (speculative execution): R1=Pscalar() R10=fp0" in lines
    assert "0: (b7) r1 = 5                        ; R1=P5" in lines
    root = log_lines(program, verify(program, "socket_filter"))[0]
    assert not any("speculative" in line for line in root)


def test_a_fault_on_a_speculative_path_is_fenced_not_refused():
    program, result = unpriv("r1 = 0\nif r1 == 0 goto +2\nr0 = *(u64 *)(r10 - 8)\nexit\nr0 = 0\nexit")
    assert result.accepted
    fenced = [e for e in result.walk if e.kind == "nospec"]
    assert [(e.insn_idx, e.detail) for e in fenced] == [(2, "invalid read from stack R10 off=-8 size=8")]
    lines = log_lines(program, result)[0]
    assert lines[lines.index("2: (79) r0 = *(u64 *)(r10 -8)") + 1] == "invalid read from stack R10 off=-8 size=8"
    # the same read on the path the program takes is refused
    _, real = unpriv("r1 = 0\nif r1 != 0 goto +2\nr0 = *(u64 *)(r10 - 8)\nexit\nr0 = 0\nexit")
    assert not real.accepted and real.error.insn_idx == 2


def test_a_fenced_instruction_ends_later_speculative_visits_before_it_runs():
    # both decided branches push a speculative path through insn 4; the first one fences it, the second stops there
    source = ("r1 = 0\nr2 = 0\nif r1 == 0 goto +1\ngoto +1\nif r2 == 0 goto +2\nr0 = *(u64 *)(r10 - 8)\nexit\n"
              "r0 = 0\nexit")
    _, result = unpriv(source)
    assert result.accepted
    kinds = [(e.kind, e.insn_idx, bool(e.detail)) for e in result.walk if e.kind == "nospec"]
    assert kinds and all(idx == 5 for _, idx, _ in kinds)
    assert kinds[0][2] and all(not detail for _, _, detail in kinds[1:])


def test_a_pointer_spill_ends_a_speculative_path_after_the_store():
    _, result = unpriv("r2 = 0\nif r2 == 0 goto +3\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 16)\nexit\n"
                       "r0 = 0\nexit")
    assert result.accepted and result.stats.processed == 5
    assert not any(e.kind == "nospec" for e in result.walk)  # it stopped after the store, before the bad read


def test_masked_pointer_arithmetic_walks_the_truncated_offset():
    source = """
        .map a type=array key_size=4 value_size=16 max_entries=1
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r2 = r10
        r2 += -4
        r1 = a ll
        call bpf_map_lookup_elem
        if r0 == 0 goto +4
        r1 = *(u64 *)(r0 + 0)
        r1 &= 7
        r0 += r1
        r0 = *(u8 *)(r0 + 0)
        r0 = 0
        exit
    """
    _, result = unpriv(source)
    assert result.accepted
    truncated = next(e for e in result.walk if e.kind == "push_branch" and e.other == 10)
    r0 = truncated.state.cur.regs[0]
    assert truncated.state.speculative and r0.type == "map_value" and r0.b.is_const() and r0.off == 0


def test_an_unprivileged_loader_may_not_call_helpers_that_need_capabilities():
    source = "r1 = 0\n*(u64 *)(r10 - 8) = r1\nr1 = r10\nr1 += -8\nr2 = 8\ncall bpf_trace_printk\nr0 = 0\nexit"
    assert verify(assemble(source), "socket_filter").accepted
    _, result = unpriv(source)
    assert result.error.message == "program of this type cannot use helper bpf_trace_printk#6"
    assert unpriv("call bpf_ktime_get_ns\nr0 = 0\nexit")[1].accepted


def test_cgroup_skb_direct_packet_access_needs_cap_bpf():
    source = "r2 = *(u32 *)(r1 + 76)\nr0 = 1\nexit"
    assert verify(assemble(source), "cgroup_skb").accepted
    assert unpriv(source, "cgroup_skb")[1].error.message == "invalid bpf_context access off=76 size=4"


def test_a_constant_array_key_does_not_make_the_lookup_non_null_without_cap_bpf():
    source = """
        .map a type=array key_size=4 value_size=8 max_entries=1
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r2 = r10
        r2 += -4
        r1 = a ll
        call bpf_map_lookup_elem
        r0 = *(u64 *)(r0 + 0)
        exit
    """
    assert verify(assemble(source), "socket_filter").accepted
    assert unpriv(source)[1].error.message == "R0 invalid mem access 'map_value_or_null'"


def test_unprivileged_scalar_stores_are_plain_data_not_spills():
    # without CAP_BPF a scalar written to the stack is misc data: reading it back gives an unknown scalar
    _, result = unpriv("r1 = 7\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit")
    last = [e for e in result.walk if e.kind == "visit"][-1]
    assert not last.state.cur.regs[0].b.is_const()
    root = verify(assemble("r1 = 7\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit"), "socket_filter")
    assert [e for e in root.walk if e.kind == "visit"][-1].state.cur.regs[0].b.var_off.value == 7


@pytest.mark.kernel
@pytest.mark.skipif(not bpf_available(), reason="needs the bpf() system call")
def test_the_unprivileged_oracle_loads_as_a_user_without_capabilities():
    code = assemble("r0 = r10\nexit").to_bytes()  # a pointer leak: root may, nobody may not
    verdict = verify_unprivileged(code, "socket_filter")
    if not unprivileged_bpf_allowed():
        assert not verdict.accepted and verdict.errno == errno.EPERM  # bpf() itself is refused to nobody
        return
    assert not verdict.accepted and verdict.first_error == "R0 leaks addr as return value"
