"""The C toolchain (app.ebpf.cc): the generated helper header, refusals before compiling, diagnostics with
line numbers, limits, and the sandbox. Tests that compile are skipped cleanly without a compiler
(pip install ziglang); the scanner and header tests run everywhere."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from app.ebpf.cc import Limits, compile_c, compiler_available, find_toolchain, sandbox
from app.ebpf.cc.diagnostics import Diagnostic, parse
from app.ebpf.cc.headers import find_uapi_root, helper_defs_h, include_tree
from app.ebpf.cc.prototypes import prototypes
from app.ebpf.cc.scan import scan
from app.ebpf.elf import load_elf
from app.ebpf.helpers import HELPER_NAMES, HELPERS

needs_cc = pytest.mark.skipif(not compiler_available()[0], reason="no C compiler (pip install ziglang)")
needs_landlock = pytest.mark.skipif(sandbox.landlock_abi() == 0, reason="the kernel has no Landlock")

HEADERS = "#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n"


# --- the generated header -------------------------------------------------------------------------------------

def test_every_helper_of_the_table_is_declared():
    declared = {p.id: p for p in prototypes()}
    assert set(HELPERS) <= set(declared)
    for p in declared.values():
        assert HELPER_NAMES[p.id] == p.name


def test_c_prototypes_agree_with_the_verifier_prototypes():
    for p in prototypes():
        spec = HELPERS.get(p.id)
        if spec is not None and p.arity is not None:
            assert p.arity == len(spec.args), (p.name, p.params, spec.args)


def test_header_declares_helpers_as_constant_function_pointers():
    text = helper_defs_h()
    assert "static void *(* const bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;" in text
    assert "static long (* const bpf_loop)(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags) " \
           "= (void *) 181;" in text


def test_include_tree_has_our_headers_and_the_uapi():
    tree = include_tree(find_uapi_root())
    for name in ("bpf/bpf_helpers.h", "bpf/bpf_endian.h", "bpf/bpf_tracing.h", "stdint.h", "asm/byteorder.h"):
        assert name in tree
    if find_uapi_root() is not None:
        assert {"linux/bpf.h", "linux/if_ether.h", "linux/ip.h", "linux/pkt_cls.h"} <= set(tree)
    assert not any(".." in k.split("/") or k.startswith("/") for k in tree)


def _call_every_helper() -> str:
    calls = []
    for p in prototypes():
        if p.arity is None:  # bpf_trace_printk(fmt, size, ...)
            calls.append(f"\t{p.name}(fmt, sizeof(fmt));")
        else:
            calls.append(f"\t{p.name}({', '.join('0' for _ in range(p.arity))});")
    return HEADERS + "#include <bpf/bpf_endian.h>\n#include <bpf/bpf_tracing.h>\n" \
        "SEC(\"xdp\") int all(struct xdp_md *ctx)\n{\n\tchar fmt[] = \"x\";\n" + "\n".join(calls) + \
        "\n\treturn bpf_htons(1) + bpf_ntohl(2);\n}\n"


@needs_cc
def test_header_compiles_with_every_helper_used_once():
    source = _call_every_helper()
    result = compile_c(source)
    assert result.ok, [str(d) for d in result.errors]
    called = {i.imm for i in load_elf(result.object).program.insns if i.opcode == 0x85 and i.src == 0}
    assert called == {p.id for p in prototypes()}


@needs_cc
def test_library_macros_compile():
    source = HEADERS + """#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/icmp.h>
#include <linux/pkt_cls.h>
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct iphdr);
	__type(value, uint64_t);
	__uint(max_entries, 8);
	__ulong(map_extra, 0);
} m SEC(".maps");
SEC("kprobe/do_sys_open") int BPF_KPROBE(probe, int dfd, const char *name)
{
	bool big = dfd > INT_MAX - 1;
	bpf_printk("no args");
	bpf_printk("%d %d %d", 1, 2, 3);
	bpf_printk("%d %d %d %d %lx", 1, 2, 3, 4, (long)name);
	return big + offsetof(struct iphdr, daddr) + bpf_htons(ETH_P_IPV6) + TC_ACT_SHOT;
}
SEC("kretprobe/do_sys_open") int BPF_KRETPROBE(ret, long rc) { return rc == 0; }
char LICENSE[] SEC("license") = "GPL";
"""
    result = compile_c(source)
    assert result.ok, [str(d) for d in result.diagnostics]
    e = load_elf(result.object, "probe")
    assert e.program.maps[0].key_size == 20 and e.maps[0].key_type == "struct iphdr"
    called = [i.imm for i in e.program.insns if i.opcode == 0x85 and i.src == 0]
    assert called == [6, 6, 177]  # trace_printk twice, trace_vprintk for 5 arguments


# --- refusals before compiling --------------------------------------------------------------------------------

@pytest.mark.parametrize("source,line,message", [
    ('#include "/etc/passwd"\n', 1, "absolute path"),
    ("int x;\n#include <../../etc/passwd>\n", 2, "'..'"),
    ('#define F "/etc/passwd"\n#include F\n', 2, "no macros"),
    ('/* a */ # /* b */ include "/etc/passwd"\n', 1, "absolute path"),
    ('#inc\\\nlude "/etc/passwd"\n', 1, "absolute path"),
    ('%:include "/etc/passwd"\n', 1, "absolute path"),
    ('#include_next </etc/passwd>\n', 1, "absolute path"),
    ('#import "../x.h"\n', 1, "'..'"),
    ('#embed "program.c"\n', 1, "#embed"),
    ('#if __has_include("/etc/shadow")\n#endif\n', 1, "__has_include"),
    ('#pragma GCC dependency "/etc/passwd"\n', 1, "dependency"),
    ('_Pragma("GCC dependency \\"/etc/passwd\\"")\n', 1, "dependency"),
])
def test_dangerous_includes_are_refused_with_their_line(source, line, message):
    result = compile_c(source)
    assert not result.ok and result.command == []  # refused before any compiler ran
    assert result.diagnostics[0].line == line and message in result.diagnostics[0].message


def test_include_text_in_strings_and_comments_is_not_a_directive():
    assert scan('const char *s = "#include \\"/etc/passwd\\"";\n// #include "/etc/passwd"\n'
                '/* #include "/x" */ int x;\n') == []


def test_source_limits():
    result = compile_c("int x;\n" * 20000)
    assert not result.ok and "at most 65536 bytes" in result.diagnostics[0].message
    result = compile_c("int x;\n\0")
    assert not result.ok and result.diagnostics[0].line == 2 and "NUL" in result.diagnostics[0].message


def test_options_are_checked():
    with pytest.raises(ValueError):
        compile_c("int x;", cpu="-Xclang")
    with pytest.raises(ValueError):
        compile_c("int x;", optimize="2 -fplugin=x")


def test_no_compiler_is_said_plainly(monkeypatch):
    monkeypatch.setenv("EBPF_PLAYGROUND_CC", "none")
    result = compile_c("int x;")
    assert not result.ok and not result.available
    assert "switched off" in result.diagnostics[0].message
    monkeypatch.setenv("EBPF_PLAYGROUND_CC", "/nonexistent/clang")
    assert find_toolchain()[0] is None and "no such compiler" in compile_c("int x;").diagnostics[0].message


def test_diagnostics_parser():
    out = parse("program.c:3:5: error: use of undeclared identifier 'x'\n    3 | x;\n      | ^\n"
                "include/bpf/bpf_helpers.h:10:1: warning: something\nclang: error: unknown argument\n"
                "program.c:1:1: fatal error: 'a.h' file not found\n")
    assert out == [Diagnostic(3, 5, "error", "use of undeclared identifier 'x'"),
                   Diagnostic(10, 1, "warning", "something", "include/bpf/bpf_helpers.h"),
                   Diagnostic(0, 0, "error", "unknown argument", ""),
                   Diagnostic(1, 1, "error", "'a.h' file not found")]


# --- compiling ----------------------------------------------------------------------------------------------

@needs_cc
def test_compile_errors_have_line_numbers_in_program_c():
    result = compile_c(HEADERS + "\nSEC(\"xdp\") int f(struct xdp_md *ctx)\n{\n\treturn undefined_thing;\n}\n"
                                 "int g(void) { int unused; return 0; }\n")
    assert not result.ok and result.object is None
    err = result.errors[0]
    assert (err.file, err.line, err.col) == ("program.c", 6, 9) and "undeclared identifier" in err.message
    assert "/tmp" not in result.log and "ebpf-cc-" not in result.log and "$TMP" in " ".join(result.command)


@needs_cc
def test_missing_header_is_a_normal_compile_error():
    result = compile_c("#include <sys/mman.h>\n")
    assert not result.ok and result.errors[0].line == 1 and "file not found" in result.errors[0].message


@needs_cc
def test_compiles_are_deterministic():
    source = (Path(__file__).parent / "data" / "c" / "global_data.c").read_text()
    assert compile_c(source).object == compile_c(source).object


@needs_cc
@pytest.mark.parametrize("cpu", ["v1", "v2", "v3", "v4"])
def test_cpu_versions(cpu):
    result = compile_c(HEADERS + 'SEC("xdp") int f(struct xdp_md *c) { return c->data_end - c->data > 60; }\n',
                       cpu=cpu)
    assert result.ok and f"-mcpu={cpu}" in result.command


@needs_cc
def test_self_include_is_stopped_by_the_compiler():
    result = compile_c('#include "program.c"\nint x;\n')
    assert not result.ok and "nested too deeply" in result.errors[0].message


@needs_cc
def test_include_loop_hits_the_timeout():
    # each level includes the file twice, 40 levels deep: 2**40 inclusions, none of them an error
    loop = '#if __INCLUDE_LEVEL__ < 40\n#include "program.c"\n#include "program.c"\n#endif\nint x;\n'
    result = compile_c(loop, limits=Limits(timeout=2))
    assert not result.ok and result.timed_out and result.duration < 10
    assert "did not finish within 2 s" in result.errors[-1].message


@needs_cc
def test_macro_bomb_is_stopped():
    bomb = "#define A0 x x x x x x x x\n" + "".join(f"#define A{i} A{i - 1} A{i - 1} A{i - 1} A{i - 1}\n"
                                                    for i in range(1, 30)) + "int y = sizeof(A29);\n"
    result = compile_c(bomb, limits=Limits(timeout=5, memory=512 << 20))
    assert not result.ok and result.duration < 10
    assert "ran out of memory (the limit is 512 MiB)" in result.errors[-1].message or result.timed_out


@needs_cc
@needs_landlock
def test_landlock_keeps_the_compiler_out_of_server_files():
    result = compile_c('asm(".incbin \\"/etc/hostname\\"");\n')
    assert not result.ok
    assert "Landlock" in result.sandbox[0]


@needs_cc
def test_without_landlock_inline_assembly_is_refused_after_preprocessing():
    pasted = '#define CAT(a, b) a##b\nCAT(__as, m__)(".incbin \\"/etc/hostname\\"");\n'
    result = compile_c(pasted, use_landlock=False)
    assert not result.ok and "inline assembly" in result.errors[0].message and result.errors[0].line == 2
    ok = compile_c((Path(__file__).parent / "data" / "c" / "bpf_loop.c").read_text(), use_landlock=False)
    assert ok.ok and "no Landlock" in ok.sandbox[0]


@needs_landlock
def test_sandbox_blocks_reads_outside_its_directories(tmp_path):
    cat = shutil.which("cat")
    if cat is None:
        pytest.skip("no cat")
    (tmp_path / "mine.txt").write_text("visible")
    libs = ["/usr", "/lib", "/lib64", "/etc/ld.so.cache", str(Path(cat).resolve().parent)]
    outcome = sandbox.run([str(Path(cat).resolve()), "mine.txt", "/etc/hostname"], cwd=str(tmp_path), env={},
                          read_paths=libs, write_paths=[str(tmp_path)], limits=Limits(timeout=5),
                          use_landlock=True)
    assert "visible" in outcome.output and re.search(r"/etc/hostname: Permission denied", outcome.output)
    env = shutil.which("env")
    outcome = sandbox.run([str(Path(env).resolve())], cwd=str(tmp_path), env={"ONLY": "this"}, read_paths=libs,
                          write_paths=[str(tmp_path)], limits=Limits(timeout=5), use_landlock=True)
    assert outcome.output.strip() == "ONLY=this"


@pytest.mark.skipif(shutil.which("clang-19") is None, reason="Debian clang-19 is not installed")
def test_system_clang_chosen_by_environment(monkeypatch):
    monkeypatch.setenv("EBPF_PLAYGROUND_CC", "clang-19")
    source = (Path(__file__).parent / "data" / "c" / "xdp_counter.c").read_text()
    result = compile_c(source)
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.toolchain.startswith("clang") and "--target=bpfel" in result.command
    assert load_elf(result.object).program.maps[0].name == "proto_count"
