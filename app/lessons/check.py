"""Checking a learner's program against a lesson: build it, verify it for the lesson's hook, run every test.

The report follows the Exercism style: ``status`` is ``pass`` (every test passed), ``fail`` (the program
loads but a test's result differs, or the verifier processed more instructions than the exercise allows)
or ``error`` (it does not assemble or compile, the verifier rejects it, or a run faults). A rejection is
reported in the kernel's words at its instruction, with the message catalogue's explanation. Each test
says what it expected and what it got, in the hook's names (``XDP_DROP (1)``).

Runs use the engine as the playground does (the test's setup checked by ``jsonbody.run_inputs``, several
packets run in turn on the same maps, as repeated ``BPF_PROG_TEST_RUN`` calls on one loaded program), so
opening a test in the playground shows the same run. A check holds to the same ``Limits`` as a run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.ebpf import AsmError, assemble
from app.ebpf.errors import DecodeError, InputError
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.verifier import verify
from app.ebpf.verifier.explain import Explanation, explain
from app.ebpf.vm import RunResult, run, run_packets
from app.web.inputs import FieldError, Limits, check_source
from app.web.jsonbody import run_inputs
from app.web.progress import Progress
from app.web.runs import compile_program

from .content import Expect, Lesson, LessonTest

PASS, FAIL, ERROR = "pass", "fail", "error"


@dataclass(frozen=True)
class TestResult:
    """One test's outcome: ``status`` (``pass``/``fail``/``error``, or ``skipped`` when the program never
    ran), and for a failure what was ``expected`` and what the run ``got`` (texts), or a ``message``; ``run``
    is the packet whose run went wrong first (the last for what is checked after every run: maps, packet)."""

    name: str
    status: str
    message: str = ""
    expected: str = ""
    got: str = ""
    run: int = 0  # with several packets, the run (from 0) that went wrong; else 0

    def to_json(self) -> dict[str, str | int]:
        return {"name": self.name, "status": self.status, "message": self.message, "expected": self.expected,
                "got": self.got, "run": self.run}


@dataclass(frozen=True)
class CheckReport:
    """A whole check: ``status``; ``message`` for an error before the tests (with the source ``line``; or
    the verifier's rejection in the kernel's words, with its ``insn``, that instruction's source ``line`` when
    the program has line info, and the catalogue's ``explanation``),
    or for a passing program that misses the exercise's ``max_processed``; the verifier's ``processed``
    count; and every test's result in order."""

    status: str
    tests: tuple[TestResult, ...]
    message: str = ""
    line: int | None = None
    insn: int | None = None
    explanation: Explanation | None = None
    processed: int | None = None

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def first_failure(self) -> int | None:
        """The index of the first test that did not pass (None when none failed or none ran)."""
        return next((i for i, t in enumerate(self.tests) if t.status in (FAIL, ERROR)), None)

    def to_json(self) -> dict[str, Any]:
        x = self.explanation
        explained = {"title": x.entry.title, "meaning": x.entry.meaning, "detail": x.detail, "fix": x.entry.fix,
                     "example": x.entry.example, "check": x.entry.check} if x else None
        return {"status": self.status, "message": self.message, "line": self.line, "insn": self.insn,
                "lesson": x.entry.lesson if x else None, "explanation": explained,
                "processed_insns": self.processed, "tests": [t.to_json() for t in self.tests]}


def check_program(lesson: Lesson, source: str, language: str, limits: Limits,
                  progress: Progress | None = None) -> CheckReport:
    """Check ``source`` (``asm`` or ``c``) against ``lesson``. Never raises for a learner's mistake; the whole
    check (verify and every test) holds to one time limit, ``limits.run_seconds`` (or ``progress``'s), past
    which it stops with ``progress.TimeLimit``, as a playground request does."""
    progress = progress or Progress(limits.run_seconds)
    skipped = tuple(TestResult(t.name, "skipped") for t in lesson.tests)
    try:
        source = check_source("source", source, limits.source_bytes)
        program = compile_program(source, lesson.hook) if language == "c" else assemble(source)
    except AsmError as e:
        return CheckReport(ERROR, skipped, f"line {e.line}, col {e.col}: {e.message}", line=e.line)
    except FieldError as e:
        return CheckReport(ERROR, skipped, e.message)
    verified = verify(program, lesson.hook, max_processed=limits.verify_insns,
                      progress=progress.begin("verify", limits.verify_insns))
    processed = verified.stats.processed
    if verified.verdict == "incomplete":
        return CheckReport(ERROR, skipped, f"the verifier stopped after {processed:,} instructions, this server's "
                                           "limit, before a verdict", processed=processed)
    if not verified.accepted:
        error = verified.error
        insn = error.insn_idx if error.insn_idx >= 0 else None
        line = program.lines[insn] if insn is not None and insn < len(program.lines) else None
        return CheckReport(ERROR, skipped, f"{error.message} ({error.errno})", line=line or None, insn=insn,
                           explanation=explain(error.message), processed=processed)
    results = tuple(_run_test(program, lesson.hook, test, limits, progress) for test in lesson.tests)
    status = ERROR if any(r.status == ERROR for r in results) else FAIL if any(r.status == FAIL for r in results) \
        else PASS
    message = ""
    if lesson.max_processed is not None and processed > lesson.max_processed:
        status = FAIL if status == PASS else status
        message = (f"the verifier processed {processed:,} instructions; this exercise asks for at most "
                   f"{lesson.max_processed:,}")
    return CheckReport(status, results, message, processed=processed)


def _run_test(program, hook: str, test: LessonTest, limits: Limits, progress: Progress) -> TestResult:
    inputs = run_inputs(test.setup, limits)  # checked when the lesson was loaded
    common = {"prog_type": hook, "env": inputs.env, "seeds": inputs.seeds, "max_insns": limits.run_insns,
              "progress": progress.begin("run", limits.run_insns)}
    try:
        if inputs.packets is not None:
            results = run_packets(program, list(inputs.packets), **common)
        else:
            strings = {k: v.encode() for k, v in inputs.strings.items()}
            results = [run(program, mem=inputs.mem, ctx=inputs.ctx or None, event=inputs.event,
                           strings=strings or None, **common)]
    except (InputError, DecodeError) as e:
        return TestResult(test.name, ERROR, f"the run cannot start: {e}")
    for i, result in enumerate(results):
        if result.fault is not None:
            where = f" (packet {i + 1})" if len(results) > 1 else ""
            return TestResult(test.name, ERROR, f"the run faulted{where}: {result.fault.message}", run=i)
        if result.retval is None:
            return TestResult(test.name, ERROR, f"the run stopped after {limits.run_insns:,} steps without exiting",
                              run=i)
    return _compare(test.name, test.expect, hook, results, inputs.packets, inputs.env.cpu)


def _compare(name: str, expect: Expect, hook: str, results: list[RunResult],
             packets: tuple[bytes, ...] | None, cpu: int) -> TestResult:
    if expect.returns is not None:
        got = tuple(r.retval & 0xFFFFFFFF for r in results)
        wanted = tuple(v & 0xFFFFFFFF for v in expect.returns)
        if got != wanted:
            first = next(i for i, (g, w) in enumerate(zip(got, wanted)) if g != w)
            return TestResult(name, FAIL, "wrong return value" + (f" (packet {first + 1} first)" if len(got) > 1 else ""),
                              _returns(wanted, hook), _returns(got, hook), run=first)
    last = results[-1]
    last_run = len(results) - 1
    if expect.packet is not None and last.packet_out is not None:
        wanted_packet = packets[-1] if expect.packet == "same" and packets else expect.packet
        if last.packet_out != wanted_packet:
            return TestResult(name, FAIL, "the packet after the run differs", wanted_packet.hex(" "),
                              last.packet_out.hex(" "), run=last_run)
    for map_name, entries in expect.maps.items():
        found = next((m for m in last.maps if m.get("name") == map_name), None)
        if found is None:
            return TestResult(name, FAIL, f"the program has no map named {map_name!r}", run=last_run)
        for key_text, value in entries.items():
            key = key_bytes(key_text, found["key_size"])
            got_value = found.get("entries", {}).get(key.hex())
            wanted_value = value_bytes(value, found["value_size"])
            if isinstance(got_value, list):  # a per-CPU map: the slot of the CPU the runs ran on
                got_value = got_value[cpu] if cpu < len(got_value) else None
            if got_value is not None:
                got_value = bytes.fromhex(got_value)
            if got_value != wanted_value:
                return TestResult(name, FAIL, f"map {map_name}, key {key_text.removeprefix('hex:')}",
                                  _value_text(wanted_value), _value_text(got_value), run=last_run)
    if expect.output is not None:
        lines = tuple(o.data.decode("utf-8", "replace").rstrip("\n") for r in results for o in r.output
                      if o.kind == "trace_printk")
        if lines != expect.output:
            return TestResult(name, FAIL, "the trace_printk output differs", "\n".join(expect.output) or "(none)",
                              "\n".join(lines) or "(none)")
    if expect.records is not None:
        records = tuple(o.data for r in results for o in r.output if o.kind == "ringbuf")
        if records != expect.records:
            return TestResult(name, FAIL, "the ring buffer records differ", _records_text(expect.records),
                              _records_text(records))
    return TestResult(name, PASS)


def _records_text(records: tuple[bytes, ...]) -> str:
    return "\n".join(r.hex(" ") for r in records) or "(none)"


def _returns(values: tuple[int, ...], hook: str) -> str:
    ptype = PROG_TYPES[hook]
    texts = []
    for v in values:
        label = ptype.return_name(v)
        texts.append(f"{label} ({v})" if label else str(v if v < 1 << 31 else v - (1 << 32)))
    return ", ".join(texts)


def key_bytes(text: str, size: int) -> bytes:
    """A map key as a lesson writes it: a decimal number (little-endian, ``size`` bytes) or ``hex:...``."""
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:])
    return int(text).to_bytes(size, "little")


def value_bytes(value: int | str, size: int) -> bytes | None:
    """A map value as a lesson writes it: an integer, hex bytes, or ``""`` (None: no entry)."""
    if isinstance(value, int):
        return (value & (1 << 8 * size) - 1).to_bytes(size, "little")
    return bytes.fromhex(value) if value else None


def _value_text(value: bytes | None) -> str:
    """A map value for a person: a number (and its bytes), or for a longer value a multiple of 8 bytes, its
    u64 words (``[0] = 3  [1] = 0 ...``), or its bytes."""
    if value is None:
        return "no entry"
    if len(value) in (1, 2, 4, 8):
        return f"{int.from_bytes(value, 'little')} (bytes {value.hex(' ')})"
    if len(value) % 8 == 0:
        words = [int.from_bytes(value[i:i + 8], "little") for i in range(0, len(value), 8)]
        return "u64 words: " + "  ".join(f"[{i}] = {w}" for i, w in enumerate(words))
    return value.hex(" ")


