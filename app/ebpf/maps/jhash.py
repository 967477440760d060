"""Bob Jenkins' lookup3 hash as the kernel has it (include/linux/jhash.h): ``jhash`` over bytes and
``jhash2`` over u32 words, both with an ``initval`` seed. The bloom filter hashes values with these, so
with the same seed the playground sets the same bits as the kernel."""
from __future__ import annotations

M32 = 0xFFFFFFFF
JHASH_INITVAL = 0xDEADBEEF


def _rol32(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & M32


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    """``__jhash_mix``."""
    a = (a - c) & M32; a ^= _rol32(c, 4); c = (c + b) & M32  # noqa: E702
    b = (b - a) & M32; b ^= _rol32(a, 6); a = (a + c) & M32  # noqa: E702
    c = (c - b) & M32; c ^= _rol32(b, 8); b = (b + a) & M32  # noqa: E702
    a = (a - c) & M32; a ^= _rol32(c, 16); c = (c + b) & M32  # noqa: E702
    b = (b - a) & M32; b ^= _rol32(a, 19); a = (a + c) & M32  # noqa: E702
    c = (c - b) & M32; c ^= _rol32(b, 4); b = (b + a) & M32  # noqa: E702
    return a, b, c


def _final(a: int, b: int, c: int) -> int:
    """``__jhash_final``; returns c."""
    c ^= b; c = (c - _rol32(b, 14)) & M32  # noqa: E702
    a ^= c; a = (a - _rol32(c, 11)) & M32  # noqa: E702
    b ^= a; b = (b - _rol32(a, 25)) & M32  # noqa: E702
    c ^= b; c = (c - _rol32(b, 16)) & M32  # noqa: E702
    a ^= c; a = (a - _rol32(c, 4)) & M32  # noqa: E702
    b ^= a; b = (b - _rol32(a, 14)) & M32  # noqa: E702
    c ^= b; c = (c - _rol32(b, 24)) & M32  # noqa: E702
    return c


def jhash(key: bytes, initval: int) -> int:
    """``jhash(key, length, initval)``."""
    length = len(key)
    a = b = c = (JHASH_INITVAL + length + initval) & M32
    k = 0
    while length > 12:
        a = (a + int.from_bytes(key[k:k + 4], "little")) & M32
        b = (b + int.from_bytes(key[k + 4:k + 8], "little")) & M32
        c = (c + int.from_bytes(key[k + 8:k + 12], "little")) & M32
        a, b, c = _mix(a, b, c)
        length -= 12
        k += 12
    if length == 0:
        return c
    tail = key[k:] + bytes(12 - length)  # the switch's fall-through adds the remaining bytes little-endian
    a = (a + int.from_bytes(tail[0:4], "little")) & M32
    b = (b + int.from_bytes(tail[4:8], "little")) & M32
    c = (c + int.from_bytes(tail[8:12], "little")) & M32
    return _final(a, b, c)


def jhash2(words: bytes, initval: int) -> int:
    """``jhash2(k, length, initval)`` over ``len(words) // 4`` native-endian u32 words."""
    length = len(words) // 4
    k = [int.from_bytes(words[i:i + 4], "little") for i in range(0, length * 4, 4)]
    a = b = c = (JHASH_INITVAL + (length << 2) + initval) & M32
    i = 0
    while length > 3:
        a = (a + k[i]) & M32
        b = (b + k[i + 1]) & M32
        c = (c + k[i + 2]) & M32
        a, b, c = _mix(a, b, c)
        length -= 3
        i += 3
    if length == 0:
        return c
    rest = k[i:] + [0] * (3 - length)
    a = (a + rest[0]) & M32
    b = (b + rest[1]) & M32
    c = (c + rest[2]) & M32
    return _final(a, b, c)
