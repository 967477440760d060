"""The maps an object defines, in libbpf's order: legacy ``maps``, BTF-defined ``.maps``, then global data.

**BTF-defined maps** (``bpf_object__init_user_btf_maps``): each variable of the ``.maps`` DATASEC is a
struct whose members encode the definition in their *types*: ``__uint(max_entries, 256)`` is a member
``int (*max_entries)[256]`` (pointer to an array of 256 ints: the number is the array length),
``__type(key, __u32)`` is ``__u32 *key`` (the size is the pointee's), ``__ulong(map_extra, N)`` is an
enum member whose value is N. The variable's place in the section comes from its ELF symbol, as in
libbpf (clang leaves DATASEC offsets to the linker). Unknown members are an error, as libbpf's strict
mode makes them.

**Legacy maps** (``SEC("maps")``, libbpf before 1.0): one ``struct bpf_map_def`` per symbol of the
section, ``{type, key_size, value_size, max_entries, map_flags}``; the definition size is the section
size divided by the number of symbols, and bytes past the five known fields must be zero.

**Global data** (``bpf_object__init_global_data_maps``): each ``.data*``, ``.rodata*`` and ``.bss*``
section becomes a single-element array map whose value is the section (``key_size`` 4, ``value_size`` the
section size, ``max_entries`` 1), named after the section. ``.rodata`` maps get ``BPF_F_RDONLY_PROG`` and
are frozen after being filled; all get ``BPF_F_MMAPABLE``, as libbpf creates them on current kernels.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..program import MapDef
from . import btf as B
from .errors import ElfError
from .reader import RawObject, Section

#: ``enum bpf_map_type`` in kernel order, lower case without ``BPF_MAP_TYPE_`` (0 is ``unspec``).
MAP_TYPE_NAMES = (
    "unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array", "stack_trace",
    "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps", "hash_of_maps", "devmap",
    "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage", "reuseport_sockarray", "percpu_cgroup_storage",
    "queue", "stack", "sk_storage", "devmap_hash", "struct_ops", "ringbuf", "inode_storage", "task_storage",
    "bloom_filter", "user_ringbuf", "cgrp_storage", "arena",
)

BPF_F_RDONLY_PROG = 1 << 7
BPF_F_MMAPABLE = 1 << 10

MAPS_SEC = ".maps"
LEGACY_MAPS_SEC = "maps"
_LEGACY_DEF = struct.Struct("<IIIII")
_INT_FIELDS = ("type", "max_entries", "map_flags", "numa_node", "key_size", "value_size", "pinning")


@dataclass(frozen=True)
class ObjMap:
    """A map of the object and where relocations find it: ``section`` is the ELF section index, ``offset``
    the definition's offset in it (0 for global data, whose relocations name any offset)."""

    mdef: MapDef
    kind: str  # "btf", "legacy" or "data"
    section: int
    offset: int
    key_type: str = ""  # BTF type names, for display ("__u32", "struct flow_key")
    value_type: str = ""


def map_type_name(type_id: int) -> str:
    return MAP_TYPE_NAMES[type_id] if 0 <= type_id < len(MAP_TYPE_NAMES) else f"map_type_{type_id}"


def is_data_section(sec: Section) -> bool:
    """Sections libbpf turns into global data maps (SEC_DATA, SEC_RODATA, SEC_BSS)."""
    n = sec.name
    if sec.type == "SHT_NOBITS":
        return n == ".bss" or n.startswith(".bss.")
    if sec.type != "SHT_PROGBITS" or sec.executable:
        return False
    return n in (".data", ".rodata") or n.startswith((".data.", ".rodata."))


def collect(obj: RawObject, btf: B.Btf | None) -> list[ObjMap]:
    """Every map of the object, in the order libbpf numbers them."""
    maps = _legacy_maps(obj) + _btf_maps(obj, btf) + _data_maps(obj)
    names = [m.mdef.name for m in maps]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup is not None:
        raise ElfError(f"two maps are called {dup!r}")
    return maps


def _symbols_in(obj: RawObject, sec: Section) -> list:
    return sorted((s for s in obj.symbols if s.shndx == sec.index and s.type not in ("STT_SECTION", "STT_FILE")),
                  key=lambda s: s.value)


def _legacy_maps(obj: RawObject) -> list[ObjMap]:
    sec = obj.section(LEGACY_MAPS_SEC)
    if sec is None:
        return []
    syms = _symbols_in(obj, sec)
    if not syms:
        return []
    def_size = sec.size // len(syms)
    if sec.size % len(syms) or def_size < 16:
        raise ElfError(f"{len(syms)} map definitions do not divide the section's {sec.size} bytes evenly",
                       LEGACY_MAPS_SEC)
    out = []
    for sym in syms:
        raw = sec.data[sym.value:sym.value + def_size]
        if len(raw) < def_size:
            raise ElfError(f"map {sym.name!r} lies past the end of the section", LEGACY_MAPS_SEC)
        if any(raw[_LEGACY_DEF.size:]):
            raise ElfError(f"map {sym.name!r} has non-zero fields beyond struct bpf_map_def "
                           "(type, key_size, value_size, max_entries, map_flags)", LEGACY_MAPS_SEC)
        mtype, key_size, value_size, max_entries, flags = _LEGACY_DEF.unpack(raw[:20].ljust(20, b"\0"))
        out.append(ObjMap(MapDef(sym.name, map_type_name(mtype), key_size, value_size, max_entries, flags),
                          "legacy", sec.index, sym.value))
    return out


def _btf_maps(obj: RawObject, btf: B.Btf | None) -> list[ObjMap]:
    sec = obj.section(MAPS_SEC)
    if sec is None:
        return []
    if btf is None:
        raise ElfError("BTF-defined maps need the object's BTF (.BTF): compile with -g", MAPS_SEC)
    datasec = btf.datasec(MAPS_SEC)
    if datasec is None:
        raise ElfError("the BTF has no DATASEC for .maps", MAPS_SEC)
    symbols = {s.name: s for s in _symbols_in(obj, sec)}
    out = []
    for entry in datasec.members:
        var = btf.type(entry.type)
        if var.kind != B.VAR:
            raise ElfError(f"BTF type #{var.id} in .maps is a {var.kind_name}, not a variable", MAPS_SEC)
        sym = symbols.get(var.name)
        if sym is None:
            raise ElfError(f"map {var.name!r} has no ELF symbol", MAPS_SEC)
        out.append(_parse_btf_map(btf, var.name, var.size_or_type, sec.index, sym.value))
    return out


def _parse_btf_map(btf: B.Btf, name: str, def_type: int, section: int, offset: int) -> ObjMap:
    """Mirror of libbpf's ``parse_btf_map_def``."""
    t = btf.skip_mods(def_type)
    if t.kind != B.STRUCT:
        raise ElfError(f"map {name!r}: its definition is a {t.kind_name}, not a struct", MAPS_SEC)
    fields: dict[str, int] = {}
    key_type = value_type = ""
    for m in t.members:
        if m.name in _INT_FIELDS:
            fields[m.name] = _int_field(btf, name, m)
        elif m.name == "map_extra":
            fields[m.name] = _long_field(btf, name, m)
        elif m.name in ("key", "value"):
            ptr = btf.skip_mods(m.type)
            if ptr.kind != B.PTR:
                raise ElfError(f"map {name!r}: {m.name} should be a pointer (__type), not a {ptr.kind_name}",
                               MAPS_SEC)
            size = btf.size_of(ptr.size_or_type)
            explicit = fields.get(f"{m.name}_size")
            if explicit is not None and explicit != size:
                raise ElfError(f"map {name!r}: conflicting {m.name} size {explicit} != {size}", MAPS_SEC)
            fields[f"{m.name}_size"] = size
            if m.name == "key":
                key_type = btf.type_name(ptr.size_or_type)
            else:
                value_type = btf.type_name(ptr.size_or_type)
        elif m.name in ("values", "inner_map"):
            raise ElfError(f"map {name!r}: maps of maps and initial prog_array values (.{m.name}) are not "
                           "supported", MAPS_SEC)
        else:
            raise ElfError(f"map {name!r}: unknown field {m.name!r}", MAPS_SEC)
    if "type" not in fields:
        raise ElfError(f"map {name!r}: no type (__uint(type, BPF_MAP_TYPE_...))", MAPS_SEC)
    mdef = MapDef(name, map_type_name(fields["type"]), fields.get("key_size", 0), fields.get("value_size", 0),
                  fields.get("max_entries", 0), fields.get("map_flags", 0))
    return ObjMap(mdef, "btf", section, offset, key_type, value_type)


def _int_field(btf: B.Btf, name: str, m: B.Member) -> int:
    """libbpf's ``get_map_field_int``: the member is ``int (*field)[N]``; N is the value."""
    ptr = btf.skip_mods(m.type)
    if ptr.kind != B.PTR:
        raise ElfError(f"map {name!r}: attribute {m.name!r} should be __uint(...) (a pointer to an array), "
                       f"not a {ptr.kind_name}", MAPS_SEC)
    arr = btf.type(ptr.size_or_type)
    if arr.kind != B.ARRAY or arr.array is None:
        raise ElfError(f"map {name!r}: attribute {m.name!r} should point to an array, not a {arr.kind_name}",
                       MAPS_SEC)
    return arr.array[2]


def _long_field(btf: B.Btf, name: str, m: B.Member) -> int:
    """libbpf's ``get_map_field_long``: ``__uint`` or ``__ulong`` (an enum whose only value is N)."""
    t = btf.skip_mods(m.type)
    if t.kind in (B.ENUM, B.ENUM64):
        if len(t.members) != 1:
            raise ElfError(f"map {name!r}: attribute {m.name!r} should be an enum of one value", MAPS_SEC)
        return t.members[0].offset & ((1 << 64) - 1)
    return _int_field(btf, name, m)


def _data_maps(obj: RawObject) -> list[ObjMap]:
    out = []
    for sec in obj.sections:
        if not is_data_section(sec) or sec.size == 0:
            continue
        rodata = sec.name.startswith(".rodata")
        flags = BPF_F_MMAPABLE | (BPF_F_RDONLY_PROG if rodata else 0)
        initial = bytes(sec.size) if sec.type == "SHT_NOBITS" else sec.data
        mdef = MapDef(sec.name, "array", 4, sec.size, 1, flags, initial=initial, frozen=rodata)
        out.append(ObjMap(mdef, "data", sec.index, 0))
    return out
