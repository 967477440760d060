"""The eBPF instruction set, stored once.

Every valid instruction form of RFC 9669 (plus the Linux extensions the kernel accepts: ``call pc+N``,
``callx``, the ``ld_imm64`` pseudo sources and the legacy packet loads) is one frozen ``OpSpec`` record in
``SPECS``. Assembler, disassembler, decoder, VM dispatch and (later) the verifier and the syntax highlighter
all read this table; nothing else lists opcodes.

An 8-byte instruction is ``opcode:8 | dst:4 src:4 | off:16 | imm:32`` (little-endian, ``src`` in the high
nibble). The opcode is ``class:3`` in the low bits, then ``source:1`` and ``op:4`` for ALU/JMP classes, or
``size:2`` and ``mode:3`` for loads and stores. Several forms share an opcode and are told apart by another
field (RFC 9669 overloads ``off`` for ``sdiv``/``smod``/``movsx``, ``imm`` for byte swaps and atomics, ``src``
for calls and 64-bit immediates): those forms carry a ``fixed`` discriminator.

Assembly templates use the kernel/LLVM syntax with placeholders:

``{dst}``/``{src}``
    a register whose letter follows the operation's width (``r`` for 64-bit, ``w`` for 32-bit ops);
``{rdst}``/``{rsrc}``
    a register written ``r`` (the assembler also takes ``w``, as LLVM prints 32-bit loads and stores);
``{imm}``, ``{off}``, ``{target}``, ``{imm64}``, ``{helper}``
    a 32-bit immediate, a memory offset (printed ``+ 4``), a jump target (``+2``, ``pc+2`` or a label),
    a 64-bit immediate and a helper id or name.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from enum import IntEnum


class Class(IntEnum):
    LD = 0x00
    LDX = 0x01
    ST = 0x02
    STX = 0x03
    ALU = 0x04
    JMP = 0x05
    JMP32 = 0x06
    ALU64 = 0x07


class Source(IntEnum):
    K = 0x00  # immediate operand (for END: to little-endian)
    X = 0x08  # register operand (for END: to big-endian)


class Size(IntEnum):
    W = 0x00
    H = 0x08
    B = 0x10
    DW = 0x18


SIZE_BYTES = {Size.B: 1, Size.H: 2, Size.W: 4, Size.DW: 8}
SIZE_NAME = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
SIGNED_SIZE_NAME = {1: "s8", 2: "s16", 4: "s32"}


class Mode(IntEnum):
    IMM = 0x00
    ABS = 0x20
    IND = 0x40
    MEM = 0x60
    MEMSX = 0x80
    ATOMIC = 0xC0


class AluOp(IntEnum):
    ADD = 0x00
    SUB = 0x10
    MUL = 0x20
    DIV = 0x30
    OR = 0x40
    AND = 0x50
    LSH = 0x60
    RSH = 0x70
    NEG = 0x80
    MOD = 0x90
    XOR = 0xA0
    MOV = 0xB0
    ARSH = 0xC0
    END = 0xD0


class JmpOp(IntEnum):
    JA = 0x00
    JEQ = 0x10
    JGT = 0x20
    JGE = 0x30
    JSET = 0x40
    JNE = 0x50
    JSGT = 0x60
    JSGE = 0x70
    CALL = 0x80
    EXIT = 0x90
    JLT = 0xA0
    JLE = 0xB0
    JSLT = 0xC0
    JSLE = 0xD0
    JCOND = 0xE0  # Linux: may_goto


class AtomicOp(IntEnum):
    """Values of ``imm`` for BPF_ATOMIC instructions (``include/uapi/linux/bpf.h``)."""

    ADD = 0x00
    OR = 0x40
    AND = 0x50
    XOR = 0xA0
    FETCH = 0x01
    XCHG = 0xE0 | 0x01
    CMPXCHG = 0xF0 | 0x01


class PseudoSrc(IntEnum):
    """``src`` values of ``ld_imm64`` (``BPF_PSEUDO_*``) that say what the immediate refers to."""

    PLAIN = 0
    MAP_FD = 1
    MAP_VALUE = 2
    BTF_ID = 3
    FUNC = 4
    MAP_IDX = 5
    MAP_IDX_VALUE = 6


class CallSrc(IntEnum):
    HELPER = 0
    PSEUDO_CALL = 1  # bpf-to-bpf call, imm = target - (pc + 1)
    KFUNC = 2


MAX_REG = 10  # r0..r10; r10 is the read-only frame pointer
INSN_SIZE = 8


@dataclass(frozen=True)
class OpSpec:
    """One valid instruction form.

    ``fields`` says what each of ``dst``, ``src``, ``off`` and ``imm`` holds: ``"reg"`` (a register number),
    ``"off"`` (signed 16-bit value), ``"imm"`` (32-bit value), ``"zero"`` (reserved, must be 0) or
    ``"fixed"`` (the discriminator value in ``fixed``).
    """

    name: str  # unique key, e.g. "add64_imm", "ldxw", "atomic64_fetch_add"
    op: str  # semantic key the VM and verifier dispatch on, e.g. "add", "jsgt", "ldx", "atomic_fetch_add"
    opcode: int
    cls: Class
    width: int  # 32 or 64 for ALU and JMP forms; access size in bits for loads, stores and atomics
    fields: tuple[tuple[str, str], ...]  # (("dst", "reg"), ("src", "zero"), ...)
    fixed: tuple[tuple[str, int], ...]  # discriminator fields and their values
    asm: str  # kernel/LLVM assembly template
    log: str  # the verifier log's template (kernel/bpf/disasm.c), same placeholders
    legacy: str  # uBPF-style mnemonic ("add32", "ldxw", "jeq", "lddw"); "" when it has none
    min_cpu: int  # LLVM -mcpu level that introduced it (1..4)
    rfc: str  # RFC 9669 section, or "linux" for kernel extensions
    doc: str
    aliases: tuple[str, ...] = ()  # other spellings the assembler accepts (LLVM's, e.g. "skb[r1]")

    @cached_property
    def source(self) -> Source | None:
        if self.cls in (Class.ALU, Class.ALU64, Class.JMP, Class.JMP32):
            return Source(self.opcode & 0x08)
        return None

    @property
    def size(self) -> int:
        """Access size in bytes for memory forms."""
        return self.width // 8

    @property
    def slots(self) -> int:
        """Instruction slots taken: 2 for ``ld_imm64``, 1 otherwise."""
        return 2 if self.op == "ld_imm64" else 1

    def field(self, name: str) -> str:
        return dict(self.fields)[name]

    def matches(self, dst: int, src: int, off: int, imm: int) -> bool:
        values = {"dst": dst, "src": src, "off": off, "imm": imm}
        return all(values[f] == v for f, v in self.fixed)


# --- building the table --------------------------------------------------------------------------------

ALU_BINARY = (
    # op key, AluOp, asm operator, description, rfc section
    ("add", AluOp.ADD, "+=", "dst += src", "4.1"),
    ("sub", AluOp.SUB, "-=", "dst -= src", "4.1"),
    ("mul", AluOp.MUL, "*=", "dst *= src", "4.1"),
    ("div", AluOp.DIV, "/=", "unsigned dst /= src; division by zero gives 0", "4.1"),
    ("or", AluOp.OR, "|=", "dst |= src", "4.1"),
    ("and", AluOp.AND, "&=", "dst &= src", "4.1"),
    ("lsh", AluOp.LSH, "<<=", "dst <<= (src & (width - 1))", "4.1"),
    ("rsh", AluOp.RSH, ">>=", "logical dst >>= (src & (width - 1))", "4.1"),
    ("mod", AluOp.MOD, "%=", "unsigned dst %= src; modulo by zero leaves dst", "4.1"),
    ("xor", AluOp.XOR, "^=", "dst ^= src", "4.1"),
    ("mov", AluOp.MOV, "=", "dst = src", "4.1"),
    ("arsh", AluOp.ARSH, "s>>=", "arithmetic dst >>= (src & (width - 1))", "4.1"),
)

ALU_SIGNED = (
    ("sdiv", AluOp.DIV, "s/=", "signed dst /= src; division by zero gives 0", "4.1"),
    ("smod", AluOp.MOD, "s%=", "signed dst %= src; modulo by zero leaves dst", "4.1"),
)

JMP_CONDITIONAL = (
    ("jeq", JmpOp.JEQ, "==", "jump if dst == src", 1),
    ("jgt", JmpOp.JGT, ">", "jump if dst > src (unsigned)", 1),
    ("jge", JmpOp.JGE, ">=", "jump if dst >= src (unsigned)", 1),
    ("jset", JmpOp.JSET, "&", "jump if dst & src", 1),
    ("jne", JmpOp.JNE, "!=", "jump if dst != src", 1),
    ("jsgt", JmpOp.JSGT, "s>", "jump if dst > src (signed)", 1),
    ("jsge", JmpOp.JSGE, "s>=", "jump if dst >= src (signed)", 1),
    ("jlt", JmpOp.JLT, "<", "jump if dst < src (unsigned)", 2),
    ("jle", JmpOp.JLE, "<=", "jump if dst <= src (unsigned)", 2),
    ("jslt", JmpOp.JSLT, "s<", "jump if dst < src (signed)", 2),
    ("jsle", JmpOp.JSLE, "s<=", "jump if dst <= src (signed)", 2),
)

ATOMIC_ALU = (
    ("add", AtomicOp.ADD, "+="),
    ("or", AtomicOp.OR, "|="),
    ("and", AtomicOp.AND, "&="),
    ("xor", AtomicOp.XOR, "^="),
)

LD_IMM64_FORMS = (
    # name, pseudo src, asm template, doc
    ("ld_imm64", PseudoSrc.PLAIN, "{rdst} = {imm64} ll", "dst = 64-bit immediate"),
    ("ld_map_fd", PseudoSrc.MAP_FD, "{rdst} = map_fd({imm}) ll", "dst = pointer to the map with this fd"),
    ("ld_map_value", PseudoSrc.MAP_VALUE, "{rdst} = map_value({imm}, {imm2}) ll",
     "dst = address of the map's value at this offset (fd, offset)"),
    ("ld_btf_id", PseudoSrc.BTF_ID, "{rdst} = btf_id({imm}, {imm2}) ll", "dst = address of a kernel variable (BTF id)"),
    ("ld_func", PseudoSrc.FUNC, "{rdst} = func({target}) ll", "dst = address of the subprogram at pc + 1 + imm"),
    ("ld_map_idx", PseudoSrc.MAP_IDX, "{rdst} = map_idx({imm}) ll", "dst = pointer to the map fd_array[imm]"),
    ("ld_map_idx_value", PseudoSrc.MAP_IDX_VALUE, "{rdst} = map_idx_value({imm}, {imm2}) ll",
     "dst = address of the value of map fd_array[imm] at this offset"),
)

MEM_SIZES = ((Size.B, "b"), (Size.H, "h"), (Size.W, "w"), (Size.DW, "dw"))


def _alu_specs() -> list[OpSpec]:
    specs = []
    for cls, width, suffix in ((Class.ALU64, 64, ""), (Class.ALU, 32, "32")):
        cpu_alu32 = 1 if cls == Class.ALU64 else 3
        for key, aluop, sym, doc, rfc in ALU_BINARY:
            for source, operand in ((Source.K, "{imm}"), (Source.X, "{src}")):
                kind = "imm" if source == Source.K else "reg"
                specs.append(OpSpec(
                    name=f"{key}{width}_{kind}", op=key, opcode=cls | aluop | source, cls=cls, width=width,
                    fields=(("dst", "reg"), ("src", "zero" if source == Source.K else "reg"), ("off", "zero"),
                            ("imm", "imm" if source == Source.K else "zero")),
                    fixed=(), asm=f"{{dst}} {sym} {operand}", log=f"{{dst}} {sym} {operand}",
                    legacy=f"{key}{suffix}", min_cpu=cpu_alu32, rfc=rfc, doc=doc))
        for key, aluop, sym, doc, rfc in ALU_SIGNED:
            for source, operand in ((Source.K, "{imm}"), (Source.X, "{src}")):
                kind = "imm" if source == Source.K else "reg"
                specs.append(OpSpec(
                    name=f"{key}{width}_{kind}", op=key, opcode=cls | aluop | source, cls=cls, width=width,
                    fields=(("dst", "reg"), ("src", "zero" if source == Source.K else "reg"), ("off", "fixed"),
                            ("imm", "imm" if source == Source.K else "zero")),
                    fixed=(("off", 1),), asm=f"{{dst}} {sym} {operand}", log=f"{{dst}} {sym} {operand}",
                    legacy=f"{key}{suffix}", min_cpu=4, rfc=rfc, doc=doc))
        specs.append(OpSpec(
            name=f"neg{width}", op="neg", opcode=cls | AluOp.NEG | Source.K, cls=cls, width=width,
            fields=(("dst", "reg"), ("src", "zero"), ("off", "zero"), ("imm", "zero")), fixed=(),
            asm="{dst} = -{dst}", log="{dst} = -{dst}", legacy=f"neg{suffix}", min_cpu=cpu_alu32, rfc="4.1",
            doc="dst = -dst"))
        for bits in ((8, 16, 32) if cls == Class.ALU64 else (8, 16)):
            specs.append(OpSpec(
                name=f"movsx{bits}_{width}", op="movsx", opcode=cls | AluOp.MOV | Source.X, cls=cls, width=width,
                fields=(("dst", "reg"), ("src", "reg"), ("off", "fixed"), ("imm", "zero")), fixed=(("off", bits),),
                asm=f"{{dst}} = (s{bits}){{src}}", log=f"{{dst}} = (s{bits}){{src}}",
                legacy=f"movsx{bits}{width}", min_cpu=4, rfc="4.1",
                doc=f"dst = src sign-extended from {bits} bits"))
    for bits in (16, 32, 64):
        for source, order in ((Source.K, "le"), (Source.X, "be")):
            specs.append(OpSpec(
                name=f"{order}{bits}", op=order, opcode=Class.ALU | AluOp.END | source, cls=Class.ALU, width=bits,
                fields=(("dst", "reg"), ("src", "zero"), ("off", "zero"), ("imm", "fixed")), fixed=(("imm", bits),),
                asm=f"{{rdst}} = {order}{bits} {{rdst}}", log=f"{{rdst}} = {order}{bits} {{rdst}}",
                legacy=f"{order}{bits}", min_cpu=1, rfc="4.2",
                doc=f"convert the low {bits} bits of dst to {'little' if order == 'le' else 'big'}-endian"))
        specs.append(OpSpec(
            name=f"bswap{bits}", op="bswap", opcode=Class.ALU64 | AluOp.END | Source.K, cls=Class.ALU64, width=bits,
            fields=(("dst", "reg"), ("src", "zero"), ("off", "zero"), ("imm", "fixed")), fixed=(("imm", bits),),
            asm=f"{{rdst}} = bswap{bits} {{rdst}}", log=f"{{rdst}} = bswap{bits} {{rdst}}",
            legacy=f"bswap{bits}", min_cpu=4, rfc="4.2", doc=f"reverse the byte order of the low {bits} bits of dst"))
    return specs


def _jmp_specs() -> list[OpSpec]:
    specs = [
        OpSpec(name="ja", op="ja", opcode=Class.JMP | JmpOp.JA, cls=Class.JMP, width=64,
               fields=(("dst", "zero"), ("src", "zero"), ("off", "off"), ("imm", "zero")), fixed=(),
               asm="goto {target}", log="goto {target}", legacy="ja", min_cpu=1, rfc="4.3",
               doc="jump to pc + 1 + off"),
        OpSpec(name="gotol", op="ja", opcode=Class.JMP32 | JmpOp.JA, cls=Class.JMP32, width=32,
               fields=(("dst", "zero"), ("src", "zero"), ("off", "zero"), ("imm", "imm")), fixed=(),
               asm="gotol {target}", log="gotol {target}", legacy="ja32", min_cpu=4, rfc="4.3",
               doc="jump to pc + 1 + imm (32-bit offset)"),
        OpSpec(name="call", op="call", opcode=Class.JMP | JmpOp.CALL, cls=Class.JMP, width=64,
               fields=(("dst", "zero"), ("src", "fixed"), ("off", "zero"), ("imm", "imm")),
               fixed=(("src", CallSrc.HELPER),), asm="call {helper}", log="call {helper}", legacy="call",
               min_cpu=1, rfc="4.3.1", doc="call the helper function with id imm"),
        OpSpec(name="call_local", op="call_local", opcode=Class.JMP | JmpOp.CALL, cls=Class.JMP, width=64,
               fields=(("dst", "zero"), ("src", "fixed"), ("off", "zero"), ("imm", "imm")),
               fixed=(("src", CallSrc.PSEUDO_CALL),), asm="call {target}", log="call {target}",
               legacy="call local", min_cpu=3, rfc="4.3.2", doc="call the subprogram at pc + 1 + imm"),
        OpSpec(name="call_kfunc", op="call_kfunc", opcode=Class.JMP | JmpOp.CALL, cls=Class.JMP, width=64,
               fields=(("dst", "zero"), ("src", "fixed"), ("off", "off"), ("imm", "imm")),
               fixed=(("src", CallSrc.KFUNC),), asm="call kfunc({imm}, {off})", log="call kernel-function#{imm}",
               legacy="", min_cpu=1, rfc="linux", doc="call the kernel function with BTF id imm (off: BTF fd index)"),
        OpSpec(name="callx", op="callx", opcode=Class.JMP | JmpOp.CALL | Source.X, cls=Class.JMP, width=64,
               fields=(("dst", "reg"), ("src", "zero"), ("off", "zero"), ("imm", "zero")), fixed=(),
               asm="callx {rdst}", log="callx {rdst}", legacy="callx", min_cpu=1, rfc="outside",
               doc="call the helper whose id is in dst (uBPF extension; Linux refuses it)"),
        OpSpec(name="may_goto", op="may_goto", opcode=Class.JMP | JmpOp.JCOND, cls=Class.JMP, width=64,
               fields=(("dst", "zero"), ("src", "fixed"), ("off", "off"), ("imm", "zero")), fixed=(("src", 0),),
               asm="may_goto {target}", log="may_goto {target}", legacy="", min_cpu=4, rfc="linux",
               doc="fall through, or jump once the loop budget (BPF_MAX_LOOPS) is spent"),
        OpSpec(name="exit", op="exit", opcode=Class.JMP | JmpOp.EXIT, cls=Class.JMP, width=64,
               fields=(("dst", "zero"), ("src", "zero"), ("off", "zero"), ("imm", "zero")), fixed=(),
               asm="exit", log="exit", legacy="exit", min_cpu=1, rfc="4.3",
               doc="return r0 to the caller (or end the program)"),
    ]
    for cls, width, suffix in ((Class.JMP, 64, ""), (Class.JMP32, 32, "32")):
        for key, jop, sym, doc, cpu in JMP_CONDITIONAL:
            for source, operand in ((Source.K, "{imm}"), (Source.X, "{src}")):
                kind = "imm" if source == Source.K else "reg"
                specs.append(OpSpec(
                    name=f"{key}{width}_{kind}", op=key, opcode=cls | jop | source, cls=cls, width=width,
                    fields=(("dst", "reg"), ("src", "zero" if source == Source.K else "reg"), ("off", "off"),
                            ("imm", "imm" if source == Source.K else "zero")),
                    fixed=(), asm=f"if {{dst}} {sym} {operand} goto {{target}}",
                    log=f"if {{dst}} {sym} {operand} goto {{target}}", legacy=f"{key}{suffix}",
                    min_cpu=3 if cls == Class.JMP32 else cpu, rfc="4.3", doc=doc + ("" if width == 64 else ", 32-bit")))
    return specs


def _mem_specs() -> list[OpSpec]:
    specs = []
    for size, letter in MEM_SIZES:
        nbytes = SIZE_BYTES[size]
        t = SIZE_NAME[nbytes]
        specs.append(OpSpec(
            name=f"ldx{letter}", op="ldx", opcode=Class.LDX | Mode.MEM | size, cls=Class.LDX, width=nbytes * 8,
            fields=(("dst", "reg"), ("src", "reg"), ("off", "off"), ("imm", "zero")), fixed=(),
            asm=f"{{rdst}} = *({t} *)({{rsrc}} {{off}})", log=f"{{rdst}} = *({t} *)({{rsrc}} {{off}})",
            legacy=f"ldx{letter}", min_cpu=1, rfc="5.1", doc=f"dst = *({t} *)(src + off)"))
        if size != Size.DW:
            s = SIGNED_SIZE_NAME[nbytes]
            specs.append(OpSpec(
                name=f"ldxs{letter}", op="ldxs", opcode=Class.LDX | Mode.MEMSX | size, cls=Class.LDX,
                width=nbytes * 8, fields=(("dst", "reg"), ("src", "reg"), ("off", "off"), ("imm", "zero")), fixed=(),
                asm=f"{{rdst}} = *({s} *)({{rsrc}} {{off}})", log=f"{{rdst}} = *({s} *)({{rsrc}} {{off}})",
                legacy=f"ldxs{letter}", min_cpu=4, rfc="5.2", doc=f"dst = *({s} *)(src + off), sign-extended"))
        specs.append(OpSpec(
            name=f"st{letter}", op="st", opcode=Class.ST | Mode.MEM | size, cls=Class.ST, width=nbytes * 8,
            fields=(("dst", "reg"), ("src", "zero"), ("off", "off"), ("imm", "imm")), fixed=(),
            asm=f"*({t} *)({{rdst}} {{off}}) = {{imm}}", log=f"*({t} *)({{rdst}} {{off}}) = {{imm}}",
            legacy=f"st{letter}", min_cpu=1, rfc="5.1", doc=f"*({t} *)(dst + off) = imm"))
        specs.append(OpSpec(
            name=f"stx{letter}", op="stx", opcode=Class.STX | Mode.MEM | size, cls=Class.STX, width=nbytes * 8,
            fields=(("dst", "reg"), ("src", "reg"), ("off", "off"), ("imm", "zero")), fixed=(),
            asm=f"*({t} *)({{rdst}} {{off}}) = {{rsrc}}", log=f"*({t} *)({{rdst}} {{off}}) = {{rsrc}}",
            legacy=f"stx{letter}", min_cpu=1, rfc="5.1", doc=f"*({t} *)(dst + off) = src"))
    for size, width in ((Size.W, 32), (Size.DW, 64)):
        t = SIZE_NAME[width // 8]
        a = "64" if width == 64 else ""
        sfx = "" if width == 64 else "32"
        reg = "{rsrc}" if width == 64 else "{wsrc}"
        for key, aop, sym in ATOMIC_ALU:
            base = dict(opcode=Class.STX | Mode.ATOMIC | size, cls=Class.STX, width=width, min_cpu=3, rfc="5.3",
                        fields=(("dst", "reg"), ("src", "reg"), ("off", "off"), ("imm", "fixed")))
            specs.append(OpSpec(
                name=f"atomic{width}_{key}", op="atomic_" + key, fixed=(("imm", aop),),
                asm=f"lock *({t} *)({{rdst}} {{off}}) {sym} {reg}",
                log=f"lock *({t} *)({{rdst}} {{off}}) {sym} {{rsrc}}", legacy=f"lock {key}{sfx}",
                doc=f"atomically *({t} *)(dst + off) {sym} src", **base))
            specs.append(OpSpec(
                name=f"atomic{width}_fetch_{key}", op="atomic_fetch_" + key, fixed=(("imm", aop | AtomicOp.FETCH),),
                asm=f"{reg} = atomic_fetch_{key}(({t} *)({{rdst}} {{off}}), {reg})",
                log=f"{{rsrc}} = atomic{a}_fetch_{key}(({t} *)({{rdst}} {{off}}), {{rsrc}})",
                legacy=f"lock fetch {key}{sfx}",
                doc=f"atomically *({t} *)(dst + off) {sym} src; src = the old value", **base))
        base = dict(opcode=Class.STX | Mode.ATOMIC | size, cls=Class.STX, width=width, min_cpu=3, rfc="5.3",
                    fields=(("dst", "reg"), ("src", "reg"), ("off", "off"), ("imm", "fixed")))
        xchg = "xchg_64" if width == 64 else "xchg32_32"
        cmpxchg = "cmpxchg_64" if width == 64 else "cmpxchg32_32"
        r0 = "r0" if width == 64 else "w0"
        specs.append(OpSpec(
            name=f"atomic{width}_xchg", op="atomic_xchg", fixed=(("imm", AtomicOp.XCHG),),
            asm=f"{reg} = {xchg}({{rdst}} {{off}}, {reg})",
            log=f"{{rsrc}} = atomic{a}_xchg(({t} *)({{rdst}} {{off}}), {{rsrc}})", legacy=f"lock xchg{sfx}",
            doc=f"atomically exchange *({t} *)(dst + off) and src", **base))
        specs.append(OpSpec(
            name=f"atomic{width}_cmpxchg", op="atomic_cmpxchg", fixed=(("imm", AtomicOp.CMPXCHG),),
            asm=f"{r0} = {cmpxchg}({{rdst}} {{off}}, {r0}, {reg})",
            log=f"r0 = atomic{a}_cmpxchg(({t} *)({{rdst}} {{off}}), r0, {{rsrc}})", legacy=f"lock cmpxchg{sfx}",
            doc=f"atomically: if *({t} *)(dst + off) == r0 store src; r0 = the old value", **base))
    return specs


def _ld_specs() -> list[OpSpec]:
    specs = []
    for name, pseudo, asm, doc in LD_IMM64_FORMS:
        if pseudo == PseudoSrc.FUNC:
            log = "{rdst} = func({target})"
        elif pseudo == PseudoSrc.PLAIN:
            log = "{rdst} = {imm64}"
        else:
            log = asm[: -len(" ll")]
        specs.append(OpSpec(
            name=name, op="ld_imm64", opcode=Class.LD | Mode.IMM | Size.DW, cls=Class.LD, width=64,
            fields=(("dst", "reg"), ("src", "fixed"), ("off", "zero"), ("imm", "imm")), fixed=(("src", pseudo),),
            asm=asm, log=log, legacy="lddw" if pseudo == PseudoSrc.PLAIN else "", min_cpu=1,
            rfc="5.4" if pseudo in (0, 1, 2, 3, 4, 5, 6) else "linux", doc=doc))
    for size, letter in MEM_SIZES[:3]:
        nbytes = SIZE_BYTES[size]
        t = SIZE_NAME[nbytes]
        specs.append(OpSpec(
            name=f"ldabs{letter}", op="ld_abs", opcode=Class.LD | Mode.ABS | size, cls=Class.LD, width=nbytes * 8,
            fields=(("dst", "zero"), ("src", "zero"), ("off", "zero"), ("imm", "imm")), fixed=(),
            asm=f"r0 = *({t} *)skb[{{imm}}]", log=f"r0 = *({t} *)skb[{{imm}}]", legacy=f"ldabs{letter}",
            min_cpu=1, rfc="5.5", doc=f"r0 = ntoh(*({t} *)(skb->data + imm)); legacy socket-filter packet load"))
        specs.append(OpSpec(
            name=f"ldind{letter}", op="ld_ind", opcode=Class.LD | Mode.IND | size, cls=Class.LD, width=nbytes * 8,
            fields=(("dst", "zero"), ("src", "reg"), ("off", "zero"), ("imm", "imm")), fixed=(),
            asm=f"r0 = *({t} *)skb[{{rsrc}} + {{imm}}]", log=f"r0 = *({t} *)skb[{{rsrc}} + {{imm}}]",
            aliases=(f"r0 = *({t} *)skb[{{rsrc}}]",), legacy=f"ldind{letter}", min_cpu=1, rfc="5.5",
            doc=f"r0 = ntoh(*({t} *)(skb->data + src + imm)); legacy socket-filter packet load"))
    return specs


SPECS: tuple[OpSpec, ...] = tuple(_alu_specs() + _jmp_specs() + _mem_specs() + _ld_specs())

BY_NAME: dict[str, OpSpec] = {s.name: s for s in SPECS}
assert len(BY_NAME) == len(SPECS), "duplicate OpSpec names"

BY_OPCODE: tuple[tuple[OpSpec, ...], ...] = tuple(
    tuple(sorted((s for s in SPECS if s.opcode == code), key=lambda s: not s.fixed)) for code in range(256)
)
"""For each opcode byte, the forms that use it (most have one; discriminated ones several, and those with a
discriminator come first so that ``movsx`` is found before the plain ``mov`` sharing its opcode)."""

BY_LEGACY: dict[str, tuple[OpSpec, ...]] = {}
for _s in SPECS:
    if _s.legacy:
        BY_LEGACY.setdefault(_s.legacy, ())
        BY_LEGACY[_s.legacy] = BY_LEGACY[_s.legacy] + (_s,)
del _s


def lookup(opcode: int, dst: int, src: int, off: int, imm: int) -> OpSpec | None:
    """The form this instruction's fields select, or None if no form matches (discriminators only)."""
    for spec in BY_OPCODE[opcode]:
        if spec.matches(dst, src, off, imm):
            return spec
    return None


def reg_letter(spec: OpSpec) -> str:
    """The register letter of ``{dst}``/``{src}`` in this form: ``w`` for 32-bit ALU/JMP, else ``r``."""
    return "w" if spec.cls in (Class.ALU, Class.JMP32) else "r"
