"""Every hook example would be accepted by the running kernel (or, made to be refused, rejected with the
message it records, ``Example.rejects``), and where the kernel can test-run it, the kernel's result is the
playground's. Skipped where bpf() is not permitted.

The examples' maps are created in the kernel and their ``ld_imm64`` references patched to the kernel's fds
(as ``tests/test_kernel_map_runs.py`` does); seeds are written to the kernel's maps first. Packet hooks
run every packet of the example one after another on the same maps, in the kernel (BPF_PROG_TEST_RUN) and
in the VM: return values and output packets must agree. raw_tracepoint programs are test-run with their
context; kprobe, tracepoint, perf_event and cgroup/connect4 programs have no test runner, so for them the
kernel's verdict is the check.
"""
from __future__ import annotations

from contextlib import ExitStack

import pytest

from app.ebpf import assemble
from app.ebpf.env import Env
from app.ebpf.insn import Insn
from app.ebpf.packets import build_packet, parse_spec
from app.ebpf.progtypes import PROG_TYPES, context_input
from app.ebpf.vm import MapSeed, create_maps, run
from app.oracle import bpf_available, create_map, load_program, possible_cpus, verify_in_kernel
from app.web.ctxform import parse_ctx
from app.web.examples import EXAMPLES

pytestmark = [pytest.mark.kernel, pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")]

HOOK_EXAMPLES = [e for e in EXAMPLES if e.type != "raw"]  # raw programs follow the conformance convention


def with_fds(program, fds: list[int]) -> bytes:
    insns = list(program.insns)
    for pc, insn in enumerate(insns):
        if insn.opcode == 0x18 and insn.src == 1:  # ld_imm64 with BPF_PSEUDO_MAP_FD: our index -> the fd
            insns[pc] = Insn(0x18, insn.dst, 1, 0, fds[insn.imm])
    return b"".join(i.encode() for i in insns)




@pytest.mark.parametrize("example", HOOK_EXAMPLES, ids=lambda e: e.slug)
def test_the_kernel_accepts_the_example_and_agrees(example, cpu0):
    program = assemble(example.source)
    ptype = PROG_TYPES[example.type]
    seeds = tuple(MapSeed(m, bytes.fromhex(k), bytes.fromhex(v)) for m, k, v in example.seeds)
    with ExitStack() as stack:
        kmaps = [stack.enter_context(create_map(m.type, m.key_size, m.value_size, m.max_entries, m.flags))
                 for m in program.maps]
        for seed in seeds:
            kmaps[program.map_index(seed.map)].update(seed.key, seed.value)
        code = with_fds(program, [k.fd for k in kmaps])
        verdict = verify_in_kernel(code, example.type, expected_attach_type=ptype.expected_attach_type)
        if example.rejects:
            assert not verdict.accepted and verdict.first_error == example.rejects, verdict.log[-3000:]
            return
        assert verdict.accepted, f"{verdict.first_error}\n{verdict.log[-3000:]}"
        if ptype.input == "packet":
            env = Env(ncpus=possible_cpus(), cpu=0)
            maps = create_maps(program, env.ncpus, seeds)
            with load_program(code, example.type, expected_attach_type=ptype.expected_attach_type) as prog:
                for n, spec in enumerate(example.packets):
                    packet = build_packet(parse_spec(spec))
                    kernel = prog.test_run(packet)
                    ours = run(program, prog_type=example.type, packet=packet, env=env, maps=maps)
                    assert ours.fault is None, ours.fault
                    assert ours.retval & 0xFFFFFFFF == kernel.retval, f"packet {n}"
                    assert ours.packet_out == kernel.data_out, f"packet {n}"
        elif example.type == "raw_tracepoint":
            values, errors = parse_ctx(ptype, "", example.ctx)
            assert not errors
            with load_program(code, example.type) as prog:
                kernel = prog.test_run(ctx=bytes(context_input(ptype, values)))
            ours = run(program, prog_type=example.type, ctx=values)
            assert ours.retval & 0xFFFFFFFF == kernel.retval
