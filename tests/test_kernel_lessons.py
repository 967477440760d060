"""Every lesson's solution in the running kernel: it loads for the lesson's hook, and where the hook has a
test runner (the packet hooks), BPF_PROG_TEST_RUN gives the return values, output packet, map contents and
ring buffer records the lesson's tests expect: what the playground's checker compares against our VM.
Skipped where bpf() is not permitted."""
from __future__ import annotations

import mmap
import struct
from contextlib import ExitStack

import pytest

from app import kernelload
from app.ebpf import assemble
from app.lessons.check import key_bytes, value_bytes
from app.lessons.content import read_lessons
from app.oracle import bpf_available, load_program
from app.web.inputs import Limits
from app.web.jsonbody import run_inputs
from app.web.runs import compile_program

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")]

LIMITS = Limits(64 * 1024, 64 * 1024, 1_000_000)
CASES = [(lesson, language) for lesson in read_lessons() for language in lesson.languages]




@pytest.mark.parametrize("case", CASES, ids=[f"{lesson.slug}-{language}" for lesson, language in CASES])
def test_the_solution_behaves_the_same_in_the_kernel(case, cpu0):
    lesson, language = case
    source = lesson.solution[language]
    program = compile_program(source, lesson.hook) if language == "c" else assemble(source)
    for test in lesson.tests:
        inputs = run_inputs(test.setup, LIMITS)
        with ExitStack() as stack:
            maps = kernelload.create_kernel_maps(program, stack)
            code = kernelload.kernel_code(program, [m.fd for m in maps])
            progs = [stack.enter_context(load_program(part, lesson.hook)) for part in entry_codes(program, code)]
            for seed in inputs.seeds:
                index = seed.map if isinstance(seed.map, int) else program.map_index(seed.map)
                value = seed.value
                if program.maps[index].type == "prog_array":  # our slots hold entry numbers, the kernel's fds
                    value = progs[int.from_bytes(value, "little")].fd.to_bytes(4, "little")
                maps[index].update(seed.key, value)
            prog = progs[0]
            if inputs.packets is None:
                continue  # kprobe, tracepoint ...: the kernel has no test runner for them; loading is the check
            runs = [prog.test_run(packet) for packet in inputs.packets]
            got = tuple(r.retval for r in runs)
            if test.expect.packet is not None:
                wanted = inputs.packets[-1] if test.expect.packet == "same" else test.expect.packet
                assert runs[-1].data_out == wanted, test.name
            if test.expect.records is not None:
                rings = [(m, d) for m, d in zip(maps, program.maps) if d.type == "ringbuf"]
                records = tuple(r for m, d in rings for r in ring_records(m.fd, d.max_entries))
                assert records == test.expect.records, test.name
            if test.expect.returns is not None:
                assert got == tuple(v & 0xFFFFFFFF for v in test.expect.returns), test.name
            for name, entries in test.expect.maps.items():
                index = program.map_index(name)
                mdef = program.maps[index]
                for key, value in entries.items():
                    got_value = maps[index].lookup(key_bytes(key, mdef.key_size))
                    assert got_value == value_bytes(value, mdef.value_size), (test.name, name, key)


BUSY, DISCARD = 1 << 31, 1 << 30
HEADER = 8  # BPF_RINGBUF_HDR_SZ: u32 length (with the busy and discard bits), u32 page offset


def ring_records(fd: int, size: int) -> list[bytes]:
    """The records a reader of the kernel ring buffer ``fd`` (``size`` bytes of data) would consume now, from
    the start: submitted ones in order, discarded ones skipped."""
    producer = mmap.mmap(fd, 4096 + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ, offset=4096)
    try:
        end = struct.unpack_from("<Q", producer, 0)[0]
        data = producer[4096:4096 + size]
    finally:
        producer.close()
    out, pos = [], 0
    while pos < end:
        length = struct.unpack_from("<I", data, pos % size)[0]
        assert not length & BUSY, "a record still reserved after the run"
        body = length & ~(BUSY | DISCARD)
        if not length & DISCARD:
            start = (pos + HEADER) % size
            out.append(bytes(data[start:start + body]))
        pos += (HEADER + body + 7) // 8 * 8
    return out


def entry_codes(program, code: bytes) -> list[bytes]:
    """The code of each entry program (named section) of a source, as the kernel loads them one by one; a
    source without sections is one program. (Subprograms follow the last section: only it may call them.)"""
    starts = [start for _, start in program.entry_points()]
    ends = starts[1:] + [len(program.insns)]
    return [code[start * 8:end * 8] for start, end in zip(starts, ends)]
