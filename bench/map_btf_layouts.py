"""Write ``app/ebpf/verifier/map_btf_types.py``: the layouts of the kernel structs behind each map type, read
from the running kernel's BTF (``/sys/kernel/btf/vmlinux``).

    python bench/map_btf_layouts.py            # rewrite the module from this machine's kernel
    python bench/map_btf_layouts.py --check    # exit 1 if the module differs from what this kernel says

A program may read a map's ``struct bpf_map`` (``map->max_entries``) through the map pointer; the verifier
checks the access against the BTF of the map type's struct (``check_ptr_to_map_access`` ->
``btf_struct_access``), so the playground needs those layouts. Every struct and union reachable from the
map structs without following a pointer is written, with its members: name, bit offset, bitfield size,
what the member is (``int`` for integers, enums and floats, ``ptr``, ``struct`` for a struct or union), its
size, what it refers to (a pointer's target struct, "" when it points to something else; a nested type's
key) and, for arrays, the element count after flattening every dimension (None for a plain member).
"""
from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "app" / "ebpf" / "verifier" / "map_btf_types.py"
BTF = Path("/sys/kernel/btf/vmlinux")

#: ``map->ops->map_btf_id``, by our map type name: the struct each map type's ops name.
MAP_STRUCTS = {
    "hash": "bpf_htab", "percpu_hash": "bpf_htab", "lru_hash": "bpf_htab", "lru_percpu_hash": "bpf_htab",
    "hash_of_maps": "bpf_htab", "array": "bpf_array", "percpu_array": "bpf_array", "prog_array": "bpf_array",
    "perf_event_array": "bpf_array", "array_of_maps": "bpf_array", "lpm_trie": "lpm_trie", "devmap": "bpf_dtab",
    "queue": "bpf_queue_stack", "stack": "bpf_queue_stack", "ringbuf": "bpf_ringbuf_map",
    "bloom_filter": "bpf_bloom_filter",
}

ANON = "(anon)"  # what __btf_name_by_offset gives a nameless type or member
_MODIFIERS = {8, 9, 10, 11, 18}  # typedef, volatile, const, restrict, type_tag
_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FLOAT, _ENUM64 = 1, 2, 3, 4, 5, 6, 16, 19


def read_btf(data: bytes) -> list[dict | None]:
    _, _, _, hdr_len, type_off, type_len, str_off, _ = struct.unpack_from("<HBBIIIII", data, 0)
    tb, sb = hdr_len + type_off, hdr_len + str_off

    def name(off: int) -> str:
        return data[sb + off:data.index(b"\0", sb + off)].decode()

    types: list[dict | None] = [None]
    p = tb
    while p < tb + type_len:
        name_off, info, sz = struct.unpack_from("<III", data, p)
        p += 12
        kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, info >> 31
        t = {"name": name(name_off), "kind": kind, "sz": sz}
        if kind == _INT:
            p += 4
        elif kind == _ARRAY:
            t["elem"], _, t["n"] = struct.unpack_from("<III", data, p)
            p += 12
        elif kind in (_STRUCT, _UNION):
            members = []
            for _ in range(vlen):
                mn, mt, mo = struct.unpack_from("<III", data, p)
                p += 12
                members.append((name(mn), mt, mo & 0xFFFFFF if kflag else mo, mo >> 24 if kflag else 0))
            t["members"] = members
        elif kind in (_ENUM, 13):  # enum, func_proto
            p += 8 * vlen
        elif kind in (14, 17):  # var, decl_tag
            p += 4
        elif kind in (15, _ENUM64):  # datasec, enum64
            p += 12 * vlen
        types.append(t)
    return types


def layouts(types: list[dict | None]) -> dict[str, tuple]:
    def skip(tid: int) -> int:
        while types[tid]["kind"] in _MODIFIERS:
            tid = types[tid]["sz"]
        return tid

    def size(tid: int) -> int:
        t = types[skip(tid)]
        if t["kind"] == _PTR:
            return 8
        if t["kind"] == _ARRAY:
            return size(t["elem"]) * t["n"]
        return t["sz"]

    keys: dict[int, str] = {}
    out: dict[str, tuple] = {}

    def key(tid: int) -> str:
        if tid not in keys:
            t = types[tid]
            keys[tid] = t["name"] or f"anon{len([k for k in keys.values() if k.startswith('anon')]) + 1}"
            kind = "struct" if t["kind"] == _STRUCT else "union"
            out[keys[tid]] = None  # reserve the place: types are written in the order they are met
            members = tuple(member(m) for m in t["members"])
            out[keys[tid]] = (t["name"] or ANON, kind, t["sz"], members)
        return keys[tid]

    def member(m: tuple) -> tuple:
        mname, mt, bit_off, bits = m
        mname = mname or ANON
        tid, nelems = skip(mt), None
        while types[tid]["kind"] == _ARRAY:  # __btf_resolve_size: every dimension flattened
            nelems = (1 if nelems is None else nelems) * types[tid]["n"]
            tid = skip(types[tid]["elem"])
        t = types[tid]
        if t["kind"] == _PTR:
            target = types[skip(t["sz"])] if t["sz"] else None
            is_struct = target is not None and target["kind"] in (_STRUCT, _UNION)
            return (mname, bit_off, bits, "ptr", 8 * (nelems or 1), target["name"] if is_struct else "", nelems)
        if t["kind"] in (_STRUCT, _UNION):
            return (mname, bit_off, bits, "struct", size(mt), key(tid), nelems)
        return (mname, bit_off, bits, "int", size(mt), "", nelems)

    for struct_name in dict.fromkeys(MAP_STRUCTS.values()):
        tid = next(i for i, t in enumerate(types) if t and t["name"] == struct_name and t["kind"] == _STRUCT)
        key(tid)
    return out


def render(table: dict[str, tuple]) -> str:
    lines = [
        '"""Kernel struct layouts for map pointer reads (``check_ptr_to_map_access``), generated by',
        "``python bench/map_btf_layouts.py`` from the BTF of Linux 6.18 x86-64 (``/sys/kernel/btf/vmlinux`` on",
        "these machines). Do not edit: regenerate.",
        "",
        "``MAP_STRUCTS``: the struct each map type's ops name (``map_btf_id``). ``TYPES``: each struct or union",
        "reachable from them without following a pointer, by key (its name; ``anonN`` for a nameless one, whose",
        "name is ``(anon)``): (name, \"struct\" | \"union\", size, members), each member (name, bit offset,",
        "bitfield bits, \"int\" | \"ptr\" | \"struct\", size in bytes, a pointer's target struct (\"\" for a",
        "pointer to anything else) or a nested type's key, array elements or None).",
        '"""',
        "",
        "MAP_STRUCTS = {",
    ]
    lines += [f"    {k!r}: {v!r}," for k, v in MAP_STRUCTS.items()]
    lines += ["}", "", "TYPES = {"]
    for k, (name, kind, size, members) in table.items():
        lines.append(f"    {k!r}: ({name!r}, {kind!r}, {size}, (")
        lines += [f"        {m!r}," for m in members]
        lines.append("    )),")
    lines += ["}", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    text = render(layouts(read_btf(BTF.read_bytes())))
    if "--check" in argv:
        same = OUT.exists() and OUT.read_text() == text
        print("up to date" if same else f"{OUT} differs from this kernel's BTF")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
