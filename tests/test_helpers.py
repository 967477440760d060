"""Helpers in the VM: deterministic environment, printing, strings, callbacks, probe reads."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.env import Env, MemoryBlock
from app.ebpf.errors import InputError
from app.ebpf.helpers import HELPERS, HELPER_NAMES, helpers_for
from app.ebpf.vm import run

PACKET = bytes.fromhex("ffffffffffff020000000001080045000030") + bytes(40)


def value(text: str, **kw) -> int:
    r = run(assemble(text), **kw)
    assert r.fault is None, r.fault
    return r.retval


def test_table_is_consistent():
    assert len(HELPERS) >= 50
    for hid, spec in HELPERS.items():
        assert spec.name == HELPER_NAMES[hid] and spec.impl is not None and spec.doc
        assert all(a.startswith("ARG_") for a in spec.args) and spec.ret.startswith("RET_")


def test_clock_ticks_and_environment_values():
    env = Env(clock_start_ns=5000, clock_tick_ns=10, pid=7, tgid=9, uid=3, gid=4, cpu=1)
    assert value("call bpf_ktime_get_ns\ncall bpf_ktime_get_ns\nexit", env=env) == 5010
    assert value("call bpf_get_current_pid_tgid\nexit", env=env) == (9 << 32) | 7
    assert value("call bpf_get_current_uid_gid\nexit", env=env) == (4 << 32) | 3
    assert value("call bpf_get_smp_processor_id\nexit", env=env) == 1


def test_random_numbers_follow_the_seed():
    two = "call bpf_get_prandom_u32\nr6 = r0\ncall bpf_get_prandom_u32\nr0 <<= 32\nr0 |= r6\nexit"
    a, b, c = (value(two, env=Env(seed=s)) for s in (1, 1, 2))
    assert a == b != c and a >> 32 != a & 0xFFFFFFFF


def test_comm_is_copied_and_truncated():
    text = "r1 = r10\nr1 += -16\nr2 = 5\ncall bpf_get_current_comm\nr0 = *(u64 *)(r10 - 16)\nexit"
    got = value("r1 = -1 ll\n*(u64 *)(r10 - 16) = r1\n" + text, env=Env(comm="nginx-worker"))
    assert got.to_bytes(8, "little") == b"ngin\0" + b"\xff" * 3


def printk_program(fmt: bytes, args: tuple[int, ...]) -> str:
    """Store ``fmt`` (NUL-terminated) on the stack and call bpf_trace_printk with up to three arguments."""
    data = fmt + b"\0"
    data += bytes(-len(data) % 8)
    lines = []
    for i in range(0, len(data), 8):
        lines += [f"r1 = {int.from_bytes(data[i:i + 8], 'little')} ll", f"*(u64 *)(r10 - {len(data) - i}) = r1"]
    lines += [f"r1 = r10", f"r1 += -{len(data)}", f"r2 = {len(fmt) + 1}"]
    lines += [f"r{3 + i} = {a & (2**64 - 1)} ll" for i, a in enumerate(args)]
    return "\n".join(lines + ["call bpf_trace_printk", "exit"])


@pytest.mark.parametrize("fmt, args, want", [
    (b"hello\n", (), "hello"),
    (b"n=%d u=%u x=%x", (-5, 7, 255), "n=-5 u=7 x=ff"),
    (b"%ld %llx %5d", (-1, 2**40, 42), "-1 10000000000    42"),
    (b"[%-4u|%05d]", (42, -42), "[42  |-0042]"),
    (b"100%% %c", (65,), "100% A"),
    (b"%d", (2**32 + 5,), "5"),
])
def test_trace_printk_formats_like_the_kernel(fmt, args, want):
    r = run(assemble(printk_program(fmt, args)), trace=True)
    assert r.fault is None
    (out,) = r.output
    assert out.kind == "trace_printk" and out.text.endswith(": bpf_trace_printk: " + want)
    assert out.text.startswith("      playground-4242    [000] d..31 1000.000000: ")
    assert r.retval == len(out.data)
    assert r.trace.pcs[out.step] == out.pc


@pytest.mark.parametrize("fmt", [b"%z", b"%d %d %d %d", b"%", b"%lq"])
def test_bad_formats_return_einval(fmt):
    r = run(assemble(printk_program(fmt, (1, 2, 3))))
    assert r.retval == -22 & (2**64 - 1) and r.output == ()


def test_bpf_loop_calls_back_until_told_to_stop():
    text = """
        r1 = 0
        *(u64 *)(r10 - 8) = r1
        r1 = 10
        r2 = func(add_index) ll
        r3 = r10
        r3 += -8
        r4 = 0
        call bpf_loop
        r1 = *(u64 *)(r10 - 8)
        r0 <<= 16
        r0 += r1
        exit
    add_index:
        r3 = *(u64 *)(r2 + 0)
        r3 += r1
        *(u64 *)(r2 + 0) = r3
        r0 = 0
        if r1 != 6 goto +1
        r0 = 1
        exit
    """
    assert value(text, prog_type="xdp", packet=PACKET) == (7 << 16) + sum(range(7))
    r = run(assemble(text), prog_type="xdp", packet=PACKET, trace=True)
    assert r.trace.state_at(len(r.trace)).retval == r.retval  # callbacks replay from checkpoints too


def test_bpf_loop_limits():
    assert value("r1 = 0x800001\nr2 = 0\nr3 = 0\nr4 = 0\ncall bpf_loop\nexit") == -7 & (2**64 - 1)
    assert value("r1 = 1\nr2 = 0\nr3 = 0\nr4 = 1\ncall bpf_loop\nexit") == -22 & (2**64 - 1)


def test_probe_reads_see_simulated_memory():
    env = Env(memory=(MemoryBlock(0x7F0000001000, b"/etc/passwd\0", user=True),
                      MemoryBlock(0xFFFF888300000000, (0x1122334455667788).to_bytes(8, "little"))))
    user_str = """
        r1 = r10
        r1 += -16
        r2 = 16
        r3 = 0x7f0000001000 ll
        call bpf_probe_read_user_str
        exit
    """
    assert value(user_str, env=env) == len(b"/etc/passwd") + 1
    kernel = "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0xffff888300000000 ll\ncall bpf_probe_read_kernel\n" \
             "r0 = *(u64 *)(r10 - 8)\nexit"
    assert value(kernel, env=env) == 0x1122334455667788
    wrong_space = "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0x7f0000001000 ll\ncall bpf_probe_read_kernel\nexit"
    assert value(wrong_space, env=env) == -14 & (2**64 - 1)


def test_environment_is_checked():
    with pytest.raises(InputError, match="env.cpu"):
        run(assemble("exit"), env=Env(cpu=5, ncpus=2))
    with pytest.raises(InputError, match="env.comm"):
        run(assemble("exit"), env=Env(comm="x" * 16))


def test_helpers_are_filtered_by_program_type():
    assert 26 in helpers_for("sched_cls") and 26 not in helpers_for("xdp")
    r = run(assemble("call bpf_skb_load_bytes\nexit"), prog_type="xdp", packet=PACKET)
    assert r.fault.message == "program of this type cannot use helper bpf_skb_load_bytes#26 (xdp)"


def test_get_stack_and_func_ip_in_a_kprobe():
    env = Env(kernel_stack=(0x10, 0x20, 0x30), user_stack=(0x7F00,), func_ip=0xFFFFFFFF81000000)
    text = """
        r6 = r1
        r2 = r10
        r2 += -24
        r3 = 24
        r4 = 1                     # skip one frame
        call bpf_get_stack
        r7 = r0
        r1 = r6
        call bpf_get_func_ip
        r8 = r0
        r0 = *(u64 *)(r10 - 24)
        r1 = *(u64 *)(r10 - 16)
        r0 += r1
        r0 += r7
        r8 >>= 32
        r0 += r8
        exit
    """
    assert value(text, prog_type="kprobe", env=env) == 0x20 + 0x30 + 16 + 0xFFFFFFFF


TAIL_CALLS = """
.map jumps type=prog_array key_size=4 value_size=4 max_entries=4
.map count type=array key_size=4 value_size=8 max_entries=1
.section xdp,"ax"
main:
    r6 = r1
    r1 = r6
    r2 = jumps ll
    r3 = {index}
    call bpf_tail_call
    r0 = 1                      # reached only when the tail call falls through
    exit
.section xdp/again,"ax"
again:
    r6 = r1
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = count ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r1 = r6
    r2 = jumps ll
    r3 = 1
    call bpf_tail_call          # itself again, until the limit of 33
out:
    r0 = 2
    exit
"""


def test_tail_calls_jump_between_programs_up_to_the_kernels_limit():
    from app.ebpf.vm import MapSeed

    program = assemble(TAIL_CALLS.format(index=1))
    assert program.entries == (("xdp", 0), ("xdp/again", 8))
    slot1 = MapSeed("jumps", (1).to_bytes(4, "little"), (1).to_bytes(4, "little"))  # slot 1 -> entry 1
    r = run(program, prog_type="xdp", packet=PACKET, seeds=(slot1,))
    assert r.fault is None and r.retval == 2
    assert r.maps[1]["entries"]["00000000"] == (33).to_bytes(8, "little").hex()
    assert sum(o.kind == "tail_call" for o in r.output) == 33
    empty = run(assemble(TAIL_CALLS.format(index=3)), prog_type="xdp", packet=PACKET)
    assert empty.retval == 1  # an empty slot falls through
