"""Programs with maps, run in the kernel (BPF_PROG_TEST_RUN) and in the VM on the same packets: return
values, output packets and map contents after every run agree. Skipped where bpf() is not permitted."""
from __future__ import annotations

from contextlib import ExitStack

import pytest

from app.ebpf import assemble
from app.ebpf.env import Env
from app.ebpf.insn import Insn
from app.ebpf.packets import build_packet, parse_spec
from app.ebpf.program import Program
from app.ebpf.vm import MapSeed, create_maps, run
from app.oracle import bpf_available, create_map, load_program, possible_cpus

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")]

PACKETS = [build_packet(parse_spec(s)) for s in (
    "eth/ipv4(src=10.0.0.1)/udp(dport=53)/payload(query)",
    "eth/ipv4(src=10.0.0.2)/tcp(dport=80)",
    "eth/ipv6/tcp(dport=443)/payload(x)",
    "eth/ipv4(src=10.0.0.1)/icmp",
    "eth/ipv4(src=10.0.0.3)/udp(dport=53)",
    "eth(type=0x0806)/payload(hex=00010800060400010200000000010a000001)",
)]

PROTO_COUNTER = """
.map counts type=hash key_size=4 value_size=8 max_entries=8
    r6 = r1
    r2 = *(u32 *)(r6 + {data})
    r3 = *(u32 *)(r6 + {end})
    r4 = r2
    r4 += 34
    if r4 > r3 goto out
    r4 = *(u16 *)(r2 + 12)
    if r4 != 0x8 goto out              # IPv4 (EtherType 0x0800 as stored)
    r4 = *(u8 *)(r2 + 23)              # protocol
    *(u32 *)(r10 - 4) = r4
    r1 = counts ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto insert
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    goto out
insert:
    r1 = 1
    *(u64 *)(r10 - 16) = r1
    r1 = counts ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 1                              # BPF_NOEXIST
    call bpf_map_update_elem
out:
    r0 = {ret}
    exit
"""

LENGTH_BUCKETS = """
.map buckets type=array key_size=4 value_size=16 max_entries=4
    r6 = r1
    r7 = *(u32 *)(r6 + 0)             # skb->len
    r7 &= 3
    *(u32 *)(r10 - 4) = r7
    r1 = buckets ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r1 = *(u32 *)(r6 + 0)
    lock *(u64 *)(r0 + 8) += r1
out:
    r0 = {ret}
    exit
"""

PERCPU_FIRST_BYTES = """
.map seen type=percpu_array key_size=4 value_size=12 max_entries=2
    r6 = r1
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = seen ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r7 = r0
    r1 = r6
    r2 = 0
    r3 = r7
    r4 = 4
    call bpf_skb_load_bytes           # the first bytes after the Ethernet header
    r1 = *(u32 *)(r7 + 8)
    r1 += 1
    *(u32 *)(r7 + 8) = r1
out:
    r0 = {ret}
    exit
"""

LRU_SOURCES = """
.map sources type=lru_hash key_size=4 value_size=4 max_entries=2
    r2 = *(u32 *)(r1 + 0)
    r3 = *(u32 *)(r1 + 4)
    r4 = r2
    r4 += 34
    if r4 > r3 goto out
    r4 = *(u32 *)(r2 + 26)             # source address
    *(u32 *)(r10 - 4) = r4
    r4 = *(u8 *)(r2 + 23)
    *(u32 *)(r10 - 8) = r4
    r1 = sources ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -8
    r4 = 0
    call bpf_map_update_elem
out:
    r0 = 2
    exit
"""

CASES = [
    ("xdp", PROTO_COUNTER.format(data=0, end=4, ret=2)),
    ("sched_cls", PROTO_COUNTER.format(data=76, end=80, ret=0)),
    ("sched_cls", LENGTH_BUCKETS.format(ret=0)),
    ("socket_filter", LENGTH_BUCKETS.format(ret=64)),
    ("cgroup_skb", LENGTH_BUCKETS.format(ret=1)),
    ("socket_filter", PERCPU_FIRST_BYTES.format(ret=0)),
    ("sched_cls", PERCPU_FIRST_BYTES.format(ret=0)),
    ("xdp", LRU_SOURCES),
]


def with_fds(program: Program, fds: list[int]) -> bytes:
    insns = list(program.insns)
    for pc, insn in enumerate(insns):
        if insn.opcode == 0x18 and insn.src == 1:
            insns[pc] = Insn(0x18, insn.dst, 1, 0, fds[insn.imm])
    return b"".join(i.encode() for i in insns)


def kernel_entries(kmap, mdef) -> dict:
    """Entries as our JSON gives them: per-CPU values as a list, each without the kernel's 8-byte padding."""
    out = {}
    for key in sorted(kmap.keys()):
        value = kmap.lookup(key)
        if mdef.type.startswith("percpu") or mdef.type == "lru_percpu_hash":
            stride = (mdef.value_size + 7) // 8 * 8
            out[key.hex()] = [value[i:i + mdef.value_size].hex() for i in range(0, len(value), stride)]
        else:
            out[key.hex()] = value.hex()
    return out


def our_entries(state: dict) -> dict:
    return dict(sorted(state["entries"].items()))




@pytest.mark.parametrize("prog_type, text", CASES, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CASES)])
def test_runs_agree_with_the_kernel(prog_type, text, cpu0):
    program = assemble(text)
    env = Env(ncpus=possible_cpus(), cpu=0)
    maps = create_maps(program, env.ncpus)
    with ExitStack() as stack:
        kmaps = [stack.enter_context(create_map(m.type, m.key_size, m.value_size, m.max_entries, m.flags))
                 for m in program.maps]
        prog = stack.enter_context(load_program(with_fds(program, [k.fd for k in kmaps]), prog_type))
        for i, packet in enumerate(PACKETS):
            kernel = prog.test_run(packet)
            ours = run(program, prog_type=prog_type, packet=packet, env=env, maps=maps)
            assert ours.fault is None, ours.fault
            assert ours.retval & 0xFFFFFFFF == kernel.retval, f"packet {i}"
            assert ours.packet_out == kernel.data_out, f"packet {i}"
            for mdef, kmap, state in zip(program.maps, kmaps, ours.maps):
                assert our_entries(state) == kernel_entries(kmap, mdef), f"packet {i}, map {mdef.name}"


TAIL_CALLS = """
.map jumps type=prog_array key_size=4 value_size=4 max_entries=4
.map count type=array key_size=4 value_size=8 max_entries=1
.section xdp,"ax"
    r6 = r1
    r2 = jumps ll
    r3 = 1
    call bpf_tail_call
    r0 = 1
    exit
.section xdp/again,"ax"
    r6 = r1
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = count ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto +2
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r1 = r6
    r2 = jumps ll
    r3 = 1
    call bpf_tail_call
    r0 = 2
    exit
"""


def test_tail_calls_agree_with_the_kernel(cpu0):
    """Program 0 tail-calls program 1, which tail-calls itself until the kernel's limit of 33."""
    program = assemble(TAIL_CALLS)
    (_, start0), (_, start1) = program.entries
    ours = run(program, prog_type="xdp", packet=PACKETS[0],
               seeds=(MapSeed("jumps", (1).to_bytes(4, "little"), (1).to_bytes(4, "little")),))
    with ExitStack() as stack:
        kmaps = [stack.enter_context(create_map(m.type, m.key_size, m.value_size, m.max_entries, m.flags))
                 for m in program.maps]
        code = with_fds(program, [k.fd for k in kmaps])
        again = stack.enter_context(load_program(code[start1 * 8:], "xdp"))
        kmaps[0].update((1).to_bytes(4, "little"), again.fd.to_bytes(4, "little"))
        main = stack.enter_context(load_program(code[:start1 * 8], "xdp"))
        kernel = main.test_run(PACKETS[0])
        assert ours.retval == kernel.retval == 2
        assert ours.maps[1]["entries"] == kernel_entries(kmaps[1], program.maps[1]) == {
            "00000000": (33).to_bytes(8, "little").hex()}


MAP_OF_MAPS = """
.map inner_a type=array key_size=4 value_size=8 max_entries=2
.map inner_b type=array key_size=4 value_size=8 max_entries=2
.map outer type={kind} key_size=4 value_size=4 max_entries=4 inner=inner_a
    r6 = r1
    r2 = *(u32 *)(r6 + 0)
    r3 = *(u32 *)(r6 + 4)
    r3 -= r2
    r3 &= 3                        # the outer slot: packet length % 4
    *(u32 *)(r10 - 4) = r3
    r1 = outer ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto none
    r1 = 0
    *(u32 *)(r10 - 8) = r1
    r1 = r0
    r2 = r10
    r2 += -8
    call bpf_map_lookup_elem
    if r0 == 0 goto none
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r0 = 2
    exit
none:
    r0 = 1
    exit
"""


@pytest.mark.parametrize("kind", ["array_of_maps", "hash_of_maps"])
def test_maps_of_maps_agree_with_the_kernel(kind, cpu0):
    program = assemble(MAP_OF_MAPS.format(kind=kind))
    slots = {0: 0, 2: 1}  # outer slot -> inner map index
    seeds = tuple(MapSeed("outer", s.to_bytes(4, "little"), m.to_bytes(4, "little")) for s, m in slots.items())
    maps = create_maps(program, possible_cpus(), seeds)
    env = Env(ncpus=possible_cpus(), cpu=0)
    with ExitStack() as stack:
        inner = [stack.enter_context(create_map("array", 4, 8, 2)) for _ in range(2)]
        outer = stack.enter_context(create_map(kind, 4, 4, 4, inner_map_fd=inner[0].fd))
        for s, m in slots.items():
            outer.update(s.to_bytes(4, "little"), inner[m].fd.to_bytes(4, "little"))
        prog = stack.enter_context(load_program(with_fds(program, [inner[0].fd, inner[1].fd, outer.fd]), "xdp"))
        for packet in PACKETS:
            kernel = prog.test_run(packet)
            ours = run(program, prog_type="xdp", packet=packet, env=env, maps=maps)
            assert ours.retval == kernel.retval
        for k, state in zip(inner, ours.maps[:2]):
            assert our_entries(state) == kernel_entries(k, program.maps[0])


REDIRECT = """
.map ports type=devmap key_size=4 value_size=4 max_entries=4
    r1 = ports ll
    r2 = {slot}
    r3 = 2                          # fallback: XDP_PASS
    call bpf_redirect_map
    exit
"""


@pytest.mark.parametrize("slot", [0, 1, 3, 7])
def test_redirect_map_agrees_with_the_kernel(slot):
    program = assemble(REDIRECT.format(slot=slot))
    ours = run(program, prog_type="xdp", packet=PACKETS[0],
               seeds=(MapSeed("ports", (1).to_bytes(4, "little"), (1).to_bytes(4, "little")),))
    with ExitStack() as stack:
        kmap = stack.enter_context(create_map("devmap", 4, 4, 4))
        kmap.update((1).to_bytes(4, "little"), (1).to_bytes(4, "little"))  # lo
        prog = stack.enter_context(load_program(with_fds(program, [kmap.fd]), "xdp"))
        kernel = prog.test_run(PACKETS[0])
    assert ours.retval == kernel.retval == (4 if slot == 1 else 2)


def test_a_source_with_two_sections_is_verified_as_its_first_program_like_the_kernel():
    """libbpf loads each named section as a program of its own: the first one's verdict and processed count
    are the kernel's for its instructions alone (the others are not unreachable code of it)."""
    from app.ebpf.verifier import verify
    from app.kernelload import create_maps as kernel_maps
    from app.kernelload import kernel_code
    from app.oracle import verify_in_kernel

    program = assemble(TAIL_CALLS)
    ours = verify(program, "xdp")
    with ExitStack() as stack:
        kernel = verify_in_kernel(kernel_code(program.first_entry(), kernel_maps(program, stack)), "xdp")
    assert ours.accepted and kernel.accepted
    assert ours.stats.processed == kernel.processed_insns
