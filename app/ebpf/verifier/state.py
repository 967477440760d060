"""The verifier's abstract machine state, with the kernel's names (``include/linux/bpf_verifier.h``).

``Reg`` is ``struct bpf_reg_state``: a type, and for scalars their ``Bounds``; for pointers a fixed
offset ``off`` plus a variable part (``b``, a scalar), and what the pointer points into (the map, the
packet range proven so far, the size of a memory block). ``Frame`` is ``struct bpf_func_state``: eleven
registers and the stack, kept as the type of every byte (``STACK_INVALID``/``MISC``/``ZERO``/``SPILL``) plus
the register spilled into each 8-byte slot. Everything is immutable, so a state can be kept (for a
pending branch, for the walk's events) without copying.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from . import bounds as B
from .bounds import Bounds

MAX_BPF_STACK = 512

def evolve(obj, **changes):
    """``dataclasses.replace`` for the walk's hot paths: a copy of a frozen dataclass instance (without
    slots or ``__post_init__``) with some fields changed, made without re-running ``__init__``."""
    new = object.__new__(type(obj))
    d = new.__dict__
    d.update(obj.__dict__)
    d.update(changes)
    return new


# register types (``enum bpf_reg_type``), spelled as the verifier log prints them (``reg_type_str``)
NOT_INIT = "not_init"
SCALAR = "scalar"
PTR_TO_CTX = "ctx"
CONST_PTR_TO_MAP = "map_ptr"
PTR_TO_MAP_VALUE = "map_value"
PTR_TO_MAP_KEY = "map_key"
PTR_TO_STACK = "fp"
PTR_TO_PACKET = "pkt"
PTR_TO_PACKET_META = "pkt_meta"
PTR_TO_PACKET_END = "pkt_end"
PTR_TO_MEM = "mem"
PTR_TO_FUNC = "func"
PTR_TO_SOCKET = "sock"
PTR_TO_BTF_ID = "ptr_"  # a kernel struct, read from one (``btf`` names it)
PTR_TO_UNTRUSTED_MEM = "rdonly_untrusted_mem"  # PTR_TO_MEM | MEM_RDONLY | PTR_UNTRUSTED: other kernel memory

# flags of a scalar's id (``BPF_ADD_CONST64``/``32``): the register is another one of that id plus the constant
# in ``off``, added by a 64-bit or a 32-bit (zero-extending) ALU instruction
ADD_CONST64 = 1 << 31
ADD_CONST32 = 1 << 30
ADD_CONST = ADD_CONST64 | ADD_CONST32


def base_id(reg_id: int) -> int:
    """A scalar's id without its ADD_CONST flags: what every register of one link shares."""
    return reg_id & ~ADD_CONST


# stack byte types (``enum bpf_stack_slot_type``), as the log prints them
STACK_INVALID, STACK_SPILL, STACK_MISC, STACK_ZERO = "?", "r", "m", "0"


@dataclass(frozen=True)
class Reg:
    type: str = NOT_INIT
    b: Bounds = B.UNBOUNDED  # the value of a scalar; the variable offset of a pointer
    off: int = 0  # fixed offset of a pointer; for a scalar linked with ADD_CONST*, its delta from the base
    id: int = 0  # shared by copies of one value (null checks and range learning apply to all of them)
    ref_obj_id: int = 0  # the reference this pointer holds (ringbuf records), to be released
    maybe_null: bool = False  # PTR_MAYBE_NULL
    map: int = -1  # CONST_PTR_TO_MAP / PTR_TO_MAP_VALUE: the map's index in Program.maps
    range: int = 0  # PTR_TO_PACKET: bytes from off proven to be inside the packet
    mem_size: int = 0  # PTR_TO_MEM: size of the block
    frameno: int = 0  # PTR_TO_STACK: whose stack
    subprog: int = -1  # PTR_TO_FUNC: the subprogram's first instruction
    btf: str = ""  # PTR_TO_BTF_ID: the kernel struct it points to

    def __eq__(self, other: object) -> bool:
        """Every field equal, as the generated ``__eq__`` compares them, but field by field, stopping at the
        first that differs, instead of building two tuples of all twelve first: the walk compares registers at
        every prune point (``states_maybe_looping``), and they mostly differ. (``__hash__`` stays generated.)"""
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.type == other.type and self.b == other.b and self.off == other.off and self.id == other.id
                and self.ref_obj_id == other.ref_obj_id and self.maybe_null == other.maybe_null
                and self.map == other.map and self.range == other.range and self.mem_size == other.mem_size
                and self.frameno == other.frameno and self.subprog == other.subprog and self.btf == other.btf)

    @property
    def is_pointer(self) -> bool:
        return self.type not in (NOT_INIT, SCALAR)

    def type_name(self) -> str:
        """``reg_type_str``: ``map_value_or_null``, ``scalar``, ``fp``, ``ringbuf_mem`` ..."""
        name = {PTR_TO_MEM: "ringbuf_mem" if self.ref_obj_id else "mem", PTR_TO_SOCKET: "sock_common"}.get(
            self.type, self.type)
        return f"{name}_or_null" if self.maybe_null else name


def ptr(type_: str, **fields) -> Reg:
    """A pointer with no variable offset."""
    return Reg(type_, B.const(0), **fields)


def scalar(b: Bounds = B.UNBOUNDED) -> Reg:
    """``Reg(SCALAR, b)``, made as a copy of ``UNKNOWN`` (cheaper than the frozen ``__init__``)."""
    return evolve(UNKNOWN, b=b)


def const(v: int) -> Reg:
    """A known scalar (shared: programs use few distinct constants, and registers are immutable)."""
    r = _CONSTS.get(v)
    if r is None:
        if len(_CONSTS) >= 4096:
            _CONSTS.clear()
        r = _CONSTS[v] = Reg(SCALAR, B.const(v))
    return r


_CONSTS: dict[int, "Reg"] = {}


UNKNOWN = Reg(SCALAR)


@dataclass(frozen=True)
class Frame:
    """One function's registers and stack (``struct bpf_func_state``); ``callsite`` is the call
    instruction (-1 for the main program), ``subprog`` the first instruction of the function."""

    regs: tuple[Reg, ...]
    stack: tuple[str, ...] = ()  # one type per byte, index 0 = fp-1 (grows as the program uses more)
    spilled: tuple[tuple[int, Reg], ...] = ()  # (slot: fp-8*(slot+1), register)
    callsite: int = -1
    subprog: int = 0
    frameno: int = 0
    # callbacks (callbacks.py): this frame is a callback's (``in_callback_fn``; its r0 must be in [0, 1] at
    # exit), and how many callback visits this frame, as a caller, has queued in a row (``callback_depth``)
    in_callback_fn: bool = False
    callback_depth: int = 0

    def reg(self, i: int) -> Reg:
        return self.regs[i]

    def with_reg(self, i: int, r: Reg) -> "Frame":
        regs = list(self.regs)
        regs[i] = r
        return evolve(self, regs=tuple(regs))

    def byte(self, off: int) -> str:
        """Type of the stack byte at fp+off (off < 0)."""
        i = -off - 1
        return self.stack[i] if i < len(self.stack) else STACK_INVALID

    def spill_at(self, slot: int) -> Reg | None:
        for s, r in self.spilled:
            if s == slot:
                return r
        return None


def initial_frame(frameno: int = 0, callsite: int = -1, subprog: int = 0) -> Frame:
    regs = [Reg()] * 11
    regs[10] = ptr(PTR_TO_STACK, frameno=frameno)
    return Frame(tuple(regs), callsite=callsite, subprog=subprog, frameno=frameno)


@dataclass(frozen=True)
class VerifierState:
    """``struct bpf_verifier_state``: the call stack of frames, and the references held."""

    frames: tuple[Frame, ...]
    refs: tuple[tuple[int, int], ...] = ()  # (ref id, instruction that acquired it)
    # env->id_gen: one counter for the whole walk, shared by every state derived from the first (not compared)
    id_gen: list = field(default_factory=lambda: [0], compare=False, repr=False)
    may_goto_depth: int = 0  # may_goto fall-throughs taken on this path (loops.py)
    callback_unroll_depth: int = 0  # callback bodies entered on this path (``callback_unroll_depth``)
    # a path only speculative execution may take (unprivileged loaders: spectre.py); compared one way only
    # (``states_equal``: a speculative state covers no state that is not)
    speculative: bool = field(default=False, compare=False)
    path: tuple[int, ...] = field(default=(), compare=False)  # branch points on the way here (for events)
    # precision backtracking (precision.py): the last kept state on this path (a prune.Kept), the instruction
    # at which it was kept, and the history of this path since then (newest first) with its length
    parent: object = field(default=None, compare=False, repr=False)
    first_insn_idx: int = field(default=0, compare=False)
    hist: tuple | None = field(default=None, compare=False, repr=False)
    hist_len: int = field(default=0, compare=False)

    @property
    def cur(self) -> Frame:
        return self.frames[-1]

    def with_frame(self, f: Frame) -> "VerifierState":
        return evolve(self, frames=self.frames[:-1] + (f,))

    def map_regs(self, fix: Callable[[Reg], Reg]) -> "VerifierState":
        """Every register of every frame, spilled ones included, passed through ``fix``
        (``bpf_for_each_reg_in_vstate``)."""
        frames = tuple(replace(f, regs=tuple(fix(r) for r in f.regs),
                               spilled=tuple((slot, fix(r)) for slot, r in f.spilled)) for f in self.frames)
        return replace(self, frames=frames)

    def new_id(self) -> tuple[int, "VerifierState"]:
        """A fresh id (``++env->id_gen``): ids are numbered across all paths of a walk, as the kernel's log
        shows them (a second path's first id follows the first path's last)."""
        self.id_gen[0] += 1
        return self.id_gen[0], self
