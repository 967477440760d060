"""Pure arithmetic of RFC 9669 section 4, keyed by the ISA table's semantic op names.

Values are unsigned Python ints of the operation's width (64 or 32 bits). These functions are the
reference semantics: the VM compiles specialised closures from them (``machine.py``) and the tests check
both against each other and against the kernel.
"""
from __future__ import annotations

M64 = (1 << 64) - 1
M32 = (1 << 32) - 1


def signed(value: int, width: int) -> int:
    return value - (1 << width) if value >> (width - 1) & 1 else value


def sext(value: int, bits: int) -> int:
    """Sign-extend the low ``bits`` of ``value`` to 64 bits (unsigned result)."""
    value &= (1 << bits) - 1
    return (value - (1 << bits) if value >> (bits - 1) else value) & M64


def _sdiv(a: int, b: int, w: int) -> int:
    if b == 0:
        return 0
    sa, sb = signed(a, w), signed(b, w)
    q = abs(sa) // abs(sb)
    return (-q if (sa < 0) != (sb < 0) else q) & ((1 << w) - 1)


def _smod(a: int, b: int, w: int) -> int:
    if b == 0:
        return a
    sa, sb = signed(a, w), signed(b, w)
    r = abs(sa) % abs(sb)
    return (-r if sa < 0 else r) & ((1 << w) - 1)


def _arsh(a: int, b: int, w: int) -> int:
    return (signed(a, w) >> (b & (w - 1))) & ((1 << w) - 1)


BINARY = {
    "add": lambda a, b, w: (a + b) & ((1 << w) - 1),
    "sub": lambda a, b, w: (a - b) & ((1 << w) - 1),
    "mul": lambda a, b, w: (a * b) & ((1 << w) - 1),
    "div": lambda a, b, w: a // b if b else 0,
    "sdiv": _sdiv,
    "mod": lambda a, b, w: a % b if b else a,
    "smod": _smod,
    "or": lambda a, b, w: a | b,
    "and": lambda a, b, w: a & b,
    "xor": lambda a, b, w: a ^ b,
    "lsh": lambda a, b, w: (a << (b & (w - 1))) & ((1 << w) - 1),
    "rsh": lambda a, b, w: a >> (b & (w - 1)),
    "arsh": _arsh,
    "mov": lambda a, b, w: b,
}
"""op -> f(dst, src, width) for operands already truncated to ``width`` bits."""


def alu(op: str, width: int, dst: int, src: int) -> int:
    """Result of ``dst op= src`` for 64-bit register values; 32-bit ops zero-extend their result."""
    mask = M64 if width == 64 else M32
    return BINARY[op](dst & mask, src & mask, width)


def byteswap(value: int, bits: int) -> int:
    return int.from_bytes((value & ((1 << bits) - 1)).to_bytes(bits // 8, "little"), "big")


def endian(op: str, bits: int, value: int) -> int:
    """``le``/``be``/``bswap`` of RFC 9669 section 4.2 on a little-endian machine."""
    if op == "le":
        return value & ((1 << bits) - 1)
    return byteswap(value, bits)


COMPARE = {
    "jeq": lambda a, b, w: a == b,
    "jne": lambda a, b, w: a != b,
    "jgt": lambda a, b, w: a > b,
    "jge": lambda a, b, w: a >= b,
    "jlt": lambda a, b, w: a < b,
    "jle": lambda a, b, w: a <= b,
    "jset": lambda a, b, w: bool(a & b),
    "jsgt": lambda a, b, w: signed(a, w) > signed(b, w),
    "jsge": lambda a, b, w: signed(a, w) >= signed(b, w),
    "jslt": lambda a, b, w: signed(a, w) < signed(b, w),
    "jsle": lambda a, b, w: signed(a, w) <= signed(b, w),
}


def compare(op: str, width: int, dst: int, src: int) -> bool:
    mask = M64 if width == 64 else M32
    return COMPARE[op](dst & mask, src & mask, width)


ATOMIC = {
    "add": lambda old, v, mask: (old + v) & mask,
    "or": lambda old, v, mask: old | v,
    "and": lambda old, v, mask: old & v,
    "xor": lambda old, v, mask: old ^ v,
    "xchg": lambda old, v, mask: v,
}
