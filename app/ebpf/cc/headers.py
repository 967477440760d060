"""The include tree a restricted C program compiles against: our own headers plus a copy of the kernel UAPI.

A compile sees exactly one include directory, written fresh into its sandbox (``-nostdinc -isystem
include``). It holds:

``bpf/bpf_helpers.h``, ``bpf/bpf_helper_defs.h``, ``bpf/bpf_endian.h``, ``bpf/bpf_tracing.h``
    our own versions of the headers libbpf programs include (written here, not copied from libbpf):
    ``SEC()``, ``__uint``/``__type``/``__array``/``__ulong`` for BTF-defined maps, ``bpf_printk``,
    ``bpf_htons`` and friends, ``PT_REGS_PARM1`` and ``BPF_KPROBE`` for x86-64, and one declaration per
    helper generated from the helper table (:mod:`.prototypes`).
``stdint.h``, ``stddef.h``, ``stdbool.h``, ``limits.h``, ``sys/socket.h``
    the freestanding C headers, defined from the compiler's predefined macros, and the two types of
    ``sys/socket.h`` that ``linux/if.h`` needs.
``asm/*.h``
    the architecture layer of the UAPI for a 64-bit little-endian BPF target: ``byteorder.h`` (little
    endian), ``bitsperlong.h`` (64), ``ptrace.h`` (x86-64 ``struct pt_regs``, the layout kprobes see) and,
    for every other ``asm/X.h`` a copied header asks for, ``#include <asm-generic/X.h>``.
``linux/*.h``, ``asm-generic/*.h``
    the UAPI headers networking and tracing programs use (``linux/bpf.h``, ``if_ether.h``, ``ip.h``,
    ``ipv6.h``, ``tcp.h``, ``udp.h``, ``pkt_cls.h`` ...) with everything they include, copied as regular
    files from the toolchain's bundled UAPI: the ``ziglang`` package's ``lib/libc/include/any-linux-any``,
    or else the system's ``/usr/include`` (Debian's ``linux-libc-dev``). Without either, programs can still
    use our headers; ``#include <linux/bpf.h>`` then fails with the compiler's "file not found".

Copying (instead of pointing ``-isystem`` at the toolchain) keeps the rule simple: a compile can read its
sandbox and the compiler's own files, nothing else.
"""
from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

from .prototypes import forward_structs, prototypes

#: UAPI headers offered to programs (their includes are copied too).
UAPI_ROOTS = (
    "linux/bpf.h", "linux/bpf_common.h", "linux/types.h", "linux/stddef.h", "linux/errno.h",
    "linux/if_ether.h", "linux/if_packet.h", "linux/if_arp.h", "linux/if_vlan.h", "linux/ip.h", "linux/ipv6.h",
    "linux/in.h", "linux/in6.h", "linux/tcp.h", "linux/udp.h", "linux/icmp.h", "linux/icmpv6.h",
    "linux/pkt_cls.h", "linux/pkt_sched.h", "linux/ptrace.h", "linux/socket.h", "linux/limits.h",
    "linux/perf_event.h", "linux/swab.h",
)

_INCLUDE_RE = re.compile(rb'^[ \t]*#[ \t]*include[ \t]*[<"]([^>"]+)[>"]', re.MULTILINE)

_BPF_HELPERS_H = r"""/* bpf/bpf_helpers.h -- eBPF playground (generated; not libbpf's header, same names). */
#ifndef __PLAYGROUND_BPF_HELPERS_H
#define __PLAYGROUND_BPF_HELPERS_H

#if __has_include(<linux/bpf.h>)
#include <linux/bpf.h>      /* BPF_MAP_TYPE_*, XDP_PASS, struct xdp_md, struct __sk_buff ... */
#endif
#include <bpf/bpf_helper_defs.h>

#define SEC(name) __attribute__((section(name), used))

/* BTF-defined maps: struct { __uint(type, BPF_MAP_TYPE_ARRAY); __type(key, __u32); ... } m SEC(".maps"); */
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define ___bpf_concat(a, b) a##b
#define ___bpf_concat2(a, b) ___bpf_concat(a, b)
#define __ulong(name, val) enum { ___bpf_concat2(__pg_ulong_, __COUNTER__) = val } name

enum libbpf_pin_type { LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME };

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
#ifndef __hidden
#define __hidden __attribute__((visibility("hidden")))
#endif
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif
#ifndef barrier_var
#define barrier_var(var) asm volatile("" : "+r"(var))
#endif
#ifndef NULL
#define NULL ((void *)0)
#endif
#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* Number of arguments (0..12) and argument lists applied to numbered macros. */
#define ___bpf_nth(_, _1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, N, ...) N
#define ___bpf_narg(...) ___bpf_nth(_, ##__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define ___bpf_apply(fn, n) ___bpf_concat2(fn, n)

/* bpf_printk(fmt, args...): bpf_trace_printk for up to 3 arguments, bpf_trace_vprintk beyond.
 * The format lives in .rodata (a read-only global) unless BPF_NO_GLOBAL_DATA is defined. */
#ifdef BPF_NO_GLOBAL_DATA
#define ___bpf_fmt_storage
#else
#define ___bpf_fmt_storage static const
#endif
#define ___bpf_printk_kind(...) ___bpf_nth(_, ##__VA_ARGS__, v, v, v, v, v, v, v, v, v, 3, 3, 3, 3)
#define ___bpf_printk3(fmt, ...) ({                                              \
	___bpf_fmt_storage char ____fmt[] = fmt;                                 \
	bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__);               \
})
#define ___bpf_fill0(a, i)
#define ___bpf_fill1(a, i, x) a[i] = (unsigned long long)(x);
#define ___bpf_fill2(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill1(a, i + 1, __VA_ARGS__)
#define ___bpf_fill3(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill2(a, i + 1, __VA_ARGS__)
#define ___bpf_fill4(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill3(a, i + 1, __VA_ARGS__)
#define ___bpf_fill5(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill4(a, i + 1, __VA_ARGS__)
#define ___bpf_fill6(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill5(a, i + 1, __VA_ARGS__)
#define ___bpf_fill7(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill6(a, i + 1, __VA_ARGS__)
#define ___bpf_fill8(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill7(a, i + 1, __VA_ARGS__)
#define ___bpf_fill9(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill8(a, i + 1, __VA_ARGS__)
#define ___bpf_fill10(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill9(a, i + 1, __VA_ARGS__)
#define ___bpf_fill11(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill10(a, i + 1, __VA_ARGS__)
#define ___bpf_fill12(a, i, x, ...) a[i] = (unsigned long long)(x); ___bpf_fill11(a, i + 1, __VA_ARGS__)
#define ___bpf_printkv(fmt, ...) ({                                              \
	static const char ____fmt[] = fmt;                                       \
	unsigned long long ____data[___bpf_narg(__VA_ARGS__)];                   \
	___bpf_apply(___bpf_fill, ___bpf_narg(__VA_ARGS__))(____data, 0, __VA_ARGS__) \
	bpf_trace_vprintk(____fmt, sizeof(____fmt), ____data, sizeof(____data)); \
})
#define bpf_printk(fmt, ...) \
	___bpf_apply(___bpf_printk, ___bpf_printk_kind(__VA_ARGS__))(fmt, ##__VA_ARGS__)

#endif /* __PLAYGROUND_BPF_HELPERS_H */
"""

_BPF_ENDIAN_H = r"""/* bpf/bpf_endian.h -- eBPF playground: byte order conversions usable in constant expressions. */
#ifndef __PLAYGROUND_BPF_ENDIAN_H
#define __PLAYGROUND_BPF_ENDIAN_H

#define ___bpf_swab16(x) ((unsigned short)((((unsigned short)(x) & 0x00ffU) << 8) | \
                                           (((unsigned short)(x) & 0xff00U) >> 8)))
#define ___bpf_swab32(x) ((unsigned int)((((unsigned int)(x) & 0x000000ffU) << 24) | \
                                         (((unsigned int)(x) & 0x0000ff00U) << 8) |  \
                                         (((unsigned int)(x) & 0x00ff0000U) >> 8) |  \
                                         (((unsigned int)(x) & 0xff000000U) >> 24)))
#define ___bpf_swab64(x) ((unsigned long long)___bpf_swab32((unsigned long long)(x) >> 32) | \
                          ((unsigned long long)___bpf_swab32(x) << 32))

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ___bpf_to_be16(x) (__builtin_constant_p(x) ? ___bpf_swab16(x) : __builtin_bswap16(x))
#define ___bpf_to_be32(x) (__builtin_constant_p(x) ? ___bpf_swab32(x) : __builtin_bswap32(x))
#define ___bpf_to_be64(x) (__builtin_constant_p(x) ? ___bpf_swab64(x) : __builtin_bswap64(x))
#else
#define ___bpf_to_be16(x) ((unsigned short)(x))
#define ___bpf_to_be32(x) ((unsigned int)(x))
#define ___bpf_to_be64(x) ((unsigned long long)(x))
#endif

#define bpf_htons(x) ___bpf_to_be16(x)
#define bpf_ntohs(x) ___bpf_to_be16(x)
#define bpf_htonl(x) ___bpf_to_be32(x)
#define bpf_ntohl(x) ___bpf_to_be32(x)
#define bpf_cpu_to_be64(x) ___bpf_to_be64(x)
#define bpf_be64_to_cpu(x) ___bpf_to_be64(x)

#endif /* __PLAYGROUND_BPF_ENDIAN_H */
"""

_BPF_TRACING_H = r"""/* bpf/bpf_tracing.h -- eBPF playground: kprobe arguments on x86-64 (struct pt_regs of <asm/ptrace.h>). */
#ifndef __PLAYGROUND_BPF_TRACING_H
#define __PLAYGROUND_BPF_TRACING_H

#include <asm/ptrace.h>
#include <bpf/bpf_helpers.h>

/* x86-64 System V calling convention (syscalls pass the 4th argument in r10, not rcx). */
#define PT_REGS_PARM1(x) ((x)->rdi)
#define PT_REGS_PARM2(x) ((x)->rsi)
#define PT_REGS_PARM3(x) ((x)->rdx)
#define PT_REGS_PARM4(x) ((x)->rcx)
#define PT_REGS_PARM5(x) ((x)->r8)
#define PT_REGS_PARM6(x) ((x)->r9)
#define PT_REGS_RET(x) ((x)->rsp)
#define PT_REGS_FP(x) ((x)->rbp)
#define PT_REGS_RC(x) ((x)->rax)
#define PT_REGS_SP(x) ((x)->rsp)
#define PT_REGS_IP(x) ((x)->rip)

#define ___bpf_kp_args0() ctx
#define ___bpf_kp_args1(a) ___bpf_kp_args0(), (unsigned long long)PT_REGS_PARM1(ctx)
#define ___bpf_kp_args2(a, b) ___bpf_kp_args1(a), (unsigned long long)PT_REGS_PARM2(ctx)
#define ___bpf_kp_args3(a, b, c) ___bpf_kp_args2(a, b), (unsigned long long)PT_REGS_PARM3(ctx)
#define ___bpf_kp_args4(a, b, c, d) ___bpf_kp_args3(a, b, c), (unsigned long long)PT_REGS_PARM4(ctx)
#define ___bpf_kp_args5(a, b, c, d, e) ___bpf_kp_args4(a, b, c, d), (unsigned long long)PT_REGS_PARM5(ctx)
#define ___bpf_kp_args(...) ___bpf_apply(___bpf_kp_args, ___bpf_narg(__VA_ARGS__))(__VA_ARGS__)

/* int BPF_KPROBE(name, type1 arg1, ...): a kprobe program whose C arguments are the probed function's. */
#define BPF_KPROBE(name, ...)                                                    \
name(struct pt_regs *ctx);                                                       \
static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__); \
typeof(name(0)) name(struct pt_regs *ctx)                                        \
{                                                                                \
	_Pragma("GCC diagnostic push")                                           \
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                   \
	return ____##name(___bpf_kp_args(__VA_ARGS__));                          \
	_Pragma("GCC diagnostic pop")                                            \
}                                                                                \
static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__)

#define ___bpf_kr_args0() ctx
#define ___bpf_kr_args1(a) ___bpf_kr_args0(), (unsigned long long)PT_REGS_RC(ctx)
#define ___bpf_kr_args(...) ___bpf_apply(___bpf_kr_args, ___bpf_narg(__VA_ARGS__))(__VA_ARGS__)

/* int BPF_KRETPROBE(name, type ret): a kretprobe program whose argument is the return value. */
#define BPF_KRETPROBE(name, ...)                                                 \
name(struct pt_regs *ctx);                                                       \
static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__); \
typeof(name(0)) name(struct pt_regs *ctx)                                        \
{                                                                                \
	_Pragma("GCC diagnostic push")                                           \
	_Pragma("GCC diagnostic ignored \"-Wint-conversion\"")                   \
	return ____##name(___bpf_kr_args(__VA_ARGS__));                          \
	_Pragma("GCC diagnostic pop")                                            \
}                                                                                \
static __always_inline typeof(name(0)) ____##name(struct pt_regs *ctx, ##__VA_ARGS__)

#endif /* __PLAYGROUND_BPF_TRACING_H */
"""

_ASM_PTRACE_H = r"""/* asm/ptrace.h -- eBPF playground: the x86-64 user-space view of struct pt_regs (what kprobes get). */
#ifndef __PLAYGROUND_ASM_PTRACE_H
#define __PLAYGROUND_ASM_PTRACE_H
struct pt_regs {
	unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	unsigned long rax, rcx, rdx, rsi, rdi, orig_rax, rip, cs, eflags, rsp, ss;
};
#endif
"""

_ASM_BYTEORDER_H = """/* asm/byteorder.h -- eBPF playground: the BPF target is little endian (bpfel). */
#ifndef __PLAYGROUND_ASM_BYTEORDER_H
#define __PLAYGROUND_ASM_BYTEORDER_H
#include <linux/byteorder/little_endian.h>
#endif
"""

_ASM_BITSPERLONG_H = """/* asm/bitsperlong.h -- eBPF playground: long is 64 bits on BPF. */
#ifndef __PLAYGROUND_ASM_BITSPERLONG_H
#define __PLAYGROUND_ASM_BITSPERLONG_H
#define __BITS_PER_LONG 64
#define __BITS_PER_LONG_LONG 64
#endif
"""

_STDINT_H = """/* stdint.h -- eBPF playground (freestanding, from the compiler's predefined macros). */
#ifndef __PLAYGROUND_STDINT_H
#define __PLAYGROUND_STDINT_H
typedef __INT8_TYPE__ int8_t;
typedef __INT16_TYPE__ int16_t;
typedef __INT32_TYPE__ int32_t;
typedef __INT64_TYPE__ int64_t;
typedef __UINT8_TYPE__ uint8_t;
typedef __UINT16_TYPE__ uint16_t;
typedef __UINT32_TYPE__ uint32_t;
typedef __UINT64_TYPE__ uint64_t;
typedef __INTPTR_TYPE__ intptr_t;
typedef __UINTPTR_TYPE__ uintptr_t;
typedef __INTMAX_TYPE__ intmax_t;
typedef __UINTMAX_TYPE__ uintmax_t;
#define INT8_MAX __INT8_MAX__
#define INT16_MAX __INT16_MAX__
#define INT32_MAX __INT32_MAX__
#define INT64_MAX __INT64_MAX__
#define INT8_MIN (-INT8_MAX - 1)
#define INT16_MIN (-INT16_MAX - 1)
#define INT32_MIN (-INT32_MAX - 1)
#define INT64_MIN (-INT64_MAX - 1)
#define UINT8_MAX __UINT8_MAX__
#define UINT16_MAX __UINT16_MAX__
#define UINT32_MAX __UINT32_MAX__
#define UINT64_MAX __UINT64_MAX__
#define SIZE_MAX __SIZE_MAX__
#endif
"""

_STDDEF_H = """/* stddef.h -- eBPF playground (freestanding). */
#ifndef __PLAYGROUND_STDDEF_H
#define __PLAYGROUND_STDDEF_H
typedef __SIZE_TYPE__ size_t;
typedef __PTRDIFF_TYPE__ ptrdiff_t;
#ifndef NULL
#define NULL ((void *)0)
#endif
#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#endif
"""

_STDBOOL_H = """/* stdbool.h -- eBPF playground (freestanding). */
#ifndef __PLAYGROUND_STDBOOL_H
#define __PLAYGROUND_STDBOOL_H
#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 202311L
#define bool _Bool
#define true 1
#define false 0
#endif
#define __bool_true_false_are_defined 1
#endif
"""

_SYS_SOCKET_H = """/* sys/socket.h -- eBPF playground: the little of it that UAPI headers (linux/if.h) need. */
#ifndef __PLAYGROUND_SYS_SOCKET_H
#define __PLAYGROUND_SYS_SOCKET_H
typedef unsigned short sa_family_t;
typedef unsigned int socklen_t;
struct sockaddr {
	sa_family_t sa_family;
	char sa_data[14];
};
#define AF_UNSPEC 0
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#endif
"""

_LIMITS_H = """/* limits.h -- eBPF playground (freestanding). */
#ifndef __PLAYGROUND_LIMITS_H
#define __PLAYGROUND_LIMITS_H
#define CHAR_BIT __CHAR_BIT__
#define SCHAR_MAX __SCHAR_MAX__
#define SCHAR_MIN (-SCHAR_MAX - 1)
#define UCHAR_MAX (SCHAR_MAX * 2 + 1)
#define SHRT_MAX __SHRT_MAX__
#define SHRT_MIN (-SHRT_MAX - 1)
#define USHRT_MAX (SHRT_MAX * 2 + 1)
#define INT_MAX __INT_MAX__
#define INT_MIN (-INT_MAX - 1)
#define UINT_MAX (INT_MAX * 2U + 1U)
#define LONG_MAX __LONG_MAX__
#define LONG_MIN (-LONG_MAX - 1L)
#define ULONG_MAX (LONG_MAX * 2UL + 1UL)
#define LLONG_MAX __LONG_LONG_MAX__
#define LLONG_MIN (-LLONG_MAX - 1LL)
#define ULLONG_MAX (LLONG_MAX * 2ULL + 1ULL)
#endif
"""

# Scalar typedefs of linux/types.h, repeated so that the helper declarations need no UAPI header (a typedef
# may be repeated with the same type in C11).
_SCALAR_TYPES = """typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u16 __le16;
typedef __u32 __le32;
typedef __u64 __le64;
typedef __u32 __wsum;
"""


def helper_defs_h() -> str:
    """``bpf/bpf_helper_defs.h``: one declaration per helper, generated from the helper table."""
    protos = prototypes()
    lines = ["/* bpf/bpf_helper_defs.h -- eBPF playground: generated from app/ebpf/helpers.py; do not edit. */",
             "#ifndef __PLAYGROUND_BPF_HELPER_DEFS_H", "#define __PLAYGROUND_BPF_HELPER_DEFS_H", "",
             _SCALAR_TYPES]
    lines += [f"struct {tag};" for tag in forward_structs(protos)]
    lines.append("")
    for p in protos:
        lines.append(f"/* helper #{p.id}{' (signature derived from the verifier prototype)' if p.derived else ''} */")
        lines.append(p.declaration())
    lines += ["", "#endif /* __PLAYGROUND_BPF_HELPER_DEFS_H */", ""]
    return "\n".join(lines)


@functools.lru_cache(maxsize=1)
def own_headers() -> dict[str, str]:
    """Our headers by path inside the include directory."""
    return {
        "bpf/bpf_helpers.h": _BPF_HELPERS_H,
        "bpf/bpf_helper_defs.h": helper_defs_h(),
        "bpf/bpf_endian.h": _BPF_ENDIAN_H,
        "bpf/bpf_tracing.h": _BPF_TRACING_H,
        "asm/ptrace.h": _ASM_PTRACE_H,
        "asm/byteorder.h": _ASM_BYTEORDER_H,
        "asm/bitsperlong.h": _ASM_BITSPERLONG_H,
        "stdint.h": _STDINT_H,
        "stddef.h": _STDDEF_H,
        "stdbool.h": _STDBOOL_H,
        "limits.h": _LIMITS_H,
        "sys/socket.h": _SYS_SOCKET_H,
    }


def find_uapi_root() -> Path | None:
    """Where to copy UAPI headers from: the ``ziglang`` package's bundled Linux headers, else
    ``/usr/include`` when it has ``linux/bpf.h``; None when neither exists."""
    spec = importlib.util.find_spec("ziglang")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            root = Path(loc) / "lib" / "libc" / "include" / "any-linux-any"
            if (root / "linux" / "bpf.h").is_file():
                return root
    system = Path("/usr/include")
    if (system / "linux" / "bpf.h").is_file():
        return system
    return None


@functools.lru_cache(maxsize=4)
def uapi_headers(root: Path | None) -> dict[str, bytes]:
    """The UAPI headers of :data:`UAPI_ROOTS` under ``root`` and everything they include (``asm/X.h``
    becomes a shim to ``asm-generic/X.h`` unless we provide it). Only plain files directly under ``root``
    are read: symbolic links and paths with ``..`` are skipped."""
    if root is None:
        return {}
    own = own_headers()
    out: dict[str, bytes] = {}
    todo = list(UAPI_ROOTS)
    for text in own.values():
        todo.extend(m.decode("ascii") for m in _INCLUDE_RE.findall(text.encode()))
    while todo:
        rel = todo.pop()
        if rel in out or rel in own or ".." in rel.split("/") or rel.startswith("/"):
            continue
        if rel.startswith("asm/"):
            generic = "asm-generic/" + rel[4:]
            if (root / generic).is_file():
                out[rel] = f"#include <{generic}>\n".encode()
                todo.append(generic)
            continue
        path = root / rel
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        out[rel] = data
        todo.extend(m.decode("ascii", "replace") for m in _INCLUDE_RE.findall(data))
    return out


def include_tree(root: Path | None) -> dict[str, bytes]:
    """Every file of the include directory, path -> contents."""
    tree = dict(uapi_headers(root))
    tree.update((k, v.encode()) for k, v in own_headers().items())
    return tree


def write_include_tree(dest: Path, tree: dict[str, bytes]) -> None:
    """Write ``tree`` under ``dest`` as regular files (never following links: ``dest`` is new)."""
    for rel, data in tree.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as f:
            f.write(data)
