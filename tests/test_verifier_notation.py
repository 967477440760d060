"""The kernel's notation for verifier state (``notation.py``) and the walk's recorded states."""
from __future__ import annotations

import re

import pytest

from app.ebpf import assemble
from app.ebpf.verifier import bounds as B
from app.ebpf.verifier import verify
from app.ebpf.verifier.notation import frame_str, reg_str, scalar_ranges
from app.ebpf.verifier.state import PTR_TO_CTX, PTR_TO_PACKET, Reg, const, ptr, scalar
from app.ebpf.verifier.walklog import log_lines
from app.oracle import bpf_available, verify_in_kernel
from tests.programs import PACKET_CHECK


def test_scalar_ranges_fold_equal_bounds_as_the_kernel_prints_them():
    byte = B.from_urange(0, 255)
    assert ",".join(scalar_ranges(byte)) == "smin=smin32=0,smax=umax=smax32=umax32=255"
    assert scalar_ranges(B.UNBOUNDED) == []
    negative = B.from_srange(-5, -1)  # negatives are never folded with unsigned bounds
    text = ",".join(scalar_ranges(negative))
    assert text.startswith("smin=smin32=-5,smax=smax32=-1,umin=")


def test_registers_in_the_kernels_words():
    assert reg_str(const(7)) == "7" and reg_str(const(-1 & B.U64_MAX)) == "-1"
    assert reg_str(ptr(PTR_TO_CTX)) == "ctx()"
    assert reg_str(Reg(PTR_TO_PACKET, B.const(0), off=14, range=14)) == "pkt(off=14,r=14)"
    assert reg_str(scalar()) == "scalar()"
    assert reg_str(Reg(PTR_TO_PACKET, B.const(0), maybe_null=True, id=3)) == "pkt_or_null(id=3,r=0)"


def test_every_event_keeps_the_state_after_it():
    program = assemble(PACKET_CHECK)
    walk = verify(program, "xdp").walk
    visits = [e for e in walk if e.kind == "visit"]
    assert all(e.state is not None for e in walk)
    assert frame_str(visits[0].state.cur) == "R1=ctx() R2=pkt(r=0) R10=fp0"
    pushes = [e for e in walk if e.kind == "push_branch"]
    assert [(e.insn_idx, e.other) for e in pushes] == [(9, 5), (9, 7)]  # the jumps at 5 and 7 put 9 aside
    assert pushes[1].to_json()["from_insn"] == 7
    pop = next(e for e in walk if e.kind == "pop_branch")
    assert pop.state.cur.reg(5) == const(8)  # resumed with r5 == 8 learned on the taken side


def test_a_prune_names_the_visit_where_the_covering_state_was_kept():
    source = "r0 = 0\n" + "if r1 > 3 goto +0\n" * 2 + "r2 = 1\n" * 8 + "if r1 > 5 goto +0\n" * 3 + "exit"
    program = assemble(source.replace("r1", "r6").replace("r0 = 0\n", "r0 = 0\nr6 = *(u32 *)(r1 + 0)\n"))
    walk = verify(program, "xdp").walk
    prunes = [e for e in walk if e.kind == "prune"]
    assert prunes, "this program has equivalent states at join points"
    for e in prunes:
        kept = walk[e.other]
        assert kept.kind == "visit" and kept.insn_idx == e.insn_idx and kept.seq < e.seq


_STATE_LINE = re.compile(r"^(\d+): \([0-9a-f]{2}\) .*; (.*)$")


@pytest.mark.kernel
@pytest.mark.skipif(not bpf_available(), reason="needs the bpf() system call")
def test_instruction_lines_match_the_kernels_level_2_log():
    program = assemble(PACKET_CHECK)
    kernel = verify_in_kernel(program.to_bytes(), "xdp", log_level=2).log.splitlines()
    ours = log_lines(program, verify(program, "xdp"))[0]
    theirs = [line for line in kernel if _STATE_LINE.match(line)]
    assert len(theirs) == 9
    assert theirs == [line for line in ours if _STATE_LINE.match(line)]


def test_a_null_check_drops_the_pointers_id_as_the_kernel_does():
    source = (".map h type=hash key_size=4 value_size=8 max_entries=4\n"
              "r1 = 0\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = h ll\ncall bpf_map_lookup_elem\n"
              "if r0 == 0 goto +1\nr0 = 0\nexit\n")
    program = assemble(source)
    lines = log_lines(program, verify(program, "xdp"))[0]
    assert any(line.endswith("; R0=map_value_or_null(id=1,map=h,ks=4,vs=8)") for line in lines)
    assert any(line.startswith("7: (15) if r0 == 0x0 goto pc+1") and line.endswith("; R0=map_value(map=h,ks=4,vs=8)")
               for line in lines)


def test_a_fill_prints_the_slot_it_read():
    """check_stack_read_fixed_off scratches the slot it reads: the kernel's line after a fill shows it."""
    program = assemble("r1 = 7\n*(u64 *)(r10 - 8) = r1\nr2 = *(u64 *)(r10 - 8)\nr0 = 0\nexit")
    lines, _ = log_lines(program, verify(program, "socket_filter"))
    fill = next(line for line in lines if line.startswith("2: "))
    assert fill.endswith("; R2=7 R10=fp0 fp-8=7")


def test_cmpxchg_prints_r0_which_it_compares_and_loads():
    program = assemble("r0 = 0\nr1 = 0\n*(u64 *)(r10 - 8) = r1\nr0 = cmpxchg_64(r10 - 8, r0, r1)\nr0 = 0\nexit")
    lines, _ = log_lines(program, verify(program, "socket_filter"))
    line = next(line for line in lines if line.startswith("3: "))
    assert "; R0=" in line


COUNTER_ON_STACK = ("r1 = 0\n*(u64 *)(r10 - 8) = r1\nloop:\nr1 = *(u64 *)(r10 - 8)\nr1 += 1\n"
                    "*(u64 *)(r10 - 8) = r1\nif r1 < 8 goto loop\nr0 = r1\nexit")


def test_the_log_shows_precision_backtracking_as_the_kernel_prints_it():
    """The loop's comparison is decided, so r1 is backtracked: through the fill into fp-8, through the
    spill back into r1, to the constant (Linux 6.18's log for this program, its first iteration)."""
    program = assemble(COUNTER_ON_STACK)
    lines, _ = log_lines(program, verify(program, "socket_filter"))
    start = lines.index("5: (a5) if r1 < 0x8 goto pc-4")
    assert lines[start + 1:start + 8] == [
        "mark_precise: frame0: last_idx 5 first_idx 0 subseq_idx -1 ",
        "mark_precise: frame0: regs=r1 stack= before 4: (7b) *(u64 *)(r10 -8) = r1",
        "mark_precise: frame0: regs=r1 stack= before 3: (07) r1 += 1",
        "mark_precise: frame0: regs=r1 stack= before 2: (79) r1 = *(u64 *)(r10 -8)",
        "mark_precise: frame0: regs= stack=-8 before 1: (7b) *(u64 *)(r10 -8) = r1",
        "mark_precise: frame0: regs=r1 stack= before 0: (b7) r1 = 0",
        "5: R1=1",
    ]


PAD = "r3 = 0\n" + "r3 += 1\n" * 7
INHERITED = ("call bpf_get_prandom_u32\nr7 = 4\n" + PAD + "r8 = 1\nif r0 > 7 goto far\nr8 = 2\ngoto join\nfar:\n"
             "r8 = 3\n" + PAD + "goto +0\nr9 = 0\njoin:\nr2 = r10\nr2 += -8\nr2 += r7\nr0 = *(u32 *)(r2 + 0)\n"
             "r0 = 0\nexit")  # parent states marked, and a pruned path inheriting the marks


@pytest.mark.skipif(not bpf_available(), reason="needs bpf() (root)")
@pytest.mark.parametrize("source", [COUNTER_ON_STACK, INHERITED])
def test_precision_lines_match_the_kernels_level_2_log(source):
    program = assemble(source)
    prog_type = "socket_filter"
    kernel = verify_in_kernel(program.to_bytes(), prog_type, log_level=2).log.splitlines()
    ours = log_lines(program, verify(program, prog_type))[0]

    def marks(lines):
        return [line.rstrip() for line in lines if line.startswith("mark_precise:") or " propagating " in line]

    assert marks(ours) and marks(kernel) == marks(ours)


# --- the whole level-2 log -------------------------------------------------------------------------------

def _corpus_case(name: str):
    from tests.verifier_corpus import load_cases

    return next(c for c in load_cases(require_expectations=False) if c.name == name)


def _our_log(name: str) -> list[str]:
    case = _corpus_case(name)
    program = case.program()
    return log_lines(program, verify(program, case.prog_type, privileged=case.privileged))[0]


def test_a_call_and_its_return_print_as_the_kernel_prints_them():
    """func#, the live registers, ``caller:``/``callee:`` (setup_func_call), the callee's scratched registers
    under the callee's first index, ``returning from callee:``/``to caller at 2:`` (prepare_func_exit), a blank
    line and ``from 5 to 2:`` (do_check's do_print_state): Linux 6.18's level-2 log for this program."""
    assert _our_log("call_simple_subprog") == [
        "func#0 @0",
        "func#1 @3",
        "Live regs before insn:",
        "      0: ..2345.... (b7) r1 = 1",
        "      1: .12345.... (85) call pc+1",
        "      2: 0......... (95) exit",
        "      3: .1........ (bf) r0 = r1",
        "      4: 0......... (07) r0 += 1",
        "      5: 0......... (95) exit",
        "0: R1=ctx() R10=fp0",
        "0: (b7) r1 = 1                        ; R1=1",
        "1: (85) call pc+1",
        "caller:",
        " R10=fp0",
        "callee:",
        " frame1: R1=1 R10=fp0",
        "3: frame1: R1=1 R10=fp0",
        "3: (bf) r0 = r1                       ; frame1: R0=1 R1=1",
        "4: (07) r0 += 1                       ; frame1: R0=2",
        "5: (95) exit",
        "returning from callee:",
        " frame1: R0=2 R1=1 R10=fp0",
        "to caller at 2:",
        " R0=2 R10=fp0",
        "",
        "from 5 to 2: R0=2 R10=fp0",
        "2: (95) exit",
        "processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0",
    ]


def test_a_resumed_branch_prints_its_state_twice_after_a_blank_line():
    """process_bpf_exit scratches every register, so after ``\\nfrom 1 to 3: ...`` print_insn_state prints the
    state again under the instruction's index (Linux 6.18's lines for this program)."""
    lines = _our_log("alu_r0_written_on_one_path_only")
    state = "R1=ctx() R2=scalar(smin=umin=umin32=11,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff)) R10=fp0"
    start = lines.index("3: (95) exit")
    stats = "processed 5 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0"
    assert lines[start:] == ["3: (95) exit", "", f"from 1 to 3: {state}", f"3: {state}", "3: (95) exit",
                             "R0 !read_ok", stats]


def test_the_state_after_a_void_helper_is_an_empty_line_end():
    """bpf_ringbuf_submit leaves R0 to R5 scratched but uninitialised: print_insn_state pads to the column and
    prints ``;`` and nothing after it (Linux 6.18)."""
    assert "10: (85) call bpf_ringbuf_submit#132          ;" in _our_log("rb_reserve_submit")


def test_ld_abs_reads_every_register_and_scratches_r6():
    """compute_insn_live_regs keeps its defaults for BPF_LD_ABS (every register read); check_ld_abs reads R6
    and writes R0 (Linux 6.18's lines)."""
    lines = _our_log("pkt_ld_abs_in_sched_cls")
    assert "      1: 0123456789 (28) r0 = *(u16 *)skb[12]" in lines
    assert "1: (28) r0 = *(u16 *)skb[12]          ; R0=scalar() R6=ctx()" in lines


def test_a_loop_prints_its_scc_entry_backedges_and_exit():
    """maybe_enter_scc, add_scc_backedge and maybe_exit_scc print ``SCC enter (1)`` and so on, and the SCC of
    each instruction in the live-register dump (Linux 6.18's lines for this program)."""
    lines = _our_log("may_goto_unknown_exit")
    assert "  1   3: 0.....6... (e5) may_goto pc+4" in lines
    assert [line for line in lines if line.startswith("SCC ")] == [
        "SCC enter (1)", "SCC backedge (1)", "SCC exit (1)"]
    assert lines[lines.index("SCC enter (1)") - 1:lines.index("SCC enter (1)") + 3] == [
        "2: (b7) r0 = 0", "SCC enter (1)", "3: R0=0", "3: (e5) may_goto pc+4"]


def test_too_many_pending_jumps_are_reported_at_the_jump():
    """push_stack fails while may_goto is processed: the error follows its line, with no state after it."""
    program = assemble("r0 = 0\nloop:\nr0 += 1\nmay_goto loop\nexit")
    result = verify(program, "socket_filter")
    lines = log_lines(program, result)[0]
    assert result.error.insn_idx == 2
    assert lines[-3:-1] == ["2: (e5) may_goto pc-2", "The sequence of 8193 jumps is too complex."]


WHOLE_LOG_CASES = ["call_simple_subprog", "call_subprog_pruned_branches", "call_combined_stack_too_large",
                   "alu_r0_written_on_one_path_only", "prune_dead_register_after_join", "may_goto_unknown_exit",
                   "pkt_ld_abs_in_sched_cls", "ptr_bswap", "cfg_unreachable_after_exit",
                   "call_invalid_destination"]


@pytest.mark.kernel
@pytest.mark.skipif(not bpf_available(), reason="needs the bpf() system call")
@pytest.mark.parametrize("name", WHOLE_LOG_CASES)
def test_the_whole_log_matches_the_kernels(name):
    case = _corpus_case(name)
    program = case.program()
    kernel = verify_in_kernel(program.to_bytes(), case.prog_type, log_level=2).log.rstrip("\n").split("\n")
    assert _our_log(name) == kernel


def test_a_program_refused_before_the_verifier_runs_has_no_walk_in_its_log():
    """bpf_prog_load refuses an xdp program from an unprivileged loader before bpf_check: no func#, no
    statistics; the log is our one line saying why."""
    from app.ebpf.verifier.walklog import kernel_log

    program = assemble("r0 = 0\nexit")
    result = verify(program, "xdp", privileged=False)
    assert kernel_log(program, result, 2) == result.log
    assert "func#" not in result.log and "processed" not in result.log
