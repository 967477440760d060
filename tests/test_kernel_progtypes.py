"""The program-type table against the real kernel: which context accesses the verifier allows, and what
a test run returns and leaves in the packet. Skipped where bpf() is not permitted."""
from __future__ import annotations

import pytest

from app.ebpf import assemble, progtypes
from app.ebpf.errors import InputError
from app.ebpf.vm import run
from app.oracle import bpf_available, load_program, verify_in_kernel

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")]

TYPES = ["socket_filter", "xdp", "sched_cls", "sched_act", "cgroup_skb", "kprobe", "tracepoint", "raw_tracepoint",
         "perf_event", "cgroup_sock_addr"]
SIZE_NAME = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}

FRAMES = {
    "ipv4-udp-broadcast": bytes.fromhex("ffffffffffff020000000001080045000030000040004011f97ac0a80001c0a800ff"
                                        "3039003500080000") + bytes(range(16)),
    "ipv6-unicast": bytes.fromhex("02000000000202000000000186dd") + bytes(range(40)) + b"payload!",
    "to-host": bytes(6) + bytes.fromhex("0200000000010806") + bytes(28),
}


def access_program(off: int, size: int, write: bool) -> bytes:
    if write:
        text = f"r2 = 0\n*({SIZE_NAME[size]} *)(r1 + {off}) = r2\nr0 = 1\nexit"
    else:
        text = f"r0 = *({SIZE_NAME[size]} *)(r1 + {off})\nr0 = 1\nexit"
    return assemble(text).to_bytes()


@pytest.mark.parametrize("prog_type", TYPES)
def test_context_access_rules_match_the_kernel(prog_type):
    ptype = progtypes.PROG_TYPES[prog_type]
    disagreements = []
    offsets = list(range(0, min(ptype.ctx_size, 256) + 8))
    if ptype.ctx_size > 256:
        offsets += list(range(ptype.ctx_size - 16, ptype.ctx_size + 8))
    for write in (False, True):
        for size in (1, 2, 4, 8):
            for off in offsets:
                ours = ptype.is_valid_access(off, size, write)
                verdict = verify_in_kernel(access_program(off, size, write), prog_type, log_level=1,
                                           expected_attach_type=ptype.expected_attach_type)
                if ours != verdict.accepted:
                    disagreements.append((("write" if write else "read"), off, size, ours, verdict.first_error))
    assert disagreements == []


def field_sum_program(ptype: progtypes.ProgType) -> str:
    """Reads every readable value field (full size) and folds them into r0."""
    lines = ["r6 = r1", "r0 = 0"]
    for f in ptype.fields:
        if f.kind != "value":
            continue
        for off in range(f.offset, f.end, min(f.size, 4)):
            size = 8 if f.size == 8 else 4
            if not ptype.is_valid_access(off, size, False):
                continue
            lines += [f"r2 = *({SIZE_NAME[size]} *)(r6 + {off})", "r0 *= 31", "r0 += r2"]
    return "\n".join(lines + ["r0 &= 1" if ptype.name == "cgroup_skb" else "r0 += 0", "exit"])


@pytest.mark.parametrize("frame", FRAMES, ids=list(FRAMES))
@pytest.mark.parametrize("prog_type", ["socket_filter", "xdp", "sched_cls"])
def test_context_values_of_a_test_run_match(prog_type, frame):
    ptype = progtypes.PROG_TYPES[prog_type]
    program = assemble(field_sum_program(ptype))
    with load_program(program.to_bytes(), prog_type) as prog:
        kernel = prog.test_run(FRAMES[frame])
    ours = run(program, prog_type=prog_type, packet=FRAMES[frame])
    assert ours.fault is None
    assert ours.retval & 0xFFFFFFFF == kernel.retval


@pytest.mark.parametrize("frame", FRAMES, ids=list(FRAMES))
@pytest.mark.parametrize("prog_type", ["xdp", "sched_cls"])
def test_direct_packet_access_and_output_packet_match(prog_type, frame):
    data, data_end = (0, 4) if prog_type == "xdp" else (76, 80)
    program = assemble(f"""
        r2 = *(u32 *)(r1 + {data})
        r3 = *(u32 *)(r1 + {data_end})
        r4 = r2
        r4 += 14
        r0 = 1
        if r4 > r3 goto out
        r0 = *(u16 *)(r2 + 12)          # the EtherType, as stored
        r5 = *(u32 *)(r2 + 0)
        *(u32 *)(r2 + 6) = r5           # overwrite the source MAC with the destination's first bytes
        r5 = r3
        r5 -= r2
        r0 <<= 16
        r0 |= r5                        # and the packet length
    out:
        exit
    """)
    with load_program(program.to_bytes(), prog_type) as prog:
        kernel = prog.test_run(FRAMES[frame])
    ours = run(program, prog_type=prog_type, packet=FRAMES[frame])
    assert ours.retval & 0xFFFFFFFF == kernel.retval
    assert ours.packet_out == kernel.data_out


@pytest.mark.parametrize("frame", FRAMES, ids=list(FRAMES))
def test_socket_filter_legacy_loads_and_output_match(frame):
    program = assemble("""
        r6 = r1
        r0 = *(u8 *)skb[0]       # data starts at the network header for socket filters
        r7 = r0
        r0 = *(u16 *)skb[2]
        r7 <<= 16
        r7 |= r0
        r0 = *(u32 *)(r6 + 0)     # skb->len
        r0 += r7
        exit
    """)
    with load_program(program.to_bytes(), "socket_filter") as prog:
        kernel = prog.test_run(FRAMES[frame])
    ours = run(program, prog_type="socket_filter", packet=FRAMES[frame])
    assert ours.retval & 0xFFFFFFFF == kernel.retval
    assert ours.packet_out == kernel.data_out


def test_out_of_bounds_legacy_load_returns_zero_like_the_kernel():
    program = assemble("r6 = r1\nr0 = *(u32 *)skb[1000]\nr0 = 7\nexit")
    with load_program(program.to_bytes(), "socket_filter") as prog:
        kernel = prog.test_run(FRAMES["to-host"])
    assert kernel.retval == 0 == run(program, prog_type="socket_filter", packet=FRAMES["to-host"]).retval


@pytest.mark.parametrize("prog_type", ["sched_cls", "cgroup_skb"])
def test_context_writes_are_seen_by_later_reads(prog_type):
    program = assemble("""
        r2 = 0x2a
        *(u32 *)(r1 + 8) = r2      # mark
        *(u32 *)(r1 + 52) = r2     # cb[1]
        r0 = *(u32 *)(r1 + 8)
        r3 = *(u16 *)(r1 + 52)
        r0 += r3
        r0 &= 1
        exit
    """)
    with load_program(program.to_bytes(), prog_type) as prog:
        kernel = prog.test_run(FRAMES["ipv4-udp-broadcast"])
    ours = run(program, prog_type=prog_type, packet=FRAMES["ipv4-udp-broadcast"])
    assert ours.retval == kernel.retval


def test_raw_tracepoint_arguments_match_a_test_run():
    program = assemble("r0 = *(u64 *)(r1 + 8)\nr2 = *(u32 *)(r1 + 20)\nr0 += r2\nr2 = *(u8 *)(r1 + 0)\nr0 ^= r2\nexit")
    args = [0x1122334455667788, 257, 0xFFFFFFFF00000003, 4]
    raw = b"".join(a.to_bytes(8, "little") for a in args)
    with load_program(program.to_bytes(), "raw_tracepoint") as prog:
        kernel = prog.test_run(ctx=raw)
    ours = run(program, prog_type="raw_tracepoint", ctx={f"args{i}": a for i, a in enumerate(args)})
    assert ours.retval & 0xFFFFFFFF == kernel.retval


SHORT_OR_8023 = {
    "ipv4-19": bytes(12) + b"\x08\x00" + bytes(19), "ipv4-20": bytes(12) + b"\x08\x00" + bytes(20),
    "ipv6-39": bytes(12) + b"\x86\xdd" + bytes(39), "ipv6-40": bytes(12) + b"\x86\xdd" + bytes(40),
    "802.3-raw": bytes(12) + b"\x00\x08" + b"\xff\xff", "802.2": bytes(12) + b"\x00\x08",
}


@pytest.mark.parametrize("prog_type", ["socket_filter", "sched_cls", "sched_act", "cgroup_skb"])
@pytest.mark.parametrize("name", SHORT_OR_8023)
def test_skb_runs_refuse_cut_network_headers_and_read_8023_protocols_like_the_kernel(prog_type, name):
    """``skb->protocol`` from ``eth_type_trans`` (802.3 lengths give ETH_P_802_3 or ETH_P_802_2), and a test run
    refused (EINVAL) when an IPv4 or IPv6 header is cut short."""
    frame = SHORT_OR_8023[name]
    text = "r0 = *(u32 *)(r1 + 16)\nr0 &= 1\nr1 = *(u32 *)(r1 + 16)\n*(u32 *)(r10 - 4) = r1\nexit" \
        if prog_type == "cgroup_skb" else "r0 = *(u32 *)(r1 + 16)\nexit"
    program = assemble(text)
    with load_program(program.to_bytes(), prog_type) as prog:
        try:
            kernel = prog.test_run(frame).retval
        except OSError as e:
            kernel = f"errno {e.errno}"
    try:
        ours = run(program, prog_type=prog_type, packet=frame).retval
    except InputError:
        ours = "errno 22"
    assert ours == kernel
