"""The examples menu: small programs that each show one thing worth stepping through.

Every example assembles and runs to the ``expect`` result (a test holds them to it), so the menu never
offers a program that does not work as its description says.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    """``slug`` is the stable id used in links (``/?example=sum``); ``mem`` is the input memory as hex;
    ``expect`` is the return value, or the fault kind (``"fault:memory"``) when it is meant to stop early."""

    slug: str
    title: str
    summary: str
    source: str
    mem: str = ""
    expect: int | str = 0


EXAMPLES: tuple[Example, ...] = (
    Example(
        "sum", "Sum of 1..N (a loop)",
        "A loop with a conditional jump back: watch r1 count down while r0 adds up.",
        """\
# Sum of 1..N: a loop with a conditional jump back.
# r0 accumulates, r1 counts down from N to 1.
    r0 = 0
    r1 = 10             # N
loop:
    r0 += r1
    r1 -= 1
    if r1 != 0 goto loop
    exit                # returns 55
""", expect=55),
    Example(
        "bswap", "Byte swap of the input memory",
        "Reads 8 bytes of input through r1, reverses them and writes them back in place.",
        """\
# Byte swap of the input memory, in place.
# r1 points to the input, r2 holds its length.
    if r2 < 8 goto too_short
    r0 = *(u64 *)(r1 + 0)
    r0 = bswap64 r0
    *(u64 *)(r1 + 0) = r0
    exit                # returns the swapped value
too_short:
    r0 = -1
    exit
""", mem="01 02 03 04 05 06 07 08", expect=0x0102030405060708),
    Example(
        "call", "A bpf-to-bpf call",
        "A subprogram call: the callee gets its own stack frame and returns in r0.",
        """\
# A bpf-to-bpf call: square(7) + 1.
# The callee gets a fresh 512-byte stack frame; r6-r9 are kept for the caller.
    r1 = 7
    call square
    r0 += 1
    exit                # returns 50

square:
    *(u64 *)(r10 - 8) = r1   # a slot in the callee's own frame
    r0 = r1
    r0 *= r1
    exit
""", expect=50),
    Example(
        "legacy", "Legacy syntax (uBPF tests)",
        "The mnemonic syntax of the uBPF and bpf_conformance suites: sum the bytes of the input.",
        """\
# The legacy syntax of the uBPF and bpf_conformance test suites:
# sum the bytes of the input memory (r1 = address, r2 = length).
    mov %r0, 0
    mov %r3, 0
loop:
    jge %r3, %r2, done
    mov %r4, %r1
    add %r4, %r3
    ldxb %r5, [%r4]
    add %r0, %r5
    add %r3, 1
    ja loop
done:
    exit
""", mem="01 02 03 04 05", expect=15),
    Example(
        "atomic", "An atomic counter on the stack",
        "Atomic adds to a stack slot, and a fetch-add that returns the old value.",
        """\
# An atomic counter in a stack slot.
    *(u64 *)(r10 - 8) = 0            # counter = 0
    r1 = 5
    lock *(u64 *)(r10 - 8) += r1     # counter += 5
    lock *(u64 *)(r10 - 8) += r1     # counter += 5
    r2 = 1
    r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)   # r2 = 10 (the old value), counter = 11
    r0 = *(u64 *)(r10 - 8)
    exit                             # returns 11
""", expect=11),
    Example(
        "fault", "Reading past the input (a fault)",
        "An out-of-bounds load: the run stops with a fault naming the region and offset.",
        """\
# Reading past the end of the input: the VM stops with a fault
# that names the region and the offset.
    r0 = *(u32 *)(r1 + 0)
    r0 = *(u32 *)(r1 + 4)     # the input is only 6 bytes long
    exit
""", mem="de ad be ef 01 02", expect="fault:memory"),
)

BY_SLUG: dict[str, Example] = {e.slug: e for e in EXAMPLES}
DEFAULT = EXAMPLES[0]
