"""Building one loadable program from an object: subprograms appended, calls and map references fixed.

This mirrors libbpf's ``bpf_object__relocate`` for one main program:

* **Functions.** Every ``STT_FUNC`` symbol of an executable section is a function spanning
  ``[st_value, st_value + st_size)``. Programs are the global functions of sections other than
  ``.text``; ``.text`` holds subprograms. A section with code but no function symbols (hand-written
  assembly) is one function.
* **Calls** (``bpf_object__reloc_code``). The main program is copied first; each subprogram it calls is
  appended once, after everything placed so far, and its own calls are processed in turn. A call's
  target is found from its relocation: ``R_BPF_64_32`` against a function symbol (``imm`` = -1) or against
  the ``.text`` section symbol (``imm`` = the target's instruction index - 1) gives
  ``st_value / 8 + imm + 1``; a call without relocation stays in its own section (``pc + imm + 1``). The
  call's ``imm`` becomes the distance to the appended copy, ``target - (pc + 1)``, with ``src`` 1
  (``BPF_PSEUDO_CALL``).
* **Function addresses** (``RELO_SUBPROG_ADDR``): an ``ld_imm64`` with ``R_BPF_64_64`` against a symbol in
  ``.text`` loads a callback's address (``bpf_loop``, ``bpf_for_each_map_elem``): byte offset
  ``st_value + imm``; it becomes ``src`` 4 (``BPF_PSEUDO_FUNC``) with ``imm`` = distance, like a call.
* **Maps** (``RELO_LD64``): ``R_BPF_64_64`` on an ``ld_imm64`` against a symbol in ``.maps`` or ``maps``
  -> ``src`` 1 (``BPF_PSEUDO_MAP_FD``), ``imm`` = the map's index in ``Program.maps`` (where libbpf puts
  the map's fd).
* **Global data** (``RELO_DATA``): against a symbol in ``.data``/``.rodata``/``.bss`` -> ``src`` 2
  (``BPF_PSEUDO_MAP_VALUE``), ``imm`` = map index, second slot's ``imm`` = the instruction's ``imm``
  (clang's addend) + ``st_value``.

Externs (``__ksym``, ``__kconfig``), kfunc calls, arena maps and CO-RE relocations need a running
kernel's BTF: the first three are refused with an ElfError naming the symbol.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..insn import Insn, decode_raw
from .errors import ElfError
from .maps import LEGACY_MAPS_SEC, MAPS_SEC, ObjMap, is_data_section
from .reader import R_BPF_64_32, R_BPF_64_64, R_BPF_NONE, RELOC_NAMES, RawObject, Reloc, Section, Symbol

LD_IMM64 = 0x18
CALL = 0x85
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, PSEUDO_CALL, PSEUDO_FUNC = 1, 2, 1, 4
MAX_INSNS = 1_000_000  # BPF_COMPLEXITY_LIMIT_INSNS: the kernel's limit on a program's length


@dataclass(frozen=True)
class Func:
    """A function of an executable section, as instruction indexes ``[start, end)`` of that section."""

    name: str
    section: Section
    start: int
    end: int
    is_global: bool


@dataclass
class Linked:
    """The linked program: instructions, where each came from, and where each function was placed."""

    insns: list[Insn] = field(default_factory=list)
    origin: list[tuple[int, int]] = field(default_factory=list)  # (section index, insn index in it)
    placed: list[tuple[int, Func]] = field(default_factory=list)  # (first pc, function), in order


def functions(obj: RawObject) -> dict[int, list[Func]]:
    """Functions of every executable section, by section index, sorted by start."""
    out: dict[int, list[Func]] = {}
    for sec in obj.sections:
        if not sec.executable:
            continue
        if sec.size % 8:
            raise ElfError(f"code size {sec.size} is not a multiple of 8 bytes", sec.name)
        count = sec.size // 8
        syms = sorted((s for s in obj.symbols if s.shndx == sec.index and s.type == "STT_FUNC"),
                      key=lambda s: s.value)
        funcs = []
        for i, s in enumerate(syms):
            if s.value % 8 or s.value // 8 >= count or s.size % 8:
                raise ElfError(f"function {s.name!r} is not at an instruction boundary inside the section", sec.name)
            start = s.value // 8
            nxt = syms[i + 1].value // 8 if i + 1 < len(syms) else count
            end = min(start + s.size // 8, count) if s.size else nxt
            funcs.append(Func(s.name, sec, start, max(end, start + 1), s.bind in ("STB_GLOBAL", "STB_WEAK")))
        if not funcs and count:
            funcs.append(Func(sec.name, sec, 0, count, True))
        out[sec.index] = funcs
    return out


class Linker:
    """Links programs of one object; holds the decoded sections and their relocations by instruction."""

    def __init__(self, obj: RawObject, funcs: dict[int, list[Func]], maps: list[ObjMap]):
        self.obj, self.funcs, self.maps = obj, funcs, maps
        self.code = {idx: decode_raw(fs[0].section.data) if fs else () for idx, fs in funcs.items()}
        self.relocs: dict[int, dict[int, Reloc]] = {}
        for idx in funcs:
            sec = obj.sections[idx]
            by_insn: dict[int, Reloc] = {}
            for r in obj.relocs.get(idx, ()):
                if r.type == R_BPF_NONE:
                    continue
                if r.offset % 8 or r.offset >= sec.size:
                    raise ElfError(f"relocation at byte {r.offset} is not on an instruction of the section",
                                   sec.name)
                by_insn[r.offset // 8] = r
            self.relocs[idx] = by_insn
        self.text = obj.section(".text")

    def link(self, main: Func) -> Linked:
        out = Linked()
        where: dict[tuple[int, int], int] = {}
        todo: list[tuple[int, Func]] = []

        def place(func: Func) -> int:
            key = (func.section.index, func.start)
            if key not in where:
                pc0 = len(out.insns)
                if pc0 + (func.end - func.start) > MAX_INSNS:
                    raise ElfError(f"the program would exceed {MAX_INSNS} instructions", func.section.name)
                where[key] = pc0
                code = self.code[func.section.index]
                out.insns.extend(code[func.start:func.end])
                out.origin.extend((func.section.index, i) for i in range(func.start, func.end))
                out.placed.append((pc0, func))
                todo.append((pc0, func))
            return where[key]

        place(main)
        while todo:
            pc0, func = todo.pop(0)
            for i in range(func.start, func.end):
                self._relocate(out, pc0 + i - func.start, func, i, place)
        return out

    def _relocate(self, out: Linked, pc: int, func: Func, i: int, place) -> None:
        """Apply the relocation (if any) of instruction ``i`` of ``func``'s section, now at ``pc``."""
        sec = func.section
        insn = out.insns[pc]
        rel = self.relocs[sec.index].get(i)
        is_call = insn.opcode == CALL and insn.src == PSEUDO_CALL
        if rel is None:
            if is_call:
                callee = self._func_at(sec, i + insn.imm + 1, sec.name, i)
                out.insns[pc] = replace(insn, imm=place(callee) - pc - 1)
            elif insn.opcode == LD_IMM64 and insn.src == PSEUDO_FUNC:
                raise ElfError(f"insn {i}: function address without a relocation", sec.name)
            return
        sym = self.obj.symbol(rel.symbol, sec.name)
        where = f"insn {i} ({_sym_name(self.obj, sym)})"
        if sym.shndx == "SHN_UNDEF":
            what = "kernel function (kfunc) calls" if insn.opcode == CALL else "extern variables (__ksym, __kconfig)"
            raise ElfError(f"{where}: {what} need the running kernel's BTF and are not supported", sec.name)
        if rel.type == R_BPF_64_32:
            if insn.opcode != CALL or insn.src != PSEUDO_CALL:
                raise ElfError(f"{where}: R_BPF_64_32 on an instruction that is not a bpf-to-bpf call "
                               f"(opcode 0x{insn.opcode:02x})", sec.name)
            target_sec = self._code_section_of(sym, where, sec.name)
            if sym.value % 8:
                raise ElfError(f"{where}: call target is not at an instruction boundary", sec.name)
            callee = self._func_at(target_sec, sym.value // 8 + insn.imm + 1, sec.name, i)
            out.insns[pc] = replace(insn, imm=place(callee) - pc - 1)
        elif rel.type == R_BPF_64_64:
            if insn.opcode != LD_IMM64 or pc + 1 >= len(out.insns):
                raise ElfError(f"{where}: R_BPF_64_64 on an instruction that is not ld_imm64 "
                               f"(opcode 0x{insn.opcode:02x})", sec.name)
            self._relocate_ld64(out, pc, sym, where, sec, i, place)
        else:
            name = RELOC_NAMES.get(rel.type, f"type {rel.type}")
            raise ElfError(f"{where}: relocation {name} is not supported in code", sec.name)

    def _relocate_ld64(self, out: Linked, pc: int, sym: Symbol, where: str, sec: Section, i: int, place) -> None:
        insn = out.insns[pc]
        if not isinstance(sym.shndx, int) or not 0 <= sym.shndx < len(self.obj.sections):
            raise ElfError(f"{where}: relocation against a symbol with no section ({sym.shndx})", sec.name)
        target = self.obj.sections[sym.shndx]
        if target.executable:  # RELO_SUBPROG_ADDR
            byte_off = sym.value + insn.imm
            if byte_off % 8:
                raise ElfError(f"{where}: function address is not at an instruction boundary", sec.name)
            callee = self._func_at(target, byte_off // 8, sec.name, i)
            out.insns[pc] = replace(insn, src=PSEUDO_FUNC, imm=place(callee) - pc - 1)
            return
        if target.name in (MAPS_SEC, LEGACY_MAPS_SEC):  # RELO_LD64
            idx = next((k for k, m in enumerate(self.maps) if m.section == target.index and m.offset == sym.value),
                       None)
            if idx is None:
                raise ElfError(f"{where}: no map is defined at offset {sym.value} of {target.name}", sec.name)
            out.insns[pc] = replace(insn, src=PSEUDO_MAP_FD, imm=idx)
            return
        if is_data_section(target):  # RELO_DATA
            idx = next((k for k, m in enumerate(self.maps) if m.kind == "data" and m.section == target.index), None)
            if idx is None:
                raise ElfError(f"{where}: the data section {target.name} is empty", sec.name)
            offset = insn.imm + sym.value
            if not 0 <= offset < max(target.size, 1):
                raise ElfError(f"{where}: offset {offset} lies outside {target.name} ({target.size} bytes)", sec.name)
            out.insns[pc] = replace(insn, src=PSEUDO_MAP_VALUE, imm=idx)
            out.insns[pc + 1] = replace(out.insns[pc + 1], imm=offset)
            return
        raise ElfError(f"{where}: ld_imm64 refers to section {target.name!r}, which holds no map, data or code",
                       sec.name)

    def _code_section_of(self, sym: Symbol, where: str, sec_name: str) -> Section:
        if not isinstance(sym.shndx, int) or sym.shndx >= len(self.obj.sections) or \
                not self.obj.sections[sym.shndx].executable:
            raise ElfError(f"{where}: call to something that is not code", sec_name)
        target = self.obj.sections[sym.shndx]
        if self.text is None or target.index != self.text.index:
            raise ElfError(f"{where}: calls may only go to functions in .text (libbpf's rule), not to "
                           f"{target.name}", sec_name)
        return target

    def _func_at(self, sec: Section, index: int, caller_sec: str, i: int) -> Func:
        """The function of ``sec`` that starts at instruction ``index`` (calls must target a start)."""
        for f in self.funcs.get(sec.index, ()):
            if f.start == index:
                return f
        raise ElfError(f"insn {i}: call target {index} of {sec.name} is not the start of a function", caller_sec)


def _sym_name(obj: RawObject, sym: Symbol) -> str:
    if sym.type == "STT_SECTION" and isinstance(sym.shndx, int) and sym.shndx < len(obj.sections):
        return obj.sections[sym.shndx].name
    return sym.name or f"symbol #{sym.index}"
