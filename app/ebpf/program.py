"""``Program``: what every front end (assembler, raw bytes, later ELF and C) produces and every back end
(VM, verifier, disassembler, web views) consumes."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .insn import Insn, encode, jump_target


@dataclass(frozen=True)
class MapDef:
    """A map the program refers to. ``ld_imm64`` map references hold the map's index in ``Program.maps``
    as their "fd" (``src`` = ``BPF_PSEUDO_MAP_FD``), the way libbpf later patches in real fds."""

    name: str
    type: str
    key_size: int
    value_size: int
    max_entries: int
    flags: int = 0
    # Added for ELF objects (app.ebpf.elf): global data sections (.data, .rodata, .bss) are array maps whose
    # single value starts as the section's bytes; .rodata maps are frozen (read-only to user space too,
    # as libbpf leaves them after loading). b"" means "all zeros", as for any other new map.
    initial: bytes = field(default=b"", repr=False)
    frozen: bool = False
    inner: str = ""  # array_of_maps / hash_of_maps: the name of the map whose shape inner maps must have

    def to_json(self) -> dict:
        out = {"name": self.name, "type": self.type, "key_size": self.key_size, "value_size": self.value_size,
               "max_entries": self.max_entries, "flags": self.flags}
        if self.inner:
            out["inner"] = self.inner
        return out


@dataclass(frozen=True)
class Program:
    """A loaded program: instructions (one per 8-byte slot) plus what the source said about them.

    ``labels`` maps instruction indexes to the names the source gave them; ``lines`` gives, for each slot,
    the 1-based source line it came from (0 when unknown); ``maps`` are the maps it declares.
    """

    insns: tuple[Insn, ...]
    maps: tuple[MapDef, ...] = ()
    labels: dict[int, str] = field(default_factory=dict)
    lines: tuple[int, ...] = ()
    entries: tuple[tuple[str, int], ...] = ()
    """Named programs in this instruction stream (section name, first instruction), for tail calls: a
    prog_array holds indexes into this tuple. Empty means one program starting at instruction 0."""
    func_info: tuple[tuple[int, int], ...] = ()
    """BTF ``func_info`` from an ELF object: (first instruction, ``FUNC`` type id) per function. The kernel
    refuses callbacks (``ld_imm64`` of a function) in a program loaded without it; assembly has none."""

    def entry_points(self) -> tuple[tuple[str, int], ...]:
        return self.entries or (("main", 0),)

    def first_entry(self) -> Program:
        """The program a loader loads to run this source. With several named sections (programs for tail
        calls), libbpf loads each as a program of its own: the first is its instructions up to the next entry.
        That cut is made when they point nowhere beyond it; a call into the ``.text`` subprograms laid out
        after the sections would need them appended and moved, as libbpf does, so such a source stays whole
        (and the verifier finds the other sections unreachable)."""
        entries = self.entry_points()
        if len(entries) < 2 or entries[0][1] != 0:
            return self
        end = entries[1][1]
        for pc, insn in enumerate(self.insns[:end]):
            target = jump_target(insn, pc)
            if target is not None and not 0 <= target < end:
                return self
        return replace(self, insns=self.insns[:end], lines=self.lines[:end], entries=(),
                       labels={pc: name for pc, name in self.labels.items() if pc < end},
                       func_info=tuple(f for f in self.func_info if f[0] < end))

    def __len__(self) -> int:
        return len(self.insns)

    def to_bytes(self) -> bytes:
        return encode(self.insns)

    def map_index(self, name: str) -> int | None:
        for i, m in enumerate(self.maps):
            if m.name == name:
                return i
        return None
