"""Run one program in our VM and in the kernel and compare what they return.

The kernel reports r0 as a u32 (``BPF_PROG_TEST_RUN``'s ``retval``), so the VM's 64-bit r0 is compared
through ``& 0xffffffff``; the generated programs fold every register and every initialised stack slot
into r0 (see ``gen.epilogue``) so that a difference anywhere reaches those 32 bits.
"""
from __future__ import annotations

from dataclasses import dataclass

from app.ebpf import disassemble, load_bytes
from app.ebpf.insn import Insn, encode
from app.ebpf.vm import run
from app.oracle import KernelRejected, load_program, verify_in_kernel

from .build import EXIT, FP, I

PROG_TYPES = ("socket_filter", "xdp")
PACKET = bytes(range(64))  # both types need >= 14 bytes (an Ethernet header)
VM_MAX_INSNS = 100_000


class GeneratorBug(AssertionError):
    """The kernel refused a program the generator meant to be valid."""


@dataclass(frozen=True)
class Outcome:
    prog_type: str
    kernel: int  # u32 retval
    vm: int | None  # u64 r0, or None when the VM faulted
    vm_fault: str | None

    @property
    def agree(self) -> bool:
        return self.vm is not None and self.vm & 0xFFFFFFFF == self.kernel


def listing(insns: list[Insn] | tuple[Insn, ...] | bytes) -> str:
    code = insns if isinstance(insns, bytes) else encode(insns)
    return disassemble(load_bytes(code), "log")


def kernel_retval(code: bytes, prog_type: str) -> int:
    """Load (stats-only log, fast), run once on PACKET, return the u32 retval.

    A refusal raises GeneratorBug with the level-1 log, which says why.
    """
    try:
        prog = load_program(code, prog_type, log_level=4)
    except KernelRejected as e:
        verdict = verify_in_kernel(code, prog_type, log_level=1)
        log = verdict.log if len(verdict.log) < 6000 else "...\n" + verdict.log[-6000:]
        raise GeneratorBug(
            f"the kernel refused a generated {prog_type} program ({e}):\n{listing(code)}\n--- verifier log ---\n"
            f"{log}") from None
    with prog:
        return prog.test_run(PACKET).retval


def vm_result(code: bytes) -> tuple[int | None, str | None]:
    result = run(load_bytes(code), max_insns=VM_MAX_INSNS)
    return result.retval, (str(result.fault) if result.fault else None)


def compare(code: bytes, prog_types: tuple[str, ...] = PROG_TYPES) -> list[Outcome]:
    vm, fault = vm_result(code)
    return [Outcome(t, kernel_retval(code, t), vm, fault) for t in prog_types]


def describe(code: bytes, outcomes: list[Outcome], extra: str = "") -> str:
    lines = ["our VM and the kernel disagree", listing(code), ""]
    for o in outcomes:
        vm = f"0x{o.vm:016x} (low 32: 0x{o.vm & 0xFFFFFFFF:08x})" if o.vm is not None else f"fault: {o.vm_fault}"
        lines.append(f"{o.prog_type:>13}: kernel retval 0x{o.kernel:08x}, VM r0 {vm}"
                     f"{'' if o.agree else '   <-- differs'}")
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def probe_values(prefix: list[Insn], regs: list[int], slots: list[int]) -> str:
    """Where do the VM and the kernel part ways? Re-run ``prefix`` (prologue + body, no epilogue) once per
    register and initialised 8-byte stack slot, returning its low or high half, and list what differs."""
    probes: list[tuple[str, list[Insn]]] = []
    for r in regs:
        get = [] if r == 0 else [I("mov64_reg", 0, r)]
        probes.append((f"r{r} low", get + [EXIT]))
        probes.append((f"r{r} high", get + [I("rsh64_imm", 0, imm=32), EXIT]))
    for off in slots:
        get = [I("ldxdw", 0, FP, off=off)]
        probes.append((f"*(u64 *)(r10 {off}) low", get + [EXIT]))
        probes.append((f"*(u64 *)(r10 {off}) high", get + [I("rsh64_imm", 0, imm=32), EXIT]))
    diffs = []
    for what, tail in probes:
        code = encode(prefix + tail)
        try:
            k = kernel_retval(code, "socket_filter")
        except GeneratorBug:
            continue
        v, fault = vm_result(code)
        if v is None or v & 0xFFFFFFFF != k:
            diffs.append(f"  {what}: kernel 0x{k:08x}, VM " + (f"0x{v & 0xFFFFFFFF:08x}" if v is not None
                                                                  else f"fault {fault}"))
    if not diffs:
        return "per-register probes: no single register or slot differs at the end of the body"
    return "values at the end of the body that differ (32-bit halves):\n" + "\n".join(diffs)
