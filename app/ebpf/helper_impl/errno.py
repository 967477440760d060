"""Linux errno values that helpers return (negated, as 64-bit register values)."""
from __future__ import annotations

ENOENT = 2
E2BIG = 7
EAGAIN = 11
EACCES = 13
EFAULT = 14
EBUSY = 16
EEXIST = 17
EINVAL = 22
ENOSPC = 28
ERANGE = 34
EOPNOTSUPP = 95
ENOTSUPP = 524

M64 = (1 << 64) - 1


def neg(errno: int) -> int:
    """``-errno`` as the unsigned value r0 holds."""
    return -errno & M64
