"""Precision tracking (``verifier/precision.py``): which scalars the walk relied on exactly, how that is traced
back through moves, arithmetic, stack slots, linked registers and calls, and how it decides pruning."""
from __future__ import annotations

from app.ebpf import assemble
from app.ebpf.verifier import verify
from app.ebpf.verifier.precision import Backtrack, HistEntry, NotSupported, backtrack_insn

# enough instructions before the arms for the join to keep a state (is_state_visited keeps one only after 2
# jumps, calls and exits included, and 8 instructions since the last), with no prune point among them
PAD = "r3 = 0\n" + "r3 += 1\n" * 7


def marks(result) -> list[tuple[int, int, str]]:
    """(instruction of the event, instruction of the kept state, what) for every precision mark made."""
    return [(e.insn_idx, m.insn_idx, m.what) for e in result.walk for m in e.precise]


def test_an_unused_difference_between_two_arms_prunes_at_the_join():
    source = "call bpf_get_prandom_u32\nr2 = 1\nif r0 > 7 goto join\nr2 = 2\n" + PAD + "join:\nr0 = r2\nexit"
    tracked = verify(assemble(source), "socket_filter")
    exact = verify(assemble(source), "socket_filter", track_precision=False)
    assert tracked.accepted and exact.accepted
    assert [e.kind for e in tracked.walk].count("prune") == 1
    assert [e.kind for e in exact.walk].count("prune") == 0
    assert tracked.stats.processed < exact.stats.processed


def test_a_pointer_offset_is_precise_back_to_its_constant_and_the_arms_are_not_pruned():
    """r7 is added to the frame pointer after the join: the join's kept state gets r7 marked precise (via
    the move from r6), so the second arm (r7 = 100) is walked and refused, as the kernel refuses it."""
    source = ("call bpf_get_prandom_u32\n" + PAD + "r6 = 0\nif r0 > 7 goto far\nr7 = r6\ngoto join\nfar:\nr7 = 100\n"
              "join:\nr2 = r10\nr2 += r7\nr0 = *(u8 *)(r2 - 1)\nr0 = 0\nexit")
    result = verify(assemble(source), "socket_filter")
    assert not result.accepted and "stack" in result.error.message
    join = source.split("\n").index("join:") - 1  # "far:" takes no instruction
    made = marks(result)
    assert (join + 1, join, "r7") in made  # r2 += r7: r7 precise in the state kept at the join
    assert verify(assemble(source), "socket_filter", track_precision=False).error == result.error


def test_precision_follows_a_value_through_a_stack_slot():
    source = ("call bpf_get_prandom_u32\nr1 = 8\n*(u64 *)(r10 - 16) = r1\nif r0 > 7 goto join\nr1 = 16\n"
              "*(u64 *)(r10 - 16) = r1\n" + PAD + "join:\nr1 = *(u64 *)(r10 - 16)\nr2 = r10\nr2 += -32\n"
              "r2 += r1\nr0 = *(u64 *)(r2 + 0)\nr0 = 0\nexit")
    result = verify(assemble(source), "socket_filter")
    assert result.accepted
    assert any(what == "fp-16" for _, _, what in marks(result))
    assert [e.kind for e in result.walk].count("prune") == 0  # 8 and 16 differ in a precise slot


def test_a_comparison_with_a_known_outcome_marks_both_registers():
    source = ("r1 = 5\nr2 = 6\n" + PAD + "if r1 > r2 goto +1\nr0 = 0\nexit")
    result = verify(assemble(source), "socket_filter")
    assert result.accepted
    # no state was kept before the comparison, so nothing is marked, but backtracking reached the constants
    assert marks(result) == []


def test_unprivileged_walks_mark_nothing_and_compare_every_scalar():
    source = "r2 = *(u32 *)(r1 + 0)\nr6 = 1\nif r2 > 7 goto join\nr6 = 2\n" + PAD + "join:\nr0 = r6\nexit"
    result = verify(assemble(source), "socket_filter", privileged=False)
    assert result.accepted and marks(result) == []
    assert [e.kind for e in result.walk].count("prune") == 0


def test_a_pruned_path_inherits_the_marks_of_the_state_that_covered_it():
    """The first arm marks r7 precise at the join (it offsets a pointer). The second arm, with the same r7
    but a different unused r8, keeps a state of its own on the way (at the goto's target) and is pruned at
    the join: the covering state's mark passes back along the pruned path into that state."""
    source = ("call bpf_get_prandom_u32\nr7 = 4\n" + PAD + "r8 = 1\nif r0 > 7 goto far\nr8 = 2\ngoto join\n"
              "far:\nr8 = 3\n" + PAD + "goto +0\nr9 = 0\n"
              "join:\nr2 = r10\nr2 += -8\nr2 += r7\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit")
    result = verify(assemble(source), "socket_filter")
    assert result.accepted
    prunes = [e for e in result.walk if e.kind == "prune"]
    assert len(prunes) == 1
    second_arm_state = source.split("\n").index("r9 = 0") - 1  # "far:" takes no instruction
    assert [(m.insn_idx, m.what) for m in prunes[0].precise] == [(second_arm_state, "r7")]


def test_events_carry_their_marks_in_json():
    source = ("call bpf_get_prandom_u32\nr6 = 0\nif r0 > 7 goto join\nr6 = 4\n" + PAD
              + "join:\nr2 = r10\nr2 += -8\nr2 += r6\nr0 = *(u32 *)(r2 + 0)\nr0 = 0\nexit")
    result = verify(assemble(source), "socket_filter")
    marked = [e.to_json() for e in result.walk if e.precise]
    assert marked and marked[0]["precise"][0]["what"] == "r6"
    assert set(marked[0]["precise"][0]) == {"state_seq", "insn_idx", "frame", "what"}


# backtrack_insn, instruction by instruction

def _bt(*regs: int, frame: int = 0) -> Backtrack:
    bt = Backtrack(frame)
    for r in regs:
        bt.set_reg(r)
    return bt


def _insn(text: str):
    return assemble(text).insns


def test_a_move_passes_the_need_to_its_source_and_a_constant_ends_it():
    bt = _bt(2)
    backtrack_insn(_insn("r2 = r1"), 0, -1, None, bt)
    assert bt.regs[0] == {1}
    backtrack_insn(_insn("r1 = 7"), 0, -1, None, bt)
    assert bt.empty()


def test_arithmetic_with_a_register_needs_both_operands():
    bt = _bt(2)
    backtrack_insn(_insn("r2 += r3"), 0, -1, None, bt)
    assert bt.regs[0] == {2, 3}
    bt = _bt(2)
    backtrack_insn(_insn("r2 *= 3"), 0, -1, None, bt)
    assert bt.regs[0] == {2}


def test_a_fill_needs_the_slot_and_the_spill_needs_the_register():
    bt = _bt(4)
    backtrack_insn(_insn("r4 = *(u64 *)(r10 - 16)"), 0, -1, HistEntry(0, -1, stack=(0, 1)), bt)
    assert bt.regs[0] == set() and bt.slots[0] == {1}
    backtrack_insn(_insn("*(u64 *)(r10 - 16) = r5"), 0, -1, HistEntry(0, -1, stack=(0, 1)), bt)
    assert bt.regs[0] == {5} and bt.slots[0] == set()


def test_a_load_from_memory_other_than_the_stack_ends_the_chain():
    bt = _bt(4)
    backtrack_insn(_insn("r4 = *(u32 *)(r1 + 0)"), 0, -1, None, bt)
    assert bt.empty()


def test_linked_registers_are_wanted_together():
    bt = _bt(3)
    backtrack_insn(_insn("if r2 > 5 goto +0"), 0, -1, HistEntry(0, -1, linked=((0, 2), (0, 3), (0, -2))), bt)
    assert bt.regs[0] == {2, 3} and bt.slots[0] == {1}


def test_a_helper_call_sets_r0_and_a_subprogram_call_hands_arguments_to_the_caller():
    bt = _bt(0)
    backtrack_insn(_insn("call bpf_get_prandom_u32"), 0, -1, None, bt)
    assert bt.empty()
    bt = _bt(1, frame=1)
    insns = _insn("call pc+1\nexit\nr0 = r1\nexit")
    backtrack_insn(insns, 0, 2, None, bt)  # back from the callee's first instruction over the call
    assert bt.frame == 0 and bt.regs[0] == {1}
    bt = _bt(0)
    backtrack_insn(insns, 3, 1, None, bt)  # back from after the call into the callee's exit: r0 is its
    assert bt.frame == 1 and bt.regs[1] == {0}


def test_a_wanted_register_used_as_a_store_address_is_not_supported():
    bt = _bt(1)
    try:
        backtrack_insn(_insn("*(u64 *)(r1 + 0) = r2"), 0, -1, None, bt)
    except NotSupported:
        return
    raise AssertionError("expected NotSupported")



ATOMIC_FETCH_FROM_SPILL = ("r7 = 0\n" * 6 + "call bpf_get_prandom_u32\nr6 = r0\nr1 = 4000\nif r6 > 10 goto l\nr1 = 8\n"
                           "l:\n*(u64 *)(r10 - 8) = r1\nr2 = 0\nr2 = atomic_fetch_add((u64 *)(r10 - 8), r2)\n"
                           "r3 = r10\nr3 += r2\n*(u64 *)(r3 - 24) = r7\nr0 = 0\nexit")


def test_an_atomic_fetch_passes_the_need_on_to_the_slot_it_loads_from():
    """r2 offsets a stack pointer, and r2 was fetched from fp-8: the spilled 8 (or 4000) there must be
    precise, so the path with 4000 is not pruned at l and its write far above the frame is refused. Linux
    6.18.44 accepts this program: it lacks "bpf: Fix incorrect pruning due to atomic fetch precision
    tracking", which later kernels have; we follow the fix (a run of the accepted program would write
    outside the stack)."""
    result = verify(assemble(ATOMIC_FETCH_FROM_SPILL), "socket_filter")
    assert not result.accepted and result.error.message == "invalid write to stack R3 off=3976 size=8"
    assert verify(assemble(ATOMIC_FETCH_FROM_SPILL), "socket_filter", track_precision=False).error == result.error
    bt = _bt(2)
    backtrack_insn(_insn("r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)"), 0, -1, HistEntry(0, -1, stack=(0, 0)), bt)
    assert bt.regs[0] == set() and bt.slots[0] == {0}
