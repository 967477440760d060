"""Reading a BPF ELF object into plain records: sections, symbols, relocations.

pyelftools does the parsing; everything it returns is copied into the frozen records below right away,
inside one function that turns any failure of pyelftools on malformed input (it raises a zoo of
exception types: ``ELFError``, ``ELFParseError``, ``struct.error``, ``ValueError``, ``IndexError`` ...)
into an :class:`ElfError`. The rest of the loader works on these records only, so a bug there is a
plain Python exception and not mistaken for bad input.

Before pyelftools sees the bytes, the identification is checked by hand so the common mistakes get
clear messages: not an ELF file, a 32-bit or big-endian object, a machine other than ``EM_BPF`` (247),
an executable or shared object instead of a relocatable ``.o`` (libbpf only loads ``ET_REL`` objects).
"""
from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from .errors import ElfError

EM_BPF = 247
ET_REL = 1
SHF_EXECINSTR = 0x4
SHT_NOBITS = "SHT_NOBITS"
MAX_OBJECT_BYTES = 64 << 20
MAX_SECTIONS = 4096

# relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def)
R_BPF_NONE = 0
R_BPF_64_64 = 1
R_BPF_64_ABS64 = 2
R_BPF_64_ABS32 = 3
R_BPF_64_NODYLD32 = 4
R_BPF_64_32 = 10
RELOC_NAMES = {R_BPF_NONE: "R_BPF_NONE", R_BPF_64_64: "R_BPF_64_64", R_BPF_64_ABS64: "R_BPF_64_ABS64",
               R_BPF_64_ABS32: "R_BPF_64_ABS32", R_BPF_64_NODYLD32: "R_BPF_64_NODYLD32",
               R_BPF_64_32: "R_BPF_64_32"}


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    type: str  # "SHT_PROGBITS", "SHT_NOBITS", ...
    flags: int
    size: int
    data: bytes  # b"" for SHT_NOBITS

    @property
    def executable(self) -> bool:
        return bool(self.flags & SHF_EXECINSTR) and self.type == "SHT_PROGBITS"


@dataclass(frozen=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: str  # "STT_FUNC", "STT_OBJECT", "STT_SECTION", "STT_NOTYPE", ...
    bind: str  # "STB_GLOBAL", "STB_LOCAL", "STB_WEAK"
    shndx: int | str  # a section index, or "SHN_UNDEF", "SHN_ABS", "SHN_COMMON"


@dataclass(frozen=True)
class Reloc:
    offset: int  # byte offset in the target section
    symbol: int  # index into the symbol table
    type: int


@dataclass(frozen=True)
class RawObject:
    sections: tuple[Section, ...]
    symbols: tuple[Symbol, ...]
    relocs: dict[int, tuple[Reloc, ...]]  # target section index -> its relocations

    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None

    def symbol(self, index: int, where: str) -> Symbol:
        if not 0 <= index < len(self.symbols):
            raise ElfError(f"relocation refers to symbol #{index}, but the symbol table has {len(self.symbols)}",
                           where)
        return self.symbols[index]


def check_ident(data: bytes) -> None:
    """Raise ElfError unless ``data`` starts like a 64-bit little-endian BPF relocatable object."""
    if len(data) < 4 or data[:4] != b"\x7fELF":
        raise ElfError("not an ELF object file (it does not start with \\x7fELF)")
    if len(data) < 64:
        raise ElfError(f"truncated ELF object: {len(data)} bytes, the ELF header alone needs 64")
    if data[4] != 2:
        raise ElfError("32-bit ELF objects are not BPF objects (BPF objects are ELF64)")
    if data[5] == 2:
        raise ElfError("big-endian BPF objects (-target bpfeb) are not supported: compile with -target bpfel")
    if data[5] != 1:
        raise ElfError(f"unknown ELF data encoding {data[5]}")
    e_type, e_machine = struct.unpack_from("<HH", data, 16)
    if e_machine != EM_BPF:
        raise ElfError(f"this object is for machine {e_machine}, not BPF (EM_BPF = 247): was it compiled "
                       "with -target bpf?")
    if e_type != ET_REL:
        raise ElfError(f"ELF type {e_type} is not a relocatable object (ET_REL): load the .o file clang wrote")
    if len(data) > MAX_OBJECT_BYTES:
        raise ElfError(f"the object is {len(data)} bytes; at most {MAX_OBJECT_BYTES} are accepted")


def read(data: bytes) -> RawObject:
    """Parse ``data`` into a :class:`RawObject`; raises ElfError for anything malformed."""
    check_ident(data)
    e_shoff, = struct.unpack_from("<Q", data, 40)
    e_shentsize, e_shnum, e_shstrndx = struct.unpack_from("<HHH", data, 58)
    if e_shnum == 0 or e_shnum > MAX_SECTIONS:
        raise ElfError(f"the object has {e_shnum} sections (expected 1..{MAX_SECTIONS})")
    if e_shentsize != 64 or e_shoff + e_shnum * 64 > len(data):
        raise ElfError("truncated ELF object: the section header table lies past the end of the file")
    if e_shstrndx >= e_shnum:
        raise ElfError("the section name table index is out of range")
    try:
        return _read(data)
    except ElfError:
        raise
    except Exception as e:  # noqa: BLE001 -- pyelftools on malformed input; see the module docstring
        raise ElfError(f"malformed ELF object: {type(e).__name__}: {e}") from None


def _read(data: bytes) -> RawObject:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.relocation import RelocationSection
    from elftools.elf.sections import SymbolTableSection

    elf = ELFFile(io.BytesIO(data))
    sections: list[Section] = []
    symbols: tuple[Symbol, ...] = ()
    relocs: dict[int, tuple[Reloc, ...]] = {}
    for index, sec in enumerate(elf.iter_sections()):
        hdr = sec.header
        size, offset, stype = hdr["sh_size"], hdr["sh_offset"], hdr["sh_type"]
        if stype != SHT_NOBITS and stype != "SHT_NULL" and offset + size > len(data):
            raise ElfError(f"truncated ELF object: section {sec.name or index} ends at byte {offset + size}, "
                           f"the file has {len(data)}")
        if stype == SHT_NOBITS and size > MAX_OBJECT_BYTES:
            raise ElfError(f"section {sec.name or index} is {size} bytes; at most {MAX_OBJECT_BYTES} are accepted")
        content = b"" if stype in (SHT_NOBITS, "SHT_NULL") else bytes(data[offset:offset + size])
        sections.append(Section(index, sec.name, stype, hdr["sh_flags"], size, content))
        if isinstance(sec, SymbolTableSection) and stype == "SHT_SYMTAB":
            if symbols:
                raise ElfError("the object has more than one symbol table")
            symbols = tuple(
                Symbol(i, s.name, s["st_value"], s["st_size"], s["st_info"]["type"], s["st_info"]["bind"],
                       s["st_shndx"])
                for i, s in enumerate(sec.iter_symbols()))
        elif isinstance(sec, RelocationSection):
            if sec.is_RELA():
                raise ElfError("RELA relocations are not used by BPF objects", sec.name)
            target = hdr["sh_info"]
            relocs[target] = tuple(Reloc(r["r_offset"], r["r_info_sym"], r["r_info_type"])
                                   for r in sec.iter_relocations())
    return RawObject(tuple(sections), symbols, relocs)
