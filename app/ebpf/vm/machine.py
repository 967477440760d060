"""The VM: machine state, instruction dispatch, calls and frames, faults.

A guest program's failure (a bad access, an unknown helper, running out of its instruction budget) ends
the run with a ``VmFault`` *result*; Python exceptions out of here are engine bugs. Division by zero is no
fault: RFC 9669 defines its result.

Calls follow the kernel's conventions: helpers take r1-r5 and return in r0 (r1-r5 are left as they are,
as in the kernel's interpreter ``___bpf_prog_run``; the verifier forbids reading them); a bpf-to-bpf call
(``call pc+N``) gets a fresh 512-byte stack frame, keeps r6-r9 and r10 for the caller, and at most
``MAX_FRAMES`` frames exist at once.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Mapping

from .. import isa
from ..env import Env, EnvState
from ..insn import Insn, ld_imm64_value
from ..program import Program
from . import alu
from .codegen import handler_source
from .packet import PacketBuffer
from .memory import CODE_BASE, MAX_FRAMES, STACK_BASE, STACK_SIZE, STACK_STRIDE, Access, Memory, Region

M64 = (1 << 64) - 1
BPF_MAX_LOOPS = 8 * 1024 * 1024  # kernel: the may_goto budget of a program


@dataclass(frozen=True)
class VmFault:
    """Why a run stopped early. ``pc`` is the instruction that failed."""

    pc: int
    kind: str  # "memory", "helper", "limit", "call-depth", "unsupported", "end-of-program"
    message: str
    region: str | None = None
    offset: int | None = None
    size: int | None = None
    addr: int | None = None

    def to_json(self) -> dict:
        return {"pc": self.pc, "kind": self.kind, "message": self.message, "region": self.region,
                "offset": self.offset, "size": self.size, "addr": self.addr}

    def __str__(self) -> str:
        return f"pc {self.pc}: {self.message}"


class GuestFault(Exception):
    """Raised inside a step to end the run with ``fault``; caught by the run loop, never escapes."""

    def __init__(self, fault: VmFault):
        super().__init__(str(fault))
        self.fault = fault


@dataclass(frozen=True)
class Helper:
    """A helper the VM can call: ``fn(vm, r1, r2, r3, r4, r5) -> r0``."""

    id: int
    name: str
    fn: Callable[..., int]
    doc: str = ""


@dataclass(frozen=True)
class Frame:
    return_pc: int
    saved: tuple[int, int, int, int]  # the caller's r6-r9
    fp: int  # the caller's r10
    callback: "Continuation | None" = None  # set when the frame runs a helper's callback (bpf_loop ...)


class Continuation:
    """What a helper does when its callback returns (frozen dataclasses subclass this).

    ``resume(vm, r0, return_pc)`` sees the callback's return value and either starts the next call
    (returning ``vm.start_callback(...)``) or sets r0 and returns ``return_pc``, the pc after the helper call.
    """

    def resume(self, vm: "Machine", r0: int, return_pc: int) -> int:
        raise NotImplementedError


@dataclass(frozen=True)
class OutputRecord:
    """Something a helper printed or emitted (trace_printk line, ring buffer record, ...) at instruction
    ``pc``; ``step`` is the step index in traced runs (None in plain runs, which do not count per step)."""

    pc: int
    step: int | None
    kind: str
    text: str
    data: bytes = b""

    def to_json(self) -> dict:
        out = {"pc": self.pc, "step": self.step, "kind": self.kind, "text": self.text}
        if self.data:
            out["data"] = self.data.hex()
        return out


@dataclass
class Snapshot:
    """Everything needed to resume a machine: taken at checkpoints, restored to replay."""

    steps: int
    pc: int
    regs: tuple[int, ...]
    frames: tuple[Frame, ...]
    regions: tuple[tuple[str, int, bytes, int, bool], ...]  # name, base, contents, writes counter, writable
    output_len: int
    done: bool
    retval: int | None
    fault: VmFault | None
    loop_budget: int
    extra: object = None  # state of the environment (clock, random generator) and of the maps


class Machine:
    """One program's execution state. Build it, add input regions, set registers, then ``run()`` or
    ``step()``. The caller owns the input layout (see ``app.ebpf.vm.run``)."""

    def __init__(self, program: Program, *, helpers: Mapping[int, Helper] | None = None,
                 max_insns: int = 1_000_000, env: Env | None = None):
        self.program = program
        self.env = env or Env()
        self.env_state = EnvState(rng=self.env.seed)
        self.maps: list = []  # map instances (app.ebpf.maps), in the program's declaration order
        self.prog_type = "raw"
        self._pcs = None  # the path array of a traced run, while one is running
        self.jump_to: int | None = None  # set by a helper that continues elsewhere (callback, tail call)
        self.tail_calls = 0
        self.insns: tuple[Insn, ...] = program.insns
        self.helpers = dict(helpers or {})
        self.max_insns = max_insns
        self.R = [0] * 11
        self.mem = Memory()
        self.frames: list[Frame] = []
        self.stacks: list[Region] = []
        self.pc = 0
        self.steps = 0
        self.done = False
        self.retval: int | None = None
        self.fault: VmFault | None = None
        self.output: list[OutputRecord] = []
        self.loop_budget = BPF_MAX_LOOPS
        self.halt_requested = False
        self.ld_imm64_resolver: Callable[[Insn, Insn], int] | None = None
        self.packet: PacketBuffer | None = None  # the packet of networking program types
        self.ctx: Region | None = None  # the context region (r1 at entry) of typed programs
        self._snapshot_cache: dict[int, tuple[Region, int, bytes]] = {}
        self.R[10] = self._stack(0).end
        self.handlers = self._compile()

    # --- set-up -------------------------------------------------------------------------------------------

    def _stack(self, depth: int) -> Region:
        while len(self.stacks) <= depth:
            i = len(self.stacks)
            self.stacks.append(self.mem.add(Region(f"stack[{i}]", STACK_BASE + i * STACK_STRIDE,
                                                   bytearray(STACK_SIZE))))
        return self.stacks[depth]

    def _compile(self) -> list[Callable[[], int]]:
        namespace = {
            "R": self.R, "LAST": self.mem.last, "LOAD": self._load, "STORE": self._store,
            "FIND_ATOMIC": self._find_atomic, "SEXT": alu.sext,
            "SDIV": alu.BINARY["sdiv"], "SMOD": alu.BINARY["smod"], "BSWAP": alu.byteswap,
            "CALL": self._call, "CALL_LOCAL": self._call_local, "EXIT": self._exit, "KFUNC": self._kfunc,
            "MAY_GOTO": self._may_goto, "LD_ABS": self._ld_abs, "LD_IMM64": self._ld_imm64,
        }
        for size, fmt in ((1, "<B"), (2, "<H"), (4, "<I"), (8, "<Q")):
            st = struct.Struct(fmt)
            namespace[f"UNPACK{size}"] = st.unpack_from
            namespace[f"PACK{size}"] = st.pack_into
        handlers: list[Callable[[], int]] = []
        cache: dict[str, Callable[[], int]] = {}
        pc = 0
        n = len(self.insns)
        while pc < n:
            insn = self.insns[pc]
            spec = insn.spec
            src = handler_source(self.insns, pc)
            if src not in cache:
                code = compile(src, f"<insn {pc}>", "exec")
                local: dict = {}
                exec(code, namespace, local)
                cache[src] = local["h"]
            handlers.append(cache[src])
            if spec.slots == 2:
                handlers.append(self._bad_target(pc + 1))
            pc += spec.slots
        handlers.append(self._fell_off(n))
        return handlers

    def _bad_target(self, pc: int) -> Callable[[], int]:
        def h() -> int:
            raise GuestFault(VmFault(pc, "unsupported", "jumped into the second half of ld_imm64"))
        return h

    def _fell_off(self, pc: int) -> Callable[[], int]:
        def h() -> int:
            raise GuestFault(VmFault(pc, "end-of-program", f"fell off the end of the program at insn {pc} "
                                                           f"(the last instruction must be exit or a jump)"))
        return h

    # --- runtime services used by generated code and helpers --------------------------------------------

    def _load(self, addr: int, size: int, pc: int) -> int:
        """Slow path of a load: find the region (context regions answer through their hooks)."""
        r = self.mem.find(addr, size)
        if r is None:
            raise GuestFault(self._access_fault(pc, self.mem.explain("read", addr, size)))
        if r.hooks is not None:
            return r.hooks.load(self, addr - r.base, size, pc)
        off = addr - r.base
        return int.from_bytes(r.data[off:off + size], "little")

    def _store(self, addr: int, size: int, value: int, pc: int) -> None:
        r = self.mem.find(addr, size)
        if r is None or (not r.writable and r.hooks is None):
            raise GuestFault(self._access_fault(pc, self.mem.explain("write", addr, size)))
        if r.hooks is not None:
            r.hooks.store(self, addr - r.base, size, value, pc)
            return
        off = addr - r.base
        r.data[off:off + size] = value.to_bytes(size, "little")
        r.writes += 1

    def _find_atomic(self, addr: int, size: int, pc: int) -> Region:
        r = self.mem.find(addr, size)
        if r is not None and r.hooks is not None:
            raise GuestFault(VmFault(pc, "memory", f"atomic operation on the context ({r.name}) is not allowed",
                                     r.name, addr - r.base, size, addr))
        if r is not None and r.writable:
            return r
        raise GuestFault(self._access_fault(pc, self.mem.explain("write", addr, size)))

    @staticmethod
    def _access_fault(pc: int, a: Access) -> VmFault:
        return VmFault(pc, "memory", a.message, a.region, a.offset, a.size, a.addr)

    def read(self, addr: int, size: int) -> bytes:
        """Guest bytes for a helper; faults the run (at the call) if they are not all readable."""
        data = self.mem.read(addr & M64, size)
        if isinstance(data, Access):
            raise GuestFault(self._access_fault(self.pc, data))
        return data

    def read_cstr(self, addr: int, limit: int = 4096) -> bytes:
        """A NUL-terminated string for a helper (without the NUL); faults if it runs off readable memory."""
        data = self.mem.read_cstr(addr & M64, limit)
        if isinstance(data, Access):
            raise GuestFault(self._access_fault(self.pc, data))
        return data

    def write(self, addr: int, data: bytes) -> None:
        err = self.mem.write(addr & M64, data)
        if err is not None:
            raise GuestFault(self._access_fault(self.pc, err))

    def emit(self, kind: str, text: str, data: bytes = b"") -> None:
        step = len(self._pcs) - 1 if self._pcs is not None else None
        self.output.append(OutputRecord(self.pc, step, kind, text, data))

    def halt(self) -> None:
        """End the program after the current helper returns (uBPF's unwind extension)."""
        self.halt_requested = True

    def _call(self, helper_id: int, pc: int) -> int:
        helper = self.helpers.get(helper_id)
        if helper is None:
            from ..helpers import missing_helper_message

            raise GuestFault(VmFault(pc, "helper", missing_helper_message(helper_id, self.prog_type)))
        R = self.R
        self.pc = pc
        R[0] = helper.fn(self, R[1], R[2], R[3], R[4], R[5]) & M64
        if self.jump_to is not None:
            target, self.jump_to = self.jump_to, None
            return target
        if self.halt_requested:
            self.halt_requested = False
            self.frames.clear()
            return self._exit()
        return pc + 1

    def _call_local(self, pc: int, target: int) -> int:
        depth = len(self.frames) + 1
        if depth >= MAX_FRAMES:
            raise GuestFault(VmFault(pc, "call-depth", f"the call stack is too deep: {depth + 1} frames "
                                                       f"(at most {MAX_FRAMES})"))
        R = self.R
        self.frames.append(Frame(pc + 1, (R[6], R[7], R[8], R[9]), R[10]))
        R[10] = self._stack(depth).end
        return target

    def _exit(self) -> int:
        if self.frames:
            frame = self.frames.pop()
            R = self.R
            R[6], R[7], R[8], R[9] = frame.saved
            R[10] = frame.fp
            if frame.callback is not None:
                return frame.callback.resume(self, R[0], frame.return_pc)
            return frame.return_pc
        self.done = True
        self.retval = self.R[0]
        return -1

    def start_callback(self, target: int, args: tuple[int, ...], then: Continuation, return_pc: int) -> int:
        """Call the subprogram at ``target`` with ``args`` in r1.. in a new frame; when it exits,
        ``then.resume`` decides what happens next. Returns ``target``: a helper sets ``vm.jump_to`` to it,
        a continuation returns it."""
        depth = len(self.frames) + 1
        if depth >= MAX_FRAMES:
            raise GuestFault(VmFault(self.pc, "call-depth", f"the call stack is too deep: {depth + 1} frames "
                                                            f"(at most {MAX_FRAMES})"))
        R = self.R
        self.frames.append(Frame(return_pc, (R[6], R[7], R[8], R[9]), R[10], then))
        for i, value in enumerate(args, start=1):
            R[i] = value & M64
        R[10] = self._stack(depth).end
        return target

    def code_address(self, pc: int) -> int:
        return CODE_BASE + pc * isa.INSN_SIZE

    def pc_of_code_address(self, addr: int) -> int | None:
        """The instruction a function pointer (from ``ld_func``) points to, or None."""
        off = addr - CODE_BASE
        if off < 0 or off % isa.INSN_SIZE or off // isa.INSN_SIZE >= len(self.insns):
            return None
        return off // isa.INSN_SIZE

    def map_at(self, addr: int):
        """The map whose object lives at ``addr`` (a CONST_PTR_TO_MAP), or a fault."""
        for m in self.maps:
            if m.object_addr == addr:
                return m
        raise GuestFault(VmFault(self.pc, "helper", f"0x{addr:x} is not a map"))

    def _kfunc(self, btf_id: int, pc: int) -> int:
        raise GuestFault(VmFault(pc, "unsupported", f"kernel function calls (kfunc BTF id {btf_id}) cannot run "
                                                    f"in the playground"))

    def _may_goto(self, pc: int, target: int, nxt: int) -> int:
        if self.loop_budget == 0:
            return target
        self.loop_budget -= 1
        return nxt

    def _ld_abs(self, base: int, imm: int, size: int, pc: int) -> int:
        """Legacy packet load (``bpf_skb_load_helper_*``): r0 = big-endian bytes of the packet at
        ``base + imm``; an access outside the packet ends the program with r0 = 0, as in the kernel."""
        packet = self.packet
        off = (base + imm) & 0xFFFFFFFF
        if off >= 0x80000000:
            off -= 1 << 32
        R = self.R
        if packet is None or off < 0 or off + size > len(packet):
            R[0] = 0
            self.frames.clear()
            return self._exit()
        start = packet.data_off + off
        R[0] = int.from_bytes(packet.region.data[start:start + size], "big")
        return pc + 1

    def _ld_imm64(self, pc: int) -> int:
        first, second = self.insns[pc], self.insns[pc + 1]
        if first.src == isa.PseudoSrc.FUNC:
            return self.code_address(pc + 1 + first.imm)
        if self.ld_imm64_resolver is not None:
            return self.ld_imm64_resolver(first, second) & M64
        raise GuestFault(VmFault(pc, "unsupported", f"{first.spec.name}: this run has no maps to refer to"))

    # --- running ------------------------------------------------------------------------------------------

    def run(self, max_steps: int | None = None, pcs=None) -> None:
        """Run until exit, fault, the instruction limit, or ``max_steps`` more steps. With ``pcs`` (an
        ``array``), append the pc of every executed instruction to it."""
        if self.done:
            return
        budget = self.max_insns - self.steps
        if max_steps is not None:
            budget = min(budget, max_steps)
        hs = self.handlers
        pc = self.pc
        i = -1
        try:
            if pcs is None:
                for i in range(budget):
                    pc = hs[pc]()
                    if pc < 0:
                        break
            else:
                append = pcs.append
                self._pcs = pcs
                for i in range(budget):
                    append(pc)
                    pc = hs[pc]()
                    if pc < 0:
                        break
        except GuestFault as f:
            self._pcs = None
            self.steps += i  # the faulting instruction did not complete
            self.pc = f.fault.pc
            self.done = True
            self.fault = f.fault
            return
        self._pcs = None
        self.steps += i + 1
        if pc >= 0:
            self.pc = pc
            if self.steps >= self.max_insns:
                self.done = True
                self.fault = VmFault(pc, "limit", f"instruction limit reached: {self.max_insns} instructions "
                                                  f"executed without reaching exit")
        else:
            self.pc = self.pc if self.done and self.fault else pc

    def snapshot(self) -> Snapshot:
        """The full state. Contents of regions unchanged since the previous snapshot are shared with it."""
        contents = []
        for r in self.mem.regions:
            cached = self._snapshot_cache.get(id(r))
            if cached is None or cached[0] is not r or cached[1] != r.writes:
                cached = (r, r.writes, bytes(r.data))
                self._snapshot_cache[id(r)] = cached
            contents.append((r.name, r.base, cached[2], r.writes, r.writable))
        extra = ((self.env_state.clock_reads, self.env_state.rng, self.tail_calls),
                 tuple(m.snapshot() for m in self.maps), self.packet.state() if self.packet is not None else None)
        return Snapshot(self.steps, self.pc, tuple(self.R), tuple(self.frames), tuple(contents),
                        len(self.output), self.done, self.retval, self.fault, self.loop_budget, extra)

    def _known_regions(self) -> list[Region]:
        known = list(self.mem.regions) + list(self.stacks)
        if self.packet is not None:
            known.append(self.packet.region)
        if self.ctx is not None:
            known.append(self.ctx)
        for m in self.maps:
            known.extend(m.regions())
        return known

    def restore(self, snap: Snapshot) -> None:
        self.steps, self.pc = snap.steps, snap.pc
        self.R[:] = snap.regs
        self.frames[:] = snap.frames
        own = {r.name: r for r in self._known_regions()}
        regions = []
        for name, base, data, writes, writable in snap.regions:
            region = own.get(name)  # restore into this machine's own regions: hooks and helpers use them
            if region is None:  # created during the run (a deeper stack frame, a helper's scratch block)
                region = Region(name, base, bytearray(data), writable=writable)
            region.replace_data(data, base)
            region.writes = writes
            regions.append(region)
        self.mem.regions[:] = regions
        self.stacks = sorted((r for r in regions if r.name.startswith("stack[")), key=lambda r: r.base)
        self.mem.last[0] = Region("none", 0, bytearray(), writable=False)
        del self.output[snap.output_len:]
        self.done, self.retval, self.fault = snap.done, snap.retval, snap.fault
        self.loop_budget = snap.loop_budget
        (self.env_state.clock_reads, self.env_state.rng, self.tail_calls), map_states, packet_state = snap.extra
        for m, state in zip(self.maps, map_states):
            m.restore(state)
        if self.packet is not None:
            self.packet.set_state(packet_state)


__all__ = ["Machine", "Helper", "VmFault", "GuestFault", "Frame", "OutputRecord", "Snapshot", "ld_imm64_value"]
