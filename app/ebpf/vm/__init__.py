"""Concrete runs: ``run(program, ...) -> RunResult``.

Typed programs (``prog_type="xdp"``, ``"sched_cls"``, ``"socket_filter"`` ...) get their context in r1 and
their input packet laid out as ``BPF_PROG_TEST_RUN`` does (see ``app.ebpf.progtypes``). Untyped programs
(``prog_type="raw"``) use one of these input conventions (``layout``):

``"mem"``
    the convention of the public conformance suites and uBPF: r1 holds the address of a private copy of
    ``mem`` (0 when there is none) and r2 its length.
``"packet"``
    the same with the input placed in a region named ``packet`` (what the legacy ``ld_abs``/``ld_ind``
    loads read), for raw programs that work on packet bytes.

"""
from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping

from .. import progtypes
from ..env import Env
from ..errors import InputError
from ..program import Program
from .context import ContextHooks
from .machine import GuestFault, Helper, Machine, OutputRecord, VmFault
from ..insn import Insn, check
from ..maps import WINDOW_SIZE, MapError, MapInstance, create_map
from .memory import CTX_BASE, MAP_BASE, MEM_BASE, Region
from .packet import PacketBuffer
from .trace import MachineState, StepRecord, Trace, state_of

DEFAULT_MAX_INSNS = 1_000_000
MAX_INPUT = 1 << 20  # bytes of input memory or packet a run accepts
PROGRESS_STEPS = 65536  # steps between two progress reports of an untraced run (a traced one: a checkpoint)


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
    retval_name: str | None = None  # XDP_PASS, TC_ACT_SHOT, ... when the program type names the value

    def to_json(self) -> dict:
        return {"retval": self.retval, "retval_name": self.retval_name, "insns_executed": self.insns_executed,
                "fault": self.fault.to_json() if self.fault else None,
                "packet_out": self.packet_out.hex() if self.packet_out is not None else None,
                "maps": list(self.maps), "output": [o.to_json() for o in self.output]}


@dataclass(frozen=True)
class MapSeed:
    """A map entry set before the run: ``map`` is the map's index in ``Program.maps`` (or its name)."""

    map: int | str
    key: bytes
    value: bytes


def create_maps(program: Program, ncpus: int, seeds: tuple[MapSeed, ...] = ()) -> list[MapInstance]:
    """Instances of the program's maps at fixed addresses (map i at MAP_BASE + i TiB), seeded."""
    maps = []
    for i, mdef in enumerate(program.maps):
        try:
            inst = create_map(mdef, MAP_BASE + i * WINDOW_SIZE, ncpus)
        except MapError as e:
            raise InputError(f"maps[{i}]", f"map {mdef.name!r}: {e}") from None
        if mdef.type == "prog_array":
            inst.prog_count = len(program.entry_points())
        if getattr(mdef, "initial", b""):
            inst.seed(bytes(mdef.key_size), mdef.initial)  # global data: the section's initial bytes
        maps.append(inst)
    for inst in maps:
        if hasattr(inst, "bind"):  # maps of maps reach the others by index
            template = program.map_index(inst.mdef.inner) if inst.mdef.inner else None
            inst.bind(maps, maps[template] if template is not None else None)
    for n, seed in enumerate(seeds):
        index = seed.map if isinstance(seed.map, int) else program.map_index(seed.map)
        if index is None or not 0 <= index < len(maps):
            raise InputError(f"seeds[{n}].map", f"no map {seed.map!r} in the program")
        try:
            maps[index].seed(seed.key, seed.value)
        except ValueError as e:
            raise InputError(f"seeds[{n}]", f"map {program.maps[index].name!r}: {e}") from None
    return maps


def _attach_maps(m: Machine, maps: list[MapInstance]) -> None:
    m.maps = maps
    for inst in maps:
        for region in inst.regions():
            m.mem.add(region)

    def resolve(first: Insn, second: Insn) -> int:
        index = first.imm
        if not 0 <= index < len(maps):
            raise GuestFault(VmFault(m.pc, "unsupported", f"map reference {index}: the program has "
                                                          f"{len(maps)} maps"))
        inst = maps[index]
        if first.src in (1, 5):  # BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX
            return inst.object_addr
        value = inst.lookup(bytes(4), 0) if inst.mdef.type == "array" and inst.mdef.key_size == 4 else None
        if value is None:
            raise GuestFault(VmFault(m.pc, "unsupported", f"direct value access needs a single array map; "
                                                          f"{inst.mdef.name!r} is a {inst.mdef.type}"))
        return value + (second.imm & 0xFFFFFFFF)

    m.ld_imm64_resolver = resolve


def build_machine(program: Program, *, prog_type: str = "raw", mem: bytes | None = None, layout: str = "mem",
                  packet: bytes | None = None, ctx: dict[str, int] | None = None, event: str | None = None,
                  strings: dict[str, bytes] | None = None, helpers: Mapping[int, Helper] | None = None,
                  max_insns: int = DEFAULT_MAX_INSNS, env: Env | None = None,
                  maps: list[MapInstance] | None = None) -> Machine:
    """A machine with its input in place, ready to run. Raises ``InputError`` for unusable input.

    ``helpers`` defaults to the Linux helpers the program type may call (``app.ebpf.helpers``); ``maps``
    to fresh instances of the program's maps (pass instances to share them between runs)."""
    if not 1 <= max_insns <= 100_000_000:
        raise InputError("max_insns", "must be between 1 and 100000000")
    for name, data in (("mem", mem), ("packet", packet)):
        if data is not None and len(data) > MAX_INPUT:
            raise InputError(name, f"input is {len(data)} bytes; at most {MAX_INPUT} are allowed")
    env = env or Env()
    env.check()
    if helpers is None:
        from ..helpers import helpers_for

        helpers = helpers_for(prog_type)
    m = Machine(program, helpers=helpers, max_insns=max_insns, env=env)
    m.prog_type = prog_type
    _add_env_memory(m, env)
    _attach_maps(m, maps if maps is not None else create_maps(program, env.ncpus))
    if prog_type == "raw":
        if layout not in ("mem", "packet"):
            raise InputError("layout", f"unknown input layout {layout!r} (mem, packet)")
        if packet is not None:
            mem, layout = packet, "packet"
        if mem is not None and layout == "mem":
            m.mem.add(Region("mem", MEM_BASE, bytearray(mem)))
            m.R[1], m.R[2] = MEM_BASE, len(mem)
        elif mem is not None:
            m.packet = PacketBuffer.raw(mem)
            m.mem.add(m.packet.region)
            m.R[1], m.R[2] = m.packet.data_addr, len(mem)
        return m
    ptype = progtypes.get(prog_type)
    if mem is not None:
        raise InputError("mem", f"{prog_type} programs take {'a packet' if ptype.input == 'packet' else 'a context'}, "
                                f"not raw memory")
    if ptype.input == "ctx":
        if packet is not None:
            raise InputError("packet", f"{prog_type} programs do not see packets; set their context instead")
        data = progtypes.context_input(ptype, ctx or {}, event, strings)
        m.ctx = m.mem.add(Region(f"ctx ({ptype.ctx_struct})", CTX_BASE, data, writable=False,
                                 hooks=ContextHooks(ptype)))
        m.R[1] = CTX_BASE
        return m
    if ctx:
        raise InputError("ctx", f"{prog_type} context values come from the packet")
    if packet is None:
        raise InputError("packet", f"{prog_type} programs need a packet to run on")
    pin = progtypes.packet_input(ptype, packet)
    if ptype.name == "xdp":
        m.packet = PacketBuffer.for_xdp(pin.frame)
    else:
        m.packet = PacketBuffer.for_skb(pin.frame, pin.data_offset)
    m.mem.add(m.packet.region)
    m.ctx = m.mem.add(Region(f"ctx ({ptype.ctx_struct})", CTX_BASE, progtypes.ctx_bytes(ptype, pin.ctx_values),
                             writable=False, hooks=ContextHooks(ptype)))
    m.R[1] = CTX_BASE
    return m


def _add_env_memory(m: Machine, env: Env) -> None:
    for i, block in enumerate(env.memory):
        name = block.name or f"{'user' if block.user else 'kernel'} memory {i}"
        try:
            m.mem.add(Region(name, block.addr, bytearray(block.data), writable=False, user=block.user))
        except ValueError as e:
            raise InputError(f"env.memory[{i}]", str(e)) from None


def run(program: Program, *, prog_type: str = "raw", mem: bytes | None = None, layout: str = "mem",
        packet: bytes | None = None, ctx: dict[str, int] | None = None, event: str | None = None,
        strings: dict[str, bytes] | None = None, helpers: Mapping[int, Helper] | None = None,
        max_insns: int = DEFAULT_MAX_INSNS, env: Env | None = None, seeds: tuple[MapSeed, ...] = (),
        maps: list[MapInstance] | None = None, trace: bool = False, checkpoint_every: int = 4096,
        progress: Callable[[int], None] | None = None) -> RunResult:
    """Run ``program`` to its end (exit, fault or ``max_insns`` executed instructions).

    Maps start empty (arrays zeroed) plus ``seeds``, unless ``maps`` passes instances from an earlier run;
    the result lists their contents after the run. With ``trace=True`` the result carries a ``Trace`` from
    which the state at any step can be recomputed. The same arguments always give the same result.
    """
    env = env or Env()
    env.check()
    check(program.insns)  # every instruction valid and every jump inside the program (raises DecodeError)
    if maps is None:
        maps = create_maps(program, env.ncpus, seeds)
    elif seeds:
        raise InputError("seeds", "seed maps when they are created, not when they are passed in")
    initial = [inst.snapshot() for inst in maps]
    initial_regions = [[bytes(r.data) for r in inst.regions()] for inst in maps]

    def fresh() -> Machine:
        """A machine in the run's initial state, on its own copies of the maps (for trace replays)."""
        copies = create_maps(program, env.ncpus)
        for inst, snap, contents in zip(copies, initial, initial_regions):
            inst.restore(snap)
            for region, data in zip(inst.regions(), contents):
                region.data[:] = data
        return build_machine(program, prog_type=prog_type, mem=mem, layout=layout, packet=packet, ctx=ctx,
                             event=event, strings=strings, helpers=helpers, max_insns=max_insns, env=env,
                             maps=copies)

    ptype = progtypes.PROG_TYPES.get(prog_type)
    m = build_machine(program, prog_type=prog_type, mem=mem, layout=layout, packet=packet, ctx=ctx, event=event,
                      strings=strings, helpers=helpers, max_insns=max_insns, env=env, maps=maps)
    if not trace and progress is None:
        m.run()
        return _result(m, None, ptype)
    if not trace:
        while not m.done:  # the same run in slices (as a traced run goes), reported after each
            m.run(max_steps=PROGRESS_STEPS)
            progress(m.steps)
        return _result(m, None, ptype)
    pcs = array("i")
    checkpoints = []
    while not m.done:
        checkpoints.append(m.snapshot())
        m.run(max_steps=checkpoint_every, pcs=pcs)
        if progress is not None:
            progress(m.steps)
    # After a fault the path ends with the faulting instruction (recorded, not completed), so the last
    # step record shows the fault itself.
    return _result(m, Trace(pcs, checkpoints, fresh, state_of(m)), ptype)


def run_packets(program: Program, packets: list[bytes], *, prog_type: str, env: Env | None = None,
                seeds: tuple[MapSeed, ...] = (), trace_run: int | None = None, **kwargs) -> list[RunResult]:
    """Run one program on several packets in turn, on the same maps, as repeated BPF_PROG_TEST_RUN calls
    on one loaded program would. The run numbered ``trace_run`` (from 0), if any, is traced."""
    env = env or Env()
    env.check()
    maps = create_maps(program, env.ncpus, seeds)
    return [run(program, prog_type=prog_type, packet=p, env=env, maps=maps, trace=i == trace_run, **kwargs)
            for i, p in enumerate(packets)]


def _result(m: Machine, trace: Trace | None, ptype: progtypes.ProgType | None) -> RunResult:
    packet_out = None
    if m.packet is not None:
        packet_out = m.packet.data()
        if ptype is not None and ptype.name == "xdp":
            packet_out = bytes(m.packet.region.data[m.packet.meta_off:m.packet.end_off])  # test runs include metadata
        elif ptype is not None and not ptype.l2:
            packet_out = bytes(progtypes.ETH_HLEN) + packet_out  # test runs zero the pulled Ethernet header
    retval = m.retval if m.fault is None else None
    return RunResult(
        retval=retval,
        insns_executed=m.steps,
        fault=m.fault,
        packet_out=packet_out,
        maps=tuple(inst.entries_json() for inst in m.maps),
        output=tuple(m.output),
        trace=trace,
        retval_name=ptype.return_name(retval) if ptype is not None and retval is not None else None,
    )


__all__ = ["run", "run_packets", "build_machine", "create_maps", "MapSeed", "RunResult", "Machine", "Helper", "VmFault", "GuestFault", "Trace",
           "MachineState", "StepRecord", "OutputRecord", "DEFAULT_MAX_INSNS", "PROGRESS_STEPS"]
