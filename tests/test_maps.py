"""The map engine (app/ebpf/maps) on its own: the type table, layout, each map kind's semantics,
JSON, seeding, checkpoints. The same behaviour is compared with the kernel in test_kernel_maps.py."""
from __future__ import annotations

import errno
import random
import struct

import pytest

from app.ebpf.maps import (
    BPF_F_NO_COMMON_LRU,
    BPF_F_NO_PREALLOC,
    BPF_RINGBUF_BUSY_BIT,
    BPF_RINGBUF_DISCARD_BIT,
    MAP_TYPES,
    MAX_MAP_MEMORY,
    OBJECT_SIZE,
    WINDOW_SIZE,
    MapError,
    check_map,
    create_map,
    map_memory,
)
from app.ebpf.maps.jhash import jhash, jhash2
from app.ebpf.program import MapDef
from app.ebpf.vm.memory import MAP_BASE
from app.oracle import MAP_TYPES as ORACLE_MAP_TYPES

EXAMPLES = {"array": (4, 8, 4, 0), "percpu_array": (4, 8, 4, 0), "prog_array": (4, 4, 4, 0),
            "perf_event_array": (4, 4, 4, 0), "hash": (4, 8, 4, 0), "percpu_hash": (4, 8, 4, 0),
            "lru_hash": (4, 8, 4, 0), "lru_percpu_hash": (4, 8, 4, 0), "lpm_trie": (8, 8, 4, BPF_F_NO_PREALLOC),
            "queue": (0, 8, 4, 0), "stack": (0, 8, 4, 0), "bloom_filter": (0, 8, 4, 0), "ringbuf": (0, 0, 4096, 0),
            "array_of_maps": (4, 4, 4, 0), "hash_of_maps": (4, 4, 4, 0), "devmap": (4, 4, 4, 0)}


def make(kind: str, ks: int = None, vs: int = None, n: int = None, flags: int = None, ncpus: int = 2):
    eks, evs, en, efl = EXAMPLES[kind]
    mdef = MapDef("m", kind, eks if ks is None else ks, evs if vs is None else vs, en if n is None else n,
                  efl if flags is None else flags)
    return create_map(mdef, MAP_BASE, ncpus)


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


def value_at(m, addr: int, size: int) -> bytes:
    region, off = m._locate(addr)
    return bytes(region.data[off:off + size])


def store(m, addr: int, data: bytes) -> None:
    """What a program's store through a value pointer does."""
    region, off = m._locate(addr)
    region.data[off:off + len(data)] = data


# --- the table --------------------------------------------------------------------------------------------

def test_table_names_ids_and_docs():
    assert set(MAP_TYPES) == set(EXAMPLES)
    for name, t in MAP_TYPES.items():
        assert t.name == name and t.kernel_id == ORACLE_MAP_TYPES[name]
        assert t.doc and "\n" not in t.doc and t.source.startswith("kernel/bpf/")
        ks, vs, n, fl = EXAMPLES[name]
        assert t.check_create(ks, vs, n, fl) is None


@pytest.mark.parametrize("kind,args,want", [
    ("queue", (4, 8, 4, 0), "EINVAL: queue maps have key_size 0"),
    ("array", (8, 8, 4, 0), "EINVAL: array maps have key_size 4"),
    ("array", (4, 0, 4, 0), "EINVAL: value_size is 0"),
    ("hash", (4, 8, 0, 0), "EINVAL: max_entries is 0"),
    ("lpm_trie", (8, 8, 4, 0), "EINVAL: lpm_trie maps must be created with BPF_F_NO_PREALLOC"),
    ("lru_hash", (4, 8, 4, BPF_F_NO_PREALLOC), "ENOTSUPP: LRU maps are always preallocated"),
    ("percpu_array", (4, 32769, 4, 0), "E2BIG: per-CPU values are at most 32768 bytes"),
    ("ringbuf", (0, 0, 12288, 0), "EINVAL: a ringbuf's max_entries is its size in bytes"),
    ("hash", (4, 8, 4, 1 << 10), "EINVAL: flags 0x400 are not valid for this map type"),
    ("prog_array", (4, 8, 4, 0), "EINVAL: prog_array values are u32 fds"),
])
def test_check_create_names_the_errno_and_the_reason(kind, args, want):
    assert MAP_TYPES[kind].check_create(*args).startswith(want)


def test_create_map_refuses_with_a_map_error():
    with pytest.raises(MapError, match=r"EINVAL: map q \(queue\): queue maps have key_size 0") as e:
        create_map(MapDef("q", "queue", 4, 4, 1), MAP_BASE, 1)
    assert e.value.errno == "EINVAL"
    with pytest.raises(MapError, match="unknown map type 'nope'"):
        create_map(MapDef("x", "nope", 4, 4, 1), MAP_BASE, 1)
    with pytest.raises(ValueError, match="ncpus"):
        create_map(MapDef("a", "array", 4, 4, 1), MAP_BASE, 0)


def test_maps_over_64_mib_are_refused():
    big = MapDef("big", "percpu_array", 4, 4096, 8193, 0)  # 32 MiB per CPU
    assert map_memory(big, 1) <= MAX_MAP_MEMORY < map_memory(big, 2)
    assert check_map(big, 1) is None
    with pytest.raises(MapError, match="more than the playground's 64 MiB per map") as e:
        create_map(big, MAP_BASE, 2)
    assert e.value.errno == "ENOMEM"


# --- layout -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_layout_object_first_then_disjoint_regions_in_the_window(kind):
    m = make(kind)
    regions = m.regions()
    assert m.object_addr == MAP_BASE == regions[0].base
    assert len(regions[0].data) == OBJECT_SIZE and not regions[0].writable
    spans = sorted((r.base, r.end) for r in regions)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    assert all(MAP_BASE <= r.base and r.end <= MAP_BASE + WINDOW_SIZE for r in regions)
    assert [id(r) for r in m.regions()] == [id(r) for r in regions]
    assert sum(len(r.data) for r in regions[1:]) == map_memory(m.mdef, 2)


def test_rdonly_prog_maps_have_read_only_values():
    m = make("array", flags=1 << 7)  # BPF_F_RDONLY_PROG
    assert not m.regions()[1].writable
    assert m.update(u32(0), b"12345678") == 0 and m.read(u32(0)) == b"12345678"  # user space still writes
    assert make("array").regions()[1].writable


def test_writes_bump_the_region_counter():
    m = make("array")
    region = m.regions()[1]
    before = region.writes
    m.update(u32(0), bytes(8))
    assert region.writes > before


# --- arrays -----------------------------------------------------------------------------------------------

def test_array_values_are_zeroed_strided_and_in_place():
    m = make("array", vs=5, n=3)
    a0, a1 = m.lookup(u32(0)), m.lookup(u32(1))
    assert a1 - a0 == 8 and m.lookup(u32(3)) is None
    assert m.read(u32(2)) == bytes(5)
    store(m, a1, b"hello")
    assert m.read(u32(1)) == b"hello"
    assert m.update(u32(2), b"abcde") == 0 and value_at(m, m.lookup(u32(2)), 5) == b"abcde"


def test_array_update_flags_and_delete():
    m = make("array")
    v = bytes(8)
    assert [m.update(u32(0), v, f) for f in range(6)] == [0, -errno.EEXIST, 0, -errno.EINVAL, -errno.EINVAL,
                                                          -errno.EINVAL]
    assert m.update(u32(0), v, 5, cpu=0) == -errno.EEXIST  # a program: BPF_NOEXIST is checked before the lock
    assert m.update(u32(4), v) == -errno.E2BIG
    assert m.delete(u32(0)) == -errno.EINVAL


def test_array_get_next_key():
    m = make("array", n=3)
    assert [m.get_next_key(k) for k in (None, u32(0), u32(1), u32(2), u32(7))] == [u32(0), u32(1), u32(2), None,
                                                                                   u32(0)]
    assert m.keys() == [u32(0), u32(1), u32(2)]
    assert list(m.entries_json()["entries"]) == ["00000000", "01000000", "02000000"]


def test_percpu_array_copies_per_cpu():
    m = make("percpu_array", vs=4, n=2, ncpus=3)
    assert m.user_value_size() == 24
    assert m.update(u32(1), b"AAAA", 0, cpu=2) == 0
    assert value_at(m, m.lookup(u32(1), cpu=2), 4) == b"AAAA"
    assert value_at(m, m.lookup(u32(1), cpu=0), 4) == bytes(4)
    assert m.lookup(u32(1), cpu=3) is None
    user = b"".join(bytes([c]) * 8 for c in range(3))
    assert m.update(u32(0), user) == 0 and m.read(u32(0)) == user
    assert m.entries_json()["entries"]["00000000"] == ["00000000", "01010101", "02020202"]


# --- hash maps --------------------------------------------------------------------------------------------

def test_hash_insertion_order_full_and_errors():
    m = make("hash", vs=4, n=2)
    assert m.update(b"bbbb", b"1111") == m.update(b"aaaa", b"2222") == 0
    assert m.keys() == [b"bbbb", b"aaaa"] and m.get_next_key(b"zzzz") == b"bbbb"
    assert m.get_next_key(b"bbbb") == b"aaaa" and m.get_next_key(b"aaaa") is None
    assert m.update(b"cccc", b"3333") == -errno.E2BIG
    assert m.update(b"aaaa", b"4444") == 0  # replacing works when full
    assert m.update(b"aaaa", b"5555", 1) == -errno.EEXIST
    assert m.update(b"dddd", b"5555", 2) == -errno.ENOENT
    assert m.update(b"aaaa", b"5555", 4) == -errno.EINVAL
    assert m.delete(b"dddd") == -errno.ENOENT and m.delete(b"bbbb") == 0
    assert m.update(b"cccc", b"3333") == 0 and m.lookup(b"bbbb") is None


def test_hash_update_writes_a_new_element_and_delete_recycles():
    """A pointer taken before an update keeps the old value; after delete + insert it shows the new entry."""
    m = make("hash", vs=4, n=4)
    m.update(b"kkkk", b"old!")
    before = m.lookup(b"kkkk")
    m.update(b"kkkk", b"new!", 0, cpu=1)
    assert value_at(m, before, 4) == b"old!" and m.read(b"kkkk") == b"new!"
    stale = m.lookup(b"kkkk")
    m.delete(b"kkkk")
    m.update(b"jjjj", b"next")
    assert m.lookup(b"jjjj") == stale and value_at(m, stale, 4) == b"next"


def test_percpu_hash_new_elements_zero_other_cpus():
    m = make("percpu_hash", vs=4, n=2, ncpus=2)
    assert m.update(b"kkkk", b"AAAA", 0, cpu=1) == 0
    assert m.read(b"kkkk") == bytes(8) + b"AAAA" + bytes(4)
    addr = m.lookup(b"kkkk", cpu=1)
    assert m.update(b"kkkk", b"BBBB", 0, cpu=1) == 0 and m.lookup(b"kkkk", cpu=1) == addr  # in place
    assert m.entries_json()["entries"] == {"6b6b6b6b": ["00000000", "42424242"]}
    assert m.update(b"xxxx", bytes(16)) == 0 and m.update(b"yyyy", bytes(16)) == -errno.E2BIG


def test_lru_evicts_unreferenced_keys_first():
    """One CPU, 8 elements (refills of 4): keys a program looked up survive the next refill."""
    m = make("lru_hash", vs=4, n=8, ncpus=1)
    for i in range(8):
        assert m.update(u32(i), u32(i)) == 0
    for i in (0, 1, 2):
        m.lookup(u32(i), cpu=0)
    assert m.update(u32(8), u32(8)) == 0  # no free element left: a refill shrinks the inactive list
    survivors = sorted(struct.unpack("<I", k)[0] for k in m.keys())
    assert {0, 1, 2, 8} <= set(survivors) and len(survivors) == 5
    assert m.update(u32(99), u32(0), 1) == 0 and len(m.keys()) == 6


def test_lru_never_fills_and_replaces_take_a_new_element():
    m = make("lru_hash", vs=4, n=4, ncpus=1)
    for i in range(100):
        assert m.update(u32(i), u32(i)) == 0
    assert len(m.keys()) <= 4 and u32(99) in m.keys()
    assert m.update(u32(99), b"abcd", 1) == -errno.EEXIST
    assert m.update(u32(12345), b"abcd", 2) == -errno.ENOENT
    assert m.update(u32(99), b"abcd", 4) == -errno.EINVAL


def test_lru_without_common_lru_rounds_max_entries_to_cpus():
    m = make("lru_hash", vs=4, n=5, flags=BPF_F_NO_COMMON_LRU, ncpus=2)
    assert m.max_entries == 6
    for i in range(20):
        assert m.update(u32(i), u32(i), 0, cpu=i % 2) == 0
    assert len(m.keys()) <= 6


def test_lru_percpu_hash_updates_in_place():
    m = make("lru_percpu_hash", vs=4, n=4, ncpus=2)
    assert m.update(b"kkkk", b"AAAA", 0, cpu=0) == 0
    addr = m.lookup(b"kkkk", cpu=0)
    assert m.update(b"kkkk", b"BBBB", 2, cpu=0) == 0 and m.lookup(b"kkkk", cpu=0) == addr
    assert m.read(b"kkkk") == b"BBBB" + bytes(12)


# --- LPM trie ---------------------------------------------------------------------------------------------

def key(plen: int, *octets: int) -> bytes:
    return u32(plen) + bytes(octets)


def test_lpm_longest_prefix_and_post_order():
    m = make("lpm_trie", vs=4, n=10)
    for (plen, octets), v in (((16, (192, 168, 0, 0)), 1), ((24, (192, 168, 0, 0)), 2),
                              ((24, (192, 168, 128, 0)), 3), ((24, (192, 168, 1, 0)), 5)):
        assert m.update(key(plen, *octets), u32(v)) == 0
    assert m.keys() == [key(24, 192, 168, 0, 0), key(24, 192, 168, 1, 0), key(24, 192, 168, 128, 0),
                        key(16, 192, 168, 0, 0)]  # the example in lpm_trie.c
    assert m.read(key(32, 192, 168, 1, 77)) == u32(5)
    assert m.read(key(32, 192, 168, 2, 1)) == u32(1)
    assert m.read(key(32, 10, 0, 0, 1)) is None
    assert m.read(key(15, 192, 168, 1, 1)) is None  # shorter than every stored prefix
    assert m.lookup(key(32, 192, 168, 128, 9)) == m.lookup(key(24, 192, 168, 128, 0))


def test_lpm_flags_limits_and_delete():
    m = make("lpm_trie", vs=4, n=2)
    assert m.update(key(33, 1, 2, 3, 4), u32(1)) == -errno.EINVAL
    assert m.update(key(8, 10, 0, 0, 0), u32(1), 2) == -errno.ENOENT
    assert m.update(key(8, 10, 0, 0, 0), u32(1), 1) == 0
    assert m.update(key(8, 10, 0, 0, 0), u32(2), 1) == -errno.EEXIST
    assert m.update(key(16, 10, 1, 0, 0), u32(3)) == 0
    assert m.update(key(16, 10, 2, 0, 0), u32(4)) == -errno.ENOSPC
    assert m.update(key(8, 10, 0, 0, 0), u32(9)) == 0  # replacing works when full
    assert m.delete(key(12, 10, 0, 0, 0)) == -errno.ENOENT
    assert m.delete(key(40, 10, 0, 0, 0)) == -errno.EINVAL
    assert m.delete(key(8, 10, 0, 0, 0)) == 0 and m.keys() == [key(16, 10, 1, 0, 0)]
    assert m.read(key(32, 10, 9, 9, 9)) is None


def brute_force_match(stored: dict[bytes, bytes], addr: int, bits: int) -> bytes | None:
    """The value of the longest stored prefix of ``addr`` (a ``bits``-bit number), by trying them all."""
    best, best_len = None, -1
    for k, v in stored.items():
        plen = struct.unpack_from("<I", k)[0]
        prefix = int.from_bytes(k[4:], "big")
        if addr >> (bits - plen) == prefix >> (bits - plen) and plen > best_len:
            best, best_len = v, plen
    return best


def test_lpm_matches_a_brute_force_longest_match():
    rnd = random.Random(1)
    m = make("lpm_trie", ks=6, vs=4, n=200)
    stored: dict[bytes, bytes] = {}
    for i in range(150):
        plen = rnd.randrange(17)
        k = u32(plen) + (rnd.randrange(1 << 16) >> (16 - plen) << (16 - plen)).to_bytes(2, "big")
        if rnd.random() < 0.2 and stored:
            victim = rnd.choice(sorted(stored))
            assert m.delete(victim) == 0
            del stored[victim]
        assert m.update(k, u32(i)) == 0
        stored[k] = u32(i)
    for _ in range(300):
        addr = rnd.randrange(1 << 16)
        assert m.read(u32(16) + addr.to_bytes(2, "big")) == brute_force_match(stored, addr, 16)
    assert sorted(m.keys()) == sorted(stored)


# --- queue, stack, bloom ----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,order", [("queue", [2, 3, 4]), ("stack", [4, 3, 2])])
def test_queue_and_stack(kind, order):
    m = make(kind, vs=4, n=3)
    for i in (1, 2, 3):
        assert m.push(u32(i)) == 0
    assert m.push(u32(4)) == -errno.E2BIG
    assert m.push(u32(4), 2) == 0  # BPF_EXIST: the oldest (1) goes
    assert m.push(u32(5), 1) == m.push(u32(5), 3) == -errno.EINVAL
    assert m.values() == [u32(i) for i in order] and m.peek() == u32(order[0])
    assert m.entries_json()["values"] == [u32(i).hex() for i in order]
    assert [m.pop() for _ in range(4)] == [u32(i) for i in order] + [-errno.ENOENT]
    assert m.peek() == -errno.ENOENT and m.update(b"", u32(1), 0, cpu=0) == -errno.EINVAL
    assert m.update(b"", u32(7)) == 0 and m.read(b"") == u32(7)


def test_bloom_filter_has_no_false_negatives_and_is_deterministic():
    rnd = random.Random(5)
    values = [rnd.randbytes(6) for _ in range(400)]
    m, again = make("bloom_filter", vs=6, n=100), make("bloom_filter", vs=6, n=100)
    for v in values[:100]:
        assert m.push(v) == again.push(v) == 0
    assert all(m.peek(v) == 0 for v in values[:100])
    answers = [m.peek(v) for v in values[100:]]
    assert answers == [again.peek(v) for v in values[100:]] and -errno.ENOENT in answers
    assert m.push(values[0], 2) == -errno.EINVAL and m.pop() == m.delete(b"") == -errno.EOPNOTSUPP
    assert m.entries_json()["bits_set"] > 0 and m.nr_hash_funcs == 5


def test_jhash_basics():
    assert jhash(b"", 0) == jhash2(b"", 0) == 0xDEADBEEF
    assert jhash(b"abcd", 7) != jhash(b"abce", 7) and jhash2(b"abcd", 7) != jhash2(b"abcd", 8)


# --- ring buffer ------------------------------------------------------------------------------------------

def header(m, addr: int) -> tuple[int, int]:
    return struct.unpack("<II", value_at(m, addr - 8, 8))


def test_ringbuf_reserve_submit_discard_and_headers():
    m = make("ringbuf", n=8192)
    a = m.reserve(5)
    assert header(m, a) == (5 | BPF_RINGBUF_BUSY_BIT, 3) and a == m.ring.base + 8
    b = m.reserve(20)
    assert b == a + 16  # round_up(8 + 5, 8)
    store(m, a, b"hello")
    store(m, b, b"x" * 20)
    assert m.submit(b) == 0 and m.records() == []  # a is still reserved: readers stop there
    assert m.submit(a) == 0 and m.records() == [b"hello", b"x" * 20]
    c = m.reserve(3)
    assert m.discard(c) == 0 and header(m, c) == (3 | BPF_RINGBUF_DISCARD_BIT, 3)
    assert m.records() == [b"hello", b"x" * 20] and m.submit(c) == -errno.EINVAL
    assert m.reserve(1, flags=1) is None and m.output(b"abc", flags=4) == -errno.EINVAL
    assert m.query(0) == m.query(3) == 16 + 32 + 16 and m.query(1) == 8192 and m.query(2) == 0


def test_ringbuf_fills_then_wraps_contiguously():
    m = make("ringbuf", n=4096)
    assert m.reserve(4096) is None  # a record with its header must fit
    n = 0
    while m.output(bytes([n]) * 1000) == 0:
        n += 1
    assert n == 4 and m.query(0) == 4 * 1008  # no reader: the buffer fills
    assert m.output(b"x" * 56) == -errno.EAGAIN and m.reserve(56) is None  # 64 more bytes would fill it
    assert len(m.consume()) == 4 and m.query(0) == 0
    addr = m.reserve(1500)  # starts at 4032: its data wraps past the end of the area
    assert header(m, addr)[1] == 3
    store(m, addr, bytes(range(256)) * 5 + bytes(220))
    m.submit(addr)
    assert m.records() == [bytes(range(256)) * 5 + bytes(220)]
    assert m.ring.data[:4096] == m.ring.data[4096:]  # both mappings agree
    assert m.entries_json()["records"] == [r.hex() for r in m.records()]


def test_ringbuf_has_no_elements_and_cannot_be_seeded():
    m = make("ringbuf")
    assert m.update(b"", b"") == m.delete(b"") == -524 and m.keys() == []
    with pytest.raises(ValueError, match="cannot be seeded"):
        m.seed(b"", b"")


# --- fd arrays --------------------------------------------------------------------------------------------

def test_prog_array():
    m = make("prog_array", n=4)
    assert m.update(u32(1), u32(7)) == 0 and m.target(1) == 7 and m.target(0) is None and m.target(9) is None
    assert m.update(u32(1), u32(7), 1) == -errno.EINVAL and m.update(u32(4), u32(7)) == -errno.E2BIG
    assert m.entries_json()["entries"] == {"01000000": "07000000"}
    m.prog_count = 3
    assert m.update(u32(2), u32(3)) == -errno.EBADF
    assert m.delete(u32(1)) == 0 and m.delete(u32(1)) == -errno.ENOENT and m.delete(u32(4)) == -errno.E2BIG
    assert m.lookup(u32(1)) is None


def test_perf_event_array_output():
    m = make("perf_event_array", n=4, ncpus=2)
    assert m.output(1, b"abc") == 0 and m.output(0, b"de", 0) == 0
    assert m.output(0, b"x", 1) == -errno.EOPNOTSUPP  # index 1 is CPU 1's buffer
    assert m.output(0, b"x", 2) == -errno.ENOENT and m.output(0, b"x", 7) == -errno.E2BIG
    assert m.records() == [b"abc", b"de"] and m.records(cpu=1) == [b"abc"]
    assert m.entries_json()["records"] == [{"cpu": 1, "data": "616263"}, {"cpu": 0, "data": "6465"}]


# --- seeding ----------------------------------------------------------------------------------------------

def test_seed_sets_entries_and_names_problems():
    a = make("percpu_array", vs=4, n=2)
    a.seed(u32(1), b"\x01\x02\x03\x04")  # one value for every CPU
    assert a.read(u32(1)) == (b"\x01\x02\x03\x04" + bytes(4)) * 2
    with pytest.raises(ValueError, match="index is >= max_entries 2"):
        a.seed(u32(2), bytes(4))
    with pytest.raises(ValueError, match="key is 2 bytes, percpu_array map m has key_size 4"):
        a.seed(b"\0\0", bytes(4))
    with pytest.raises(ValueError, match="value is 3 bytes, percpu_array map m has value_size 4"):
        a.seed(u32(0), bytes(3))
    h = make("hash", vs=4, n=1)
    h.seed(b"aaaa", b"1111")
    with pytest.raises(ValueError, match="E2BIG"):
        h.seed(b"bbbb", b"2222")
    q = make("queue", vs=4)
    q.seed(b"", b"abcd")
    assert q.values() == [b"abcd"]
    t = make("lpm_trie", vs=4)
    with pytest.raises(ValueError, match="prefixlen is above 32"):
        t.seed(key(40, 1, 2, 3, 4), bytes(4))


# --- checkpoints ------------------------------------------------------------------------------------------

def churn(m, rnd: random.Random) -> None:
    kind = m.type
    for _ in range(30):
        if kind in ("queue", "stack"):
            m.push(rnd.randbytes(8), 2) if rnd.random() < 0.6 else m.pop()
        elif kind == "bloom_filter":
            m.push(rnd.randbytes(8))
        elif kind == "ringbuf":
            m.output(rnd.randbytes(rnd.randrange(1, 300))) if rnd.random() < 0.8 else m.consume()
        elif kind == "perf_event_array":
            m.output(0, rnd.randbytes(3))
        elif kind in ("prog_array",):
            m.update(u32(rnd.randrange(4)), u32(rnd.randrange(9)))
        elif kind == "lpm_trie":
            k = u32(rnd.randrange(33)) + rnd.randbytes(4)
            m.update(k, rnd.randbytes(8)) if rnd.random() < 0.7 else m.delete(k)
        else:
            k = u32(rnd.randrange(8))
            v = rnd.randbytes(m.user_value_size())
            m.update(k, v) if rnd.random() < 0.7 else m.delete(k)
            m.lookup(k, cpu=1)


@pytest.mark.parametrize("kind", sorted(EXAMPLES))
def test_snapshot_and_restore_round_trip(kind):
    rnd = random.Random(kind)
    m = make(kind)
    regions = m.regions()
    churn(m, rnd)
    snap, data = m.snapshot(), [bytes(r.data) for r in regions]
    want = m.entries_json()
    churn(m, rnd)
    m.restore(snap)
    for r, d in zip(regions, data):  # the VM restores Region.data itself
        r.data[:] = d
    assert m.entries_json() == want and [id(r) for r in m.regions()] == [id(r) for r in regions]
    churn(m, random.Random(1))  # replaying from the checkpoint is deterministic
    replay = m.entries_json()
    m.restore(snap)
    for r, d in zip(regions, data):
        r.data[:] = d
    churn(m, random.Random(1))
    assert m.entries_json() == replay
