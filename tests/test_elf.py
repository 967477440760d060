"""ELF object loading (app.ebpf.elf): the example C programs of tests/data/c, built here when a C compiler is
available, and hand-built objects for every error case (those run everywhere).

Where bpf() is permitted, every example program is loaded into the kernel (maps created with
app.oracle.create_map, their fds patched in, BTF and func_info passed as libbpf would) and the networking
programs are test-run against the VM."""
from __future__ import annotations

import ctypes
import os
import random
import re
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from app import oracle
from app.ebpf import assemble, vm
from app.ebpf.cc import compile_c, compiler_available
from app.ebpf.cc.headers import find_uapi_root
from app.ebpf.elf import ElfError, list_programs, load_elf, map_defs
from app.ebpf.elf.maps import MAP_TYPE_NAMES
from app.ebpf.elf.sections import ATTACH_TYPES, classify
from app.ebpf.insn import encode

C_DIR = Path(__file__).resolve().parent / "data" / "c"
HAVE_CC = compiler_available()[0]
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no C compiler (pip install ziglang)")
needs_bpf = pytest.mark.skipif(not oracle.bpf_available(), reason="bpf() is not permitted here")


@pytest.fixture(scope="module")
def objects() -> dict[str, bytes]:
    if not HAVE_CC:
        pytest.skip("no C compiler (pip install ziglang)")
    out = {}
    for path in sorted(C_DIR.glob("*.c")):
        result = compile_c(path.read_text())
        assert result.ok, (path.name, [str(d) for d in result.diagnostics])
        out[path.stem] = result.object
    return out


# --- packets -------------------------------------------------------------------------------------------

def _eth(ethertype: int, payload: bytes) -> bytes:
    return bytes.fromhex("ffffffffffff" "020000000001") + struct.pack(">H", ethertype) + payload


def _ipv4(proto: int, payload: bytes = bytes(8)) -> bytes:
    total = 20 + len(payload)
    return bytes.fromhex("4500") + struct.pack(">H", total) + bytes.fromhex("00010000") + bytes([64, proto]) + \
        bytes(2) + bytes([10, 0, 0, 1, 10, 0, 0, 2]) + payload


UDP_PKT = _eth(0x0800, _ipv4(17, bytes(30)))
TCP_PKT = _eth(0x0800, _ipv4(6, bytes(30)))
ARP_PKT = _eth(0x0806, bytes(28))
BIG_PKT = _eth(0x0800, _ipv4(6, bytes(200)))


# --- hand-built objects -------------------------------------------------------------------------------------

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_REL, SHT_NOBITS = 1, 2, 3, 9, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
CODE = SHF_ALLOC | SHF_EXECINSTR


def build_elf(sections, symbols=(), relocs=None, *, machine=247, e_type=1) -> bytes:
    """A relocatable ELF64 LE object. ``sections``: (name, sh_type, flags, data or size for NOBITS);
    ``symbols``: (name, value, size, "FUNC"|"OBJECT"|"SECTION"|"NOTYPE", "GLOBAL"|"LOCAL", section name or
    None for undefined); ``relocs``: {section name: [(offset, symbol number (1-based), type)]}."""
    relocs = relocs or {}
    names = [s[0] for s in sections]
    index = {n: i + 1 for i, n in enumerate(names)}
    rel_names = [f".rel{t}" for t in relocs]
    all_names = names + rel_names + [".symtab", ".strtab", ".shstrtab"]
    symtab_idx = len(names) + len(rel_names) + 1
    shstr = b"\0" + b"".join(n.encode() + b"\0" for n in all_names)
    strtab = b"\0" + b"".join(s[0].encode() + b"\0" for s in symbols)
    kinds = {"NOTYPE": 0, "OBJECT": 1, "FUNC": 2, "SECTION": 3}
    syms = bytes(24)
    str_off = 1
    for name, value, size, kind, bind, sec in symbols:
        info = (1 if bind == "GLOBAL" else 0) << 4 | kinds[kind]
        syms += struct.pack("<IBBHQQ", str_off, info, 0, index[sec] if sec else 0, value, size)
        str_off += len(name) + 1
    blobs, headers = [], []
    offset = 64

    def add(name, stype, flags, data, link=0, info=0, entsize=0, size=None):
        nonlocal offset
        off = offset
        if stype != SHT_NOBITS:
            blobs.append(data)
            offset += len(data)
        headers.append((shstr.index(name.encode() + b"\0"), stype, flags, off,
                        size if size is not None else len(data), link, info, entsize))

    for name, stype, flags, data in sections:
        if stype == SHT_NOBITS:
            add(name, stype, flags, b"", size=data)
        else:
            add(name, stype, flags, data)
    for target, rels in relocs.items():
        add(f".rel{target}", SHT_REL, 0, b"".join(struct.pack("<QQ", o, s << 32 | t) for o, s, t in rels),
            link=symtab_idx, info=index[target], entsize=16)
    first_global = 1 + sum(1 for s in symbols if s[4] != "GLOBAL")
    add(".symtab", SHT_SYMTAB, 0, syms, link=symtab_idx + 1, info=first_global, entsize=24)
    add(".strtab", SHT_STRTAB, 0, strtab)
    add(".shstrtab", SHT_STRTAB, 0, shstr)
    shoff = offset
    table = bytes(64) + b"".join(struct.pack("<IIQQQQIIQQ", n, t, f, 0, o, sz, lk, inf, 8, es)
                                 for n, t, f, o, sz, lk, inf, es in headers)
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack("<HHIQQQIHHHHHH", e_type, machine, 1, 0, 0, shoff, 0, 64, 0, 0, 64,
                               len(headers) + 1, len(headers))
    return ehdr + b"".join(blobs) + table


def asm(text: str) -> bytes:
    return assemble(text).to_bytes()


def simple_object(section="xdp", code="r0 = 2\nexit", **kw) -> bytes:
    return build_elf([(section, SHT_PROGBITS, CODE, asm(code)), ("license", SHT_PROGBITS, SHF_ALLOC, b"GPL\0")],
                     [("prog", 0, len(asm(code)), "FUNC", "GLOBAL", section)], **kw)


# --- section names -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,prog_type,attach,target", [
    ("xdp", "xdp", "xdp", ""),
    ("xdp.frags", "xdp", "xdp", ""),
    ("xdp/devmap", "xdp", "xdp_devmap", ""),
    ("tc", "sched_cls", None, ""),
    ("classifier", "sched_cls", None, ""),
    ("tc/ingress", "sched_cls", "tcx_ingress", ""),
    ("action", "sched_act", None, ""),
    ("socket", "socket_filter", None, ""),
    ("kprobe/do_unlinkat", "kprobe", None, "do_unlinkat"),
    ("kretprobe/do_unlinkat", "kprobe", None, "do_unlinkat"),
    ("kprobe", "kprobe", None, ""),
    ("tracepoint/syscalls/sys_enter_openat", "tracepoint", None, "syscalls/sys_enter_openat"),
    ("tp/sched/sched_process_exec", "tracepoint", None, "sched/sched_process_exec"),
    ("raw_tracepoint/sched_switch", "raw_tracepoint", None, "sched_switch"),
    ("raw_tp/sched_switch", "raw_tracepoint", None, "sched_switch"),
    ("perf_event", "perf_event", None, ""),
    ("cgroup_skb/ingress", "cgroup_skb", "cgroup_inet_ingress", ""),
    ("cgroup_skb/egress", "cgroup_skb", "cgroup_inet_egress", ""),
    ("cgroup/connect4", "cgroup_sock_addr", "cgroup_inet4_connect", ""),
    ("fentry/do_unlinkat", "tracing", "trace_fentry", "do_unlinkat"),
    ("socket1", None, None, ""),          # libbpf 1.0 dropped sloppy prefixes
    ("xdp_prog", None, None, ""),
    ("kprobex", None, None, ""),
    (".text", None, None, ""),
])
def test_section_names_follow_libbpf(name, prog_type, attach, target):
    kind = classify(name)
    assert (kind.prog_type, kind.attach_type, kind.target) == (prog_type, attach, target)


def test_connect4_expected_attach_type_is_the_kernels():
    assert classify("cgroup/connect4").expected_attach_type == 10  # BPF_CGROUP_INET4_CONNECT
    assert classify("xdp").expected_attach_type == 37  # BPF_XDP


def _uapi_enum(name: str, prefix: str) -> list[str]:
    root = find_uapi_root()
    if root is None:
        pytest.skip("no UAPI linux/bpf.h (ziglang or linux-libc-dev)")
    text = (root / "linux" / "bpf.h").read_text()
    body = re.search(r"enum " + name + r" \{(.*?)\n\}", text, re.DOTALL).group(1)
    return [m.lower() for m in re.findall(r"^\s*" + prefix + r"(\w+)\s*(?:=\s*\d+\s*)?,", body, re.MULTILINE)]


def test_attach_type_numbers_match_uapi_header():
    names = _uapi_enum("bpf_attach_type", "BPF_")
    assert list(ATTACH_TYPES) == names[:len(ATTACH_TYPES)]


def test_map_type_numbers_match_uapi_header():
    names = [n.removesuffix("_deprecated") for n in _uapi_enum("bpf_map_type", "BPF_MAP_TYPE_")]
    assert list(MAP_TYPE_NAMES) == names[:len(MAP_TYPE_NAMES)]


# --- hand-built objects: loading and errors ------------------------------------------------------------------

def test_minimal_object_loads():
    e = load_elf(simple_object())
    assert (e.prog_type, e.section, e.name, e.license) == ("xdp", "xdp", "prog", "GPL")
    assert encode(e.program.insns) == asm("r0 = 2\nexit")
    assert e.program.labels == {0: "prog"} and e.line_info == [] and e.sections == ["xdp"]
    assert vm.run(e.program, prog_type="xdp", packet=ARP_PKT).retval == 2


def test_unknown_section_needs_a_program_type():
    data = simple_object(section="my_filter")
    with pytest.raises(ElfError, match="libbpf does not know the program type of section 'my_filter'"):
        load_elf(data)
    assert load_elf(data, prog_type="socket_filter").prog_type == "socket_filter"


def test_text_only_object_without_symbols_is_one_program():
    data = build_elf([(".text", SHT_PROGBITS, CODE, asm("r0 = 1\nexit"))])
    e = load_elf(data, prog_type="xdp")
    assert e.name == ".text" and len(e.program) == 2


def test_legacy_maps_section():
    defs = struct.pack("<5I", 2, 4, 8, 10, 0) + struct.pack("<5I", 1, 4, 4, 32, 1)
    code = asm("r1 = 0 ll\nr1 = 0 ll\nr0 = 0\nexit")
    data = build_elf(
        [("socket", SHT_PROGBITS, CODE, code), ("maps", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, defs)],
        [("prog", 0, len(code), "FUNC", "GLOBAL", "socket"), ("counts", 0, 20, "OBJECT", "GLOBAL", "maps"),
         ("seen", 20, 20, "OBJECT", "GLOBAL", "maps")],
        {"socket": [(0, 3, 1), (16, 2, 1)]})
    e = load_elf(data)
    assert [(m.name, m.type, m.key_size, m.value_size, m.max_entries, m.flags) for m in e.program.maps] == [
        ("counts", "array", 4, 8, 10, 0), ("seen", "hash", 4, 4, 32, 1)]
    assert [(i.src, i.imm) for i in e.program.insns if i.opcode == 0x18] == [(1, 1), (1, 0)]


def test_global_data_relocation_uses_symbol_offset_plus_addend():
    code = asm("r1 = 4 ll\nr0 = *(u32 *)(r1 + 0)\nexit")  # clang puts the addend in imm
    data = build_elf(
        [("xdp", SHT_PROGBITS, CODE, code), (".data", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, bytes(range(16))),
         (".bss", SHT_NOBITS, SHF_ALLOC | SHF_WRITE, 8)],
        [("prog", 0, len(code), "FUNC", "GLOBAL", "xdp"), ("var", 8, 4, "OBJECT", "GLOBAL", ".data")],
        {"xdp": [(0, 2, 1)]})
    e = load_elf(data)
    first, second = e.program.insns[:2]
    assert (first.src, first.imm, second.imm) == (2, 0, 12)
    data_map, bss_map = e.program.maps
    assert (data_map.name, data_map.value_size, data_map.initial, data_map.frozen) == (".data", 16, bytes(range(16)),
                                                                                      False)
    assert (bss_map.name, bss_map.value_size, bss_map.initial, bss_map.max_entries) == (".bss", 8, bytes(8), 1)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: b"", "not an ELF object"),
    (lambda d: b"#!/bin/sh\n" + d, "not an ELF object"),
    (lambda d: d[:40], "truncated ELF object"),
    (lambda d: d[:4] + b"\x01" + d[5:], "32-bit"),
    (lambda d: d[:5] + b"\x02" + d[6:], "big-endian"),
    (lambda d: d[:18] + struct.pack("<H", 62) + d[20:], "machine 62, not BPF"),
    (lambda d: d[:16] + struct.pack("<H", 2) + d[18:], "not a relocatable object"),
    (lambda d: d[:len(d) - 100], "truncated ELF object"),
])
def test_bad_headers_are_elf_errors(mutate, message):
    with pytest.raises(ElfError, match=message):
        load_elf(mutate(simple_object()))


def test_section_past_end_of_file():
    data = bytearray(simple_object())
    shoff, = struct.unpack_from("<Q", data, 40)
    struct.pack_into("<Q", data, shoff + 64 + 24, len(data) + 100)  # sh_offset of section 1 (xdp)
    with pytest.raises(ElfError, match="truncated ELF object: section xdp"):
        load_elf(bytes(data))


def test_relocation_errors():
    code = asm("r0 = 0\nexit")
    base = [("xdp", SHT_PROGBITS, CODE, code)]
    sym = [("prog", 0, len(code), "FUNC", "GLOBAL", "xdp"), ("ext", 0, 0, "NOTYPE", "GLOBAL", None)]
    with pytest.raises(ElfError, match="R_BPF_64_ABS32 is not supported in code"):
        load_elf(build_elf(base, sym, {"xdp": [(0, 1, 3)]}))
    with pytest.raises(ElfError, match="not ld_imm64"):
        load_elf(build_elf(base, sym, {"xdp": [(0, 1, 1)]}))
    with pytest.raises(ElfError, match="not a bpf-to-bpf call"):
        load_elf(build_elf(base, sym, {"xdp": [(0, 1, 10)]}))
    with pytest.raises(ElfError, match="extern variables"):
        load_elf(build_elf(base, sym, {"xdp": [(0, 2, 1)]}))
    with pytest.raises(ElfError, match="not on an instruction"):
        load_elf(build_elf(base, sym, {"xdp": [(3, 1, 1)]}))
    with pytest.raises(ElfError, match="symbol #9"):
        load_elf(build_elf(base, sym, {"xdp": [(0, 9, 1)]}))


def test_call_into_the_middle_of_a_function_is_refused():
    code = asm("call pc+1\nr0 = 0\nexit")
    data = build_elf([("xdp", SHT_PROGBITS, CODE, code), (".text", SHT_PROGBITS, CODE, asm("r0 = 1\nr0 = 2\nexit"))],
                     [("prog", 0, len(code), "FUNC", "GLOBAL", "xdp"), ("", 0, 0, "SECTION", "LOCAL", ".text"),
                      ("f", 0, 24, "FUNC", "GLOBAL", ".text")],
                     {"xdp": [(0, 2, 10)]})
    # against the .text section symbol, imm 1 targets .text insn 0 + 1 + 1 = 2: inside f
    with pytest.raises(ElfError, match="call target 2 of .text is not the start of a function"):
        load_elf(data)


def test_call_to_text_function_is_appended_once():
    code = asm("call pc-1\ncall pc-1\nexit")
    data = build_elf([("xdp", SHT_PROGBITS, CODE, code), (".text", SHT_PROGBITS, CODE, asm("r0 = 2\nexit"))],
                     [("prog", 0, len(code), "FUNC", "GLOBAL", "xdp"), ("f", 0, 16, "FUNC", "GLOBAL", ".text")],
                     {"xdp": [(0, 2, 10), (8, 2, 10)]})
    e = load_elf(data)
    assert e.program.labels == {0: "prog", 3: "f"}
    assert [(i.src, i.imm) for i in e.program.insns[:2]] == [(1, 2), (1, 1)]
    assert vm.run(e.program, prog_type="xdp", packet=ARP_PKT).retval == 2


def test_invalid_instruction_is_an_elf_error():
    bad = bytes([0xFF]) + bytes(7) + asm("exit")
    data = build_elf([("xdp", SHT_PROGBITS, CODE, bad)], [("prog", 0, 16, "FUNC", "GLOBAL", "xdp")])
    with pytest.raises(ElfError, match="section xdp: insn 0: unknown opcode 0xff"):
        load_elf(data)


def test_no_code_and_maps_without_btf():
    with pytest.raises(ElfError, match="no programs"):
        load_elf(build_elf([("license", SHT_PROGBITS, SHF_ALLOC, b"GPL\0")]))
    data = build_elf([("xdp", SHT_PROGBITS, CODE, asm("r0 = 0\nexit")), (".maps", SHT_PROGBITS, SHF_ALLOC, bytes(16))],
                     [("prog", 0, 16, "FUNC", "GLOBAL", "xdp"), ("m", 0, 16, "OBJECT", "GLOBAL", ".maps")])
    with pytest.raises(ElfError, match="compile with -g"):
        load_elf(data)


def test_unknown_selection_lists_what_there_is():
    with pytest.raises(ElfError, match=r"no program section or function called 'tc'; the object has: xdp \(prog\)"):
        load_elf(simple_object(), "tc")


def _fuzz(data: bytes, seed: int, mutations: int) -> int:
    rng = random.Random(seed)
    loaded = 0
    cases = [data[:n] for n in range(0, len(data), 7)]
    for _ in range(mutations):
        b = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(len(b))] = rng.choice((0, 0xFF, rng.randrange(256)))
        cases.append(bytes(b))
    for case in cases:
        try:
            load_elf(case)
            loaded += 1
        except ElfError:
            pass
    return loaded


def test_fuzzed_hand_built_objects_only_raise_elf_error():
    _fuzz(simple_object(), seed=1, mutations=400)


@needs_cc
def test_fuzzed_compiled_objects_only_raise_elf_error(objects):
    for k, name in enumerate(("global_data", "multi_prog", "bpf_loop", "xdp_counter")):
        _fuzz(objects[name], seed=k, mutations=250)


# --- compiled examples ------------------------------------------------------------------------------------

EXPECTED_PROGRAMS = {
    "xdp_drop_non_ipv4": [("xdp_drop_non_ipv4", "xdp", "xdp")],
    "tc_set_mark": [("tc_set_mark", "tc", "sched_cls")],
    "socket_snaplen": [("socket_snaplen", "socket", "socket_filter")],
    "xdp_counter": [("xdp_counter", "xdp", "xdp")],
    "global_data": [("xdp_global_data", "xdp", "xdp")],
    "bpf_to_bpf": [("xdp_calls", "xdp", "xdp")],
    "bpf_loop": [("xdp_loop", "xdp", "xdp")],
    "legacy_maps": [("count_lengths", "socket", "socket_filter")],
    "multi_prog": [("first_xdp", "xdp", "xdp"), ("second_xdp", "xdp", "xdp"), ("classify", "tc", "sched_cls"),
                   ("on_unlink", "kprobe/do_unlinkat", "kprobe"),
                   ("on_openat", "tracepoint/syscalls/sys_enter_openat", "tracepoint"),
                   ("on_connect4", "cgroup/connect4", "cgroup_sock_addr")],
}


@needs_cc
def test_every_example_is_covered(objects):
    assert set(objects) == set(EXPECTED_PROGRAMS)


@needs_cc
@pytest.mark.parametrize("name", sorted(EXPECTED_PROGRAMS))
def test_examples_list_their_programs(objects, name):
    assert [(p.name, p.section, p.prog_type) for p in list_programs(objects[name])] == EXPECTED_PROGRAMS[name]
    for prog_name, section, ptype in EXPECTED_PROGRAMS[name]:
        e = load_elf(objects[name], prog_name)
        assert (e.name, e.section, e.prog_type, e.license[:3]) == (prog_name, section, ptype, "GPL" if
                                                                   name != "xdp_drop_non_ipv4" else "Dua")
        assert e.program.labels[0] == prog_name and e.warnings == []
        assert e.source_file == "program.c" and e.line_info and e.func_info[0][0] == 0


@needs_cc
def test_btf_defined_maps(objects):
    e = load_elf(objects["xdp_counter"])
    assert [m.to_json() for m in e.program.maps] == [
        {"name": "proto_count", "type": "array", "key_size": 4, "value_size": 8, "max_entries": 256, "flags": 0}]
    assert [(m.kind, m.key_type, m.value_type) for m in e.maps] == [("btf", "__u32", "__u64")]
    loads = [(pc, i) for pc, i in enumerate(e.program.insns) if i.opcode == 0x18]
    assert [(i.src, i.imm) for _, i in loads] == [(1, 0)]
    m = {d.name: d for d in map_defs(objects["multi_prog"])}
    assert (m["events"].type, m["events"].max_entries) == ("ringbuf", 4096)
    assert (m["by_pid"].type, m["by_pid"].key_size, m["by_pid"].value_size, m["by_pid"].flags) == ("hash", 4, 8, 1)


@needs_cc
def test_legacy_map_definitions(objects):
    (m,) = load_elf(objects["legacy_maps"]).program.maps
    assert (m.name, m.type, m.key_size, m.value_size, m.max_entries, m.flags) == ("counters", "hash", 4, 8, 64, 1)


@needs_cc
def test_global_data_maps(objects):
    e = load_elf(objects["global_data"])
    maps = {m.name: m for m in e.program.maps}
    assert set(maps) == {".rodata", ".data", ".bss"}
    assert (maps[".rodata"].initial, maps[".rodata"].frozen, maps[".rodata"].flags) == (b"\x11", True, 0x480)
    assert (maps[".data"].initial, maps[".data"].flags) == (struct.pack("<I", 2), 0x400)
    assert (maps[".bss"].value_size, maps[".bss"].initial) == (16, bytes(16))
    refs = [(e.program.maps[i.imm].name, e.program.insns[pc + 1].imm)
            for pc, i in enumerate(e.program.insns) if i.opcode == 0x18]
    assert sorted(refs) == [(".bss", 0), (".bss", 8), (".data", 0), (".rodata", 0)]  # packets, dropped


@needs_cc
def test_bpf_to_bpf_calls_are_appended(objects):
    e = load_elf(objects["bpf_to_bpf"])
    labels = e.program.labels
    assert sorted(labels.values()) == ["is_ipv4", "verdict", "xdp_calls"]
    starts = {name: pc for pc, name in labels.items()}
    calls = [(pc, pc + 1 + i.imm) for pc, i in enumerate(e.program.insns) if i.opcode == 0x85 and i.src == 1]
    assert sorted(t for _, t in calls) == sorted([starts["is_ipv4"], starts["verdict"]])
    shared = load_elf(objects["multi_prog"], "on_openat")
    assert list(shared.program.labels.values()) == ["on_openat", "twice"]


@needs_cc
def test_bpf_loop_callback_address(objects):
    e = load_elf(objects["bpf_loop"])
    (pc, insn), = [(pc, i) for pc, i in enumerate(e.program.insns) if i.opcode == 0x18]
    assert insn.src == 4 and e.program.labels[pc + 1 + insn.imm] == "add_index"
    assert [pc for pc, _ in e.func_info] == [0, pc + 1 + insn.imm]


@needs_cc
def test_line_info_points_at_the_c_source(objects):
    source = (C_DIR / "bpf_to_bpf.c").read_text().splitlines()
    e = load_elf(objects["bpf_to_bpf"])
    for li in e.line_info:
        assert li.file == "program.c" and source[li.line - 1] == li.text
    assert len(e.program.lines) == len(e.program) and all(e.program.lines)
    start = {name: pc for pc, name in e.program.labels.items()}["is_ipv4"]
    assert "is_ipv4" in source[e.program.lines[start] - 1]


@needs_cc
@pytest.mark.parametrize("name,prog,packet,want", [
    ("xdp_drop_non_ipv4", None, UDP_PKT, 2), ("xdp_drop_non_ipv4", None, ARP_PKT, 1),
    ("bpf_to_bpf", None, TCP_PKT, 2), ("bpf_to_bpf", None, ARP_PKT, 1),
    ("tc_set_mark", None, UDP_PKT, 0),
    ("socket_snaplen", None, UDP_PKT, len(UDP_PKT) - 14), ("socket_snaplen", None, BIG_PKT, 64),
    ("multi_prog", "first_xdp", UDP_PKT, 2), ("multi_prog", "second_xdp", UDP_PKT, 1),
    ("bpf_loop", None, UDP_PKT, 2),
])
def test_map_free_examples_run_in_the_vm(objects, name, prog, packet, want):
    e = load_elf(objects[name], prog)
    assert vm.run(e.program, prog_type=e.prog_type, packet=packet).retval == want


# --- the kernel accepts what we produce ---------------------------------------------------------------------

class _BtfLoadAttr(ctypes.Structure):
    _fields_ = [("btf", ctypes.c_uint64), ("btf_log_buf", ctypes.c_uint64), ("btf_size", ctypes.c_uint32),
                ("btf_log_size", ctypes.c_uint32), ("btf_log_level", ctypes.c_uint32)]


class _BtfAttr(ctypes.Union):
    _fields_ = [("btf", _BtfLoadAttr), ("_raw", ctypes.c_uint8 * 160)]


_BPF_PROG_LOAD, _BPF_BTF_LOAD = 5, 18


def _kernel_load(e, kmaps) -> oracle.LoadedProgram:
    """BPF_PROG_LOAD as libbpf does it: map fds patched in, the object's BTF and func_info passed (the
    oracle's loader has no BTF, which programs with callbacks need). Uses the oracle's syscall wrapper."""
    insns = [replace(i, imm=kmaps[i.imm].fd) if i.opcode == 0x18 and i.src in (1, 2) else i for i in e.program.insns]
    code = encode(insns)
    btf = ctypes.create_string_buffer(e.btf, len(e.btf))
    log = ctypes.create_string_buffer(1 << 20)
    battr = _BtfAttr()
    battr.btf.btf, battr.btf.btf_size = ctypes.addressof(btf), len(e.btf)
    battr.btf.btf_log_buf, battr.btf.btf_log_size, battr.btf.btf_log_level = ctypes.addressof(log), len(log), 1
    try:
        btf_fd = oracle._bpf(_BPF_BTF_LOAD, battr)
    except OSError as err:
        pytest.fail(f"kernel refused the BTF of {e.name}: {err}: {log.value.decode()[-500:]}")
    cinsns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(e.license.encode())
    finfo = (ctypes.c_uint32 * (2 * len(e.func_info)))(*[x for pair in e.func_info for x in pair])
    attr = oracle._BpfAttr()
    p = attr.prog_load
    p.prog_type = oracle.PROG_TYPES[e.prog_type]
    p.insn_cnt, p.insns, p.license = len(code) // 8, ctypes.addressof(cinsns), ctypes.addressof(lic)
    p.log_level, p.log_size, p.log_buf = 1, len(log), ctypes.addressof(log)
    p.expected_attach_type = e.expected_attach_type
    p.prog_btf_fd, p.func_info_rec_size = btf_fd, 8
    p.func_info, p.func_info_cnt = ctypes.addressof(finfo), len(e.func_info)
    try:
        fd = oracle._bpf(_BPF_PROG_LOAD, attr)
    except OSError as err:
        pytest.fail(f"kernel refused {e.name}: {err}: {log.value.decode()[-1500:]}")
    finally:
        os.close(btf_fd)
    return oracle.LoadedProgram(fd, e.prog_type, None)


def _kernel_maps(e):
    kmaps = []
    for m in e.program.maps:
        km = oracle.create_map(m.type, m.key_size, m.value_size, m.max_entries, m.flags)
        if m.initial:
            km.update(bytes(4), m.initial)
        kmaps.append(km)
    return kmaps


@needs_cc
@needs_bpf
@pytest.mark.kernel
@pytest.mark.parametrize("name,prog", [(n, p[0]) for n, progs in sorted(EXPECTED_PROGRAMS.items()) for p in progs])
def test_kernel_accepts_every_example(objects, name, prog):
    e = load_elf(objects[name], prog)
    kmaps = _kernel_maps(e)
    try:
        with _kernel_load(e, kmaps):
            pass
    finally:
        for km in kmaps:
            km.close()


@needs_cc
@needs_bpf
@pytest.mark.kernel
@pytest.mark.parametrize("name,prog", [("xdp_drop_non_ipv4", None), ("tc_set_mark", None), ("socket_snaplen", None),
                                       ("bpf_to_bpf", None), ("bpf_loop", None), ("multi_prog", "first_xdp"),
                                       ("multi_prog", "second_xdp"), ("multi_prog", "classify")])
def test_kernel_and_vm_agree_on_map_free_examples(objects, name, prog):
    e = load_elf(objects[name], prog)
    with _kernel_load(e, []) as lp:
        for packet in (UDP_PKT, TCP_PKT, ARP_PKT, BIG_PKT):
            kernel = lp.test_run(packet)
            ours = vm.run(e.program, prog_type=e.prog_type, packet=packet)
            assert ours.fault is None
            assert (ours.retval, ours.packet_out) == (kernel.retval, kernel.data_out), packet.hex()


@needs_cc
@needs_bpf
@pytest.mark.kernel
def test_kernel_runs_maps_and_global_data_as_loaded(objects):
    e = load_elf(objects["xdp_counter"])
    kmaps = _kernel_maps(e)
    with _kernel_load(e, kmaps) as lp:
        for packet in (UDP_PKT, UDP_PKT, TCP_PKT):
            assert lp.test_run(packet).retval == 2
    assert kmaps[0].lookup(struct.pack("<I", 17)) == struct.pack("<Q", 2)
    assert kmaps[0].lookup(struct.pack("<I", 6)) == struct.pack("<Q", 1)
    e = load_elf(objects["global_data"])
    kmaps = _kernel_maps(e)
    names = [m.name for m in e.program.maps]
    with _kernel_load(e, kmaps) as lp:
        assert [lp.test_run(p).retval for p in (UDP_PKT, TCP_PKT)] == [1, 2]  # .rodata says: drop UDP (17)
    assert kmaps[names.index(".bss")].lookup(bytes(4)) == struct.pack("<QQ", 2, 1)  # packets, dropped


def _nonzero_entries(km: oracle.KernelMap) -> dict[str, str]:
    out = {}
    for key in km.keys():  # noqa: SIM118 -- KernelMap.keys() walks BPF_MAP_GET_NEXT_KEY
        value = km.lookup(key)
        if value is not None and any(value):
            out[key.hex()] = value.hex()
    return out


@needs_cc
@needs_bpf
@pytest.mark.kernel
@pytest.mark.parametrize("name,packet", [("xdp_counter", UDP_PKT), ("xdp_counter", ARP_PKT),
                                         ("global_data", UDP_PKT), ("global_data", TCP_PKT),
                                         ("global_data", bytes(14)), ("legacy_maps", BIG_PKT)])
def test_kernel_and_vm_agree_on_examples_with_maps(objects, name, packet):
    e = load_elf(objects[name])
    kmaps = _kernel_maps(e)
    try:
        with _kernel_load(e, kmaps) as lp:
            kernel = lp.test_run(packet)
        kernel_maps = [_nonzero_entries(km) for km in kmaps]
    finally:
        for km in kmaps:
            km.close()
    ours = vm.run(e.program, prog_type=e.prog_type, packet=packet)
    assert ours.fault is None and (ours.retval, ours.packet_out) == (kernel.retval, kernel.data_out)
    vm_maps = [{k: v for k, v in m["entries"].items() if int(v, 16)} for m in
               (x if isinstance(x, dict) else x.to_json() for x in ours.maps)]
    assert vm_maps == kernel_maps
