"""Per-instruction handlers for the VM, generated as small Python functions.

Each instruction becomes one function that performs it on the register list ``R`` and returns the index of
the next instruction (or ``-1`` when the program ends). The functions are generated from the statement
templates below, with only integers from the decoded instruction substituted, then compiled with
``compile()``. Why: an eBPF run is a tight loop of tiny operations, and a specialised function per
instruction (constants folded, no dispatch on the opcode at run time) is several times faster in CPython
than interpreting fields on every step. The templates follow ``alu.py``, which is the readable reference,
and ``tests/test_vm_alu.py`` checks the two against each other for every operation.

Names the generated code uses (bound in the namespace built by ``Machine``):
``R`` registers; ``LAST`` the most recently used memory region (the fast path of every access);
``LOAD(addr, size, pc)``/``STORE(addr, size, value, pc)`` the slow path (region lookup, context fields,
faults); ``FIND_ATOMIC(addr, size, pc)`` -> a writable plain region or fault; ``UNPACK``/``PACK`` struct
functions per size; ``SEXT``; ``SDIV``/``SMOD``; ``CALL``/``CALL_LOCAL``/``EXIT``/``KFUNC``/``LD_ABS``/
``MAY_GOTO``; ``LD_IMM64``; ``BSWAP``.
"""
from __future__ import annotations

from .. import isa
from ..insn import Insn, ld_imm64_value

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1

# dst = EXPR, with {d} the destination value and {s} the (already truncated) source operand.
_ALU_EXPR = {
    "add": "({d} + {s}) & {m}",
    "sub": "({d} - {s}) & {m}",
    "mul": "({d} * {s}) & {m}",
    "div": "({d} // {s} if {s} else 0)",
    "mod": "({d} % {s} if {s} else {d})",
    "sdiv": "SDIV({d}, {s}, {w})",
    "smod": "SMOD({d}, {s}, {w})",
    "or": "{d} | {s}",
    "and": "{d} & {s}",
    "xor": "{d} ^ {s}",
    "lsh": "({d} << ({s} & {sm})) & {m}",
    "rsh": "{d} >> ({s} & {sm})",
    "arsh": "((({d} ^ {sign}) - {sign}) >> ({s} & {sm})) & {m}",
    "mov": "{s}",
}

_CMP_EXPR = {
    "jeq": "{d} == {s}",
    "jne": "{d} != {s}",
    "jgt": "{d} > {s}",
    "jge": "{d} >= {s}",
    "jlt": "{d} < {s}",
    "jle": "{d} <= {s}",
    "jset": "{d} & {s}",
    "jsgt": "({d} ^ {sign}) > ({s} ^ {sign})",
    "jsge": "({d} ^ {sign}) >= ({s} ^ {sign})",
    "jslt": "({d} ^ {sign}) < ({s} ^ {sign})",
    "jsle": "({d} ^ {sign}) <= ({s} ^ {sign})",
}
# (x ^ sign) maps two's-complement order onto unsigned order, so signed compares stay integer compares.

_ATOMIC_EXPR = {
    "add": "(old + val) & {m}",
    "or": "old | val",
    "and": "old & val",
    "xor": "old ^ val",
    "xchg": "val",
}


def handler_source(insns: tuple[Insn, ...], pc: int) -> str:
    """Python source of ``def h():`` for the instruction at ``pc``."""
    insn = insns[pc]
    spec = insn.spec
    body = _body(spec, insn, insns, pc)
    return "def h():\n" + "".join(f"    {line}\n" for line in body)


def _operand(spec: isa.OpSpec, insn: Insn) -> str:
    """The source operand as an expression, truncated to the operation's width."""
    if spec.source == isa.Source.X:
        return f"R[{insn.src}]" if spec.width == 64 else f"(R[{insn.src}] & {M32})"
    imm = insn.imm & (M64 if spec.width == 64 else M32)  # imm is sign-extended to 64 bits for 64-bit ops
    return str(imm)


def _body(spec: isa.OpSpec, insn: Insn, insns: tuple[Insn, ...], pc: int) -> list[str]:
    nxt = pc + 1
    d, s = insn.dst, insn.src
    op = spec.op
    cls = spec.cls
    if cls in (isa.Class.ALU, isa.Class.ALU64):
        w = 64 if cls == isa.Class.ALU64 else 32
        m = M64 if w == 64 else M32
        dval = f"R[{d}]" if w == 64 else f"(R[{d}] & {M32})"
        if op in _ALU_EXPR:
            expr = _ALU_EXPR[op].format(d="a", s="b", m=m, w=w, sm=w - 1, sign=1 << (w - 1))
            return [f"a = {dval}", f"b = {_operand(spec, insn)}", f"R[{d}] = {expr}", f"return {nxt}"]
        if op == "neg":
            return [f"R[{d}] = -{dval} & {m}", f"return {nxt}"]
        if op == "movsx":
            bits = insn.off
            return [f"R[{d}] = SEXT(R[{s}], {bits}) & {m}", f"return {nxt}"]
        if op == "le":
            return [f"R[{d}] &= {(1 << spec.width) - 1}", f"return {nxt}"]
        if op in ("be", "bswap"):
            return [f"R[{d}] = BSWAP(R[{d}], {spec.width})", f"return {nxt}"]
    if cls in (isa.Class.JMP, isa.Class.JMP32):
        if op in _CMP_EXPR:
            w = spec.width
            dval = f"R[{d}]" if w == 64 else f"(R[{d}] & {M32})"
            expr = _CMP_EXPR[op].format(d="a", s="b", sign=1 << (w - 1))
            target = pc + 1 + insn.off
            return [f"a = {dval}", f"b = {_operand(spec, insn)}", f"return {target} if {expr} else {nxt}"]
        if op == "ja":
            return [f"return {pc + 1 + (insn.imm if spec.name == 'gotol' else insn.off)}"]
        if op == "call":
            return [f"return CALL({insn.imm}, {pc})"]
        if op == "callx":
            return [f"return CALL(R[{d}], {pc})"]
        if op == "call_local":
            return [f"return CALL_LOCAL({pc}, {pc + 1 + insn.imm})"]
        if op == "call_kfunc":
            return [f"return KFUNC({insn.imm}, {pc})"]
        if op == "exit":
            return ["return EXIT()"]
        if op == "may_goto":
            return [f"return MAY_GOTO({pc}, {pc + 1 + insn.off}, {nxt})"]
    size = spec.size
    if cls == isa.Class.LDX:
        load = f"UNPACK{size}(m.data, a - m.base)[0]"
        fix = (lambda v: f"SEXT({v}, {size * 8})") if op == "ldxs" else (lambda v: v)
        return [f"a = (R[{s}] + {insn.off}) & {M64}", "m = LAST[0]",
                f"if m.base <= a and a + {size} <= m.end: R[{d}] = {fix(load)}",
                f"else: R[{d}] = {fix(f'LOAD(a, {size}, {pc})')}", f"return {nxt}"]
    if cls in (isa.Class.ST, isa.Class.STX) and op in ("st", "stx"):
        value = f"R[{s}] & {(1 << (size * 8)) - 1}" if op == "stx" else str(insn.imm & ((1 << (size * 8)) - 1))
        return [f"a = (R[{d}] + {insn.off}) & {M64}", "m = LAST[0]",
                f"if m.base <= a and a + {size} <= m.end and m.writable:",
                f"    PACK{size}(m.data, a - m.base, {value})", "    m.writes += 1",
                f"else: STORE(a, {size}, {value}, {pc})", f"return {nxt}"]
    if op.startswith("atomic_"):
        return _atomic(spec, insn, pc)
    if op == "ld_imm64":
        if insn.src == isa.PseudoSrc.PLAIN:
            return [f"R[{d}] = {ld_imm64_value(insn, insns[pc + 1])}", f"return {pc + 2}"]
        return [f"R[{d}] = LD_IMM64({pc})", f"return {pc + 2}"]
    if op in ("ld_abs", "ld_ind"):
        base = "0" if op == "ld_abs" else f"R[{s}]"
        return [f"return LD_ABS({base}, {insn.imm}, {size}, {pc})"]
    raise AssertionError(f"no handler template for {spec.name}")


def _atomic(spec: isa.OpSpec, insn: Insn, pc: int) -> list[str]:
    size = spec.size
    m = M64 if size == 8 else M32
    d, s = insn.dst, insn.src
    kind = spec.op.removeprefix("atomic_").removeprefix("fetch_")
    lines = [f"a = (R[{d}] + {insn.off}) & {M64}", "m = LAST[0]",
             f"if not (m.base <= a and a + {size} <= m.end and m.writable): m = FIND_ATOMIC(a, {size}, {pc})",
             "o = a - m.base", f"old = UNPACK{size}(m.data, o)[0]"]
    if kind == "cmpxchg":
        lines += [f"if old == R[0] & {m}: PACK{size}(m.data, o, R[{s}] & {m})", "R[0] = old"]
    else:
        expr = _ATOMIC_EXPR[kind].format(m=m)
        lines += [f"val = R[{s}] & {m}", f"PACK{size}(m.data, o, {expr})"]
        if spec.op.startswith("atomic_fetch_") or kind == "xchg":
            lines.append(f"R[{s}] = old")
    lines += ["m.writes += 1", f"return {pc + 1}"]
    return lines


def written_registers(insn: Insn) -> tuple[int, ...]:
    """Registers the instruction may write (for step records); calls and exits are handled by the VM."""
    spec = insn.spec
    if spec is None:
        return ()
    if spec.cls in (isa.Class.ALU, isa.Class.ALU64, isa.Class.LDX) or spec.op == "ld_imm64":
        return (insn.dst,)
    if spec.op.startswith("atomic_"):
        if spec.op == "atomic_cmpxchg":
            return (0,)
        return (insn.src,) if "fetch" in spec.op or spec.op == "atomic_xchg" else ()
    if spec.op in ("call", "callx", "call_kfunc", "ld_abs", "ld_ind"):
        return (0,)
    return ()


__all__ = ["handler_source", "written_registers", "ld_imm64_value"]
