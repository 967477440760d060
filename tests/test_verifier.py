"""The verifier against the running kernel: same verdict and same first error message for each program;
the processed-instruction count too where the flag says so."""
from __future__ import annotations

from contextlib import ExitStack

import pytest

from app.ebpf import assemble
from app.ebpf.insn import Insn, encode
from app.ebpf.verifier import verify
from app.ebpf.verifier.notation import slot_str
from app.oracle import bpf_available, create_map, verify_in_kernel

MAPS = {
    "array": ".map m type=array key_size=4 value_size=8 max_entries=1\n",
    "hash": ".map m type=hash key_size=4 value_size=8 max_entries=1\n",
    "ringbuf": ".map rb type=ringbuf key_size=0 value_size=0 max_entries=4096\n",
}
LOOKUP = "r1 = 0\n*(u32 *)(r10 - 4) = r1\nr1 = m ll\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\n"
PKT = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\n"

# (name, program type, source, ours and the kernel agree on the processed count)
CASES = [
    ("minimal", "socket_filter", "r0 = 0\nexit", True),
    ("r0 never written", "socket_filter", "exit", True),
    ("ctx read", "socket_filter", "r0 = *(u32 *)(r1 + 0)\nexit", True),
    ("scalar dereference", "socket_filter", "r1 = 0\nr0 = *(u32 *)(r1 + 0)\nexit", True),
    ("store above the frame", "socket_filter", "r0 = 1\n*(u64 *)(r10 + 0) = r0\nexit", True),
    ("array lookup with a constant key", "socket_filter",
     MAPS["array"] + LOOKUP + "r0 = *(u64 *)(r0 + 0)\nexit", True),
    ("hash lookup without a null check", "socket_filter",
     MAPS["hash"] + LOOKUP + "r0 = *(u64 *)(r0 + 0)\nexit", True),
    ("hash lookup with a null check", "socket_filter",
     MAPS["hash"] + LOOKUP + "if r0 == 0 goto out\nr0 = *(u64 *)(r0 + 0)\nout:\nr0 = 0\nexit", False),
    ("map value out of bounds", "socket_filter",
     MAPS["array"] + LOOKUP + "r0 = *(u64 *)(r0 + 4)\nexit", True),
    ("packet read without a check", "xdp", PKT + "r0 = *(u16 *)(r2 + 12)\nexit", True),
    ("packet read after a check", "xdp",
     PKT + "r4 = r2\nr4 += 14\nr0 = 1\nif r4 > r3 goto out\nr0 = *(u16 *)(r2 + 12)\nout:\nexit", True),
    ("packet read past the check", "xdp",
     PKT + "r4 = r2\nr4 += 14\nr0 = 1\nif r4 > r3 goto out\nr0 = *(u16 *)(r2 + 13)\nout:\nexit", True),
    ("bounded loop", "socket_filter", "r0 = 3\nl:\nr0 -= 1\nif r0 != 0 goto l\nexit", True),
    ("infinite loop", "socket_filter", "r0 = 0\nl:\ngoto l", False),
    ("unreachable code", "socket_filter", "r0 = 0\nexit\nr0 = 1\nexit", True),
    ("return out of range", "cgroup_skb", "r0 = 2\nexit", True),
    ("unknown return value", "cgroup_skb", "r0 = *(u32 *)(r1 + 0)\nexit", True),
    ("division by zero", "socket_filter", "r0 = 0\nr0 /= 0\nexit", True),
    ("shift too far", "socket_filter", "r0 = 0\nr0 <<= 64\nexit", True),
    ("write to r10", "socket_filter", "r10 = 0\nr0 = 0\nexit", True),
    ("uninitialised register", "socket_filter", "r0 = r2\nexit", True),
    ("misaligned ctx access", "socket_filter", "r0 = *(u32 *)(r1 + 3)\nexit", True),
    ("misaligned stack access", "socket_filter", "r0 = 0\n*(u64 *)(r10 - 7) = r0\nexit", True),
    ("uninitialised stack read (privileged)", "socket_filter", "r0 = *(u64 *)(r10 - 8)\nexit", True),
    ("modified ctx pointer", "socket_filter", "r1 += 4\nr0 = *(u32 *)(r1 + 0)\nexit", True),
    ("bitwise op on a pointer", "socket_filter", "r0 = r1\nr0 &= 4\nexit", True),
    ("multiplying a pointer", "socket_filter", "r0 = r10\nr0 *= 2\nexit", True),
    ("unknown helper id", "socket_filter", "call 1000\nexit", True),
    ("helper of another program type", "socket_filter", "call bpf_xdp_adjust_head\nr0 = 0\nexit", True),
    ("helper argument type", "socket_filter", "r1 = 5\nr2 = 0\ncall bpf_map_lookup_elem\nr0 = 0\nexit", True),
    ("ring buffer record not released", "socket_filter",
     MAPS["ringbuf"] + "r1 = rb ll\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto out\nr1 = 1\n"
     "*(u64 *)(r0 + 0) = r1\nout:\nr0 = 0\nexit", True),
    ("ring buffer record submitted", "socket_filter",
     MAPS["ringbuf"] + "r1 = rb ll\nr2 = 8\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto out\nr1 = r0\n"
     "r2 = 0\ncall bpf_ringbuf_submit\nout:\nr0 = 0\nexit", False),
    ("legacy packet load", "socket_filter", "r6 = r1\nr0 = *(u8 *)skb[0]\nexit", True),
    ("legacy packet load without r6", "socket_filter", "r0 = *(u8 *)skb[0]\nexit", True),
    ("branch with a known outcome", "socket_filter", "r2 = 0\nr3 = 0\nif r2 > 5 goto +1\nr3 = 1\nr0 = r3\nexit",
     True),
    ("bounds learned from a branch", "socket_filter",
     "r1 = *(u32 *)(r1 + 0)\nr0 = 0\nif r1 > 7 goto +1\nr0 = r1\nr0 += 1\nexit", False),
    ("variable map value index", "socket_filter",
     MAPS["array"] + LOOKUP + "r1 = *(u32 *)(r10 - 4)\nr1 &= 7\nr0 += r1\nr0 = *(u8 *)(r0 + 0)\nexit", True),
    ("unbounded map value index", "socket_filter",
     MAPS["array"] + LOOKUP + "r1 = *(u32 *)(r10 - 4)\nr0 += r1\nr0 = *(u8 *)(r0 + 0)\nexit", True),
    ("combined stack of two calls", "socket_filter",
     "r1 = 0\n*(u64 *)(r10 - 256) = r1\ncall f\nexit\nf:\nr1 = 0\n*(u64 *)(r10 - 264) = r1\nr0 = 0\nexit", True),
    ("combined stack through a helper's stack argument", "socket_filter",
     "r1 = 0\n*(u64 *)(r10 - 256) = r1\ncall f\nexit\nf:\nr1 = r10\nr1 += -272\nr2 = 8\nr3 = 0\n"
     "call bpf_probe_read_kernel\nr0 = 0\nexit", True),
    ("map type a helper refuses", "socket_filter",
     ".map h type=hash key_size=4 value_size=8 max_entries=4\nr1 = h ll\nr2 = 0\nr3 = 0\n"
     "call bpf_ringbuf_query\nr0 = 0\nexit", True),
]


def test_engine_verdicts_without_a_kernel():
    assert verify(assemble("r0 = 0\nexit"), "xdp").accepted
    r = verify(assemble("exit"), "xdp")
    assert r.verdict == "reject" and r.error.message == "R0 !read_ok" and r.error.insn_idx == 0
    assert r.log.startswith("R0 !read_ok\n")
    walk = verify(assemble("r0 = 1\nif r0 > 0 goto +1\nr0 = 2\nexit"), "xdp").walk
    assert [e.kind for e in walk][:2] == ["visit", "visit"] and walk[-1].kind == "accept"


def test_the_combined_stack_is_checked_after_the_walk_at_no_instruction():
    source = "r1 = 0\n*(u64 *)(r10 - 8) = r1\ncall f\nexit\nf:\nr1 = 0\n*(u64 *)(r10 - 504) = r1\nr0 = 0\nexit"
    r = verify(assemble(source), "socket_filter")
    assert r.error.message == "combined stack size of 2 calls is 528. Too large"  # 16 + 512: rounded to 16
    assert r.error.insn_idx == -1 and r.to_json()["error"]["insn"] is None and r.stats.processed == 8
    assert verify(assemble(source.replace("r10 - 504", "r10 - 496")), "socket_filter").accepted


# Pointers written where a number is expected: refused only without allow_ptr_leaks (this machine refuses
# unprivileged bpf(), so the messages are those of the selftests' __msg_unpriv and of kernel/bpf/verifier.c).
HASH8 = ".map m type=hash key_size=8 value_size=8 max_entries=1\n"
UNPRIVILEGED_LEAKS = [
    ("r1 = 553656332\n*(u32 *)(r10 - 8) = r1\nr1 = (s16)r10\nr0 = 0\nexit", 2, "R10 sign-extension part of pointer"),
    ("w1 = (s16)w10\nr0 = 0\nexit", 0, "R10 partial copy of pointer"),
    (HASH8 + "r0 = 0\n*(u64 *)(r1 + 48) = r0\nr2 = m ll\nlock *(u64 *)(r1 + 48) += r2\nexit", 4,
     "R2 leaks addr into mem"),
    ("r0 = 0\n*(u64 *)(r1 + 48) = r0\nlock *(u64 *)(r1 + 48) += r10\nexit", 2, "R10 leaks addr into mem"),
    (HASH8 + "r0 = 0\nr2 = m ll\n*(u64 *)(r1 + 48) = r2\nexit", 3, "R2 leaks addr into ctx"),
    (HASH8 + "r6 = r1\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = m ll\n"
     "call bpf_map_lookup_elem\nif r0 == 0 goto out\nr3 = 0\n*(u64 *)(r0 + 0) = r3\n"
     "lock *(u64 *)(r0 + 0) += r6\nout:\nr0 = 0\nexit", 11, "R6 leaks addr into mem"),
]


@pytest.mark.parametrize("source, insn, message", UNPRIVILEGED_LEAKS, ids=[c[2] for c in UNPRIVILEGED_LEAKS])
def test_pointer_leaks_are_refused_for_unprivileged_loaders_only(source, insn, message):
    program = assemble(source)
    unpriv = verify(program, "socket_filter", privileged=False)
    assert (unpriv.error.message, unpriv.error.insn_idx) == (message, insn)
    root = verify(program, "socket_filter")  # accepted, or refused for something else (an atomic into the ctx)
    assert root.error is None or root.error.message == "BPF_ATOMIC stores into R1 ctx is not allowed"


# Stack pointers without CAP_PERFMON (no bypass_spec_v1, allow_uninit_stack or allow_ptr_leaks): no variable
# offset at all (sanitize_check_bounds), so none of the root-only variable-offset accesses can be reached, and a
# helper may read only initialised stack. The messages were checked against Linux 6.18 by loading each program
# in a child process that kept CAP_BPF but dropped CAP_PERFMON and CAP_SYS_ADMIN (capset).
RANDOM_0_7 = "call bpf_get_prandom_u32\nr0 &= 7\n"
UNPRIVILEGED_STACK = [
    (RANDOM_0_7 + "r1 = r10\nr1 += -16\nr1 += r0\nr2 = 0\n*(u8 *)(r1 + 0) = r2\nr0 = 0\nexit", 4,
     "R1 variable stack access prohibited for !root, var_off=(0x0; 0x7) off=-16"),
    (RANDOM_0_7 + "r1 = r10\nr1 += -16\nr0 += r1\nr0 = 0\nexit", 4,
     "R0 variable stack access prohibited for !root, var_off=(0x0; 0x7) off=-16"),
    ("r1 = r10\nr1 += -600\nr0 = 0\nexit", 1,
     "R1 stack pointer arithmetic goes out of range, prohibited for !root; off=-600"),
    ("r1 = r10\nr1 += -8\nr1 += 8\nr0 = 0\nexit", 2,
     "R1 stack pointer arithmetic goes out of range, prohibited for !root; off=0"),
    (RANDOM_0_7 + "r0 -= 4\nr1 = r10\nr1 += -16\nr1 += r0\nr0 = 0\nexit", 5,
     "R0 has unknown scalar with mixed signed bounds, pointer arithmetic with it prohibited for !root"),
    (HASH8 + "r2 = r10\nr2 += -8\nr1 = m ll\ncall bpf_map_lookup_elem\nr0 = 0\nexit", 4,
     "invalid read from stack R2 off=-8 size=8"),
    (HASH8 + "*(u64 *)(r10 - 8) = r1\nr2 = r10\nr2 += -8\nr1 = m ll\ncall bpf_map_lookup_elem\nr0 = 0\nexit", 5,
     "invalid read from stack R2 off -8+0 size 8"),
]


@pytest.mark.parametrize("source, insn, message", UNPRIVILEGED_STACK, ids=[c[2] for c in UNPRIVILEGED_STACK])
def test_stack_pointers_of_unprivileged_loaders(source, insn, message):
    program = assemble(source)
    unpriv = verify(program, "socket_filter", privileged=False)
    assert (unpriv.error.message, unpriv.error.insn_idx) == (message, insn)
    assert verify(program, "socket_filter").accepted


def test_a_spill_destroyed_by_a_variable_offset_store_reads_back_as_misc_data():
    """check_stack_write_var_off scrubs the whole slot of a spill it may touch (kernel: fp-8=mm??mmmm)."""
    source = ("r1 = 0\n*(u16 *)(r10 - 2) = r1\nr1 = 5\n*(u32 *)(r10 - 8) = r1\n" + RANDOM_0_7.replace("7", "1")
              + "r2 = r10\nr2 += -8\nr2 += r0\nr3 = 7\n*(u8 *)(r2 + 0) = r3\nr0 = 0\nexit")
    result = verify(assemble(source), "socket_filter")
    after = next(e.state for e in result.walk if e.kind == "visit" and e.insn_idx == 10)
    assert slot_str(after.cur, 0) == "fp-8=mm??mmmm" and after.cur.spill_at(0) is None


def with_fds(program, fds):
    insns = list(program.insns)
    for pc, insn in enumerate(insns):
        if insn.opcode == 0x18 and insn.src in (1, 2):
            insns[pc] = Insn(0x18, insn.dst, insn.src, 0, fds[insn.imm])
    return encode(insns)


@pytest.mark.kernel
@pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")
@pytest.mark.parametrize("name, prog_type, source, same_count", CASES, ids=[c[0] for c in CASES])
def test_same_verdict_and_message_as_the_kernel(name, prog_type, source, same_count):
    program = assemble(source)
    ours = verify(program, prog_type)
    with ExitStack() as stack:
        fds = [stack.enter_context(create_map(m.type, m.key_size, m.value_size, m.max_entries, m.flags)).fd
               for m in program.maps]
        kernel = verify_in_kernel(with_fds(program, fds), prog_type)
    assert ours.accepted == kernel.accepted
    assert (ours.error.message if ours.error else None) == kernel.first_error
    if same_count:
        assert ours.stats.processed == (kernel.processed_insns or 0)


@pytest.mark.kernel
@pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")
def test_random_programs_the_kernel_accepts_are_accepted():
    """The differential suite's generated programs (all accepted by the kernel) pass our verifier too."""
    from hypothesis import HealthCheck, given, settings

    from app.ebpf.insn import decode_raw
    from app.ebpf.program import Program

    from tests.differential.gen import programs

    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(prog=programs())
    def check(prog):
        code = encode(list(prog.insns if hasattr(prog, "insns") else prog))
        ours = verify(Program(decode_raw(code)), "socket_filter")
        assert ours.accepted, (ours.error, code.hex())

    check()


def test_max_processed_stops_the_walk_without_a_verdict():
    loop = assemble("r0 = 0\nr1 = 1000\nl: r1 -= 1\nif r1 > 0 goto l\nexit")
    full = verify(loop, "xdp")
    assert full.verdict == "accept" and full.stats.processed > 2000
    stopped = verify(loop, "xdp", max_processed=100)
    assert stopped.verdict == "incomplete" and not stopped.accepted
    assert stopped.error.errno == "LIMIT" and "100 processed instructions" in stopped.error.message
    assert verify(loop, "xdp", max_processed=full.stats.processed).verdict == "accept"
    assert verify(loop, "xdp", max_processed=full.stats.processed - 1).verdict == "incomplete"


def test_a_c_callback_with_its_btf_is_walked_and_accepted():
    """bpf_loop from C: the object's BTF func_info lets the callback through (assembly has none and is
    refused with "missing btf func_info", as the corpus records), and clang's 32-bit data_end - data is
    the unknown scalar root gets."""
    from pathlib import Path

    from app.ebpf.cc import compile_c, compiler_available
    from app.ebpf.elf import load_elf

    if not compiler_available()[0]:
        pytest.skip("no C compiler here")
    elf = load_elf(compile_c((Path(__file__).parent / "data" / "c" / "bpf_loop.c").read_text()).object)
    assert elf.program.func_info
    assert verify(elf.program, elf.prog_type).accepted


def test_the_cycle_collector_is_paused_only_during_a_walk():
    import gc

    assert gc.isenabled()
    verify(assemble("r0 = 0\nexit"), "socket_filter")
    assert gc.isenabled()
    try:
        verify(assemble("r0 = *(u8 *)(r9 + 0)\nexit"), "socket_filter")  # a rejection raises inside the walk
    finally:
        assert gc.isenabled()


def test_the_objects_of_a_walk_are_not_scanned_by_a_young_collection_when_it_ends():
    import gc

    program = assemble("r1 = 0\nloop:\nr1 += 1\nif r1 < 2000 goto loop\nr0 = 0\nexit")
    started: list[int] = []

    def record(phase, info):
        if phase == "start":
            started.append(info["generation"])

    gc.collect()
    gc.callbacks.append(record)
    try:
        verify(program, "socket_filter")
    finally:
        gc.callbacks.remove(record)
    assert started == []


def test_objects_someone_else_froze_stay_frozen_after_a_walk():
    import gc

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        verify(assemble("r0 = 0\nexit"), "socket_filter")
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_registers_compare_equal_exactly_when_every_field_does():
    from dataclasses import fields, replace

    from app.ebpf.verifier import bounds as B
    from app.ebpf.verifier.state import Reg

    base = Reg("fp", B.const(0))
    other_value = {"type": "pkt", "b": B.const(1), "maybe_null": True, "btf": "task_struct"}
    for f in fields(Reg):
        changed = replace(base, **{f.name: other_value.get(f.name, 7)})
        assert changed != base and base != changed, f.name  # Reg.__eq__ compares every field
        assert replace(changed, **{f.name: getattr(base, f.name)}) == base
        assert hash(replace(base)) == hash(base)
    assert base.__eq__(object()) is NotImplemented


@pytest.mark.parametrize("source, message", [
    ("r0 = *(u64 *)(r10 - 8)\nexit", "invalid read from stack R10 off=-8 size=8"),  # below the allocated stack
    ("r1 = 1\n*(u32 *)(r10 - 4) = r1\nr0 = *(u64 *)(r10 - 8)\nexit", "invalid read from stack off -8+0 size 8"),
    ("r1 = 1\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)\nexit", None),
])
def test_unprivileged_loaders_may_not_read_uninitialised_stack(source, message):
    """check_stack_slot_within_bounds and check_stack_read_fixed_off without allow_uninit_stack; root may."""
    result = verify(assemble(source), "socket_filter", privileged=False)
    assert (result.error.message if result.error else None) == message
    assert verify(assemble(source), "socket_filter").accepted


def test_unprivileged_loaders_load_only_socket_filters_and_cgroup_skb_of_at_most_4096_instructions():
    xdp = verify(assemble("r0 = 0\nexit"), "xdp", privileged=False)
    assert not xdp.accepted and xdp.error.errno == "EPERM" and xdp.error.insn_idx == -1
    assert verify(assemble("r0 = 1\nexit"), "cgroup_skb", privileged=False).accepted
    long = assemble("r0 = 0\n" * 4096 + "exit")
    big = verify(long, "socket_filter", privileged=False)
    assert not big.accepted and big.error.errno == "E2BIG" and "4,096" in big.error.message
    assert verify(long, "socket_filter").accepted


def test_without_cap_bpf_at_most_64_states_are_kept_per_instruction():
    """is_state_visited: "if (!env->bpf_capable && states_cnt > BPF_COMPLEXITY_LIMIT_STATES) return 0"."""
    from app.ebpf.verifier.precision import Marks
    from app.ebpf.verifier.prune import Kept
    from app.ebpf.verifier.state import VerifierState, const, initial_frame
    from app.ebpf.verifier.walk import Walker

    program = assemble("r0 = 0\nif r0 > 1 goto +0\nexit")
    for privileged, kept_after in ((False, 65), (True, 66)):
        walker = Walker(program, "socket_filter", privileged)
        walker.jmps_processed, walker.processed = 10, 100  # past the heuristics for keeping a state
        others = [Kept(VerifierState((initial_frame().with_reg(0, const(n)),)), 0, cleaned=True,  # no liveness
                       marks=Marks(everything=True))  # r0 precise: no kept state covers r0 = 1000
                  for n in range(65)]
        walker.kept[(1, -1)] = list(others)
        state = VerifierState((initial_frame().with_reg(0, const(1000)),))
        covering, _ = walker.visited(1, state, 0)
        assert covering is None and len(walker.kept[(1, -1)]) == kept_after


def test_a_return_value_outside_the_range_names_only_the_bounds_it_has():
    """verbose_invalid_scalar prints smin or smax only when it is not the type's limit."""
    program = assemble("call bpf_get_prandom_u32\nif r0 s< 5 goto +1\nexit\nr0 = 0\nexit")
    message = "At program exit the register R0 has smin=5 should have been in [0, 1]"
    assert verify(program, "cgroup_skb").error.message == message
    if bpf_available():
        assert verify_in_kernel(program.to_bytes(), "cgroup_skb").first_error == message


@pytest.mark.parametrize("operation", ["w9 /= 7", "w9 s/= 7", "w9 %= 7", "w9 s%= 7", "w9 <<= w2", "w9 >>= w2"])
def test_32_bit_operations_the_kernel_cannot_bound_give_an_unknown_64_bit_scalar(operation):
    """is_safe_to_compute_dst_reg_range refuses division, modulo and shifts by a non-constant amount, and
    adjust_scalar_min_max_vals then returns an unknown scalar before zext_32_to_64: Linux 6.18 prints
    ``R9=scalar()`` even for ``w9 /= 7`` of a constant, not a zero-extended 32-bit range."""
    program = assemble(f"r2 = *(u32 *)(r1 + 0)\nr9 = 100\n{operation}\nr0 = 0\nexit")
    after = [e for e in verify(program, "socket_filter").walk if e.kind == "visit"][2].state.cur.regs[9]
    assert after.b.umax == 2**64 - 1 and after.b.smin == -2**63


def test_a_kernel_helper_we_do_not_model_is_said_so_not_refused_in_the_kernels_words():
    """bpf_skb_pull_data (39) exists and TC offers it; without its prototype we stop, saying why, rather
    than claim the hook cannot use it."""
    result = verify(assemble("r2 = 0\ncall 39\nr0 = 0\nexit"), "sched_cls")
    assert result.error.message == "helper bpf_skb_pull_data#39 is not modelled by this playground yet"


def test_several_sections_are_verified_as_the_first_program_unless_it_calls_into_text():
    two = assemble('.section xdp,"ax"\nr0 = 2\nexit\n.section xdp/other,"ax"\nr0 = 1\nexit\n')
    assert len(two.first_entry().insns) == 2 and verify(two, "xdp").accepted
    calls_text = assemble('.section xdp,"ax"\ncall helper\nexit\n.section xdp/other,"ax"\nr0 = 1\nexit\n'
                          '.text\nhelper:\nr0 = 2\nexit\n')
    assert calls_text.first_entry() is calls_text  # the subprogram would have to move: kept whole
    assert verify(calls_text, "xdp").error.message.startswith("unreachable insn")
