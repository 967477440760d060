"""Control-flow checks, in the kernel's words, compared with the running kernel where bpf() is allowed."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.insn import Insn, decode_raw, encode
from app.ebpf.verifier.cfg import check_cfg
from app.oracle import bpf_available, verify_in_kernel

CASES = [
    ("r0 = 0\nexit\nr0 = 1\nexit", "unreachable insn 2"),
    ("r0 = 0\nif r0 == 0 goto +1\nexit\nexit\nr0 = 1\nexit", "unreachable insn 4"),
    ("r0 = 3\nl:\nr0 -= 1\nif r0 != 0 goto l\nexit", None),
    ("r0 = 0\ngoto +1\nr0 = 1\nexit", "unreachable insn 2"),
    ("r0 = 0\ncall f\nexit\nf:\nr0 = 1\nexit", None),
    ("r0 = 0\nexit\nf:\nr0 = 1\nexit", "unreachable insn 2"),
    ("r1 = func(f) ll\nr0 = 0\nexit\nf:\nr0 = 1\nexit", None),
    ("r0 = 1 ll\nif r0 == 0 goto +0\nexit", None),
]


@pytest.mark.parametrize("text, message", CASES)
def test_cfg_errors(text, message):
    err = check_cfg(assemble(text).insns)
    assert (err.message if err else None) == message


def raw(*insns: Insn) -> tuple[Insn, ...]:
    return decode_raw(encode(insns))


RAW_CASES = [
    (raw(Insn(0xB7), Insn(0x15, 0, 0, 5, 0), Insn(0x95)), "jump out of range from insn 1 to 7"),
    (raw(Insn(0xB7), Insn(0x15, 0, 0, 1, 0), Insn(0x18, 1, 0, 0, 5), Insn(0), Insn(0x95)),
     "jump into the middle of ldimm64 insn 2"),
    (raw(Insn(0xB7), Insn(0x05, 0, 0, -3, 0), Insn(0x95)), "jump out of range from insn 1 to -1"),
]


@pytest.mark.parametrize("insns, message", RAW_CASES)
def test_raw_cfg_errors(insns, message):
    assert check_cfg(insns).message == message


def test_unprivileged_mode_refuses_back_edges():
    err = check_cfg(assemble("r0 = 3\nl:\nr0 -= 1\nif r0 != 0 goto l\nexit").insns, allow_loops=False)
    assert err.message == "back-edge from insn 2 to 1"


@pytest.mark.kernel
@pytest.mark.skipif(not bpf_available(), reason="bpf() is not permitted here")
@pytest.mark.parametrize("insns, message", [(assemble(t).insns, m) for t, m in CASES if m] + RAW_CASES)
def test_the_kernel_reports_the_same(insns, message):
    verdict = verify_in_kernel(encode(insns), "socket_filter")
    assert not verdict.accepted and message in verdict.log
