"""Hypothesis strategies for random programs the privileged kernel verifier accepts.

Shape of a program (``programs()``)::

    prologue   r0..r9 = random constants (rX = imm, wX = imm, rX = imm64 ll)
    body       random statements (below)
    epilogue   fold r1..r9 and every fully initialised 8-byte stack slot into r0, then
               r1 = r0; r1 >>= 32; r0 ^= r1; exit   (so the upper halves reach the u32 retval)

r1 is overwritten by the prologue, so the context pointer the kernel passes is never used; r10 is only
ever a memory operand. Body statements:

* ALU / ALU32: add sub mul div sdiv mod smod or and xor lsh rsh arsh mov with imm and reg sources, neg,
  movsx (8/16/32 for 64-bit, 8/16 for 32-bit), le/be 16/32/64 and bswap 16/32/64. Shift immediates are
  below the width and div/mod immediates are nonzero (the verifier refuses anything else); register
  shift amounts and divisors are unconstrained (>= width, zero, -1 all happen).
* stack stores (stx/st, 1/2/4/8 bytes) at size-aligned offsets in [-512, -1] (the verifier insists on
  aligned stack accesses); loads (ldx, and the sign-extending ldxs) and atomics (add/or/and/xor with and
  without fetch, xchg, cmpxchg; 32 and 64-bit) only where every byte was written on every path;
* ``if cond goto`` over a nested block, and if/else (``if cond goto ELSE; ...; goto/gotol END; ELSE: ...``)
  with every JMP and JMP32 comparison, imm and reg;
* at most two bounded loops: ``rc = N; L: body; rc -= 1 (64 or 32-bit); if rc != 0 / s> 0 / > 0 goto L``
  with N in 1..4, rc not written by the loop body, no loop inside a loop;
* ``rX = imm64 ll`` and ``goto +0``.

Jumps are generated structurally (a block knows its own length), so they always go forward inside the
body except the loop's back edge, never into an ``ld_imm64`` and never into a loop from outside.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from app.ebpf import isa
from app.ebpf.insn import Insn

from .build import EXIT, FP, M64, I, alu, jmp, ld64, mov32, mov64

REGS = tuple(range(10))  # r0..r9; r10 is never a destination

INTERESTING_64 = (
    0, 1, 2, 3, 7, 8, 31, 32, 33, 63, 64, 65, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
    0x80000000, 0xFFFFFFFF, 0x1_0000_0000, 0x1_0000_0001, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000,
    M64, M64 - 1, 0xFFFF_FFFF_0000_0000, 0xFFFF_FFFF_8000_0000, 0xFFFF_FFFF_FFFF_8000, 0xFFFF_FFFF_FFFF_FF80,
    0x8000_0000_8000_0000, 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210,
)
INTERESTING_32 = (
    0, 1, -1, 2, -2, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 0x7F, 0x80, -0x80, -0x81, 0xFF, 0x7FFF, 0x8000,
    -0x8000, 0xFFFF, 0x7FFFFFFF, -0x80000000, -0x7FFFFFFF, 0x12345678,
)

# Hypothesis' integers lean towards small values; raw bytes give uniformly random ones (upper halves and
# shift amounts >= 32 need those).
imm32 = st.one_of(st.sampled_from(INTERESTING_32), st.integers(-(1 << 31), (1 << 31) - 1),
                  st.binary(min_size=4, max_size=4).map(lambda b: int.from_bytes(b, "little", signed=True)))
imm64 = st.one_of(st.sampled_from(INTERESTING_64), st.integers(0, M64),
                  st.binary(min_size=8, max_size=8).map(lambda b: int.from_bytes(b, "little")))

# 8-byte-aligned bases of the stack slots the body uses: a few close together (so accesses of different
# sizes overlap) and the deepest ones.
SLOTS = (-8, -16, -24, -32, -40, -48, -64, -128, -256, -504, -512)

CMP_OPS = ("jeq", "jne", "jgt", "jge", "jlt", "jle", "jset", "jsgt", "jsge", "jslt", "jsle")
ATOMIC_KINDS = ("add", "or", "and", "xor", "fetch_add", "fetch_or", "fetch_and", "fetch_xor", "xchg", "cmpxchg")
LOAD_NAMES = {1: ("ldxb", "ldxsb"), 2: ("ldxh", "ldxsh"), 4: ("ldxw", "ldxsw"), 8: ("ldxdw",)}
STORE_SUFFIX = {1: "b", 2: "h", 4: "w", 8: "dw"}

STATEMENTS = ("alu", "alu", "alu", "alu", "alu", "store", "load", "atomic", "if", "ifelse", "loop", "ld64",
              "store", "load", "atomic", "nop_goto")

MAX_DEPTH = 2
MAX_LOOPS = 2


@dataclass
class _State:
    draw: object
    init: frozenset = frozenset()  # stack byte offsets (negative) written on every path so far
    protected: frozenset = frozenset()  # registers the current loop body must not write
    loops: int = 0
    in_loop: bool = False


@dataclass(frozen=True)
class GenProgram:
    prologue: tuple[Insn, ...]
    body: tuple[Insn, ...]
    epilogue: tuple[Insn, ...]
    slots: tuple[int, ...] = field(default=())  # fully initialised 8-byte slots at the end of the body

    @property
    def insns(self) -> tuple[Insn, ...]:
        return self.prologue + self.body + self.epilogue

    @property
    def prefix(self) -> list[Insn]:
        return list(self.prologue + self.body)


# ----------------------------------------------------------------------------------------------- pieces


def _writable(s: _State) -> list[int]:
    return [r for r in REGS if r not in s.protected]


def _reg(s: _State) -> int:
    return s.draw(st.sampled_from(REGS))


def _dst(s: _State) -> int:
    return s.draw(st.sampled_from(_writable(s)))


def _offset(s: _State, size: int) -> int:
    base = s.draw(st.sampled_from(SLOTS))
    return base + s.draw(st.integers(0, 8 // size - 1)) * size


def _readable(s: _State, size: int) -> list[int]:
    """Size-aligned offsets whose every byte is initialised."""
    out = []
    for base in SLOTS:
        for k in range(8 // size):
            off = base + k * size
            if all(b in s.init for b in range(off, off + size)):
                out.append(off)
    return out


ALU_FORMS = tuple(spec.name for spec in isa.SPECS if spec.cls in (isa.Class.ALU, isa.Class.ALU64))
"""Every ALU and ALU32 form (binary ops with imm and reg sources, neg, movsx, byte swaps)."""

COND_FORMS = tuple(spec.name for spec in isa.SPECS if spec.op in CMP_OPS)
"""Every conditional jump: JMP and JMP32, 11 comparisons, imm and reg."""


def gen_alu(s: _State) -> list[Insn]:
    spec = isa.BY_NAME[s.draw(st.sampled_from(ALU_FORMS))]
    dst = _dst(s)
    if spec.op in ("neg", "le", "be", "bswap"):
        return [I(spec.name, dst)]
    if spec.source == isa.Source.X:  # binary op with a register source, or movsx
        return [I(spec.name, dst, _reg(s))]
    if spec.op in ("lsh", "rsh", "arsh"):
        imm = s.draw(st.integers(0, spec.width - 1))  # "invalid shift" otherwise
    else:
        imm = s.draw(imm32)
        if spec.op in ("div", "sdiv", "mod", "smod") and imm == 0:
            imm = -1  # "div by zero" for an immediate 0; -1 is the interesting divisor anyway
    return [I(spec.name, dst, imm=imm)]


def gen_store(s: _State) -> list[Insn]:
    size = s.draw(st.sampled_from((8, 4, 2, 1)))
    off = _offset(s, size)
    s.init = s.init | frozenset(range(off, off + size))
    if s.draw(st.booleans()):
        return [I("stx" + STORE_SUFFIX[size], FP, _reg(s), off=off)]
    return [I("st" + STORE_SUFFIX[size], FP, off=off, imm=s.draw(imm32))]


def gen_load(s: _State) -> list[Insn]:
    size = s.draw(st.sampled_from((8, 4, 2, 1)))
    offs = _readable(s, size)
    if not offs:
        return gen_store(s)
    name = s.draw(st.sampled_from(LOAD_NAMES[size]))
    return [I(name, _dst(s), FP, off=s.draw(st.sampled_from(offs)))]


def gen_atomic(s: _State) -> list[Insn]:
    width = s.draw(st.sampled_from((64, 32)))
    offs = _readable(s, width // 8)
    if not offs:
        return gen_store(s)
    kind = s.draw(st.sampled_from(ATOMIC_KINDS))
    if kind == "cmpxchg" and 0 in s.protected:
        kind = "add"
    writes_src = kind.startswith("fetch_") or kind == "xchg"
    src = s.draw(st.sampled_from(_writable(s) if writes_src else REGS))
    return [I(f"atomic{width}_{kind}", FP, src, off=s.draw(st.sampled_from(offs)))]


def gen_ld64(s: _State) -> list[Insn]:
    return ld64(_dst(s), s.draw(imm64))


def gen_cond(s: _State, off: int) -> Insn:
    spec = isa.BY_NAME[s.draw(st.sampled_from(COND_FORMS))]
    if spec.source == isa.Source.X:
        return I(spec.name, _reg(s), _reg(s), off=off)
    return I(spec.name, _reg(s), off=off, imm=s.draw(imm32))


def gen_goto(s: _State, off: int) -> Insn:
    if s.draw(st.booleans()):
        return I("ja", off=off)
    return I("gotol", imm=off)


def gen_if(s: _State, depth: int) -> list[Insn]:
    before = s.init
    then = gen_block(s, depth + 1, 4)
    s.init = before  # the jump may skip every store of the block
    return [gen_cond(s, len(then))] + then


def gen_ifelse(s: _State, depth: int) -> list[Insn]:
    before = s.init
    then = gen_block(s, depth + 1, 4)
    after_then, s.init = s.init, before
    other = gen_block(s, depth + 1, 4)
    s.init = s.init & after_then
    return [gen_cond(s, len(then) + 1)] + then + [gen_goto(s, len(other))] + other


def gen_loop(s: _State, depth: int) -> list[Insn]:
    rc = _dst(s)
    count = s.draw(st.integers(1, 4))
    head = [mov64(rc, count) if s.draw(st.booleans()) else mov32(rc, count)]
    saved = s.protected, s.in_loop
    s.protected, s.in_loop = s.protected | {rc}, True
    s.loops += 1
    body = gen_block(s, depth + 1, 5)  # runs at least once: its stores count after the loop
    s.protected, s.in_loop = saved
    width = s.draw(st.sampled_from((64, 32)))
    dec = alu("sub", width, rc, imm=1) if s.draw(st.booleans()) else alu("add", width, rc, imm=-1)
    back = -(len(body) + 2)
    cond = s.draw(st.sampled_from(("jne", "jsgt", "jgt")))
    return head + body + [dec, jmp(cond, s.draw(st.sampled_from((64, 32))), rc, back, imm=0)]


def gen_statement(s: _State, depth: int) -> list[Insn]:
    kind = s.draw(st.sampled_from(STATEMENTS))
    if kind in ("if", "ifelse") and depth >= MAX_DEPTH:
        kind = "alu"
    if kind == "loop" and (s.in_loop or s.loops >= MAX_LOOPS or depth >= MAX_DEPTH):
        kind = "alu"
    if kind == "alu":
        return gen_alu(s)
    if kind == "store":
        return gen_store(s)
    if kind == "load":
        return gen_load(s)
    if kind == "atomic":
        return gen_atomic(s)
    if kind == "ld64":
        return gen_ld64(s)
    if kind == "nop_goto":
        return [I("ja", off=0)]
    if kind == "if":
        return gen_if(s, depth)
    if kind == "ifelse":
        return gen_ifelse(s, depth)
    return gen_loop(s, depth)


def gen_block(s: _State, depth: int, max_len: int) -> list[Insn]:
    out: list[Insn] = []
    for _ in range(s.draw(st.integers(0, max_len))):
        out += gen_statement(s, depth)
    return out


def gen_prologue(s: _State) -> list[Insn]:
    out: list[Insn] = []
    for r in REGS:
        how = s.draw(st.sampled_from(("mov64", "mov32", "ld64")))
        if how == "ld64":
            out += ld64(r, s.draw(imm64))
        else:
            out.append((mov64 if how == "mov64" else mov32)(r, s.draw(imm32)))
    return out


FOLD_MUL = 0x2545F491  # odd: r0 *= K is a bijection, so folding loses nothing


def epilogue(slots: list[int]) -> list[Insn]:
    """r0 = mix(r0, r1..r9, the given 8-byte stack slots); r0 ^= r0 >> 32; exit."""
    out: list[Insn] = []
    for r in REGS[1:]:
        out += [alu("xor", 64, 0, src=r), alu("mul", 64, 0, imm=FOLD_MUL)]
    for off in slots:
        out += [I("ldxdw", 1, FP, off=off), alu("xor", 64, 0, src=1), alu("mul", 64, 0, imm=FOLD_MUL)]
    out += [alu("mov", 64, 1, src=0), alu("rsh", 64, 1, imm=32), alu("xor", 64, 0, src=1), EXIT]
    return out


def full_slots(init: frozenset) -> list[int]:
    return sorted({off - off % 8 for off in init if all(b in init for b in range(off - off % 8, off - off % 8 + 8))})


@st.composite
def programs(draw, max_statements: int = 24) -> GenProgram:
    s = _State(draw)
    prologue = gen_prologue(s)
    body = gen_block(s, 0, max_statements)
    slots = full_slots(s.init)
    return GenProgram(tuple(prologue), tuple(body), tuple(epilogue(slots)), tuple(slots))
