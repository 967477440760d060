"""Small programs several test modules walk, run and show."""
from __future__ import annotations

PACKET_CHECK = """\
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r0 = 1
r4 = r2
r4 += 14
if r4 > r3 goto +3
r5 = *(u8 *)(r2 + 12)
if r5 == 8 goto +1
r0 = 2
exit
"""
"""XDP: read the EtherType's low byte after proving 14 bytes are there (two branches, both ending at insn 9)."""

UNCHECKED = "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nexit\n"
"""XDP: a packet read with no bounds check, rejected at insn 1."""
