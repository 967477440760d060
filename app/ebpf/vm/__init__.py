"""Concrete runs: ``run(program, ...) -> RunResult``.

Input conventions (``layout``):

``"mem"``
    the convention of the public conformance suites and uBPF: r1 holds the address of a private copy of
    ``mem`` (0 when there is none) and r2 its length.
``"packet"``
    the same with the input placed in a region named ``packet`` (what the legacy ``ld_abs``/``ld_ind``
    loads read), for raw programs that work on packet bytes.

Program types with real contexts (XDP's ``xdp_md``, ``__sk_buff``, kprobe registers) build on this
through the program-type table.
"""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import InputError
from ..program import Program
from .machine import GuestFault, Helper, Machine, OutputRecord, VmFault
from .memory import MEM_BASE, PACKET_BASE, Region
from .trace import MachineState, StepRecord, Trace, state_of

DEFAULT_MAX_INSNS = 1_000_000
MAX_INPUT = 1 << 20  # bytes of input memory or packet a run accepts


@dataclass(frozen=True)
class RunResult:
    """The outcome of a run. ``retval`` is r0 at the final exit (unsigned 64-bit), None after a fault."""

    retval: int | None
    insns_executed: int
    fault: VmFault | None
    packet_out: bytes | None = None
    maps: tuple = ()
    output: tuple[OutputRecord, ...] = ()
    trace: Trace | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        return {"retval": self.retval, "insns_executed": self.insns_executed,
                "fault": self.fault.to_json() if self.fault else None,
                "packet_out": self.packet_out.hex() if self.packet_out is not None else None,
                "maps": [m.to_json() for m in self.maps], "output": [o.to_json() for o in self.output]}


def build_machine(program: Program, *, mem: bytes | None = None, layout: str = "mem",
                  helpers: Mapping[int, Helper] | None = None, max_insns: int = DEFAULT_MAX_INSNS) -> Machine:
    """A machine with its input in place, ready to run. Raises ``InputError`` for unusable input."""
    if layout not in ("mem", "packet"):
        raise InputError("layout", f"unknown input layout {layout!r} (mem, packet)")
    if mem is not None and len(mem) > MAX_INPUT:
        raise InputError(layout, f"input is {len(mem)} bytes; at most {MAX_INPUT} are allowed")
    if not 1 <= max_insns <= 100_000_000:
        raise InputError("max_insns", "must be between 1 and 100000000")
    m = Machine(program, helpers=helpers, max_insns=max_insns)
    if mem is not None:
        base = MEM_BASE if layout == "mem" else PACKET_BASE
        m.mem.add(Region(layout, base, bytearray(mem)))
        m.R[1], m.R[2] = base, len(mem)
    return m


def run(program: Program, *, mem: bytes | None = None, layout: str = "mem",
        helpers: Mapping[int, Helper] | None = None, max_insns: int = DEFAULT_MAX_INSNS,
        trace: bool = False, checkpoint_every: int = 4096) -> RunResult:
    """Run ``program`` to its end (exit, fault or ``max_insns`` executed instructions).

    With ``trace=True`` the result carries a ``Trace`` from which the state at any step can be recomputed.
    The same arguments always give the same result.
    """
    def fresh() -> Machine:
        return build_machine(program, mem=mem, layout=layout, helpers=helpers, max_insns=max_insns)

    m = fresh()
    if not trace:
        m.run()
        return _result(m, None)
    pcs = array("i")
    checkpoints = []
    while not m.done:
        checkpoints.append(m.snapshot())
        m.run(max_steps=checkpoint_every, pcs=pcs)
    # After a fault the path ends with the faulting instruction (recorded, not completed), so the last
    # step record shows the fault itself.
    return _result(m, Trace(pcs, checkpoints, fresh, state_of(m)))


def _result(m: Machine, trace: Trace | None) -> RunResult:
    packet = next((r for r in m.mem.regions if r.name == "packet"), None)
    return RunResult(
        retval=m.retval if m.fault is None else None,
        insns_executed=m.steps,
        fault=m.fault,
        packet_out=bytes(packet.data) if packet is not None else None,
        output=tuple(m.output),
        trace=trace,
    )


__all__ = ["run", "build_machine", "RunResult", "Machine", "Helper", "VmFault", "GuestFault", "Trace",
           "MachineState", "StepRecord", "OutputRecord", "DEFAULT_MAX_INSNS"]
