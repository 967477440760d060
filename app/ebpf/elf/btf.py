"""BTF (``.BTF``) and its extension (``.BTF.ext``), parsed as ``Documentation/bpf/btf.rst`` lays them out.

``.BTF`` is a header, a type section and a string section. Types are numbered from 1 in the order they
appear (0 is ``void``); each is a 12-byte ``struct btf_type`` (``name_off``, ``info`` = vlen | kind << 24 |
kind_flag << 31, ``size``-or-``type``) followed by kind-specific data. The loader needs only a few
questions answered: how large is a type (``btf__resolve_size``), what are a struct's members, which
variables does a ``DATASEC`` (``.maps``) hold. Like libbpf, resolution through typedefs and modifiers
stops after 32 steps (``MAX_RESOLVE_DEPTH``), so a cyclic type is an error and not a hang.

``.BTF.ext`` carries, per ELF section, ``func_info`` (instruction offset -> ``FUNC`` type) and
``line_info`` (instruction offset -> file, line, column and the source line's text, all strings in
``.BTF``). Offsets there are in bytes from the start of the ELF section; the loader turns them into
instruction indexes of the program it builds, as libbpf's ``adjust_prog_btf_ext_info`` does.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import ElfError

BTF_MAGIC = 0xEB9F
MAX_RESOLVE_DEPTH = 32

# enum btf_kind
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)
KIND_NAMES = {INT: "int", PTR: "ptr", ARRAY: "array", STRUCT: "struct", UNION: "union", ENUM: "enum",
              FWD: "fwd", TYPEDEF: "typedef", VOLATILE: "volatile", CONST: "const", RESTRICT: "restrict",
              FUNC: "func", FUNC_PROTO: "func_proto", VAR: "var", DATASEC: "datasec", FLOAT: "float",
              DECL_TAG: "decl_tag", TYPE_TAG: "type_tag", ENUM64: "enum64"}
_MODIFIERS = (TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG)
_SIZED = (INT, STRUCT, UNION, ENUM, ENUM64, FLOAT, DATASEC)


@dataclass(frozen=True)
class Member:
    """A struct/union member, an enum value, a function parameter or a DATASEC variable.

    ``type`` is the member's type id (for enums: 0); ``offset`` is the bit offset (struct members), the
    value (enums) or the byte offset (DATASEC entries); ``size`` is set for DATASEC entries only."""

    name: str
    type: int
    offset: int
    size: int = 0


@dataclass(frozen=True)
class BtfType:
    id: int
    kind: int
    name: str
    size_or_type: int  # the size for INT, STRUCT, UNION, ENUM*, FLOAT, DATASEC; a type id otherwise
    kind_flag: bool = False
    members: tuple[Member, ...] = ()
    array: tuple[int, int, int] | None = None  # (elem type, index type, nelems) for ARRAY

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, f"kind{self.kind}")


class Btf:
    """Parsed ``.BTF``: ``types[id]`` (``types[0]`` is void) and string lookups."""

    def __init__(self, data: bytes):
        if len(data) < 24:
            raise ElfError("truncated BTF header", ".BTF")
        magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
            "<HBBIIIII", data, 0)
        if magic != BTF_MAGIC:
            raise ElfError(f"bad BTF magic 0x{magic:x} (little-endian BTF starts with 0xeb9f)", ".BTF")
        if version != 1:
            raise ElfError(f"unknown BTF version {version}", ".BTF")
        types_start, strs_start = hdr_len + type_off, hdr_len + str_off
        if hdr_len < 24 or types_start + type_len > len(data) or strs_start + str_len > len(data):
            raise ElfError("BTF sections lie past the end of .BTF (truncated?)", ".BTF")
        self.data = data
        self.strings = data[strs_start:strs_start + str_len]
        self.types: list[BtfType] = [BtfType(0, 0, "void", 0)]
        self.positions: list[int] = [0]  # byte offset of each type's record in ``data``
        self._types_start = types_start
        self._parse_types(data[types_start:types_start + type_len])

    def string(self, off: int) -> str:
        if not 0 <= off < len(self.strings):
            raise ElfError(f"BTF string offset {off} is out of range", ".BTF")
        end = self.strings.find(b"\0", off)
        return self.strings[off:end if end >= 0 else len(self.strings)].decode("utf-8", "replace")

    def _parse_types(self, buf: bytes) -> None:
        pos = 0
        while pos < len(buf):
            if pos + 12 > len(buf):
                raise ElfError("truncated BTF type", ".BTF")
            name_off, info, size_or_type = struct.unpack_from("<III", buf, pos)
            pos += 12
            kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, bool(info >> 31)
            tid = len(self.types)
            name = self.string(name_off)
            members: list[Member] = []
            array = None
            extra = _extra_size(kind, vlen, tid)
            if pos + extra > len(buf):
                raise ElfError(f"truncated BTF type #{tid}", ".BTF")
            if kind == ARRAY:
                array = struct.unpack_from("<III", buf, pos)
            elif kind in (STRUCT, UNION):
                for i in range(vlen):
                    m_name, m_type, m_off = struct.unpack_from("<III", buf, pos + 12 * i)
                    members.append(Member(self.string(m_name), m_type, m_off))
            elif kind == ENUM:
                for i in range(vlen):
                    m_name, val = struct.unpack_from("<Ii", buf, pos + 8 * i)
                    members.append(Member(self.string(m_name), 0, val))
            elif kind == ENUM64:
                for i in range(vlen):
                    m_name, lo, hi = struct.unpack_from("<III", buf, pos + 12 * i)
                    members.append(Member(self.string(m_name), 0, lo | hi << 32))
            elif kind == FUNC_PROTO:
                for i in range(vlen):
                    m_name, m_type = struct.unpack_from("<II", buf, pos + 8 * i)
                    members.append(Member(self.string(m_name), m_type, 0))
            elif kind == DATASEC:
                for i in range(vlen):
                    v_type, v_off, v_size = struct.unpack_from("<III", buf, pos + 12 * i)
                    members.append(Member("", v_type, v_off, v_size))
            self.positions.append(self._types_start + pos - 12)
            pos += extra
            self.types.append(BtfType(tid, kind, name, size_or_type, kflag, tuple(members), array))

    def type(self, tid: int) -> BtfType:
        if not 0 <= tid < len(self.types):
            raise ElfError(f"BTF type id {tid} is out of range (the object has {len(self.types) - 1})", ".BTF")
        return self.types[tid]

    def skip_mods(self, tid: int) -> BtfType:
        """The type after typedefs, const, volatile, restrict and type tags (``btf__resolve_type``)."""
        t = self.type(tid)
        for _ in range(MAX_RESOLVE_DEPTH):
            if t.kind not in _MODIFIERS:
                return t
            t = self.type(t.size_or_type)
        raise ElfError(f"BTF type #{tid} does not resolve within {MAX_RESOLVE_DEPTH} steps", ".BTF")

    def size_of(self, tid: int) -> int:
        """Byte size of a type (``btf__resolve_size``): arrays multiply, pointers are 8."""
        t, mult = self.type(tid), 1
        for _ in range(MAX_RESOLVE_DEPTH):
            if t.kind in _SIZED:
                return t.size_or_type * mult
            if t.kind == PTR:
                return 8 * mult
            if t.kind in _MODIFIERS or t.kind == VAR:
                t = self.type(t.size_or_type)
            elif t.kind == ARRAY and t.array is not None:
                mult *= t.array[2]
                t = self.type(t.array[0])
            else:
                raise ElfError(f"BTF type #{t.id} ({t.kind_name}) has no size", ".BTF")
        raise ElfError(f"BTF type #{tid} does not resolve within {MAX_RESOLVE_DEPTH} steps", ".BTF")

    def datasec(self, name: str) -> BtfType | None:
        for t in self.types:
            if t.kind == DATASEC and t.name == name:
                return t
        return None

    def type_name(self, tid: int) -> str:
        """A C-like name for display (``struct iphdr``, ``__u64``, ``char[16]``, ``void *``)."""
        t = self.type(tid)
        for _ in range(MAX_RESOLVE_DEPTH):
            if t.kind in (STRUCT, UNION, ENUM, ENUM64, FWD):
                tag = {STRUCT: "struct", UNION: "union", FWD: "struct"}.get(t.kind, "enum")
                return f"{tag} {t.name}" if t.name else f"{tag} (anonymous)"
            if t.name:
                return t.name
            if t.kind == PTR:
                return self.type_name(t.size_or_type) + " *" if t.size_or_type else "void *"
            if t.kind == ARRAY and t.array is not None:
                return f"{self.type_name(t.array[0])}[{t.array[2]}]"
            if t.kind in _MODIFIERS:
                t = self.type(t.size_or_type)
                continue
            return t.kind_name if t.id else "void"
        return "?"


    def fixed_datasecs(self, sizes: dict[str, int], offsets: dict[tuple[str, str], int]) -> bytes:
        """The BTF bytes with each DATASEC's size and variable offsets filled in, as libbpf's
        ``btf_fixup_datasec`` does before loading BTF into a kernel (clang leaves them 0 for the linker).

        ``sizes`` maps section names to sizes, ``offsets`` (section, variable) to the symbol's offset; a
        DATASEC of a section the object does not have keeps its values."""
        out = bytearray(self.data)
        for t in self.types:
            if t.kind != DATASEC or not 0 <= sizes.get(t.name, -1) <= 0xFFFFFFFF:
                continue
            pos = self.positions[t.id]
            struct.pack_into("<I", out, pos + 8, sizes[t.name])
            for i, m in enumerate(t.members):
                var = self.type(m.type)
                if 0 <= offsets.get((t.name, var.name), -1) <= 0xFFFFFFFF:
                    struct.pack_into("<I", out, pos + 12 + 12 * i + 4, offsets[t.name, var.name])
        return bytes(out)


def _extra_size(kind: int, vlen: int, tid: int) -> int:
    """Bytes of kind-specific data after a ``struct btf_type``."""
    if kind in (INT, VAR, DECL_TAG):
        return 4
    if kind == ARRAY:
        return 12
    if kind in (STRUCT, UNION, DATASEC, ENUM64):
        return 12 * vlen
    if kind in (ENUM, FUNC_PROTO):
        return 8 * vlen
    if kind in (PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG):
        return 0
    raise ElfError(f"BTF type #{tid} has unknown kind {kind}", ".BTF")


@dataclass(frozen=True)
class LineRecord:
    """One ``struct bpf_line_info`` of ``.BTF.ext``, with its strings resolved."""

    insn_off: int  # bytes from the start of the ELF section
    file: str
    line: int
    col: int
    text: str


@dataclass(frozen=True)
class BtfExt:
    """Parsed ``.BTF.ext``: line and function info per ELF section, and whether CO-RE records exist."""

    line_info: dict[str, tuple[LineRecord, ...]]
    func_info: dict[str, tuple[tuple[int, int], ...]]  # section -> (insn_off, FUNC type id)
    core_relo_sections: tuple[str, ...]


def parse_ext(data: bytes, btf: Btf) -> BtfExt:
    """Parse ``.BTF.ext`` against its ``.BTF`` (which holds the strings)."""
    if len(data) < 24:
        raise ElfError("truncated .BTF.ext header", ".BTF.ext")
    magic, version, _flags, hdr_len = struct.unpack_from("<HBBI", data, 0)
    if magic != BTF_MAGIC or version != 1:
        raise ElfError("bad .BTF.ext header", ".BTF.ext")
    func_off, func_len, line_off, line_len = struct.unpack_from("<IIII", data, 8)
    core_off = core_len = 0
    if hdr_len >= 32 and len(data) >= 32:
        core_off, core_len = struct.unpack_from("<II", data, 24)

    def blocks(off: int, length: int, min_rec: int):
        if not length:
            return
        start = hdr_len + off
        if start + length > len(data) or length < 4:
            raise ElfError(".BTF.ext info lies past its end (truncated?)", ".BTF.ext")
        rec_size, = struct.unpack_from("<I", data, start)
        if rec_size < min_rec:
            raise ElfError(f".BTF.ext record size {rec_size} is too small", ".BTF.ext")
        pos, end = start + 4, start + length
        while pos < end:
            if pos + 8 > end:
                raise ElfError("truncated .BTF.ext section info", ".BTF.ext")
            name_off, count = struct.unpack_from("<II", data, pos)
            pos += 8
            if pos + count * rec_size > end:
                raise ElfError("truncated .BTF.ext records", ".BTF.ext")
            yield btf.string(name_off), [data[pos + i * rec_size:pos + (i + 1) * rec_size] for i in range(count)]
            pos += count * rec_size

    lines: dict[str, tuple[LineRecord, ...]] = {}
    for sec, recs in blocks(line_off, line_len, 16):
        out = []
        for r in recs:
            insn_off, file_off, text_off, line_col = struct.unpack_from("<IIII", r)
            out.append(LineRecord(insn_off, btf.string(file_off), line_col >> 10, line_col & 0x3FF,
                                  btf.string(text_off)))
        lines[sec] = tuple(out)
    funcs: dict[str, tuple[tuple[int, int], ...]] = {}
    for sec, recs in blocks(func_off, func_len, 8):
        funcs[sec] = tuple(struct.unpack_from("<II", r) for r in recs)
    core = tuple(sec for sec, recs in blocks(core_off, core_len, 16) if recs)
    return BtfExt(lines, funcs, core)
