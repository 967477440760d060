"""Progress callbacks of the engine: ``verify(progress=...)`` and ``run(progress=...)`` report increasing
counts, change nothing in the result, and stop the work when they raise."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.verifier import PROGRESS_EVERY, verify
from app.ebpf.vm import PROGRESS_STEPS, run

LOOP = "r0 = 0\nr1 = 0\nloop:\nr1 += 1\nif r1 < {n} goto loop\nr0 = 2\nexit\n"
MAPS = """\
.map counts type=array key_size=4 value_size=8 max_entries=1
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r6 = 0
loop:
    r2 = r10
    r2 += -4
    r1 = counts ll
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
out:
    r6 += 1
    if r6 < {n} goto loop
    r0 = 1
    exit
"""


class Stop(Exception):
    pass


def walk_summary(result):
    return (result.verdict, result.error, result.stats, result.log, result.walk_truncated,
            [(e.seq, e.insn_idx, e.kind, e.detail, e.changes) for e in result.walk])


@pytest.mark.parametrize("source, prog_type, limit", [
    (LOOP.format(n=5000), "socket_filter", 1_000_000),  # accepted after about 10,000 processed
    (LOOP.format(n=5000), "socket_filter", 4_321),  # stopped at the page's limit: "incomplete"
    (MAPS.format(n=700), "xdp", 1_000_000),  # helper calls, maps
])
def test_verify_reports_increasing_counts_and_the_same_result(source, prog_type, limit):
    program = assemble(source)
    counts = []
    reported = verify(program, prog_type, max_processed=limit, progress=counts.append)
    plain = verify(program, prog_type, max_processed=limit)
    assert walk_summary(reported) == walk_summary(plain)
    processed = plain.stats.processed
    assert counts == list(range(PROGRESS_EVERY, processed, PROGRESS_EVERY))[:len(counts)]
    assert len(counts) == (processed - 1) // PROGRESS_EVERY  # every 1,000, before the step after
    assert counts and counts[-1] <= min(processed, limit)


def test_a_short_walk_reports_nothing():
    counts = []
    result = verify(assemble("r0 = 0\nexit\n"), "socket_filter", progress=counts.append)
    assert result.verdict == "accept" and counts == []


def test_what_the_verify_callback_raises_stops_the_walk():
    counts = []

    def stop_at_3000(count):
        counts.append(count)
        if count >= 3000:
            raise Stop()

    with pytest.raises(Stop):
        verify(assemble(LOOP.format(n=100_000)), "socket_filter", progress=stop_at_3000)
    assert counts == [1000, 2000, 3000]


def run_summary(result):
    return (result.retval, result.insns_executed, result.fault, result.packet_out, result.maps, result.output)


@pytest.mark.parametrize("trace", [False, True])
@pytest.mark.parametrize("source, kwargs", [
    (LOOP.format(n=100_000), {"mem": b"ab"}),  # 200,004 steps
    (LOOP.format(n=100_000), {"mem": b"ab", "max_insns": 150_000}),  # stopped by the step limit: a fault
    (MAPS.format(n=20_000), {"prog_type": "xdp", "packet": bytes(64)}),  # maps and helpers
])
def test_run_reports_increasing_counts_and_the_same_result(source, kwargs, trace):
    program = assemble(source)
    counts = []
    reported = run(program, trace=trace, progress=counts.append, **kwargs)
    plain = run(program, trace=trace, **kwargs)
    assert run_summary(reported) == run_summary(plain)
    assert counts == sorted(set(counts)) and counts[-1] == plain.insns_executed  # the last report: the end
    every = 4096 if trace else PROGRESS_STEPS
    assert counts[:-1] == list(range(every, every * len(counts), every))[:len(counts) - 1]
    if trace:
        for k in (0, 4095, 4096, 77_777, plain.insns_executed - 1):
            assert reported.trace.state_at(k) == plain.trace.state_at(k)


def test_what_the_run_callback_raises_stops_the_run():
    counts = []

    def stop(count):
        counts.append(count)
        raise Stop()

    with pytest.raises(Stop):
        run(assemble(LOOP.format(n=1_000_000)), mem=b"", progress=stop)
    assert counts == [PROGRESS_STEPS]
