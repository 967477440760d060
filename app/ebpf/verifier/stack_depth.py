"""The combined stack of a call chain, checked after the walk as ``check_max_stack_depth`` does.

During the walk every stack access grows its function's depth (``grow_stack_state`` sets
``subprog_info[].stack_depth`` to the deepest byte used, helpers' stack arguments included). Afterwards
the kernel follows every call (``call pc+N``, and ``ld_imm64`` of a function for callbacks) from the main
program and adds up the depths along each chain, each rounded up to 16 bytes (``round_up_stack_depth``
for a JIT-requested program, as every program is on x86-64): a chain deeper than 512 bytes is refused,
naming how many functions it holds.
"""
from __future__ import annotations

from ..insn import Insn, jump_target
from ..loadcheck import refers_to_function, subprog_starts
from .state import MAX_BPF_STACK


def _round_up(depth: int) -> int:
    return (depth + 15) // 16 * 16


def _callees(insns: tuple[Insn, ...], start: int, end: int) -> list[int | None]:
    """Start instructions of the functions that instructions ``start..end-1`` call or take the address of."""
    return [jump_target(insns[pc], pc) for pc in range(start, end) if refers_to_function(insns[pc])]


def combined_stack_problem(insns: tuple[Insn, ...], depths: dict[int, int]) -> str | None:
    """The kernel's refusal when some call chain needs more than 512 bytes of stack, else None.

    ``depths`` maps a function's first instruction to the deepest stack byte it used during the walk.
    """
    starts = subprog_starts(insns)
    ends = dict(zip(starts, starts[1:] + [len(insns)]))

    def walk(fn: int, total: int, frames: int, chain: frozenset[int]) -> str | None:
        total += _round_up(depths.get(fn, 0))
        if total > MAX_BPF_STACK:
            return f"combined stack size of {frames} calls is {total}. Too large"
        for callee in _callees(insns, fn, ends.get(fn, len(insns))):
            if callee in chain or callee not in ends:
                continue  # recursion and bad targets are refused before the walk
            problem = walk(callee, total, frames + 1, chain | {callee})
            if problem:
                return problem
        return None

    return walk(0, 0, 1, frozenset({0}))
