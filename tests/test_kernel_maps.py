"""The map engine (app/ebpf/maps) against the running kernel's maps (app/oracle.py).

Each test does the same thing to a kernel map and to ours and compares errno values, contents and
order. What user space cannot do (a program's lookup, per-CPU updates, queue pops, ring buffer
records) is done by tiny socket-filter programs, loaded and test-run, never attached; they read their
arguments from the test packet with ``bpf_skb_load_bytes``. The process is pinned to one CPU around
each test so that per-CPU state (LRU local lists, per-CPU values) is predictable; ours then gets the
same CPU number. Skipped where bpf(2) is not permitted.
"""
from __future__ import annotations

import errno
import mmap
import os
import random
import struct

import pytest

from app.ebpf.maps import BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_ZERO_SEED, MAP_TYPES, create_map, errname
from app.ebpf.maps.base import round_up
from app.ebpf.program import MapDef
from app.ebpf.vm.memory import MAP_BASE
from app.oracle import bpf_available, create_map as kernel_map, load_program, possible_cpus

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not bpf_available(), reason="bpf(2) is not permitted here")]

NCPUS = possible_cpus() if bpf_available() else 1

# --- tiny programs ----------------------------------------------------------------------------------------

LD_IMM64, MOV_K, MOV_X, ADD_K, SUB_X = 0x18, 0xB7, 0xBF, 0x07, 0x1F
LDX_W, ST_W, ST_B, CALL, EXIT, JEQ_K, JNE_K = 0x61, 0x62, 0x72, 0x85, 0x95, 0x15, 0x55
LOOKUP, UPDATE, DELETE, LOAD_BYTES, PUSH, POP, PEEK = 1, 2, 3, 26, 87, 88, 89
RB_OUTPUT, RB_RESERVE, RB_SUBMIT, RB_DISCARD, RB_QUERY = 130, 131, 132, 133, 134
BUF = -64  # the arguments copied from the packet live at fp-64


def insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def ld_map(dst: int, fd: int) -> bytes:
    return insn(LD_IMM64, dst, 1, 0, fd) + insn(0)


def args(n: int) -> bytes:
    """Copy the first ``n`` bytes after the packet's Ethernet header to fp-64 (r6 keeps the context)."""
    return (insn(MOV_X, 6, 1) + insn(MOV_X, 1, 6) + insn(MOV_K, 2) + insn(MOV_X, 3, 10) + insn(ADD_K, 3, imm=BUF)
            + insn(MOV_K, 4, imm=n) + insn(CALL, imm=LOAD_BYTES) + insn(JEQ_K, 0, off=2) + insn(MOV_K, 0, imm=-1)
            + insn(EXIT))


def buf(reg: int, off: int = 0) -> bytes:
    return insn(MOV_X, reg, 10) + insn(ADD_K, reg, imm=BUF + off)


RETURN = insn(EXIT)


def run(code: bytes, data: bytes = b"", cpu: int = 0) -> int:
    """Test-run a socket filter on ``cpu`` with ``data`` after a 14-byte Ethernet header; r0 as an int."""
    with load_program(code, "socket_filter") as prog:
        os.sched_setaffinity(0, {cpu})
        retval = prog.test_run(bytes(14) + data + bytes(64)).retval
    return retval - (1 << 32) if retval >= 1 << 31 else retval


def prog_lookup(fd: int, ks: int) -> bytes:
    """r0 = first u32 of the value for the key in the packet, or -1."""
    return (args(ks) + ld_map(1, fd) + buf(2) + insn(CALL, imm=LOOKUP) + insn(JNE_K, 0, off=2)
            + insn(MOV_K, 0, imm=-1) + RETURN + insn(LDX_W, 0, 0) + RETURN)


def prog_update(fd: int, ks: int, vs: int, flags: int) -> bytes:
    return (args(ks + vs) + ld_map(1, fd) + buf(2) + buf(3, ks) + insn(MOV_K, 4, imm=flags)
            + insn(CALL, imm=UPDATE) + RETURN)


def prog_pop(fd: int) -> bytes:
    """r0 = the popped u32, or the negative errno."""
    return (ld_map(1, fd) + buf(2) + insn(CALL, imm=POP) + insn(JEQ_K, 0, off=1) + RETURN
            + insn(LDX_W, 0, 10, BUF) + RETURN)


def prog_peek_value(fd: int, vs: int) -> bytes:
    """bpf_map_peek_elem with the value from the packet (a bloom filter's membership test)."""
    return args(vs) + ld_map(1, fd) + buf(2) + insn(CALL, imm=PEEK) + RETURN


@pytest.fixture(autouse=True)
def pinned():
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    yield
    os.sched_setaffinity(0, saved)


def ours(kind: str, ks: int, vs: int, n: int, flags: int = 0):
    return create_map(MapDef("m", kind, ks, vs, n, flags), MAP_BASE, NCPUS)


def kcall(fn) -> int:
    try:
        fn()
        return 0
    except OSError as e:
        return -e.errno


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


# --- creation ---------------------------------------------------------------------------------------------

def create_cases() -> list[tuple[str, int, int, int, int]]:
    valid = {"array": (4, 8, 4, 0), "percpu_array": (4, 8, 4, 0), "prog_array": (4, 4, 4, 0),
             "perf_event_array": (4, 4, 4, 0), "hash": (4, 8, 4, 0), "percpu_hash": (4, 8, 4, 0),
             "lru_hash": (4, 8, 4, 0), "lru_percpu_hash": (4, 8, 4, 0), "lpm_trie": (8, 8, 4, BPF_F_NO_PREALLOC),
             "queue": (0, 8, 4, 0), "stack": (0, 8, 4, 0), "bloom_filter": (0, 8, 4, 0), "ringbuf": (0, 0, 4096, 0)}
    cases = []
    for kind, (ks, vs, n, fl) in valid.items():
        cases.append((kind, ks, vs, n, fl))
        for k in (0, 1, 3, 4, 5, 8, 16, 260, 261):
            cases.append((kind, k, vs, n, fl))
        for v in (0, 1, 3, 4, 5, 8, 4096, 32768, 32769, 1 << 22, (1 << 22) + 1):
            cases.append((kind, ks, v, 1, fl))
        for m in (0, 1, 3, 4095, 8192, 12288):
            cases.append((kind, ks, vs, m, fl))
        for bit in range(14):
            cases.append((kind, ks, vs, n, fl | 1 << bit))
        for combo in (0x18, 0x180, 0x3, 0x41, 0x6):
            cases.append((kind, ks, vs, n, fl | combo))
    cases += [("hash", 4194204, 51, 1, BPF_F_NO_PREALLOC), ("hash", 4194204, 52, 1, BPF_F_NO_PREALLOC),
              ("lpm_trie", 260, 4194024, 1, BPF_F_NO_PREALLOC), ("lpm_trie", 260, 4194025, 1, BPF_F_NO_PREALLOC),
              ("hash", 4, 4, (1 << 31) + 1, BPF_F_NO_PREALLOC), ("bloom_filter", 4, 0, 0, 0)]
    return cases


def test_create_refusals_match_the_kernel():
    mismatches = []
    for kind, ks, vs, n, flags in create_cases():
        want = kcall(lambda: kernel_map(kind, ks, vs, n, flags).close())
        got = MAP_TYPES[kind].check_create(ks, vs, n, flags)
        if (errname(want) if want else None) != (got.split(":")[0] if got else None):
            mismatches.append((kind, ks, vs, n, hex(flags), errname(want) if want else "ok", got))
    assert not mismatches


# --- arrays -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("vs", [1, 4, 5, 8, 9, 17])
def test_array_stride_is_value_size_rounded_to_8(vs):
    """A program subtracts the addresses of elements 0 and 1 (allowed when privileged)."""
    with kernel_map("array", 4, vs, 4) as k:
        code = (insn(ST_W, 10, off=-4, imm=0) + ld_map(1, k.fd) + insn(MOV_X, 2, 10) + insn(ADD_K, 2, imm=-4)
                + insn(CALL, imm=LOOKUP) + insn(JEQ_K, 0, off=9) + insn(MOV_X, 7, 0)
                + insn(ST_W, 10, off=-4, imm=1) + ld_map(1, k.fd) + insn(MOV_X, 2, 10) + insn(ADD_K, 2, imm=-4)
                + insn(CALL, imm=LOOKUP) + insn(JEQ_K, 0, off=1) + insn(SUB_X, 0, 7) + RETURN)
        stride = run(code)
    m = ours("array", 4, vs, 4)
    assert stride == round_up(vs, 8) == m.lookup(u32(1)) - m.lookup(u32(0))


@pytest.mark.parametrize("kind", ["array", "percpu_array"])
def test_arrays_are_zeroed_and_user_values_round_trip(kind):
    with kernel_map(kind, 4, 5, 3) as k:
        m = ours(kind, 4, 5, 3)
        assert m.user_value_size() == k.value_buf_size
        zero = [bytes(k.value_buf_size)] * 3
        assert [k.lookup(u32(i)) for i in range(3)] == [m.read(u32(i)) for i in range(3)] == zero
        value = bytes(range(1, k.value_buf_size + 1))  # per-CPU: padding bytes included
        k.update(u32(1), value)
        assert m.update(u32(1), value) == 0
        assert k.lookup(u32(1)) == m.read(u32(1))
        assert k.keys() == m.keys()


@pytest.mark.parametrize("kind", ["percpu_array", "percpu_hash", "lru_percpu_hash"])
def test_a_program_updates_its_own_cpus_value(kind):
    """From a program the value goes to the running CPU; a new hash element's other copies are zeroed."""
    ks, vs = 4, 8
    with kernel_map(kind, ks, vs, 4) as k:
        m = ours(kind, ks, vs, 4)
        for cpu, key, val in ((1, 2, 0x1111), (0, 2, 0x2222), (1, 3, 0x3333)):
            data = u32(key) + struct.pack("<Q", val)
            assert run(prog_update(k.fd, ks, vs, 0), data, cpu=cpu) == m.update(u32(key), data[4:], 0, cpu=cpu) == 0
        for key in (2, 3):
            assert k.lookup(u32(key)) == m.read(u32(key))
            for cpu in range(NCPUS):
                first = struct.unpack_from("<I", m.read(u32(key)), cpu * 8)[0]
                assert run(prog_lookup(k.fd, ks), u32(key), cpu=cpu) == first


# --- flags and errno of every operation ---------------------------------------------------------------------

def scripted(kind: str, ks: int, vs: int, n: int, flags: int, ops: list[tuple]) -> None:
    """Apply ``ops`` (("update", key, value, flags) / ("delete", key) / ("lookup", key)) to both maps."""
    with kernel_map(kind, ks, vs, n, flags) as k:
        m = ours(kind, ks, vs, n, flags)
        for op in ops:
            if op[0] == "update":
                want = kcall(lambda: k.update(op[1], op[2], op[3]))
                got = m.update(op[1], op[2], op[3])
            elif op[0] == "delete":
                want, got = kcall(lambda: k.delete(op[1])), m.delete(op[1])
            elif kcall(lambda: k.lookup(op[1])):  # the kernel has no lookup for this map: we read nothing
                want, got = None, m.read(op[1])
            else:
                want, got = k.lookup(op[1]), m.read(op[1])
            assert (op, got) == (op, want)
        if kind not in ("queue", "stack", "bloom_filter", "ringbuf", "perf_event_array"):
            assert sorted(k.keys()) == sorted(m.keys())
            assert {x: k.lookup(x) for x in k.keys()} == {x: m.read(x) for x in m.keys()}


def keyed_ops(vsize: int, n: int) -> list[tuple]:
    v = [bytes([i]) * vsize for i in range(8)]
    ops = [("update", u32(0), v[1], f) for f in range(8)]
    ops += [("update", u32(1), v[2], f) for f in (2, 1, 0, 1, 2)]
    ops += [("update", u32(i), v[3], 0) for i in range(2, n + 2)]  # fills the map, then past it
    ops += [("update", u32(0), v[4], 2), ("update", u32(n + 5), v[4], 2), ("update", u32(n + 5), v[5], 1)]
    ops += [("delete", u32(1)), ("delete", u32(1)), ("update", u32(1), v[6], 1), ("lookup", u32(1)),
            ("lookup", u32(n + 9)), ("delete", u32(n + 9))]
    return ops


@pytest.mark.parametrize("kind", ["array", "hash", "lru_hash"])
def test_update_flags_and_errors(kind):
    scripted(kind, 4, 8, 4, 0, keyed_ops(8, 4))


@pytest.mark.parametrize("kind", ["percpu_array", "percpu_hash", "lru_percpu_hash"])
def test_percpu_update_flags_and_errors(kind):
    scripted(kind, 4, 8, 4, 0, keyed_ops(8 * NCPUS, 4))


def test_hash_without_prealloc_and_full_hash():
    scripted("hash", 4, 4, 2, BPF_F_NO_PREALLOC, keyed_ops(4, 2))
    scripted("hash", 8, 4, 1, 0, [("update", b"k" * 8, b"abcd", 0), ("update", b"j" * 8, b"abcd", 0),
                                  ("update", b"k" * 8, b"dcba", 0), ("update", b"k" * 8, b"xxxx", 2)])


def test_fd_arrays_flags_and_bounds():
    ops = [("update", u32(0), u32(0), 1), ("update", u32(9), u32(0), 0), ("delete", u32(0)),
           ("delete", u32(9)), ("lookup", u32(0))]
    scripted("prog_array", 4, 4, 2, 0, ops)
    scripted("perf_event_array", 4, 4, 2, 0, ops[:2] + [("delete", u32(9)), ("lookup", u32(0))])


def test_ringbuf_has_no_elements():
    with kernel_map("ringbuf", 0, 0, 4096) as k:
        m = ours("ringbuf", 0, 0, 4096)
        assert kcall(lambda: k.update(b"", b"")) == m.update(b"", b"") == -524
        assert kcall(lambda: k.delete(b"")) == m.delete(b"") == -524


# --- LRU eviction -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,flags", [("lru_hash", 0), ("lru_hash", BPF_F_NO_COMMON_LRU),
                                        ("lru_percpu_hash", 0), ("lru_percpu_hash", BPF_F_NO_COMMON_LRU)])
@pytest.mark.parametrize("n", [1, 3, 8, 33])
def test_lru_evicts_the_same_keys_as_the_kernel(kind, flags, n):
    """Random updates (which mark replaced keys referenced) and deletes from user space on CPU 0."""
    rnd = random.Random(n)
    with kernel_map(kind, 4, 4, n, flags) as k:
        m = ours(kind, 4, 4, n, flags)
        for _ in range(150):
            key = u32(rnd.randrange(3 * n))
            if rnd.random() < 0.8:
                f = rnd.choice((0, 0, 0, 1, 2))
                value = u32(rnd.randrange(1 << 32)) * (m.user_value_size() // 4)
                assert kcall(lambda: k.update(key, value, f)) == m.update(key, value, f)
            else:
                assert kcall(lambda: k.delete(key)) == m.delete(key)
            assert sorted(k.keys()) == sorted(m.keys())


@pytest.mark.parametrize("kind,flags", [("lru_hash", 0), ("lru_hash", BPF_F_NO_COMMON_LRU),
                                        ("lru_percpu_hash", 0)])
@pytest.mark.parametrize("n", [1, 2, 12])
def test_lru_programs_on_several_cpus_evict_like_the_kernel(kind, flags, n):
    """Updates, deletes and lookups from programs on random CPUs: per-CPU local lists, refills and (with
    one element) stealing another CPU's pending element."""
    if NCPUS < 2:
        pytest.skip("needs two CPUs")
    rnd = random.Random(11)
    with kernel_map(kind, 4, 4, n, flags) as k:
        m = ours(kind, 4, 4, n, flags)
        progs = {f: load_program(prog_update(k.fd, 4, 4, f), "socket_filter") for f in (0, 1, 2)}
        progs["delete"] = load_program(args(4) + ld_map(1, k.fd) + buf(2) + insn(CALL, imm=DELETE) + RETURN,
                                       "socket_filter")
        progs["lookup"] = load_program(prog_lookup(k.fd, 4), "socket_filter")
        try:
            for _ in range(200):
                cpu, key, r = rnd.randrange(NCPUS), rnd.randrange(3 * n), rnd.random()
                data = u32(key) + u32(rnd.randrange(1 << 31))
                op = rnd.choice((0, 0, 1, 2)) if r < 0.6 else "delete" if r < 0.75 else "lookup"
                os.sched_setaffinity(0, {cpu})
                got = progs[op].test_run(bytes(14) + data + bytes(64)).retval
                got = got - (1 << 32) if got >= 1 << 31 else got
                if op == "delete":
                    assert got == m.delete(u32(key))
                elif op == "lookup":
                    addr = m.lookup(u32(key), cpu=cpu)
                    assert got == (-1 if addr is None else struct.unpack("<I", value_at(m, addr))[0])
                else:
                    assert got == m.update(u32(key), data[4:], op, cpu=cpu)
                assert sorted(k.keys()) == sorted(m.keys())
        finally:
            for p in progs.values():
                p.close()


def value_at(m, addr: int) -> bytes:
    region, off = m._locate(addr)
    return bytes(region.data[off:off + 4])


def test_lru_program_lookups_protect_keys():
    """A program's lookup sets the ref bit; user-space lookups do not."""
    n = 16
    with kernel_map("lru_hash", 4, 4, n) as k:
        m = ours("lru_hash", 4, 4, n)
        for i in range(n):
            k.update(u32(i), u32(i))
            m.update(u32(i), u32(i))
        for i in range(0, n, 3):
            assert run(prog_lookup(k.fd, 4), u32(i)) == i
            assert m.lookup(u32(i), cpu=0) is not None
        for i in range(1, n, 3):
            assert k.lookup(u32(i)) == m.read(u32(i))
        for i in range(n, n + 10):
            k.update(u32(i), u32(i))
            m.update(u32(i), u32(i))
        assert sorted(k.keys()) == sorted(m.keys())


# --- queue, stack, bloom filter -------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["queue", "stack"])
def test_queue_and_stack_order_with_overwrite(kind):
    """Pushes (BPF_EXIST drops the oldest when full), peeks from user space, pops from a program."""
    with kernel_map(kind, 0, 4, 3) as k:
        m = ours(kind, 0, 4, 3)
        for i, f in ((1, 0), (2, 0), (3, 2), (4, 0), (5, 2), (6, 2), (7, 1), (8, 3)):
            assert kcall(lambda: k.update(b"", u32(i), f)) == m.update(b"", u32(i), f)
            assert k.lookup(b"") == m.read(b"")
        assert kcall(lambda: k.delete(b"")) == m.delete(b"") == -errno.EINVAL
        popped = [run(prog_pop(k.fd)) for _ in range(4)]
    mine = [m.pop() for _ in range(4)]
    assert popped == [struct.unpack("<I", v)[0] if isinstance(v, bytes) else v for v in mine]
    assert popped[-1] == -errno.ENOENT


@pytest.mark.parametrize("vs", [4, 6, 8, 13])
def test_bloom_filter_sets_the_kernels_bits(vs):
    """With BPF_F_ZERO_SEED the kernel hashes with seed 0 as we do: same answers, false positives too."""
    rnd = random.Random(vs)
    values = [bytes(rnd.randrange(256) for _ in range(vs)) for _ in range(120)]
    with kernel_map("bloom_filter", 0, vs, 10, BPF_F_ZERO_SEED) as k:
        m = ours("bloom_filter", 0, vs, 10)
        for v in values[:20]:
            k.update(b"", v)
            assert m.update(b"", v) == 0
        for flags in (1, 2, 3, 4):
            assert kcall(lambda: k.update(b"", values[0], flags)) == m.update(b"", values[0], flags) == -errno.EINVAL
        assert kcall(lambda: k.delete(b"")) == m.delete(b"") == -errno.EOPNOTSUPP
        with load_program(prog_peek_value(k.fd, vs), "socket_filter") as prog:
            for v in values:
                retval = prog.test_run(bytes(14) + v + bytes(64)).retval
                assert retval - (1 << 32 if retval else 0) == m.peek(v)
    assert all(m.peek(v) == 0 for v in values[:20])
    assert any(m.peek(v) == 0 for v in values[20:])  # a small filter: some false positives


# --- LPM trie ------------------------------------------------------------------------------------------------

def lpm_key(plen: int, addr: str) -> bytes:
    return u32(plen) + bytes(int(x) for x in addr.split("."))


def test_lpm_trie_longest_match_and_key_order():
    prefixes = [(16, "192.168.0.0", 1), (24, "192.168.0.0", 2), (24, "192.168.128.0", 3),
                (24, "192.168.1.0", 5), (8, "10.0.0.0", 6), (32, "10.1.2.3", 7), (0, "0.0.0.0", 8),
                (23, "192.168.0.0", 9)]
    ops = [("update", lpm_key(p, a), u32(v), 0) for p, a, v in prefixes]
    ops += [("update", lpm_key(24, "192.168.1.0"), u32(55), 1), ("update", lpm_key(20, "172.16.0.0"), u32(1), 2),
            ("update", lpm_key(33, "1.2.3.4"), u32(1), 0), ("delete", lpm_key(23, "192.168.0.0")),
            ("delete", lpm_key(23, "192.168.0.0")), ("delete", lpm_key(40, "192.168.0.0"))]
    rnd = random.Random(3)
    for _ in range(60):
        addr = rnd.choice(["192.168.%d.%d", "10.%d.2.%d", "172.%d.0.%d"]) % (rnd.randrange(256), rnd.randrange(256))
        ops.append(("lookup", lpm_key(32, addr)))
    ops += [("delete", lpm_key(16, "192.168.0.0")), ("lookup", lpm_key(32, "192.168.7.7"))]
    scripted("lpm_trie", 8, 4, 20, BPF_F_NO_PREALLOC, ops)
    with kernel_map("lpm_trie", 8, 4, 20, BPF_F_NO_PREALLOC) as k:
        m = ours("lpm_trie", 8, 4, 20, BPF_F_NO_PREALLOC)
        for p, a, v in prefixes:
            k.update(lpm_key(p, a), u32(v))
            m.update(lpm_key(p, a), u32(v))
        assert k.keys() == m.keys()
        k.delete(lpm_key(16, "192.168.0.0"))
        m.delete(lpm_key(16, "192.168.0.0"))
        assert k.keys() == m.keys()
    scripted("lpm_trie", 8, 4, 2, BPF_F_NO_PREALLOC, [("update", lpm_key(8, "10.0.0.0"), u32(1), 0),
                                                       ("update", lpm_key(16, "10.1.0.0"), u32(1), 0),
                                                       ("update", lpm_key(24, "10.1.1.0"), u32(1), 0),
                                                       ("update", lpm_key(24, "10.1.1.0"), u32(1), 2),
                                                       ("update", lpm_key(16, "10.1.0.0"), u32(2), 0)])


# --- ring buffer ---------------------------------------------------------------------------------------------

def prog_reserve(fd: int, size: int, discard: bool) -> bytes:
    """Reserve ``size`` bytes, fill them with a pattern, submit or discard; r0 = 1 if the reserve failed."""
    fill = b"".join(insn(ST_W, 6, off=i, imm=0x01020304 + i) for i in range(0, size - 3, 4))
    fill += b"".join(insn(ST_B, 6, off=i, imm=0xA0 + i) for i in range(size - size % 4, size))
    return (ld_map(1, fd) + insn(MOV_K, 2, imm=size) + insn(MOV_K, 3) + insn(CALL, imm=RB_RESERVE)
            + insn(JNE_K, 0, off=2) + insn(MOV_K, 0, imm=1) + RETURN + insn(MOV_X, 6, 0) + fill
            + insn(MOV_X, 1, 6) + insn(MOV_K, 2) + insn(CALL, imm=RB_DISCARD if discard else RB_SUBMIT)
            + insn(MOV_K, 0) + RETURN)


def ours_reserve(m, size: int, discard: bool) -> int:
    addr = m.reserve(size)
    if addr is None:
        return 1
    r, off = m._locate(addr)
    data = bytearray(size)
    for i in range(0, size - 3, 4):
        data[i:i + 4] = u32(0x01020304 + i)
    for i in range(size - size % 4, size):
        data[i] = 0xA0 + i
    m._write(r, off, bytes(data))
    return m.discard(addr) if discard else m.submit(addr)


def test_ringbuf_records_headers_and_positions_match_the_kernel():
    size = 4096
    with kernel_map("ringbuf", 0, 0, size) as k:
        m = ours("ringbuf", 0, 0, size)
        cons = mmap.mmap(k.fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        prod = mmap.mmap(k.fd, 4096 + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=4096)
        rnd = random.Random(7)
        progs = {}
        try:
            for step in range(120):
                if rnd.random() < 0.8:
                    n, discard = rnd.choice((1, 3, 8, 13, 40, 200, 600)), rnd.random() < 0.25
                    if (n, discard) not in progs:
                        progs[n, discard] = load_program(prog_reserve(k.fd, n, discard), "socket_filter")
                    assert progs[n, discard].test_run(bytes(64)).retval == ours_reserve(m, n, discard)
                else:  # a reader catches up
                    m.consume()
                    cons[0:8] = struct.pack("<Q", m.consumer_pos)
                assert struct.unpack_from("<Q", prod, 0)[0] == m.producer_pos
                assert prod[4096:4096 + size] == bytes(m.ring.data[:size])
            assert m.records() and m.query(3) == m.producer_pos > 3 * size  # wrapped around
            data = bytes(range(7))
            code = (args(7) + ld_map(1, k.fd) + buf(2) + insn(MOV_K, 3, imm=7) + insn(MOV_K, 4)
                    + insn(CALL, imm=RB_OUTPUT) + RETURN)
            m.consume()
            cons[0:8] = struct.pack("<Q", m.consumer_pos)
            assert run(code, data) == m.output(data) == 0
            assert prod[4096:4096 + size] == bytes(m.ring.data[:size])
        finally:
            for p in progs.values():
                p.close()
            cons.close()
            prod.close()


def test_ringbuf_query_matches_the_kernel():
    with kernel_map("ringbuf", 0, 0, 4096) as k:
        m = ours("ringbuf", 0, 0, 4096)
        with load_program(prog_reserve(k.fd, 20, False), "socket_filter") as p:
            p.test_run(bytes(64))
        ours_reserve(m, 20, False)
        for flag in range(5):
            code = ld_map(1, k.fd) + insn(MOV_K, 2, imm=flag) + insn(CALL, imm=RB_QUERY) + RETURN
            assert run(code) == m.query(flag)
