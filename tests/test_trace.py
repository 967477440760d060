"""Traced runs: any step's state, forward and back, recomputed from checkpoints in bounded memory."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.vm import build_machine, run
from app.ebpf.vm.memory import PACKET_BASE
from app.ebpf.vm.trace import state_of

LOOP = assemble("""
    r0 = 0
    r1 = 2000
loop:
    r0 += r1
    *(u64 *)(r10 - 8) = r0
    r1 -= 1
    if r1 != 0 goto loop
    exit
""")


def straight_state(program, k, **kw):
    m = build_machine(program, **kw)
    m.run(max_steps=k)
    return state_of(m)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4095, 4096, 4097, 5000, 8001])
def test_state_at_matches_a_run_stopped_there(k):
    r = run(LOOP, trace=True, checkpoint_every=1024)
    assert r.trace.state_at(k) == straight_state(LOOP, k)


def test_path_and_final_state():
    r = run(LOOP, trace=True)
    assert len(r.trace) == r.insns_executed == 2 + 2000 * 4 + 1
    assert list(r.trace.pcs[:6]) == [0, 1, 2, 3, 4, 5]
    final = r.trace.state_at(len(r.trace))
    assert final.done and final.retval == r.retval == sum(range(1, 2001))


def test_step_records_show_registers_and_memory_changed():
    r = run(LOOP, trace=True)
    rec = r.trace.step_record(2)
    assert rec.pc == 2 and rec.next_pc == 3 and rec.regs == {0: (0, 2000)}
    rec = r.trace.step_record(3)
    assert rec.regs == {} and len(rec.memory) == 1
    change = rec.memory[0]
    assert (change.region, change.offset, change.old, change.new) == ("stack[0]", 504, bytes(2),
                                                                      (2000).to_bytes(8, "little")[:2])
    last = r.trace.step_record(len(r.trace) - 1)
    assert last.retval == r.retval and last.next_pc is None


def test_stepping_backward_is_the_state_one_step_earlier():
    r = run(LOOP, trace=True, checkpoint_every=100)
    for k in (150, 99, 100, 101):
        before = r.trace.state_at(k - 1)
        rec = r.trace.step_record(k - 1)
        after = r.trace.state_at(k)
        for reg, (old, new) in rec.regs.items():
            assert before.regs[reg] == old and after.regs[reg] == new


def test_a_fault_is_the_last_step_of_the_path():
    p = assemble("r0 = 1\nr1 = 0\nr0 = *(u8 *)(r1 + 0)\nexit")
    r = run(p, trace=True)
    assert r.insns_executed == 2 and len(r.trace) == 3
    last = r.trace.step_record(2)
    assert last.fault is not None and last.fault.pc == 2 and last.next_pc is None


def test_a_million_steps_stay_small():
    p = assemble("r0 = 0\nr1 = 250000\nl:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto l\nr0 = 1\nexit")
    r = run(p, trace=True)
    assert r.insns_executed > 750_000
    assert r.trace.memory_bytes() < 20 * 1024 * 1024
    mid = r.trace.state_at(500_001)
    assert mid.step == 500_001


def test_out_of_range_steps_are_refused():
    r = run(LOOP, trace=True)
    with pytest.raises(IndexError):
        r.trace.state_at(len(r.trace) + 1)
    with pytest.raises(IndexError):
        r.trace.step_record(len(r.trace))


def test_replayed_states_include_writes_through_the_context_helpers_and_maps():
    """State k is recomputed on a replay machine: its context, packet and map regions must be the ones
    that get restored (not the original machine's)."""
    p = assemble("""
        .map counts type=array key_size=4 value_size=8 max_entries=1
        r6 = r1
        r1 = 42
        *(u32 *)(r6 + 8) = r1            # skb->mark
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = counts ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        r1 = 7
        *(u64 *)(r0 + 0) = r1            # a map value
        r0 = 0
        exit
    """)
    r = run(p, prog_type="sched_cls", packet=bytes(64), trace=True, checkpoint_every=2)
    mid = r.trace.state_at(len(r.trace) - 1)
    ctx = mid.region("ctx (__sk_buff)")
    values = next(data for name, _, data in mid.regions if name.startswith("counts.") and name != "counts.map")
    assert ctx[8:12] == (42).to_bytes(4, "little") and values[:8] == (7).to_bytes(8, "little")
    assert r.trace.state_at(2).region("ctx (__sk_buff)")[8:12] == bytes(4)


def test_replay_with_an_empty_packet():
    """A socket filter on a bare Ethernet header sees a 0-byte packet (data starts after the header); the
    PacketBuffer is then falsy by length, and checkpoints must still carry its state."""
    program = assemble("r0 = 1\nr1 = 0\nr0 = *(u8 *)(r1 + 0)\nexit\n")
    result = run(program, prog_type="socket_filter", packet=bytes(14), trace=True)
    assert result.fault is not None and result.fault.pc == 2
    assert [result.trace.state_at(k).pc for k in range(len(result.trace) + 1)] == [0, 1, 2, 2]


def test_breakpoint_hits_forward_and_back_match_a_plain_scan():
    r = run(LOOP, trace=True, checkpoint_every=1024)
    pcs, trace = list(r.trace.pcs), r.trace
    for wanted in ((3,), (0, 6), (4, 5), (99,)):
        for k in (-1, 0, 1, 5, 4000, len(pcs) - 2, len(pcs), len(pcs) + 3):
            forward = next((i for i in range(max(k + 1, 0), len(pcs)) if pcs[i] in wanted), None)
            back = next((i for i in range(min(k, len(pcs)) - 1, -1, -1) if pcs[i] in wanted), None)
            assert trace.next_hit(wanted, k) == forward, (wanted, k)
            assert trace.prev_hit(wanted, k) == back, (wanted, k)


@pytest.mark.parametrize("start, stop", [(0, 5), (1020, 1030), (len(LOOP.insns), 4100), (10_000, 10_010),
                                         (9_990, 20_000), (50, 50)])
def test_a_range_of_step_records_is_each_step_record(start, stop):
    r = run(LOOP, trace=True, checkpoint_every=1024)
    stop = min(stop, len(r.trace))
    assert list(r.trace.step_records(start, stop)) == [r.trace.step_record(k) for k in range(start, stop)]


def test_step_records_list_the_bytes_each_load_read():
    """Loads leave memory as it was, so a step record lists them apart (``reads``): ldx at reg + off in the
    region that holds it, an atomic operation's operand, a legacy packet load at data + offset; a load
    that faults and every other instruction read nothing."""
    p = assemble("""
        r6 = r1
        r2 = *(u32 *)(r1 + 0)            # xdp_md.data: 4 bytes of the context
        r3 = *(u16 *)(r2 + 12)           # the EtherType
        r1 = 1
        *(u64 *)(r10 - 8) = r1
        lock *(u64 *)(r10 - 8) += r1
        r0 = *(u8 *)(r2 + 4096)          # past the packet: a fault
        exit
    """)
    r = run(p, prog_type="xdp", packet=bytes(60), trace=True)
    reads = [[(m.region, m.offset, m.size) for m in r.trace.step_record(k).reads] for k in range(len(r.trace))]
    data = r.trace.state_at(2).regs[2] - next(b for n, b, _ in r.trace.state_at(2).regions if n == "packet")
    assert reads == [[], [("ctx (xdp_md)", 0, 4)], [("packet", data + 12, 2)], [], [], [("stack[0]", 504, 8)], []]
    assert r.fault is not None and r.fault.pc == 6
    assert r.trace.step_record(2).to_json()["reads"] == [{"region": "packet", "offset": data + 12, "size": 2}]


def test_a_legacy_packet_load_reads_the_packet_from_data():
    p = assemble("r6 = r1\nr0 = *(u16 *)skb[12]\nr7 = 2\nr0 = *(u8 *)skb[r7 + 100]\nexit\n")
    r = run(p, prog_type="socket_filter", packet=bytes(40), trace=True)
    data = PACKET_BASE - next(b for n, b, _ in r.trace.state_at(1).regions if n == "packet")
    assert [(m.region, m.offset, m.size) for m in r.trace.step_record(1).reads] == [("packet", data + 12, 2)]
    assert r.trace.step_record(3).reads == ()  # offset 102 is past the 26-byte packet: the program ends
