"""What a traced run reads and writes: the bytes helpers read (from their prototypes), and the whole run's marks
up to a step (``Trace.marks``)."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.vm import run
from app.ebpf.vm.memory import PACKET_BASE

LOOKUP = """
.map counts type=hash key_size=4 value_size=8 max_entries=4
    r1 = 7
    *(u32 *)(r10 - 4) = r1
    r1 = counts ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    r0 = 0
    exit
"""


def reads(trace, k):
    return [(m.region, m.offset, m.size) for m in trace.step_record(k).reads]


def packet_data(trace, k):
    """Offset of ``data`` in the packet region before step ``k``."""
    return PACKET_BASE - next(b for n, b, _ in trace.state_at(k).regions if n == "packet")


def test_a_map_lookup_reads_the_key_on_the_stack():
    r = run(assemble(LOOKUP), prog_type="xdp", packet=bytes(60), trace=True)
    call = next(k for k in range(len(r.trace)) if r.trace.pcs[k] == 6)  # ld_imm64 takes two slots
    assert reads(r.trace, call) == [("stack[0]", 508, 4)]  # key_size bytes at fp-4
    assert r.trace.step_record(call).to_json()["reads"] == [{"region": "stack[0]", "offset": 508, "size": 4}]


def test_skb_load_bytes_reads_the_packet_at_data_plus_offset():
    p = assemble("""
        r2 = 12                   # the EtherType
        r3 = r10
        r3 += -8
        r4 = 2
        call bpf_skb_load_bytes
        r0 = 0
        exit
    """)
    r = run(p, prog_type="sched_cls", packet=bytes(60), trace=True)
    data = packet_data(r.trace, 4)
    assert reads(r.trace, 4) == [("packet", data + 12, 2)]
    marks = r.trace.marks(5)
    assert marks.read["packet"] == {data + 12, data + 13}
    assert marks.written["stack[0]"] == {504, 505}  # zeros over zeros: written by the prototype, not by change


def test_helper_memory_arguments_are_read_for_their_size_and_null_reads_nothing():
    """``ARG_PTR_TO_MEM|MEM_RDONLY`` with a size (trace_printk's format), a NULL ``PTR_MAYBE_NULL`` buffer
    (csum_diff's ``from``), and an ``ARG_PTR_TO_UNINIT_MEM`` (written, not read)."""
    p = assemble("""
        r1 = 0x0a6968
        *(u32 *)(r10 - 4) = r1
        r1 = r10
        r1 += -4
        r2 = 4
        call bpf_trace_printk
        r1 = 0
        r2 = 0
        r3 = r10
        r3 += -4
        r4 = 4
        r5 = 0
        call bpf_csum_diff
        r1 = r10
        r1 += -16
        r2 = 8
        call bpf_get_current_comm
        r0 = 0
        exit
    """)
    r = run(p, prog_type="xdp", packet=bytes(60), trace=True)
    calls = [k for k in range(len(r.trace)) if r.trace.pcs[k] in (5, 12, 16)]
    assert [reads(r.trace, k) for k in calls] == [[("stack[0]", 508, 4)], [("stack[0]", 508, 4)], []]
    written = r.trace.marks(len(r.trace)).written["stack[0]"]
    assert written == set(range(496, 504)) | set(range(508, 512))  # the task's name (8 bytes), the format


def test_an_update_reads_key_and_value_and_writes_the_map():
    p = assemble("""
    .map counts type=array key_size=4 value_size=8 max_entries=2
        r1 = 1
        *(u32 *)(r10 - 4) = r1
        r1 = 9
        *(u64 *)(r10 - 16) = r1
        r1 = counts ll
        r2 = r10
        r2 += -4
        r3 = r10
        r3 += -16
        r4 = 0
        call bpf_map_update_elem
        r0 = 0
        exit
    """)
    r = run(p, trace=True)
    call = next(k for k in range(len(r.trace)) if r.trace.pcs[k] == 11)
    assert reads(r.trace, call) == [("stack[0]", 508, 4), ("stack[0]", 496, 8)]
    after = r.trace.marks(call + 1)
    assert after.written["counts.values"] == {8}  # the second value's first byte: 0 -> 9
    assert "counts.values" not in r.trace.marks(call).written


LOOP = assemble("""
    r6 = r1
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r1 = 0
    r4 = 0
loop:
    r5 = r2
    r5 += r1
    r7 = r5
    r7 += 1
    if r7 > r3 goto out
    r0 = *(u8 *)(r5 + 0)
    r4 += r0
    *(u8 *)(r10 - 1) = r4
    r1 += 3
    if r1 < 12 goto loop
out:
    lock *(u64 *)(r10 - 16) += r4
    r0 = 2
    exit
""")


@pytest.mark.parametrize("every", [4, 4096])
def test_run_marks_are_the_step_records_up_to_a_position(every):
    """Read: what the step records list up to the position. Written: every byte a store wrote (whatever its
    value) and what atomics and helpers changed; so at least every change the step records list."""
    r = run(LOOP, prog_type="xdp", packet=bytes(range(1, 61)), trace=True, checkpoint_every=every)
    records = list(r.trace.step_records(0, len(r.trace)))
    for n in (len(r.trace), 0, 9, 20, len(r.trace) - 1):  # later, then earlier: from what the scan noted
        marks = r.trace.marks(n)
        assert marks.upto == n
        expected: dict[str, set[int]] = {}
        for rec in records[:n]:
            for m in rec.reads:
                expected.setdefault(m.region, set()).update(range(m.offset, m.offset + m.size))
        assert marks.read == expected
        for rec in records[:n]:
            for c in rec.memory:
                assert set(range(c.offset, c.offset + len(c.new))) <= marks.written[c.region]
    data = packet_data(r.trace, 0)
    final = r.trace.marks(len(r.trace))
    assert final.read["packet"] == {data, data + 3, data + 6, data + 9}
    assert final.written["stack[0]"] == {496, 511}  # the store at fp-1; the atomic add changed one byte
    assert final.read["ctx (xdp_md)"] == set(range(8))


def test_a_store_that_faults_writes_nothing():
    p = assemble("r1 = 1\n*(u8 *)(r10 - 1) = r1\n*(u64 *)(r10 + 0) = r1\nexit")
    r = run(p, trace=True)
    assert r.fault is not None and len(r.trace) == 3
    assert r.trace.marks(3).written == {"stack[0]": {511}}


def test_a_scan_stopped_by_its_progress_callback_resumes_with_the_same_marks():
    """The page holds the scan to the request's time limit through ``progress``; a stopped scan must leave
    marks that are right when it is resumed (another request, the same trace)."""
    from app.ebpf.vm.marks import PROGRESS_STEPS

    program = assemble("r1 = 0\nloop:\n*(u64 *)(r10 - 8) = r1\nr2 = *(u64 *)(r10 - 8)\nr1 += 1\n"
                       f"if r1 < {PROGRESS_STEPS} goto loop\nr0 = 0\nexit\n")
    steps = len(run(program, trace=True).trace)
    whole = run(program, trace=True).trace.marks(steps)
    trace = run(program, trace=True).trace

    class Stop(Exception):
        pass

    seen = []

    def stop_after_one(k: int) -> None:
        seen.append(k)
        if len(seen) == 2:
            raise Stop

    with pytest.raises(Stop):
        trace.marks(steps, stop_after_one)
    assert seen == [0, PROGRESS_STEPS]
    assert trace.marks(steps) == whole
