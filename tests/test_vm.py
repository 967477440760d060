"""The VM: instruction semantics (checked against the reference functions of ``vm/alu.py``), memory and
faults, calls and frames, limits."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ebpf import assemble, isa
from app.ebpf.insn import Insn, ld_imm64_pair
from app.ebpf.program import Program
from app.ebpf.vm import alu, run
from app.ebpf.vm.machine import Helper

M64 = (1 << 64) - 1
u64 = st.integers(0, M64)
interesting = st.one_of(u64, st.sampled_from([0, 1, 2, 7, 31, 32, 63, 64, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                                              1 << 63, M64, M64 - 1, (1 << 63) - 1, 0xFFFFFFFF80000000]))
imm32 = st.one_of(st.integers(-(1 << 31), (1 << 31) - 1), st.sampled_from([0, 1, -1, 31, 32, 63, -(1 << 31)]))


def program(*insns: Insn) -> Program:
    return Program(tuple(insns))


def load(reg: int, value: int) -> tuple[Insn, Insn]:
    return ld_imm64_pair(0x18, reg, 0, value)


def result(*insns: Insn, **kw) -> int:
    r = run(program(*insns), **kw)
    assert r.fault is None, r.fault
    return r.retval


ALU_SPECS = [s for s in isa.SPECS if s.cls in (isa.Class.ALU, isa.Class.ALU64) and s.op in alu.BINARY]
JMP_SPECS = [s for s in isa.SPECS if s.op in alu.COMPARE]


def insn_of(spec: isa.OpSpec, dst: int, src: int, imm: int = 0, off: int = 0) -> Insn:
    fixed = dict(spec.fixed)
    return Insn(spec.opcode, dst, src if spec.source == isa.Source.X else 0, fixed.get("off", off),
                imm if spec.source == isa.Source.K else 0)


@pytest.mark.parametrize("spec", ALU_SPECS, ids=lambda s: s.name)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(a=interesting, b=interesting, imm=imm32)
def test_alu_matches_reference(spec, a, b, imm):
    got = result(*load(1, a), *load(2, b), insn_of(spec, 1, 2, imm), Insn(0xBF, 0, 1), Insn(0x95))
    operand = b if spec.source == isa.Source.X else imm & M64
    assert got == alu.alu(spec.op, spec.width, a, operand)


@pytest.mark.parametrize("spec", JMP_SPECS, ids=lambda s: s.name)
@settings(max_examples=30, deadline=None, derandomize=True)
@given(a=interesting, b=interesting, imm=imm32)
def test_jumps_match_reference(spec, a, b, imm):
    got = result(*load(1, a), *load(2, b), Insn(0xB7, 0, 0, 0, 0), insn_of(spec, 1, 2, imm, off=1),
                 Insn(0x95), Insn(0xB7, 0, 0, 0, 1), Insn(0x95))
    operand = b if spec.source == isa.Source.X else imm & M64
    assert got == int(alu.compare(spec.op, spec.width, a, operand))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(a=interesting)
def test_unary_and_byte_order(a):
    for spec in isa.SPECS:
        if spec.op not in ("neg", "le", "be", "bswap", "movsx"):
            continue
        insn = Insn(spec.opcode, 1, 2 if spec.op == "movsx" else 0, dict(spec.fixed).get("off", 0),
                    dict(spec.fixed).get("imm", 0))
        got = result(*load(1, a), *load(2, a), insn, Insn(0xBF, 0, 1), Insn(0x95))
        mask = M64 if spec.width == 64 or spec.op in ("le", "be", "bswap") else 0xFFFFFFFF
        if spec.op == "neg":
            want = -a & (M64 if spec.cls == isa.Class.ALU64 else 0xFFFFFFFF)
        elif spec.op == "movsx":
            want = alu.sext(a, insn.off) & (M64 if spec.cls == isa.Class.ALU64 else 0xFFFFFFFF)
        else:
            want = alu.endian(spec.op, spec.width, a) & mask
        assert got == want, spec.name


@pytest.mark.parametrize("text, want", [
    ("r0 = 7\nr1 = 0\nr0 /= r1", 0),            # division by zero gives 0
    ("r0 = 7\nr1 = 0\nr0 %= r1", 7),            # modulo by zero leaves dst
    ("r0 = -1 ll\nw1 = 0\nw0 %= w1", 0xFFFFFFFF),  # ... and a 32-bit op zeroes the upper half
    ("r0 = 0x8000000000000000 ll\nr0 s/= -1", 1 << 63),  # INT_MIN / -1 wraps
    ("r0 = -13\nr0 s%= 3", (-1) & M64),         # signed modulo truncates
    ("r0 = 1\nr0 <<= 65", 2),                    # shift counts are masked
    ("w0 = -8\nw0 s>>= 1", 0xFFFFFFFC),
    ("r0 = 0x12345678\nr0 = be16 r0", 0x7856),
    ("r0 = 0x1122334455667788 ll\nr0 = le32 r0", 0x55667788),
])
def test_rfc9669_edge_cases(text, want):
    assert result(*assemble(text + "\nexit").insns) == want


def test_memory_little_endian_and_sign_extension():
    p = assemble("""
        r1 = 0x8899aabbccddeeff ll
        *(u64 *)(r10 - 8) = r1
        r2 = *(u16 *)(r10 - 8)
        r3 = *(s16 *)(r10 - 8)
        *(u8 *)(r10 - 16) = -1
        r4 = *(u8 *)(r10 - 16)
        r0 = r2
        r0 ^= r3
        r0 ^= r4
        exit
    """)
    assert result(*p.insns) == 0xEEFF ^ 0xFFFFFFFFFFFFEEFF ^ 0xFF


def test_input_memory_convention():
    p = assemble("r0 = *(u32 *)(r1 + 0)\nr0 += r2\nexit")
    assert run(p, mem=bytes([1, 0, 0, 0, 9])).retval == 1 + 5


def test_atomics_on_the_stack():
    p = assemble("""
        r1 = 10
        *(u64 *)(r10 - 8) = r1
        r2 = 5
        r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)
        r0 = 15
        r3 = 99
        r0 = cmpxchg_64(r10 - 8, r0, r3)
        r4 = *(u64 *)(r10 - 8)
        r0 <<= 8
        r0 |= r4
        r0 <<= 8
        r0 |= r2
        exit
    """)
    assert result(*p.insns) == (15 << 16) | (99 << 8) | 10


@pytest.mark.parametrize("text, kind, region, offset", [
    ("r0 = 1\n*(u64 *)(r10 + 0) = r0\nexit", "memory", "stack[0]", 512),
    ("r0 = *(u8 *)(r10 - 513)\nexit", "memory", "stack[0]", -1),
    ("r1 = 0x100\nr0 = *(u8 *)(r1 + 0)\nexit", "memory", None, None),
    ("r1 = 0\nr0 = *(u32 *)(r1 + 0)\nexit", "memory", None, None),
    ("call 999999\nexit", "helper", None, None),
])
def test_faults_are_results(text, kind, region, offset):
    r = run(assemble(text))
    assert r.retval is None
    assert r.fault.kind == kind
    assert r.fault.region == region and r.fault.offset == offset
    assert r.fault.pc == len(assemble(text).insns) - 2
    assert f"pc {r.fault.pc}:" in str(r.fault)


def test_fault_message_names_region_and_offset():
    r = run(assemble("r0 = *(u32 *)(r10 - 514)\nexit"))
    assert r.fault.message == "invalid read of 4 bytes at fp-514: out of bounds (stack[0] is fp-512..fp-1)"
    assert (r.fault.region, r.fault.offset, r.fault.size) == ("stack[0]", -2, 4)


def test_instruction_limit_is_a_fault_with_the_count():
    r = run(assemble("loop:\nr0 += 1\ngoto loop"), max_insns=1001)
    assert r.fault.kind == "limit" and r.insns_executed == 1001


def test_falling_off_the_end_is_a_fault():
    r = run(assemble("r0 = 1"))
    assert r.fault.kind == "end-of-program" and r.insns_executed == 1


def test_bpf_to_bpf_calls_keep_callee_saved_registers_and_get_their_own_stack():
    p = assemble("""
        r6 = 6
        r1 = 40
        *(u64 *)(r10 - 8) = r1
        call add_two
        r0 += r6                 # r6 survives the call
        r1 = *(u64 *)(r10 - 8)   # and so does the caller's stack
        r0 += r1
        exit
    add_two:
        r6 = 1000                # clobbers the callee's r6 only
        *(u64 *)(r10 - 8) = r6   # a different frame
        r0 = r1
        r0 += 2
        exit
    """)
    assert result(*p.insns) == 42 + 6 + 40


def test_call_depth_is_limited_to_eight_frames():
    p = assemble("f:\ncall f\nexit")
    r = run(p)
    assert r.fault.kind == "call-depth" and "at most 8" in r.fault.message


def test_helpers_get_r1_to_r5_and_return_in_r0():
    seen = []

    def helper(vm, a, b, c, d, e):
        seen.append((a, b, c, d, e))
        vm.emit("printk", f"{a}+{b}")
        return a + b

    p = assemble("r1 = 2\nr2 = 3\nr3 = 4\nr4 = 5\nr5 = 6\ncall 7\nexit")
    r = run(p, helpers={7: Helper(7, "add", helper)})
    assert r.retval == 5 and seen == [(2, 3, 4, 5, 6)]
    assert [o.text for o in r.output] == ["2+3"]


def test_legacy_packet_loads_read_big_endian_and_end_the_program_when_out_of_bounds():
    p = assemble("r6 = r1\nr0 = *(u16 *)skb[1]\nr1 = 1\nr0 = *(u8 *)skb[r1 + 2]\nexit")
    assert run(p, mem=bytes([0xAA, 0x12, 0x34, 0x56]), layout="packet").retval == 0x56
    p = assemble("r0 = *(u32 *)skb[2]\nr0 = 9\nexit")
    assert run(p, mem=bytes(4), layout="packet").retval == 0


def test_may_goto_falls_through_until_the_budget_is_spent():
    p = assemble("r0 = 0\nloop:\nmay_goto done\nr0 += 1\ngoto loop\ndone:\nexit")
    r = run(p, max_insns=30_000_000)
    assert r.retval == 8 * 1024 * 1024


def test_runs_are_deterministic():
    p = assemble("r0 = 0\nr1 = 100\nl:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto l\nexit")
    assert run(p) == run(p)
