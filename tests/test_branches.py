"""What a conditional jump teaches each side (``verifier/branches.py``), for the cases the corpus's logs
showed us getting wrong: ``jset`` (``regs_refine_cond_op``'s BPF_JSET and its negation)."""
from __future__ import annotations

from app.ebpf import assemble
from app.ebpf.verifier import bounds as B
from app.ebpf.verifier.branches import refine
from app.ebpf.verifier.notation import reg_str
from app.ebpf.verifier.state import VerifierState, initial_frame, scalar


def _state(r0: B.Bounds) -> VerifierState:
    return VerifierState((initial_frame().with_reg(0, scalar(r0)),))


ZERO_TO_15 = B.from_urange(0, 15)


def _r0_after(cond: str, taken: bool, r0: B.Bounds = ZERO_TO_15) -> str | None:
    insn = assemble(cond).insns[0]
    spec = insn.spec
    out = refine(_state(r0), insn, spec.op, spec.width, taken, ())
    return None if out is None else reg_str(out.cur.regs[0])


def test_a_taken_single_bit_test_sets_the_bit():
    assert _r0_after("if r0 & 8 goto +0", True) == \
        "scalar(smin=umin=smin32=umin32=8,smax=umax=smax32=umax32=15,var_off=(0x8; 0x7))"


def test_a_taken_test_of_several_bits_learns_nothing():
    assert _r0_after("if r0 & 12 goto +0", True) == reg_str(scalar(B.from_urange(0, 15)))


def test_a_test_that_falls_through_clears_every_bit_of_the_constant():
    assert _r0_after("if r0 & 8 goto +0", False) == "scalar(smin=smin32=0,smax=umax=smax32=umax32=7,var_off=(0x0; 0x7))"
    assert _r0_after("if r0 & 12 goto +0", False) == \
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=3,var_off=(0x0; 0x3))"


def test_the_32_bit_form_works_on_the_low_half():
    assert _r0_after("if w0 & 8 goto +0", False) == \
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=7,var_off=(0x0; 0x7))"


def test_the_kernel_log_agrees_on_a_jset_program():
    """br_jset_refines of the corpus: the states after each side, as Linux 6.18 prints them."""
    from app.ebpf.verifier import verify
    from app.ebpf.verifier.walklog import kernel_log

    program = assemble("call bpf_get_prandom_u32\nr0 &= 15\nif r0 & 8 goto +2\nr0 += 1\nexit\nr0 -= 8\nexit")
    log = kernel_log(program, verify(program, "socket_filter"), 2)
    assert "R0=scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=8,var_off=(0x0; 0xf))" in log
