"""Untrusted input never escapes as a Python exception: random text, bytes and programs give results or
the engine's own errors (with a location)."""
from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from app.ebpf import AsmError, DecodeError, EbpfError, assemble, disassemble, isa, load_bytes
from app.ebpf.insn import Insn, decode_raw, encode
from app.ebpf.packets import build_packet, parse_spec
from app.ebpf.program import Program
from app.ebpf.vm import run

WORDS = sorted({t for s in isa.SPECS for t in (s.asm + " " + s.log).replace("{", " {").split()} |
               {"r0", "r1", "w2", "r10", "r11", "%r1", "0x10", "-4", "+2", "pc+1", "exit", "ll", ".map", ".section",
                "lock", "call", "goto", "if", "[", "]", "(", ")", ",", "*", "=", ":", "#", ";", "//", "/*", "*/"})
lines = st.lists(st.one_of(st.sampled_from(WORDS), st.text(string.printable, max_size=6)), max_size=10).map(" ".join)
texts = st.lists(lines, max_size=8).map("\n".join)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(text=texts)
def test_assembler_only_raises_located_errors(text):
    try:
        program = assemble(text)
    except AsmError as e:
        assert e.line >= 1 and e.col >= 1 and e.message
        return
    for style in ("asm", "log"):
        disassemble(program, style)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(code=st.binary(max_size=120))
def test_decoder_only_raises_decode_errors(code):
    try:
        program = load_bytes(code)
    except DecodeError as e:
        assert e.pc >= 0 and e.message
        return
    disassemble(program, "log")


insn = st.builds(Insn, st.sampled_from(sorted({s.opcode for s in isa.SPECS})), st.integers(0, 10),
                 st.integers(0, 10), st.integers(-8, 8), st.one_of(st.integers(-8, 8), st.integers(-(1 << 31),
                                                                                               (1 << 31) - 1)))


@settings(max_examples=400, deadline=None, derandomize=True)
@given(insns=st.lists(insn, min_size=1, max_size=12), data=st.binary(max_size=64),
       prog_type=st.sampled_from(["raw", "xdp", "socket_filter", "kprobe"]))
def test_any_program_runs_to_a_result(insns, data, prog_type):
    """Random instruction words (decoded without checks) run to a result or a fault, never an exception."""
    program = Program(decode_raw(encode(insns + [Insn(0x95)])))
    try:
        kwargs = {"mem": data} if prog_type == "raw" else {"packet": bytes(14) + data} \
            if prog_type != "kprobe" else {}
        r = run(program, prog_type=prog_type, max_insns=5000, trace=True, **kwargs)
    except EbpfError:
        return
    assert (r.retval is None) == (r.fault is not None)
    if len(r.trace):
        r.trace.step_record(len(r.trace) - 1)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(spec=st.lists(st.one_of(st.sampled_from(["eth", "vlan(vid=5)", "ipv4", "ipv6", "tcp(flags=SA)", "udp",
                                                 "icmp", "payload(hi)", "ipv4(ttl=999)", "x", "eth(dst=1)"]),
                               st.text(string.printable, max_size=8)), max_size=5).map("/".join))
def test_packet_specs_only_raise_input_errors(spec):
    try:
        build_packet(parse_spec(spec))
    except EbpfError as e:
        assert str(e)
