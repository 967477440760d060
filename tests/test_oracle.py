"""The kernel oracle (app/oracle.py) against the running kernel's bpf(2).

Instructions are packed by hand with :func:`insn` so these tests depend on nothing in app/ebpf.
Expected kernel behaviour is the one recorded in shared/research/kernel-notes.md (Linux 6.18, root).
"""

import errno
import struct

import pytest

from app.oracle import (
    BPF_ANY,
    BPF_EXIST,
    BPF_NOEXIST,
    BPF_PSEUDO_MAP_FD,
    ENOTSUPP,
    MAP_TYPES,
    PROG_TYPES,
    KernelRejected,
    bpf_available,
    create_map,
    load_program,
    possible_cpus,
    verify_in_kernel,
)

pytestmark = pytest.mark.skipif(not bpf_available(), reason="bpf(2) is not permitted here")

# Opcodes used below (class | size/op | mode/source).
LD_IMM64 = 0x18  # BPF_LD | BPF_DW | BPF_IMM, two slots
LDX_W = 0x61  # BPF_LDX | BPF_W | BPF_MEM
LDX_H = 0x69  # BPF_LDX | BPF_H | BPF_MEM
ST_W = 0x62  # BPF_ST | BPF_W | BPF_MEM
ADD64_K = 0x07  # BPF_ALU64 | BPF_ADD | BPF_K
MOV64_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
MOV64_X = 0xBF  # BPF_ALU64 | BPF_MOV | BPF_X
JA = 0x05  # BPF_JMP | BPF_JA
JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
CALL = 0x85  # BPF_JMP | BPF_CALL
EXIT = 0x95  # BPF_JMP | BPF_EXIT

BPF_FUNC_map_lookup_elem = 1
XDP_PASS = 2


def insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    """One 8-byte instruction: opcode, dst in the low nibble and src in the high nibble, off, imm."""
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def ld_map_fd(dst: int, map_fd: int) -> bytes:
    """``dst = map[map_fd] ll``: ld_imm64 with src_reg = BPF_PSEUDO_MAP_FD, imm = the fd."""
    return insn(LD_IMM64, dst, BPF_PSEUDO_MAP_FD, 0, map_fd) + insn(0)


RETURN_0 = insn(MOV64_K, 0, imm=0) + insn(EXIT)
RETURN_XDP_PASS = insn(MOV64_K, 0, imm=XDP_PASS) + insn(EXIT)
RETURN_SKB_LEN = insn(LDX_W, 0, 1, 0) + insn(EXIT)  # r0 = *(u32 *)(r1 + 0): __sk_buff.len


def packet(n: int) -> bytes:
    return bytes(range(n))


# ------------------------------------------------------------------------------------------ tables


def test_enum_values_match_uapi():
    assert PROG_TYPES["socket_filter"] == 1 and PROG_TYPES["xdp"] == 6
    assert PROG_TYPES["syscall"] == 31 and PROG_TYPES["netfilter"] == 32
    assert sorted(PROG_TYPES.values()) == list(range(1, 33))
    assert MAP_TYPES["lru_percpu_hash"] == 10 and MAP_TYPES["queue"] == 22
    assert MAP_TYPES["ringbuf"] == 27 and MAP_TYPES["bloom_filter"] == 30


# ---------------------------------------------------------------------------------------- verifier


def test_trivial_program_is_accepted():
    verdict = verify_in_kernel(RETURN_0)
    assert verdict.accepted
    assert verdict.errno == 0
    assert verdict.first_error is None
    assert verdict.processed_insns == 2


def test_exit_without_r0_is_rejected_with_eacces():
    verdict = verify_in_kernel(insn(EXIT))
    assert not verdict.accepted
    assert verdict.errno == errno.EACCES
    assert verdict.first_error == "R0 !read_ok"
    assert "R0 !read_ok" in verdict.log


def test_infinite_loop_is_rejected_with_einval():
    verdict = verify_in_kernel(insn(MOV64_K, 0, imm=0) + insn(JA, off=-1))
    assert verdict.errno == errno.EINVAL
    assert verdict.first_error is not None
    assert "infinite loop detected" in verdict.first_error or "back-edge" in verdict.first_error


def test_processed_insns_is_parsed_at_every_log_level():
    code = insn(MOV64_K, 0, imm=1) + insn(ADD64_K, 0, imm=2) + insn(ADD64_K, 0, imm=3) + insn(EXIT)
    for level in (1, 2, 4):
        verdict = verify_in_kernel(code, log_level=level)
        assert verdict.accepted
        assert verdict.processed_insns == 4, level
    assert verify_in_kernel(code, log_level=0).processed_insns is None


def test_first_error_is_the_first_line_of_the_final_block():
    # XDP packet read without a bounds check: the kernel prints the cause, then a second line.
    code = insn(LDX_W, 2, 1, 0) + insn(LDX_W, 3, 1, 4) + insn(LDX_H, 0, 2, 12) + insn(EXIT)
    for level in (1, 2, 4):
        verdict = verify_in_kernel(code, "xdp", log_level=level)
        assert verdict.errno == errno.EACCES
        assert verdict.first_error.startswith("invalid access to packet, off=12 size=2"), level
        assert "R2 offset is outside of the packet" in verdict.log


def test_log_grows_once_when_it_does_not_fit():
    # A bounded loop (r1 = 0; do r1 += 1 while r1 < 50) logs far more than 256 bytes at level 2.
    code = (insn(MOV64_K, 0, imm=0) + insn(MOV64_K, 1, imm=0) + insn(ADD64_K, 1, imm=1)
            + insn(0xA5, 1, off=-2, imm=50) + insn(EXIT))  # 0xa5: if r1 < 50 goto -2
    verdict = verify_in_kernel(code, log_level=2, log_size=256)
    assert verdict.accepted, verdict.log[-500:]
    assert len(verdict.log) > 256
    assert verdict.processed_insns is not None


def test_load_program_raises_kernel_rejected_with_the_verdict():
    with pytest.raises(KernelRejected) as info:
        load_program(insn(EXIT))
    assert info.value.verdict.errno == errno.EACCES
    assert info.value.verdict.first_error == "R0 !read_ok"


def test_unknown_program_type_is_a_value_error():
    with pytest.raises(ValueError):
        verify_in_kernel(RETURN_0, "no_such_type")


# ---------------------------------------------------------------------------------------- test run


def test_xdp_pass_on_a_64_byte_packet_repeated():
    with load_program(RETURN_XDP_PASS, "xdp") as prog:
        assert prog.verdict.accepted
        result = prog.test_run(packet(64), repeat=3)
    assert result.retval == XDP_PASS
    assert result.data_out == packet(64)
    assert result.duration_ns >= 0
    assert result.ctx_out is None


def test_socket_filter_sees_len_without_the_ethernet_header():
    with load_program(RETURN_SKB_LEN, "socket_filter") as prog:
        assert prog.test_run(packet(68)).retval == 54
        assert prog.test_run(packet(64)).retval == 50


def test_sched_cls_sees_the_whole_frame():
    with load_program(RETURN_SKB_LEN, "sched_cls") as prog:
        result = prog.test_run(packet(68), ctx=bytes(192))  # an all-zero struct __sk_buff
    assert result.retval == 68
    assert result.data_out == packet(68)
    assert result.ctx_out is not None and len(result.ctx_out) == 192


@pytest.mark.parametrize("prog_type, code", [("socket_filter", RETURN_SKB_LEN), ("xdp", RETURN_XDP_PASS)])
def test_packet_shorter_than_ethernet_header_is_einval(prog_type, code):
    with load_program(code, prog_type) as prog:
        with pytest.raises(OSError) as info:
            prog.test_run(packet(13))
    assert info.value.errno == errno.EINVAL


def test_kprobe_cannot_be_test_run():
    with load_program(RETURN_0, "kprobe") as prog:
        with pytest.raises(OSError) as info:
            prog.test_run(packet(64))
    assert info.value.errno == ENOTSUPP


def test_closed_program_cannot_run():
    prog = load_program(RETURN_XDP_PASS, "xdp")
    prog.close()
    prog.close()  # idempotent
    with pytest.raises(ValueError):
        prog.test_run(packet(64))


# -------------------------------------------------------------------------------------------- maps


def test_array_map_round_trip():
    with create_map("array", 4, 8, 4) as m:
        key = struct.pack("<I", 1)
        assert m.lookup(key) == bytes(8)  # array slots exist and start zeroed
        m.update(key, struct.pack("<Q", 0xDEADBEEF))
        assert m.lookup(key) == struct.pack("<Q", 0xDEADBEEF)
        assert m.keys() == [struct.pack("<I", i) for i in range(4)]
        assert m.lookup(struct.pack("<I", 4)) is None  # out of range reads as absent
        with pytest.raises(OSError) as info:
            m.update(key, bytes(8), BPF_NOEXIST)
        assert info.value.errno == errno.EEXIST
        with pytest.raises(OSError) as info:
            m.delete(key)
        assert info.value.errno == errno.EINVAL  # array elements cannot be deleted


def test_hash_map_round_trip():
    with create_map("hash", 4, 8, 2) as m:
        assert m.keys() == []
        assert m.lookup(b"aaaa") is None
        m.update(b"aaaa", b"AAAAAAAA", BPF_NOEXIST)
        m.update(b"bbbb", b"BBBBBBBB", BPF_ANY)
        assert m.lookup(b"aaaa") == b"AAAAAAAA"
        assert sorted(m.keys()) == [b"aaaa", b"bbbb"]
        with pytest.raises(OSError) as info:
            m.update(b"aaaa", b"xxxxxxxx", BPF_NOEXIST)
        assert info.value.errno == errno.EEXIST
        with pytest.raises(OSError) as info:
            m.update(b"cccc", b"CCCCCCCC")  # max_entries is 2
        assert info.value.errno == errno.E2BIG
        m.update(b"aaaa", b"aaaaaaaa", BPF_EXIST)
        assert m.lookup(b"aaaa") == b"aaaaaaaa"
        m.delete(b"aaaa")
        assert m.lookup(b"aaaa") is None
        with pytest.raises(OSError) as info:
            m.delete(b"aaaa")
        assert info.value.errno == errno.ENOENT
        with pytest.raises(OSError) as info:
            m.update(b"zzzz", bytes(8), BPF_EXIST)
        assert info.value.errno == errno.ENOENT


def test_percpu_array_values_hold_one_slot_per_cpu():
    with create_map("percpu_array", 4, 4, 1) as m:
        assert m.value_buf_size == 8 * possible_cpus()  # 4 bytes rounded up to 8, per CPU
        value = bytes(range(m.value_buf_size))
        m.update(bytes(4), value)
        assert m.lookup(bytes(4)) == value


def test_program_reads_an_array_value_through_a_map_fd():
    """ld_imm64 with src_reg=1 (BPF_PSEUDO_MAP_FD) and imm = the map fd, as a loader would emit."""
    with create_map("array", 4, 4, 1) as m:
        m.update(struct.pack("<I", 0), struct.pack("<I", 0x1234))
        code = (
            insn(ST_W, 10, 0, -4, 0)  # *(u32 *)(r10 - 4) = 0      key
            + insn(MOV64_X, 2, 10)  # r2 = r10
            + insn(ADD64_K, 2, imm=-4)  # r2 += -4
            + ld_map_fd(1, m.fd)  # r1 = map ll
            + insn(CALL, imm=BPF_FUNC_map_lookup_elem)  # r0 = bpf_map_lookup_elem(r1, r2)
            + insn(JEQ_K, 0, off=2, imm=0)  # if r0 == 0 goto +2
            + insn(LDX_W, 0, 0, 0)  # r0 = *(u32 *)(r0 + 0)
            + insn(EXIT)
            + RETURN_0
        )
        with load_program(code, "socket_filter") as prog:
            assert prog.test_run(packet(64)).retval == 0x1234
            m.update(struct.pack("<I", 0), struct.pack("<I", 7))
            assert prog.test_run(packet(64)).retval == 7


_CALLBACK_C = """#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static long count(__u32 index, void *ctx)
{
    (*(int *)ctx)++;
    return 0;
}

SEC("socket")
int prog(struct __sk_buff *skb)
{
    int n = 0;

    bpf_loop(10, count, &n, 0);
    return n;
}

char LICENSE[] SEC("license") = "GPL";
"""


def test_a_callback_needs_the_objects_btf_and_func_info():
    """bpf_loop's callback is a function pointer (ld_imm64 src 4), which the kernel takes only with BTF
    func_info: without it "missing btf func_info"; with the object's BTF (BPF_BTF_LOAD) and its func_info
    records the program loads, and the log shows the callback walked in frame 1."""
    from app.ebpf.cc import compile_c, compiler_available
    from app.ebpf.elf import load_elf

    if not compiler_available()[0]:
        pytest.skip("no C compiler (pip install ziglang)")
    elf = load_elf(compile_c(_CALLBACK_C).object)
    code = b"".join(i.encode() for i in elf.program.insns)
    bare = verify_in_kernel(code, "socket_filter")
    assert not bare.accepted and bare.first_error == "missing btf func_info"
    full = verify_in_kernel(code, "socket_filter", log_level=2, btf=elf.btf, func_info=elf.func_info)
    assert full.accepted, full.log
    assert "frame1: R1=scalar() R2=fp[0]-4 R10=fp0 cb" in full.log
    assert len(elf.func_info) == 2


def test_bad_btf_is_an_os_error_with_the_kernels_reason():
    from app.oracle import load_btf

    with pytest.raises(OSError) as e:
        load_btf(b"\x9f\xeb\x01\x00" + bytes(20))
    assert "BPF_BTF_LOAD" in str(e.value)
