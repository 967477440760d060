"""The assembler: both syntaxes, pasted verifier-log and objdump lines, directives, maps, and errors that
name the line and column."""
from __future__ import annotations

import pytest

from app.ebpf import AsmError, assemble, disassemble
from app.ebpf.insn import Insn, ld_imm64_value


def one(text: str) -> Insn:
    insns = assemble(text).insns
    return insns[0]


@pytest.mark.parametrize("text, want", [
    ("r0 = 0", Insn(0xB7, 0, 0, 0, 0)),
    ("w1 += w2", Insn(0x0C, 1, 2, 0, 0)),
    ("r1 = be16 r1", Insn(0xDC, 1, 0, 0, 16)),
    ("if r1 s> 5 goto +2", Insn(0x65, 1, 0, 2, 5)),
    ("*(u32 *)(r10 - 4) = r1", Insn(0x63, 10, 1, -4, 0)),
    ("r0 = *(u8 *)skb[14]", Insn(0x30, 0, 0, 0, 14)),
    ("r0 = *(u16 *)skb[r3 + 2]", Insn(0x48, 0, 3, 0, 2)),
    ("r0 = *(u16 *)skb[r3]", Insn(0x48, 0, 3, 0, 0)),
    ("lock *(u64 *)(r0 + 0) += r1", Insn(0xDB, 0, 1, 0, 0)),
    ("call 1", Insn(0x85, 0, 0, 0, 1)),
    ("call bpf_map_lookup_elem", Insn(0x85, 0, 0, 0, 1)),
    ("call bpf_map_lookup_elem#1", Insn(0x85, 0, 0, 0, 1)),
    ("call map_lookup_elem", Insn(0x85, 0, 0, 0, 1)),
    ("call pc+2", Insn(0x85, 0, 1, 0, 2)),
    ("exit", Insn(0x95)),
    ("r1 = (s16)r2", Insn(0xBF, 1, 2, 16, 0)),
    ("w3 s%= -7", Insn(0x94, 3, 0, 1, -7)),
    ("r0 = *(s32 *)(r1 - 2)", Insn(0x81, 0, 1, -2, 0)),
    ("gotol +70000", Insn(0x06, 0, 0, 0, 70000)),
    ("may_goto +3", Insn(0xE5, 0, 0, 3, 0)),
    ("r0 = cmpxchg_64(r1 + 8, r0, r2)", Insn(0xDB, 1, 2, 8, 0xF1)),
    ("w2 = xchg32_32(r1 - 8, w2)", Insn(0xC3, 1, 2, -8, 0xE1)),
    # verifier-log and llvm-objdump spellings
    ("12: (b7) r0 = 0 ; R0_w=0", Insn(0xB7)),
    ("3: (25) if r2 > 0x64 goto pc+2", Insn(0x25, 2, 0, 2, 100)),
    ("4: (63) *(u32 *)(r10 -4) = r1", Insn(0x63, 10, 1, -4, 0)),
    ("7: (db) r2 = atomic64_fetch_add((u64 *)(r10 -8), r2)", Insn(0xDB, 10, 2, -8, 1)),
    ("   5:\t07 01 00 00 05 00 00 00\tr1 += 0x5", Insn(0x07, 1, 0, 0, 5)),
    ("   9:\t15 01 02 00 00 00 00 00\tif r1 == 0x0 goto +0x2 <LBB0_3>", Insn(0x15, 1, 0, 2, 0)),
    # legacy syntax of the conformance suites
    ("mov %r0, 1", Insn(0xB7, 0, 0, 0, 1)),
    ("ldxw %r0, [%r1+4]", Insn(0x61, 0, 1, 4, 0)),
    ("stxdw [%r10-8], %r1", Insn(0x7B, 10, 1, -8, 0)),
    ("jeq %r1, 2, +1", Insn(0x15, 1, 0, 1, 2)),
    ("lock fetch add32 [%r10-8], %r1", Insn(0xC3, 10, 1, -8, 1)),
    ("movsx1664 %r0, %r1", Insn(0xBF, 0, 1, 16, 0)),
    ("call %r2", Insn(0x8D, 2, 0, 0, 0)),
    ("be16 %r0", Insn(0xDC, 0, 0, 0, 16)),
])
def test_syntax(text, want):
    assert one(text) == want


def test_ld_imm64_forms():
    p = assemble("r1 = 0x1122334455667788 ll\nr2 = -1 ll\n(18) r3 = 0xffff888100000000\nlddw %r4, 5")
    values = [ld_imm64_value(p.insns[i], p.insns[i + 1]) for i in (0, 2, 4, 6)]
    assert values == [0x1122334455667788, (1 << 64) - 1, 0xFFFF888100000000, 5]
    assert all(p.insns[i].opcode == 0x18 for i in (0, 2, 4, 6))


def test_labels_comments_and_directives():
    text = """
        .text
        .file "prog.c"
        .globl  prog                    // clang -S output
        .p2align 3
        .type   prog,@function
        .section xdp,"ax",@progbits
    prog:                               # @prog
        r0 = 2 /* XDP_PASS */
        if r1 == 0 goto out ; a comment pasted from a log
        r0 = 1
    out:
        exit
    .Lfunc_end0:
        .size   prog, .Lfunc_end0-prog
        .section "license","aw",@progbits
    _license:
        .asciz "GPL"
        .addrsig
    """
    p = assemble(text)
    assert [i.opcode for i in p.insns] == [0xB7, 0x15, 0xB7, 0x95]
    assert p.insns[1].off == 1
    assert p.labels == {0: "prog", 3: "out"}
    assert p.lines[0] == 9


def test_block_comment_spanning_lines():
    p = assemble("r0 = 1 /* one\n two\n three */ r0 += 2\nexit")
    assert [i.opcode for i in p.insns] == [0xB7, 0x07, 0x95]


def test_legacy_exit_label_means_first_exit():
    p = assemble("jeq %r1, 0, exit\nmov %r0, 1\nexit\nmov %r0, 2\nexit")
    assert p.insns[0].off == 1


def test_map_directive_and_reference():
    p = assemble(".map counts type=array key_size=4 value_size=8 max_entries=16\nr1 = counts ll\nexit")
    assert p.maps[0].name == "counts" and p.maps[0].max_entries == 16
    assert p.insns[0] == Insn(0x18, 1, 1, 0, 0)
    assert "r1 = map_fd(0) ll" in disassemble(p)


def test_local_call_by_label_and_back():
    p = assemble("call f\nexit\nf:\nr0 = 1\nexit")
    assert p.insns[0] == Insn(0x85, 0, 1, 0, 1)
    assert disassemble(p).splitlines()[0] == "call f"


def test_far_jump_needs_gotol():
    body = "\n".join(["r0 = 0"] * 40000)
    with pytest.raises(AsmError, match="does not fit in 16 bits"):
        assemble(f"goto far\n{body}\nfar:\nexit")
    assert assemble(f"gotol far\n{body}\nfar:\nexit").insns[0].imm == 40000


@pytest.mark.parametrize("text, line, col, message", [
    ("r0 = 1\nr1 = 2\nr3 = 4\n        r11 = 5", 4, 9, "unknown register 'r11' (r0–r10)"),
    ("r0 = 1\nfoo r1", 2, 1, "unexpected 'foo'"),
    ("if r1 > goto +1", 1, 9, "unexpected 'goto': expected a number or a register"),
    ("goto nowhere", 1, 6, "unknown label 'nowhere'"),
    ("w1 += r2", 1, 7, "cannot mix 32-bit (w) and 64-bit (r) registers"),
    ("r1 = *(u32 *)(r10 - 40000)", 1, 19, "does not fit in 16 bits"),
    ("out:\nout:", 2, 1, "label 'out' is already defined on line 1"),
    ("call bpf_nope", 1, 6, "unknown helper 'bpf_nope'"),
    ("call bpf_map_lookup_elem#2", 1, 6, "helper bpf_map_lookup_elem has id 1, not 2"),
    ("r1 = mymap ll", 1, 6, "unknown symbol 'mymap'"),
    (".map m type=hash key_size=4", 1, 1, "missing value_size, max_entries"),
    (".map m type=nosuch key_size=4 value_size=4 max_entries=1", 1, 1, "unknown map type"),
    (".bogus", 1, 1, "unknown directive '.bogus'"),
    ("*(u32 *)(r10 - 4) = 0x100000000", 1, 21, "does not fit in 32 bits"),
    ("w0 = 4294967295", 1, 6, "does not fit in 32 bits"),
    ("lock *(u64 *)(r1 + 0) -= r2", 1, 23, "unexpected '-='"),
    ("r1 = atomic_fetch_add((u64 *)(r1 + 0), r2)", 1, 40, "must be the same register"),
    ("r0 = 1 @", 1, 8, "unexpected character '@'"),
    ("ldxq %r0, [%r1]", 1, 1, "unknown mnemonic 'ldxq'"),
    ("ldxb %r0, %r1", 1, 6, "expected operands reg, mem"),
    ("r0 =", 1, 5, "incomplete instruction"),
    ("goto pc", 1, 6, "unknown label 'pc'"),
])
def test_errors_name_line_and_column(text, line, col, message):
    with pytest.raises(AsmError) as e:
        assemble(text)
    assert (e.value.line, e.value.col) == (line, col), str(e.value)
    assert message in e.value.message
    assert str(e.value).startswith(f"line {line}, col {col}: ")


def test_empty_and_comment_only_text_is_an_empty_program():
    assert assemble("").insns == ()
    assert assemble("# nothing\n// here\n").insns == ()


def test_round_trip_keeps_labels_readable():
    src = "start:\n    r0 = 0\nloop:\n    r0 += 1\n    if r0 < 10 goto loop\n    exit\n"
    p = assemble(src)
    assert disassemble(p) == "start:\nr0 = 0\nloop:\nr0 += 1\nif r0 < 10 goto loop\nexit\n"
