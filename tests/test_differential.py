"""Differential tests: our VM against the running kernel (BPF_PROG_LOAD + BPF_PROG_TEST_RUN).

Two parts:

* a property: random programs of a fixed, verifier-friendly shape (``tests/differential/gen.py`` says
  exactly what they contain) must return the same value in our VM (``vm_retval & 0xffffffff``) and in the
  kernel, as a socket filter and as an XDP program, on a 64-byte packet. Every program folds all
  registers and all initialised stack slots into r0, so a wrong upper half or a wrong stack byte shows in
  the 32-bit return value. A program the kernel refuses is a generator bug and fails with the verifier log.
* hand-written regression programs for the edge cases of RFC 9669 and of the kernel's fix-ups (signed
  division overflow, division and modulo by zero, shift amounts >= the width, sign extension, byte swaps,
  atomics). Each computes a 64-bit value in r0 and is run twice, returning its low and its high half; both
  are checked against the expected value and against our VM.

Runs are reproducible: ``derandomize=True`` and no example database. ``EBPF_DIFF_EXAMPLES=20000`` makes a
longer run of the property (with the same seed), ``EBPF_DIFF_RANDOM=1`` a random one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings

from app.ebpf.insn import Insn, encode
from app.oracle import bpf_available
from tests.differential.build import EXIT, FP, M64, I, alu, jmp, ld64, mov32, mov64
from tests.differential.gen import GenProgram, programs
from tests.differential.harness import PROG_TYPES, compare, describe, kernel_retval, listing, probe_values, vm_result

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(not bpf_available(), reason="bpf(2) is not permitted here"),
    # On a failure Hypothesis' pytest plugin imports libcst (to suggest an @example patch), which warns
    # through mypy_extensions; with filterwarnings=error that would turn the report into an INTERNALERROR.
    pytest.mark.filterwarnings("ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning"),
]

MAX_EXAMPLES = int(os.environ.get("EBPF_DIFF_EXAMPLES", "1000"))


# ------------------------------------------------------------------------------------------- property


@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          derandomize=not os.environ.get("EBPF_DIFF_RANDOM"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_vm_matches_kernel_on_random_programs(prog: GenProgram):
    code = encode(prog.insns)
    outcomes = compare(code)  # raises GeneratorBug (with the verifier log) if the kernel refuses it
    if not all(o.agree for o in outcomes):
        pytest.fail(describe(code, outcomes, probe_values(prog.prefix, list(range(10)), list(prog.slots))),
                    pytrace=False)


# ----------------------------------------------------------------------------------------- regressions

INT64_MIN = 0x8000_0000_0000_0000
GARBAGE = 0xDEAD_BEEF_0000_0000  # upper halves a 32-bit operation must clear


@dataclass(frozen=True)
class Case:
    name: str
    insns: tuple[Insn, ...]  # leaves the value in r0; the test appends the exit
    expected: int  # r0 as a u64
    note: str = ""


def case(name: str, expected: int, *insns: Insn | list[Insn], note: str = "") -> Case:
    flat: list[Insn] = []
    for item in insns:
        flat += item if isinstance(item, list) else [item]
    return Case(name, tuple(flat), expected & M64, note)


def stack_then_r0(off: int) -> Insn:
    return I("ldxdw", 0, FP, off=off)


CASES = [
    # --- signed division overflow (the verifier rewrites sdiv/smod by -1 so that x86 idiv never traps)
    case("sdiv64 INT64_MIN / -1 (reg)", INT64_MIN, ld64(0, INT64_MIN), mov64(1, -1), alu("sdiv", 64, 0, src=1)),
    case("sdiv64 INT64_MIN / -1 (imm)", INT64_MIN, ld64(0, INT64_MIN), alu("sdiv", 64, 0, imm=-1)),
    case("sdiv32 INT32_MIN / -1 (reg)", 0x8000_0000, ld64(0, GARBAGE | 0x8000_0000), mov32(1, -1),
         alu("sdiv", 32, 0, src=1)),
    case("sdiv32 INT32_MIN / -1 (imm)", 0x8000_0000, ld64(0, GARBAGE | 0x8000_0000), alu("sdiv", 32, 0, imm=-1)),
    case("smod64 INT64_MIN % -1 (reg)", 0, ld64(0, INT64_MIN), mov64(1, -1), alu("smod", 64, 0, src=1)),
    case("smod64 INT64_MIN % -1 (imm)", 0, ld64(0, INT64_MIN), alu("smod", 64, 0, imm=-1)),
    case("smod64 x % -1 (reg)", 0, ld64(0, 0x1234_5678_9ABC_DEF0), mov64(1, -1), alu("smod", 64, 0, src=1)),
    case("smod32 INT32_MIN % -1 (reg)", 0, ld64(0, GARBAGE | 0x8000_0000), mov32(1, -1), alu("smod", 32, 0, src=1)),
    case("smod32 x % -1 (imm)", 0, ld64(0, GARBAGE | 0x8765_4321), alu("smod", 32, 0, imm=-1)),
    case("sdiv64 truncates towards zero", -3, mov64(0, -7), alu("sdiv", 64, 0, imm=2)),
    case("smod64 takes the dividend's sign", -1, mov64(0, -7), mov64(1, 2), alu("smod", 64, 0, src=1)),
    case("smod64 positive dividend, negative divisor", 1, mov64(0, 7), alu("smod", 64, 0, imm=-2)),
    case("smod32 negative dividend", 0xFFFF_FFFF, ld64(0, GARBAGE | 0xFFFF_FFF9), alu("smod", 32, 0, imm=2)),
    # --- division and modulo by a zero register: div gives 0, mod leaves dst (32-bit: zero-extended)
    case("div64 by zero reg", 0, ld64(0, 0x1234_5678_9ABC_DEF0), mov64(1, 0), alu("div", 64, 0, src=1)),
    case("div32 by zero reg", 0, ld64(0, 0x1234_5678_9ABC_DEF0), mov64(1, 0), alu("div", 32, 0, src=1)),
    case("sdiv64 by zero reg", 0, mov64(0, -5), mov64(1, 0), alu("sdiv", 64, 0, src=1)),
    case("sdiv32 by zero reg", 0, ld64(0, GARBAGE | 5), mov64(1, 0), alu("sdiv", 32, 0, src=1)),
    case("mod64 by zero reg", 0x1234_5678_9ABC_DEF0, ld64(0, 0x1234_5678_9ABC_DEF0), mov64(1, 0),
         alu("mod", 64, 0, src=1)),
    case("mod32 by zero reg zeroes the upper half", 0x9ABC_DEF0, ld64(0, 0x1234_5678_9ABC_DEF0), mov64(1, 0),
         alu("mod", 32, 0, src=1)),
    case("mod32 by a reg whose low half is zero", 0x9ABC_DEF0, ld64(0, 0x1234_5678_9ABC_DEF0),
         ld64(1, 0x1_0000_0000), alu("mod", 32, 0, src=1)),
    case("div32 by a reg whose low half is zero", 0, ld64(0, 0x1234_5678_9ABC_DEF0), ld64(1, 0x1_0000_0000),
         alu("div", 32, 0, src=1)),
    case("smod64 by zero reg", -5, mov64(0, -5), mov64(1, 0), alu("smod", 64, 0, src=1)),
    case("smod32 by zero reg zeroes the upper half", 0xFFFF_FFFB, mov64(0, -5), mov64(1, 0),
         alu("smod", 32, 0, src=1)),
    case("mod64 by self (zero)", 0, mov64(0, 0), alu("mod", 64, 0, src=0)),
    case("div32 ignores the dividend's upper half", 8, ld64(0, GARBAGE | 16), alu("div", 32, 0, imm=2)),
    # --- shift amounts from a register: masked to 63 / 31 (RFC 9669 4.1), also what x86 and the kernel do
    case("lsh64 by 65", 2, mov64(0, 1), mov64(1, 65), alu("lsh", 64, 0, src=1)),
    case("lsh64 by 64", 1, mov64(0, 1), mov64(1, 64), alu("lsh", 64, 0, src=1)),
    case("lsh64 by 0x100000001", 2, mov64(0, 1), ld64(1, 0x1_0000_0001), alu("lsh", 64, 0, src=1)),
    case("lsh32 by 33", 2, ld64(0, GARBAGE | 1), mov64(1, 33), alu("lsh", 32, 0, src=1)),
    case("lsh32 by 32", 1, ld64(0, GARBAGE | 1), mov64(1, 32), alu("lsh", 32, 0, src=1)),
    case("lsh32 by 63", 0x8000_0000, mov64(0, 1), mov64(1, 63), alu("lsh", 32, 0, src=1)),
    case("rsh64 by 64", INT64_MIN, ld64(0, INT64_MIN), mov64(1, 64), alu("rsh", 64, 0, src=1)),
    case("rsh64 by -1", 1, ld64(0, INT64_MIN), mov64(1, -1), alu("rsh", 64, 0, src=1)),
    case("rsh32 by 32", 0x8000_0000, ld64(0, GARBAGE | 0x8000_0000), mov64(1, 32), alu("rsh", 32, 0, src=1)),
    case("rsh32 by 36", 0x0800_0000, mov32(0, -0x8000_0000), mov64(1, 36), alu("rsh", 32, 0, src=1)),
    case("arsh64 by 65", 0xC000_0000_0000_0000, ld64(0, INT64_MIN), mov64(1, 65), alu("arsh", 64, 0, src=1)),
    case("arsh32 by 35", 0xF000_0000, mov32(0, -0x8000_0000), mov64(1, 35), alu("arsh", 32, 0, src=1)),
    # --- arsh of negative 32-bit values
    case("arsh32 imm of negative", 0xF800_0000, ld64(0, GARBAGE | 0x8000_0000), alu("arsh", 32, 0, imm=4)),
    case("arsh32 by 31 of negative", 0xFFFF_FFFF, mov32(0, -2), alu("arsh", 32, 0, imm=31)),
    case("arsh32 reg of negative", 0xFFFF_FFFE, mov32(0, -8), mov64(1, 2), alu("arsh", 32, 0, src=1)),
    case("arsh64 of a positive u64 with bit 31 set", 0x0800_0000, mov32(0, -0x8000_0000), alu("arsh", 64, 0, imm=4)),
    case("arsh64 of negative", -1, mov64(0, -0x8000_0000), alu("arsh", 64, 0, imm=63)),
    # --- movsx from each width (and what they do to upper bits)
    case("movsx8_64 negative", 0xFFFF_FFFF_FFFF_FF80, ld64(1, 0x1234_5678_9ABC_DE80), I("movsx8_64", 0, 1)),
    case("movsx8_64 positive", 0x7F, ld64(1, 0xFFFF_FFFF_FFFF_FF7F), I("movsx8_64", 0, 1)),
    case("movsx16_64 negative", 0xFFFF_FFFF_FFFF_8000, ld64(1, 0x1234_5678_9ABC_8000), I("movsx16_64", 0, 1)),
    case("movsx32_64 negative", 0xFFFF_FFFF_8000_0000, ld64(1, 0x1234_5678_8000_0000), I("movsx32_64", 0, 1)),
    case("movsx32_64 positive", 0x7FFF_FFFF, ld64(1, 0xFFFF_FFFF_7FFF_FFFF), I("movsx32_64", 0, 1)),
    case("movsx8_32 negative", 0xFFFF_FF80, ld64(1, 0x1234_5678_9ABC_DE80), I("movsx8_32", 0, 1)),
    case("movsx16_32 negative", 0xFFFF_8000, ld64(1, 0x1234_5678_9ABC_8000), I("movsx16_32", 0, 1)),
    case("movsx16_32 positive", 0x7FFF, ld64(1, 0xFFFF_FFFF_FFFF_7FFF), I("movsx16_32", 0, 1)),
    case("movsx8_64 of itself", 0xFFFF_FFFF_FFFF_FFFF, ld64(0, 0x0000_0000_0000_00FF), I("movsx8_64", 0, 0)),
    # --- byte swaps: le is a truncation on x86, be and bswap swap (and truncate to their width)
    case("le16", 0xCDEF, ld64(0, 0x0123_4567_89AB_CDEF), I("le16", 0)),
    case("le32", 0x89AB_CDEF, ld64(0, 0x0123_4567_89AB_CDEF), I("le32", 0)),
    case("le64", 0x0123_4567_89AB_CDEF, ld64(0, 0x0123_4567_89AB_CDEF), I("le64", 0)),
    case("be16", 0xEFCD, ld64(0, 0x0123_4567_89AB_CDEF), I("be16", 0)),
    case("be32", 0xEFCD_AB89, ld64(0, 0x0123_4567_89AB_CDEF), I("be32", 0)),
    case("be64", 0xEFCD_AB89_6745_2301, ld64(0, 0x0123_4567_89AB_CDEF), I("be64", 0)),
    case("bswap16", 0xEFCD, ld64(0, 0x0123_4567_89AB_CDEF), I("bswap16", 0)),
    case("bswap32", 0xEFCD_AB89, ld64(0, 0x0123_4567_89AB_CDEF), I("bswap32", 0)),
    case("bswap64", 0xEFCD_AB89_6745_2301, ld64(0, 0x0123_4567_89AB_CDEF), I("bswap64", 0)),
    # --- cmpxchg: r0 gets the old value either way; memory changes only on success
    case("cmpxchg64 success: r0", 0x1111_2222_3333_4444, ld64(1, 0x1111_2222_3333_4444), I("stxdw", FP, 1, off=-8),
         ld64(0, 0x1111_2222_3333_4444), ld64(2, 0x5555_6666_7777_8888), I("atomic64_cmpxchg", FP, 2, off=-8)),
    case("cmpxchg64 success: memory", 0x5555_6666_7777_8888, ld64(1, 0x1111_2222_3333_4444),
         I("stxdw", FP, 1, off=-8), ld64(0, 0x1111_2222_3333_4444), ld64(2, 0x5555_6666_7777_8888),
         I("atomic64_cmpxchg", FP, 2, off=-8), stack_then_r0(-8)),
    case("cmpxchg64 failure: r0", 0x1111_2222_3333_4444, ld64(1, 0x1111_2222_3333_4444), I("stxdw", FP, 1, off=-8),
         ld64(0, 0x1111_2222_3333_4445), ld64(2, 0x5555_6666_7777_8888), I("atomic64_cmpxchg", FP, 2, off=-8)),
    case("cmpxchg64 failure: memory", 0x1111_2222_3333_4444, ld64(1, 0x1111_2222_3333_4444),
         I("stxdw", FP, 1, off=-8), ld64(0, 0x0111_2222_3333_4444), ld64(2, 0x5555_6666_7777_8888),
         I("atomic64_cmpxchg", FP, 2, off=-8), stack_then_r0(-8)),
    case("cmpxchg32 success compares the low half of r0 and zero-extends it", 0x3333_4444,
         ld64(1, 0x1111_2222_3333_4444), I("stxdw", FP, 1, off=-8), ld64(0, GARBAGE | 0x3333_4444),
         ld64(2, 0x5555_6666_7777_8888), I("atomic32_cmpxchg", FP, 2, off=-8)),
    case("cmpxchg32 success: memory (only the addressed word)", 0x1111_2222_7777_8888,
         ld64(1, 0x1111_2222_3333_4444), I("stxdw", FP, 1, off=-8), ld64(0, GARBAGE | 0x3333_4444),
         ld64(2, 0x5555_6666_7777_8888), I("atomic32_cmpxchg", FP, 2, off=-8), stack_then_r0(-8)),
    case("cmpxchg32 failure: r0 zero-extended", 0x1111_2222, ld64(1, 0x1111_2222_3333_4444),
         I("stxdw", FP, 1, off=-8), ld64(0, GARBAGE | 0x3333_4444), ld64(2, 0x5555_6666_7777_8888),
         I("atomic32_cmpxchg", FP, 2, off=-4)),
    case("cmpxchg32 failure: memory", 0x1111_2222_3333_4444, ld64(1, 0x1111_2222_3333_4444),
         I("stxdw", FP, 1, off=-8), ld64(0, GARBAGE | 0x3333_4444), ld64(2, 0x5555_6666_7777_8888),
         I("atomic32_cmpxchg", FP, 2, off=-4), stack_then_r0(-8)),
    # --- 32-bit atomics: the fetched value is zero-extended, the neighbouring word is untouched
    case("atomic32 fetch_add: old value", 0xFFFF_FFFE, ld64(1, 0x0000_0007_FFFF_FFFE), I("stxdw", FP, 1, off=-8),
         ld64(2, GARBAGE | 3), I("atomic32_fetch_add", FP, 2, off=-8), alu("mov", 64, 0, src=2)),
    case("atomic32 fetch_add: wraps inside the word", 0x0000_0007_0000_0001, ld64(1, 0x0000_0007_FFFF_FFFE),
         I("stxdw", FP, 1, off=-8), ld64(2, GARBAGE | 3), I("atomic32_fetch_add", FP, 2, off=-8), stack_then_r0(-8)),
    case("atomic32 fetch_or on the upper word: old value", 0x0000_0007, ld64(1, 0x0000_0007_FFFF_FFFE),
         I("stxdw", FP, 1, off=-8), ld64(2, GARBAGE | 0x70), I("atomic32_fetch_or", FP, 2, off=-4),
         alu("mov", 64, 0, src=2)),
    case("atomic32 fetch_or on the upper word: memory", 0x0000_0077_FFFF_FFFE, ld64(1, 0x0000_0007_FFFF_FFFE),
         I("stxdw", FP, 1, off=-8), ld64(2, GARBAGE | 0x70), I("atomic32_fetch_or", FP, 2, off=-4),
         stack_then_r0(-8)),
    case("atomic32 fetch_and: old value << 32 | memory", 0xF0F0_F0F0_0000_00F0, ld64(1, 0xF0F0_F0F0),
         I("stxdw", FP, 1, off=-8), mov64(2, 0x0FF0), I("atomic32_fetch_and", FP, 2, off=-8),
         I("ldxdw", 3, FP, off=-8), alu("lsh", 64, 2, imm=32), alu("mov", 64, 0, src=2), alu("xor", 64, 0, src=3)),
    case("atomic32 fetch_xor", 0x1234_5678, mov32(1, 0x1234_5678), I("stxw", FP, 1, off=-4), ld64(2, GARBAGE | 1),
         I("atomic32_fetch_xor", FP, 2, off=-4), alu("mov", 64, 0, src=2)),
    case("atomic32 xchg: old value zero-extended", 0xFFFF_FFFF, mov64(1, -1), I("stxdw", FP, 1, off=-8),
         ld64(2, 0x1234_5678_0000_0000), I("atomic32_xchg", FP, 2, off=-8), alu("mov", 64, 0, src=2)),
    case("atomic32 xchg: memory", 0xFFFF_FFFF_0000_0000, mov64(1, -1), I("stxdw", FP, 1, off=-8),
         ld64(2, 0x1234_5678_0000_0000), I("atomic32_xchg", FP, 2, off=-8), stack_then_r0(-8)),
    case("atomic32 add (no fetch) leaves the source", GARBAGE | 3, mov64(1, -1), I("stxdw", FP, 1, off=-8),
         ld64(2, GARBAGE | 3), I("atomic32_add", FP, 2, off=-8), alu("mov", 64, 0, src=2)),
    case("atomic64 fetch_add carries across words", 0x0000_0001_0000_0001, mov32(1, -1), I("stxdw", FP, 1, off=-8),
         mov64(2, 2), I("atomic64_fetch_add", FP, 2, off=-8), stack_then_r0(-8)),
    case("atomic64 fetch_add with src r0", 0x0000_0000_FFFF_FFFF, mov32(0, -1), I("stxdw", FP, 0, off=-8),
         I("atomic64_fetch_add", FP, 0, off=-8)),
    # --- sign-extending loads and 32-bit compares
    case("ldxsb", 0xFFFF_FFFF_FFFF_FF80, ld64(1, 0x1234_5678_9ABC_DE80), I("stxdw", FP, 1, off=-8),
         I("ldxsb", 0, FP, off=-8)),
    case("ldxsh", 0xFFFF_FFFF_FFFF_9ABC, ld64(1, 0x1234_5678_9ABC_DE80), I("stxdw", FP, 1, off=-8),
         I("ldxsh", 0, FP, off=-6)),
    case("ldxsw", 0x1234_5678, ld64(1, 0x1234_5678_9ABC_DE80), I("stxdw", FP, 1, off=-8), I("ldxsw", 0, FP, off=-4)),
    case("ldxsw negative", 0xFFFF_FFFF_9ABC_DE80, ld64(1, 0x1234_5678_9ABC_DE80), I("stxdw", FP, 1, off=-8),
         I("ldxsw", 0, FP, off=-8)),
    case("st dw imm is sign-extended", 0xFFFF_FFFF_8000_0000, I("stdw", FP, off=-8, imm=-0x8000_0000),
         stack_then_r0(-8)),
    case("jeq32 ignores the upper half", 1, mov64(0, 0), ld64(1, 0x1_0000_0000), jmp("jeq", 32, 1, 1, imm=0),
         EXIT, mov64(0, 1)),
    case("jsgt32 is signed on the low half", 1, mov64(0, 0), mov64(1, 0x7FFF_FFFF), jmp("jsgt", 32, 1, 1, imm=-1),
         EXIT, mov64(0, 1)),
    case("jsgt64 of 0x80000000 > -1", 1, mov64(0, 0), mov32(1, -0x8000_0000), jmp("jsgt", 64, 1, 1, imm=-1), EXIT,
         mov64(0, 1)),
    case("jgt64 imm -1 is sign-extended", 0, mov64(0, 0), mov32(1, -1), jmp("jgt", 64, 1, 1, imm=-1), EXIT,
         mov64(0, 1)),
    case("neg32 clears the upper half", 0xFFFF_FFFF, ld64(0, GARBAGE | 1), I("neg32", 0)),
    case("mov32 reg zero-extends", 0x8000_0000, ld64(1, GARBAGE | 0x8000_0000), alu("mov", 32, 0, src=1)),
    case("mul32 wraps and zero-extends", 0xFFFF_FFFE, ld64(0, GARBAGE | 0x7FFF_FFFF), alu("mul", 32, 0, imm=2)),
]


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_regression_program(c: Case):
    problems = []
    for half, tail in (("low", [EXIT]), ("high", [alu("rsh", 64, 0, imm=32), EXIT])):
        code = encode(list(c.insns) + tail)
        want = (c.expected >> 32 if half == "high" else c.expected) & 0xFFFF_FFFF
        vm, fault = vm_result(code)
        for prog_type in PROG_TYPES:
            kernel = kernel_retval(code, prog_type)
            if kernel != want:
                problems.append(f"{half} half, {prog_type}: kernel 0x{kernel:08x}, expected 0x{want:08x}")
            if vm is None or vm & 0xFFFF_FFFF != kernel:
                got = f"0x{vm & 0xFFFF_FFFF:08x}" if vm is not None else f"fault {fault}"
                problems.append(f"{half} half, {prog_type}: kernel 0x{kernel:08x}, VM {got}")
    if problems:
        pytest.fail(f"{c.name}: expected r0 = 0x{c.expected:016x}\n" + "\n".join(problems) + "\n"
                    + listing(list(c.insns) + [EXIT]), pytrace=False)
