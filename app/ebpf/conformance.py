"""Running the public eBPF conformance suites (bpf_conformance and uBPF ``.data`` files).

A ``.data`` file has sections introduced by ``-- name`` lines: ``asm`` (legacy mnemonic syntax), ``raw``
(encoded instructions, one 64-bit word or eight hex bytes a line), ``mem`` (input bytes), ``result``
(expected r0) and ``error`` / ``error pattern`` (the program must be refused or fault). ``asm @ FILE`` and
``mem @ FILE`` read a file next to the test. Conventions: r1 holds the address of a copy of ``mem`` and
r2 its length; helper ids are the uBPF test harness's own (``UBPF_TEST_HELPERS``), not Linux's.

A case passes when we behave as the file says: the same r0, or a refusal (by the assembler, the decoder,
the load checks) or a run-time fault where an error is expected. A few files are skipped, each with the
reason; ``SKIPPED`` lists them.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .asm import assemble
from .errors import EbpfError
from .insn import Insn, check, decode_raw, to_s16, to_s32
from .loadcheck import check_load
from .program import Program
from .vm import run
from .vm.machine import Helper

M64 = (1 << 64) - 1

# Files whose expectation cannot be met by following RFC 9669, or that test something other than a
# program. Keys are paths relative to the suite folder's parent layout (matched by suffix).
SKIPPED = {
    "ubpf/errors/err-too-many-instructions.data":
        "expects uBPF's own limit of 65,536 instructions; RFC 9669 sets no limit on program size (Linux "
        "accepts up to 1,000,000 for a privileged loader, and so do we)",
    "ubpf/errors/err-unknown-opcode.data":
        "expects opcode 0x06 to be unknown, but RFC 9669 section 4.3 defines 0x06 as JA in class JMP32 "
        "(gotol); the program is a valid 'gotol +0; exit'",
    "ubpf/reload.data":
        "tests uBPF's C API (loading twice into one VM); RFC 9669 defines no loader API",
    "ubpf/unload_reload.data":
        "tests uBPF's C API (unload and reload); RFC 9669 defines no loader API",
    "bpf_conformance/negative/error.data":
        "expects a Linux-style verifier to refuse 'or %r0, %r10'; RFC 9669 defines the instruction, so "
        "refusing it is the verifier's job, not the VM's",
    "bpf_conformance/negative/empty.data":
        "runner self-test with no program section; RFC 9669 programs are instructions, and there are none",
    "bpf_conformance/negative/empty_instructions.data":
        "runner self-test with no program section; RFC 9669 programs are instructions, and there are none",
    "bpf_conformance/negative/invalid_unknown_directive.data":
        "runner self-test of an unknown '--' directive with an empty program; nothing to run under RFC 9669",
}

# Assembler-negative tests: upstream's tools/tests.cmake expects the assembler to refuse these; the files
# carry only a dummy "-- result". The value is the message upstream's assembler prints.
REJECT_ASSEMBLE = {
    "bpf_conformance/negative/invalid_imm32_dec_range.data": "Immediate out of 32-bit range: 2147483648",
    "bpf_conformance/negative/invalid_imm32_hex_range.data": "Immediate out of 32-bit range: 0x100000000",
    "bpf_conformance/negative/invalid_label.data": "Invalid label: NOT_A_LABEL",
    "bpf_conformance/negative/invalid_lock.data": "Invalid number of operands for lock",
    "bpf_conformance/negative/invalid_lock2.data": "Invalid number of operands for lock",
    "bpf_conformance/negative/invalid_mnemonic.data": "Invalid mnemonic: ldxq",
    "bpf_conformance/negative/invalid_offset.data": "Failed to decode register and offset: %r1",
    "bpf_conformance/negative/invalid_offset_range.data": "Offset out of 16-bit range: 0x10000",
    "bpf_conformance/negative/invalid_operand_count.data": "Invalid number of operands for mnemonic: lddw",
    "bpf_conformance/negative/invalid_register.data": "Invalid register: %r50",
}

# Runner self-tests whose stated result is deliberately wrong: upstream expects the runner to report a
# mismatch. Such a file passes when we compute a different value (and it is the value we print).
EXPECT_MISMATCH = {"bpf_conformance/negative/incorrect_return_value_high_bits.data"}


# --- the uBPF test harness's helpers ----------------------------------------------------------------------

def _gather_bytes(vm, a, b, c, d, e):
    return (a & 0xFF) << 32 | (b & 0xFF) << 24 | (c & 0xFF) << 16 | (d & 0xFF) << 8 | (e & 0xFF)


def _memfrob(vm, ptr, length, *_):
    data = vm.read(ptr, length)
    vm.write(ptr, bytes(b ^ 0x2A for b in data))
    return 0


def _no_op(vm, *_):
    return 0


def _sqrti(vm, x, *_):
    return math.isqrt(x)


def _strcmp(vm, a, b, *_):
    sa, sb = vm.read_cstr(a), vm.read_cstr(b)
    for x, y in zip(sa + b"\0", sb + b"\0"):
        if x != y:
            return (x - y) & M64
    return 0


def _unwind(vm, x, *_):
    if x == 0:
        vm.halt()
    return x


UBPF_TEST_HELPERS = {h.id: h for h in (
    Helper(0, "gather_bytes", _gather_bytes, "pack the low bytes of r1-r5 into one value"),
    Helper(1, "memfrob", _memfrob, "XOR r2 bytes at r1 with 0x2a"),
    Helper(2, "no_op", _no_op, "do nothing, return 0 (uBPF's trash_registers)"),
    Helper(3, "sqrti", _sqrti, "integer square root of r1"),
    Helper(4, "strcmp_ext", _strcmp, "strcmp of two NUL-terminated strings"),
    Helper(5, "unwind", _unwind, "return r1; if it is 0, end the program with r0 = 0"),
)}


# --- parsing ---------------------------------------------------------------------------------------------

@dataclass
class DataFile:
    path: Path
    sections: dict[str, str] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.sections


def parse_data(path: Path) -> DataFile:
    df = DataFile(path)
    current = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        m = re.match(r"^--\s*(.*?)\s*$", line)
        if m:
            current = m.group(1)
            df.sections.setdefault(current, "")
            continue
        if current is not None:
            df.sections[current] += line + "\n"
    return df


def _sidecar(df: DataFile, kind: str) -> str | None:
    for name in df.sections:
        m = re.fullmatch(rf"{kind}\s*@\s*(\S+)", name)
        if m:
            target = (df.path.parent / m.group(1)).resolve()
            if df.path.parent.resolve() not in target.parents:
                raise ValueError(f"sidecar {m.group(1)} is outside the test folder")
            return target.read_text(encoding="utf-8")
    return None


def parse_mem(text: str, hexdump: bool = False) -> bytes:
    out = bytearray()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        if hexdump and ":" in line:
            line = line.rsplit(":", 1)[1]
        for tok in line.split():
            if hexdump:
                out += bytes.fromhex(tok)
            else:
                out.append(int(tok, 16))
    return bytes(out)


def parse_raw(text: str) -> tuple[Insn, ...]:
    """Both raw layouts: one ``0x`` 64-bit word per line, or eight hex bytes per line."""
    code = bytearray()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) == 8 and all(re.fullmatch(r"[0-9a-fA-F]{2}", p) for p in parts):
            code += bytes(int(p, 16) for p in parts)
        else:
            code += (int(parts[0], 0) & M64).to_bytes(8, "little")
    return decode_raw(bytes(code))


# --- running ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CaseResult:
    file: str
    status: str  # "passed", "failed", "skipped"
    expected: str
    got: str
    reason: str = ""

    def to_json(self) -> dict:
        return {"file": self.file, "expected": self.expected, "got": self.got, "reason": self.reason}


def _relative(path: Path) -> str:
    parts = path.as_posix().split("/")
    for anchor in ("bpf_conformance", "ubpf"):
        if anchor in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
    return path.name


def run_case(path: Path) -> CaseResult:
    rel = _relative(path)
    if rel in SKIPPED:
        return CaseResult(rel, "skipped", "", "", SKIPPED[rel])
    df = parse_data(path)
    if any(name.startswith("pyelf") for name in df.sections):
        return CaseResult(rel, "skipped", "", "", "an ELF-loader test built from uBPF's Python ELF template; "
                                                  "RFC 9669 covers instructions, not object files")
    expect_error = df.has("error") or df.has("error pattern") or rel in REJECT_ASSEMBLE
    expected = ("error: " + (REJECT_ASSEMBLE.get(rel) or df.sections.get("error") or
                             df.sections.get("error pattern") or "").strip()
                if expect_error else df.sections.get("result", "").strip())
    try:
        outcome = _execute(df)
    except (OSError, ValueError) as e:
        return CaseResult(rel, "failed", expected, f"cannot read test: {e}")
    if rel in REJECT_ASSEMBLE:
        if outcome.startswith("error: line"):  # refused by the assembler, with a line and column
            return CaseResult(rel, "passed", expected, outcome)
        return CaseResult(rel, "failed", expected, outcome)
    if expect_error:
        if outcome.startswith("error"):
            return CaseResult(rel, "passed", expected, outcome)
        return CaseResult(rel, "failed", expected, outcome)
    if outcome == "encoded":
        return CaseResult(rel, "passed", "encoding matches raw", outcome)
    if not df.has("result"):
        return CaseResult(rel, "failed", "a result section", outcome)
    want = int(df.sections["result"].split()[0], 0) & M64
    got_ok = outcome.startswith("0x")
    matches = got_ok and int(outcome, 16) == want
    if rel in EXPECT_MISMATCH:
        return CaseResult(rel, "passed" if got_ok and not matches else "failed",
                          f"not {want:#018x} (deliberately wrong)", outcome)
    return CaseResult(rel, "passed" if matches else "failed", f"{want:#018x}", outcome)


def _execute(df: DataFile) -> str:
    """Assemble/decode, check and run; returns ``0x...`` (r0), ``encoded`` or ``error: ...``."""
    asm_text = df.sections.get("asm")
    sidecar = _sidecar(df, "asm")
    if sidecar is not None:
        asm_text = sidecar
    program: Program | None = None
    try:
        if asm_text is not None and asm_text.strip():
            program = assemble(asm_text)
        if df.has("raw"):
            raw = parse_raw(df.sections["raw"])
            if program is not None and not df.has("result") and not df.has("error"):
                if program.insns != raw:
                    return f"error: assembled {program.to_bytes().hex()} but raw is {b''.join(i.encode() for i in raw).hex()}"
                return "encoded"
            program = Program(raw)
        if program is None:
            return "error: no program"
        check(program.insns)
    except EbpfError as e:
        return f"error: {e}"
    except ValueError as e:
        return f"error: {e}"
    problem = check_load(program.insns, UBPF_TEST_HELPERS)
    if problem is not None:
        return f"error: {problem}"
    mem_side = _sidecar(df, "mem")
    mem = parse_mem(mem_side, hexdump=True) if mem_side is not None else (
        parse_mem(df.sections["mem"]) if df.has("mem") else None)
    result = run(program, mem=mem, helpers=UBPF_TEST_HELPERS)
    if result.fault is not None:
        return f"error: {result.fault}"
    return f"{result.retval:#018x}"


@dataclass(frozen=True)
class SuiteResult:
    results: tuple[CaseResult, ...]

    @property
    def passed(self) -> int:
        return sum(r.status == "passed" for r in self.results)

    @property
    def failed(self) -> int:
        return sum(r.status == "failed" for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.status == "skipped" for r in self.results)

    def to_json(self) -> dict:
        return {"passed": self.passed, "failed": self.failed, "skipped": self.skipped,
                "failures": [r.to_json() for r in self.results if r.status == "failed"],
                "skips": [{"file": r.file, "reason": r.reason} for r in self.results if r.status == "skipped"]}


def run_suite(directory: Path) -> SuiteResult:
    files = sorted(p for p in Path(directory).rglob("*.data") if p.is_file())
    return SuiteResult(tuple(run_case(p) for p in files))


__all__ = ["run_suite", "run_case", "parse_data", "UBPF_TEST_HELPERS", "SuiteResult", "CaseResult", "to_s16",
           "to_s32"]
