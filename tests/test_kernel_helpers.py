"""Helpers against the real kernel: which program types may call them, and what they return and do to the
packet in a test run. Skipped where bpf() is not permitted."""
from __future__ import annotations

import pytest

from app.ebpf import assemble, progtypes
from app.ebpf.helpers import HELPERS
from app.ebpf.vm import run
from app.ebpf.verifier import UNPRIVILEGED_TYPES
from app.oracle import bpf_available, load_program, verify_in_kernel
from app.oracle_unprivileged import unprivileged_bpf_allowed, verify_unprivileged

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")]

TYPES = list(progtypes.PROG_TYPES)
UDP = bytes.fromhex("020000000002020000000001080045000030000040004011f97ac0a80001c0a800ff"
                    "30390035001c1234") + bytes(range(20))
VLAN = bytes.fromhex("02000000000202000000000181000064080045000014000040004011f97ac0a80001c0a800ff")


@pytest.mark.parametrize("prog_type", TYPES)
def test_helper_availability_matches_the_kernel(prog_type):
    wrong = []
    for hid, spec in sorted(HELPERS.items()):
        verdict = verify_in_kernel(assemble(f"call {hid}\nr0 = 0\nexit").to_bytes(), prog_type,
                                   expected_attach_type=progtypes.PROG_TYPES[prog_type].expected_attach_type)
        available = not any(s in verdict.log for s in ("unknown func", "cannot use helper"))
        if available != (prog_type in spec.prog_types):
            wrong.append((spec.name, available))
    assert wrong == []


@pytest.mark.skipif(not unprivileged_bpf_allowed(), reason="kernel.unprivileged_bpf_disabled is not 0 "
                    "(bench/verifier_corpus.py --enable-unprivileged-bpf shows how to turn it on for a run)")
@pytest.mark.parametrize("prog_type", UNPRIVILEGED_TYPES)
def test_which_helpers_an_unprivileged_loader_may_call_matches_the_kernel(prog_type):
    """``needs_capability``, as user nobody sees it: a helper of the type is open to an unprivileged loader
    unless it needs CAP_BPF or CAP_PERFMON."""
    wrong = []
    for hid, spec in sorted(HELPERS.items()):
        if prog_type not in spec.prog_types:
            continue
        verdict = verify_unprivileged(assemble(f"call {hid}\nr0 = 0\nexit").to_bytes(), prog_type)
        available = not any(s in verdict.log for s in ("unknown func", "cannot use helper"))
        if available == spec.needs_capability:
            wrong.append((spec.name, available))
    assert wrong == []


def compare(text: str, prog_type: str, packet: bytes = UDP) -> None:
    program = assemble(text)
    with load_program(program.to_bytes(), prog_type) as prog:
        kernel = prog.test_run(packet)
    ours = run(program, prog_type=prog_type, packet=packet)
    assert ours.fault is None, ours.fault
    assert (ours.retval & 0xFFFFFFFF, ours.packet_out) == (kernel.retval, kernel.data_out)


@pytest.mark.parametrize("prog_type", ["socket_filter", "sched_cls", "cgroup_skb"])
@pytest.mark.parametrize("off, length", [(0, 8), (10, 4), (40, 8), (52, 2), (53, 2), (60, 4), (-1, 4)])
def test_skb_load_bytes(prog_type, off, length):
    compare(f"""
        r6 = r1
        r1 = 0x1111111111111111 ll
        *(u64 *)(r10 - 8) = r1
        r1 = r6
        r2 = {off}
        r3 = r10
        r3 += -8
        r4 = {length}
        call bpf_skb_load_bytes
        r7 = r0
        r0 = *(u32 *)(r10 - 8)
        r0 ^= r7
        {"r0 &= 1" if prog_type == "cgroup_skb" else ""}
        exit
    """, prog_type)


@pytest.mark.parametrize("off, length, flags", [(6, 4, 0), (0, 8, 0), (60, 2, 0), (62, 4, 0), (6, 4, 1), (6, 4, 8)])
def test_skb_store_bytes(off, length, flags):
    compare(f"""
        r6 = r1
        r1 = 0xaabbccddeeff0011 ll
        *(u64 *)(r10 - 8) = r1
        r1 = r6
        r2 = {off}
        r3 = r10
        r3 += -8
        r4 = {length}
        r5 = {flags}
        call bpf_skb_store_bytes
        exit
    """, "sched_cls")


@pytest.mark.parametrize("helper, off, frm, to, flags", [
    ("l3_csum_replace", 24, 0x0100a8c0, 0x0200a8c0, 4),   # IPv4 checksum after a source address change
    ("l3_csum_replace", 24, 0x1140, 0x0640, 2),
    ("l4_csum_replace", 40, 0x3930, 0x5000, 2),           # UDP checksum after a port change
    ("l4_csum_replace", 40, 0x0100a8c0, 0x0200a8c0, 4 | 0x10),
    ("l4_csum_replace", 40, 0x3930, 0x5000, 2 | 0x20),
    ("l3_csum_replace", 24, 5, 9, 3),
    ("l3_csum_replace", 200, 5, 9, 2),
])
def test_checksum_replace(helper, off, frm, to, flags):
    compare(f"""
        r2 = {off}
        r3 = {frm} ll
        r4 = {to} ll
        r5 = {flags}
        call bpf_{helper}
        exit
    """, "sched_cls")


@pytest.mark.parametrize("from_size, to_size, seed", [(4, 4, 0), (8, 4, 7), (0, 8, 0xffff), (12, 0, 0), (3, 4, 0)])
def test_csum_diff(from_size, to_size, seed):
    compare(f"""
        r1 = 0x123456789abcdef0 ll
        *(u64 *)(r10 - 16) = r1
        r1 = 0xfedcba9876543210 ll
        *(u64 *)(r10 - 8) = r1
        r1 = r10
        r1 += -16
        r2 = {from_size}
        r3 = r10
        r3 += -12
        r4 = {to_size}
        r5 = {seed}
        call bpf_csum_diff
        exit
    """, "xdp")


def xdp_adjust(helper: str, delta: int, start_field: int, end_field: int) -> str:
    """Call an adjust helper, then return (its result << 16) + (the distance between two xdp_md pointers)."""
    return f"""
        r6 = r1
        r2 = {delta}
        call bpf_xdp_adjust_{helper}
        r7 = r0
        r2 = *(u32 *)(r6 + {start_field})
        r3 = *(u32 *)(r6 + {end_field})
        r3 -= r2
        r0 = r7
        r0 <<= 16
        r0 += r3
        exit
    """


@pytest.mark.parametrize("helper, delta, fields", [
    *(("head", d, (0, 4)) for d in (-14, -200, -216, -217, -256, 0, 10, 60, 61)),
    *(("meta", d, (8, 0)) for d in (-4, -8, -32, -36, -3, 4, 0, -252, -256)),
    *(("tail", d, (0, 4)) for d in (-10, -48, -49, 0, 100, 3500, 3520, 3521)),
])
def test_xdp_adjust(helper, delta, fields):
    compare(xdp_adjust(helper, delta, *fields), "xdp")


@pytest.mark.parametrize("prog_type, flags", [("xdp", 0), ("xdp", 1), ("sched_cls", 0), ("sched_cls", 1),
                                              ("sched_cls", 2)])
def test_redirect_verdicts(prog_type, flags):
    compare(f"r1 = 7\nr2 = {flags}\ncall bpf_redirect\nexit", prog_type)


@pytest.mark.parametrize("new_len", [14, 40, 62, 100, 13])
def test_skb_change_tail(new_len):
    compare(f"r6 = r1\nr2 = {new_len}\nr3 = 0\ncall bpf_skb_change_tail\nr2 = *(u32 *)(r6 + 0)\n"
            f"r0 <<= 16\nr0 += r2\nexit", "sched_cls")


@pytest.mark.parametrize("room", [0, 4, 14])
def test_skb_change_head(room):
    compare(f"r6 = r1\nr2 = {room}\nr3 = 0\ncall bpf_skb_change_head\nr2 = *(u32 *)(r6 + 0)\n"
            f"r0 <<= 16\nr0 += r2\nexit", "sched_cls")


VLAN_FIELDS = """
        r2 = *(u32 *)(r6 + 0)
        r0 <<= 16
        r0 += r2
        r2 = *(u32 *)(r6 + 16)
        r0 ^= r2
        r2 = *(u32 *)(r6 + 20)
        r0 ^= r2
        r2 = *(u32 *)(r6 + 24)
        r0 ^= r2
        r2 = *(u32 *)(r6 + 28)
        r0 ^= r2
        exit
"""


@pytest.mark.parametrize("frame", [UDP, VLAN], ids=["untagged", "tagged"])
@pytest.mark.parametrize("proto", [0x81, 0xa888, 0x1234])
def test_vlan_push(frame, proto):
    compare(f"r6 = r1\nr2 = {proto}\nr3 = 100\ncall bpf_skb_vlan_push\n" + VLAN_FIELDS, "sched_cls", frame)
    compare(f"r6 = r1\nr2 = {proto}\nr3 = 7\ncall bpf_skb_vlan_push\nr1 = r6\nr2 = 0x81\nr3 = 9\n"
            "call bpf_skb_vlan_push\n" + VLAN_FIELDS, "sched_cls", frame)


@pytest.mark.parametrize("frame", [UDP, VLAN, VLAN[:12] + bytes.fromhex("88a80005") + VLAN[12:]],
                         ids=["untagged", "tagged", "double"])
def test_vlan_pop(frame):
    compare("r6 = r1\ncall bpf_skb_vlan_pop\n" + VLAN_FIELDS, "sched_cls", frame)
    compare("r6 = r1\nr2 = 0x81\nr3 = 3\ncall bpf_skb_vlan_push\nr1 = r6\ncall bpf_skb_vlan_pop\n"
            + VLAN_FIELDS, "sched_cls", frame)


@pytest.mark.parametrize("prog_type", ["socket_filter", "sched_cls", "sched_act"])
def test_socket_uid_is_the_test_runs_socket_owner(prog_type):
    compare("call bpf_get_socket_uid\nexit", prog_type)


@pytest.mark.parametrize("prog_type", ["socket_filter", "sched_cls"])
def test_socket_cookie_is_nonzero_and_the_same_for_every_call_of_a_run(prog_type):
    """The kernel's cookie comes from a global counter (it differs from run to run), so the program answers
    whether it is non-zero and stable within the run: 1 in both."""
    compare("r7 = r1\ncall bpf_get_socket_cookie\nr6 = r0\nr1 = r7\ncall bpf_get_socket_cookie\nr1 = 0\n"
            "if r6 == 0 goto +2\nif r0 != r6 goto +1\nr1 = 1\nr0 = r1\nexit", prog_type)
