"""The control-flow checks the kernel makes before walking a program (``check_cfg`` in
``kernel/bpf/verifier.c``).

A depth-first search from instruction 0 (and from every subprogram start reached by a call) marks what is
reachable. Like the kernel, it explores the fall-through edge before the branch edge, and reports, in
the kernel's words: a jump out of the program (``jump out of range from insn 3 to 9``), a back-edge when
loops are not allowed (unprivileged loaders only: ``back-edge from insn 5 to 2``), an instruction no path
reaches (``unreachable insn 4``) and a jump into the second half of an ``ld_imm64``
(``jump into the middle of ldimm64 insn 1``).
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import isa
from ..insn import Insn, jump_target

DISCOVERED, EXPLORED = 0x10, 0x20


@dataclass(frozen=True)
class CfgError:
    insn_idx: int
    message: str
    errno: str = "EINVAL"

    def __str__(self) -> str:
        return self.message


def successors(insns: tuple[Insn, ...], pc: int) -> list[int]:
    """Where control can go after ``pc``, fall-through first (the order ``visit_insn`` pushes them).
    A call to a subprogram continues after the call; the callee is explored as its own root."""
    insn = insns[pc]
    spec = insn.spec
    if spec is None:
        return [pc + 1]
    if spec.op == "exit":
        return []
    if spec.op == "ja":
        return [jump_target(insn, pc)]
    if spec.cls in (isa.Class.JMP, isa.Class.JMP32) and spec.op not in ("call", "call_local", "call_kfunc",
                                                                        "callx"):
        return [pc + 1, jump_target(insn, pc)]
    return [pc + spec.slots]


def check_cfg(insns: tuple[Insn, ...], *, allow_loops: bool = True) -> CfgError | None:
    """The first control-flow problem, or None. ``allow_loops`` is the kernel's ``bpf_capable``."""
    n = len(insns)
    state = [0] * n
    roots = [0] + sorted({jump_target(i, pc) for pc, i in enumerate(insns)
                          if (i.opcode == 0x85 and i.src == isa.CallSrc.PSEUDO_CALL) or
                          (i.opcode == 0x18 and i.src == isa.PseudoSrc.FUNC)} - {None})
    for root in roots:
        if not 0 <= root < n:
            caller = next(pc for pc, i in enumerate(insns) if jump_target(i, pc) == root)
            return CfgError(caller, "call to invalid destination")  # add_subprog
        if state[root]:
            continue
        error = _dfs(insns, root, state, allow_loops)
        if error:
            return error
    pc = 0
    while pc < n:
        if state[pc] != EXPLORED:
            return CfgError(pc, f"unreachable insn {pc}")
        if insns[pc].opcode == 0x18:
            if pc + 1 < n and state[pc + 1]:
                return CfgError(pc, f"jump into the middle of ldimm64 insn {pc}")
            pc += 1
        pc += 1
    return None


def _dfs(insns: tuple[Insn, ...], root: int, state: list[int], allow_loops: bool) -> CfgError | None:
    n = len(insns)
    stack = [root]
    state[root] = DISCOVERED
    while stack:
        t = stack[-1]
        for w in successors(insns, t):
            if not 0 <= w < n:
                return CfgError(t, f"jump out of range from insn {t} to {w}")
            if state[w] == 0:
                state[w] = DISCOVERED
                stack.append(w)
                break
            if state[w] == DISCOVERED and not allow_loops:
                return CfgError(t, f"back-edge from insn {t} to {w}")
        else:
            state[t] = EXPLORED
            stack.pop()
    return None
