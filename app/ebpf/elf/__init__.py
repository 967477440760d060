"""BPF ELF objects (what ``clang -target bpf -c`` writes) -> ``Program``, the way libbpf loads them.

``load_elf(data, section=None, *, prog_type=None) -> ElfProgram``
    picks one program of the object (the first, or the one whose section or function name is
    ``section``), appends the ``.text`` subprograms it calls, resolves its map and global-data
    references to indexes into ``Program.maps`` and returns it with its program type (from the section
    name, libbpf's ``SEC()`` conventions), license, BTF line info and the list of every program in the
    object. Raises :class:`ElfError` for anything it cannot load, never another exception for bad bytes.
``list_programs(data) -> list[ProgramInfo]``
    the programs of an object, without linking any.

Modules: :mod:`.reader` (ELF via pyelftools, into plain records), :mod:`.btf` (``.BTF``, ``.BTF.ext``),
:mod:`.sections` (section names -> program types), :mod:`.maps` (``.maps``, ``maps``, global data),
:mod:`.link` (subprograms and relocations).

Differences from libbpf: nothing is created in a kernel (maps stay definitions; their "fd" is their
index); CO-RE relocations are left as compiled (they only matter for kernel-internal types, which the
playground has none of), and a warning says so; externs, kfuncs, maps of maps and ``.values``
initialisers are refused; programs in a section libbpf does not recognise are listed with no type and
can be loaded by naming ``prog_type``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DecodeError
from ..insn import check
from ..program import MapDef, Program
from . import btf as B
from . import maps as M
from .errors import ElfError
from .link import Func, Linked, Linker, functions
from .reader import RawObject, read
from .sections import classify

__all__ = ["ElfError", "ElfProgram", "LineInfo", "MapInfo", "ProgramInfo", "list_programs", "load_elf"]


@dataclass(frozen=True)
class LineInfo:
    """Instruction ``pc`` of the loaded program came from ``file``:``line``:``col`` (1-based line; col 0
    when unknown); ``text`` is that source line as the compiler recorded it in BTF."""

    pc: int
    file: str
    line: int
    col: int
    text: str

    def to_json(self) -> dict:
        return {"pc": self.pc, "file": self.file, "line": self.line, "col": self.col, "text": self.text}


@dataclass(frozen=True)
class ProgramInfo:
    """One program of an object: function ``name`` in ``section``, its type (None when libbpf would not
    know the section name), attach type and target (``do_unlinkat`` for ``kprobe/do_unlinkat``), and size
    in instructions before subprograms are appended."""

    name: str
    section: str
    prog_type: str | None
    attach_type: str | None
    expected_attach_type: int
    target: str
    insn_count: int

    def to_json(self) -> dict:
        return {"name": self.name, "section": self.section, "prog_type": self.prog_type,
                "attach_type": self.attach_type, "target": self.target, "insn_count": self.insn_count}


@dataclass(frozen=True)
class MapInfo:
    """How the object defines ``Program.maps[i]``: ``kind`` is ``btf`` (``.maps``), ``legacy`` (``maps``) or
    ``data`` (a global data section); ``key_type``/``value_type`` name BTF types where known."""

    name: str
    kind: str
    key_type: str = ""
    value_type: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "key_type": self.key_type, "value_type": self.value_type}


@dataclass(frozen=True)
class ElfProgram:
    """A program loaded from an object, with what the object says about it.

    ``program`` is ready for the VM and the verifier (``labels`` name the main program and each appended
    subprogram at its first instruction; ``lines`` holds, per instruction, the line of the main source
    file). ``prog_type`` is the playground's name of the program type; ``expected_attach_type`` the
    kernel's number for ``BPF_PROG_LOAD`` (0 when none). ``sections`` lists every program section of the
    object in file order, ``programs`` every program.
    """

    program: Program
    prog_type: str
    section: str
    name: str
    license: str
    line_info: list[LineInfo]
    sections: list[str]
    programs: list[ProgramInfo]
    maps: list[MapInfo] = field(default_factory=list)
    attach_type: str | None = None
    expected_attach_type: int = 0
    target: str = ""
    source_file: str = ""
    warnings: list[str] = field(default_factory=list)
    btf: bytes = field(default=b"", repr=False)
    func_info: list[tuple[int, int]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"prog_type": self.prog_type, "section": self.section, "name": self.name, "license": self.license,
                "attach_type": self.attach_type, "target": self.target, "sections": self.sections,
                "programs": [p.to_json() for p in self.programs], "maps": [m.to_json() for m in self.maps],
                "line_info": [li.to_json() for li in self.line_info], "warnings": self.warnings,
                "insn_count": len(self.program)}


@dataclass(frozen=True)
class _Object:
    raw: RawObject
    btf: B.Btf | None
    ext: B.BtfExt | None
    maps: list[M.ObjMap]
    funcs: dict[int, list[Func]]
    programs: list[tuple[ProgramInfo, Func]]


def _parse(data: bytes) -> _Object:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("load_elf takes the object's bytes")
    raw = read(bytes(data))
    btf_sec, ext_sec = raw.section(".BTF"), raw.section(".BTF.ext")
    btf = B.Btf(btf_sec.data) if btf_sec is not None else None
    ext = B.parse_ext(ext_sec.data, btf) if ext_sec is not None and btf is not None else None
    maps = M.collect(raw, btf)
    funcs = functions(raw)
    return _Object(raw, btf, ext, maps, funcs, _programs(raw, funcs))


def _programs(raw: RawObject, funcs: dict[int, list[Func]]) -> list[tuple[ProgramInfo, Func]]:
    """libbpf's programs: global functions of executable sections other than ``.text``; if the object has
    no such section, the global functions of ``.text`` (an object assembled without ``SEC()``)."""
    def collect(sections):
        out = []
        for idx in sections:
            for f in funcs[idx]:
                if f.is_global:
                    kind = classify(f.section.name)
                    info = ProgramInfo(f.name, f.section.name, kind.prog_type, kind.attach_type,
                                       kind.expected_attach_type, kind.target, f.end - f.start)
                    out.append((info, f))
        return out
    progs = collect(i for i in funcs if raw.sections[i].name != ".text")
    return progs or collect(i for i in funcs if raw.sections[i].name == ".text")


def list_programs(data: bytes) -> list[ProgramInfo]:
    """Every program in the object (raises ElfError like :func:`load_elf`)."""
    return [info for info, _ in _parse(data).programs]


def load_elf(data: bytes, section: str | None = None, *, prog_type: str | None = None) -> ElfProgram:
    """Load one program of a BPF ELF object; see the module docstring.

    ``section`` selects the program: a section name (its first program) or a function name; None takes
    the first program of the object. ``prog_type`` overrides the type the section name implies (needed
    for sections libbpf does not recognise). Raises :class:`ElfError` with the reason for any object it
    cannot load.
    """
    obj = _parse(data)
    if not obj.programs:
        raise ElfError("the object has no programs (no code in any section)")
    info, func = _select(obj, section)
    ptype = prog_type or info.prog_type
    if ptype is None:
        raise ElfError(f"libbpf does not know the program type of section {info.section!r}; use a section name "
                       "such as xdp, tc, socket, kprobe/<function> or tracepoint/<category>/<name>, or choose "
                       "the program type", info.section)
    linker = Linker(obj.raw, obj.funcs, obj.maps)
    linked = linker.link(func)
    try:
        check(tuple(linked.insns))
    except DecodeError as e:
        sec, idx = linked.origin[e.pc] if e.pc < len(linked.origin) else (func.section.index, 0)
        raise ElfError(f"insn {idx}: {e.message}", obj.raw.sections[sec].name) from None
    line_info = _line_info(obj, linked)
    source = line_info[0].file if line_info else ""
    func_info = _func_info(obj, linked)
    program = Program(tuple(linked.insns), tuple(m.mdef for m in obj.maps),
                      {pc: f.name for pc, f in linked.placed}, _lines(line_info, source, len(linked.insns)),
                      func_info=tuple(func_info))
    sections = list(dict.fromkeys(p.section for p, _ in obj.programs))
    return ElfProgram(
        program=program, prog_type=ptype, section=info.section, name=info.name, license=_license(obj.raw),
        line_info=line_info, sections=sections, programs=[p for p, _ in obj.programs],
        maps=[MapInfo(m.mdef.name, m.kind, m.key_type, m.value_type) for m in obj.maps],
        attach_type=info.attach_type if prog_type in (None, info.prog_type) else None,
        expected_attach_type=info.expected_attach_type if prog_type in (None, info.prog_type) else 0,
        target=info.target, source_file=source, warnings=_warnings(obj, linked), btf=_kernel_btf(obj),
        func_info=func_info)


def _select(obj: _Object, section: str | None) -> tuple[ProgramInfo, Func]:
    if section is None:
        return obj.programs[0]
    for wanted in ("section", "name"):
        for info, func in obj.programs:
            if getattr(info, wanted) == section:
                return info, func
    names = ", ".join(dict.fromkeys(f"{p.section} ({p.name})" for p, _ in obj.programs))
    raise ElfError(f"no program section or function called {section!r}; the object has: {names}")


def _line_info(obj: _Object, linked: Linked) -> list[LineInfo]:
    """``.BTF.ext`` line records of every placed function, moved to their instruction in the program."""
    if obj.ext is None:
        return []
    out = []
    for pc0, func in linked.placed:
        for rec in obj.ext.line_info.get(func.section.name, ()):
            idx = rec.insn_off // 8
            if rec.insn_off % 8 == 0 and func.start <= idx < func.end:
                out.append(LineInfo(pc0 + idx - func.start, rec.file.removeprefix("./"), rec.line, rec.col,
                                    rec.text))
    out.sort(key=lambda li: li.pc)
    return out


def _lines(line_info: list[LineInfo], source: str, count: int) -> tuple[int, ...]:
    """Per instruction, the line of ``source`` it belongs to: each record holds until the next one."""
    lines = [0] * count
    records = [li for li in line_info if li.file == source]
    for k, li in enumerate(records):
        end = records[k + 1].pc if k + 1 < len(records) else count
        for pc in range(li.pc, end):
            lines[pc] = li.line
    return tuple(lines)


def _kernel_btf(obj: _Object) -> bytes:
    if obj.btf is None:
        return b""
    sizes = {s.name: s.size for s in obj.raw.sections if s.name}
    offsets = {(obj.raw.sections[s.shndx].name, s.name): s.value for s in obj.raw.symbols
               if s.type == "STT_OBJECT" and isinstance(s.shndx, int) and s.shndx < len(obj.raw.sections)}
    return obj.btf.fixed_datasecs(sizes, offsets)


def _func_info(obj: _Object, linked: Linked) -> list[tuple[int, int]]:
    """``.BTF.ext`` func_info of every placed function, at its first instruction in the program."""
    if obj.ext is None:
        return []
    out = []
    for pc0, func in linked.placed:
        for insn_off, type_id in obj.ext.func_info.get(func.section.name, ()):
            if insn_off == func.start * 8:
                out.append((pc0, type_id))
    return sorted(out)


def _license(raw: RawObject) -> str:
    sec = raw.section("license")
    if sec is None:
        return ""
    return sec.data.split(b"\0", 1)[0].decode("utf-8", "replace")


def _warnings(obj: _Object, linked: Linked) -> list[str]:
    out = []
    used = {obj.raw.sections[s].name for s, _ in linked.origin}
    if obj.ext is not None:
        core = sorted(used & set(obj.ext.core_relo_sections))
        if core:
            out.append(f"CO-RE relocations in {', '.join(core)} were left as compiled: field offsets are those "
                       "of the program's own headers")
    if obj.btf is None:
        out.append("the object has no BTF (compiled without -g): no line info")
    return out


def map_defs(data: bytes) -> list[MapDef]:
    """The maps an object defines, in ``Program.maps`` order (raises ElfError like :func:`load_elf`)."""
    return [m.mdef for m in _parse(data).maps]
