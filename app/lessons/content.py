"""Lessons as content: the files under ``lessons/`` read into plain dataclasses, checked as they are read.

A lesson is a folder ``lessons/NN-slug/`` (``NN`` is its place in the course, ``slug`` its name in URLs and
in the verifier's message catalogue, ``app.ebpf.verifier.explain.LESSON_SLUGS``) holding:

``lesson.toml``
    the manifest: ``title``, ``unit``, ``hook`` (a program type), ``summary`` (one sentence, for the index
    and link previews), optional ``concepts`` (short tags), ``hints`` (from a nudge to near the answer),
    ``max_processed`` (a bound on the verifier's processed instructions the exercise asks for), and the
    ``[[tests]]``: each a ``name``, the run's ``input``, ``env`` and ``seeds`` in the shape of a
    playground setup (``app.web.setups``), and ``[tests.expect]``;
``text.md``
    the explanation and the task, in Markdown (fenced ``ebpf`` and ``c`` blocks are highlighted);
``starter.s`` and ``solution.s``
    the program the editor opens with and one that passes; ``starter.c`` and ``solution.c`` may add C.

``expect`` says what the learner's program must do on that input: ``return`` (a number or the hook's name
for it, ``XDP_DROP``, for every packet of the test) or ``returns`` (one per packet); ``packet`` (hex of the
packet after the last run, or ``"same"``); ``maps`` (``{map: {key: value}}``: keys are decimal numbers, or
``hex:...`` bytes; values are integers, or hex strings of the whole value, or ``""`` for "no such entry";
keys not named are not checked; a per-CPU map's value is the one of the CPU the test runs on, ``env.cpu``); ``output`` (the ``bpf_trace_printk`` lines, in order); ``records`` (hex of
each ring buffer record submitted or output, in order, over all the test's runs). Every test also asks that
the verifier accepts the program for ``hook``.

``load_lessons(directory)`` reads them all in course order; anything malformed raises ``LessonFormatError``
naming the file and the field, so a broken lesson stops the app from starting (and fails the tests) rather
than a learner's page. The tests' inputs are checked as ``/api/v1/run`` checks a body.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from app.ebpf.progtypes import PROG_TYPES
from app.web.inputs import FieldError, Limits
from app.web.jsonbody import ApiError, run_inputs

LESSONS_DIR = Path(__file__).resolve().parent.parent.parent / "lessons"
FOLDER = re.compile(r"(?P<number>[0-9]{2})-(?P<slug>[a-z][a-z0-9-]{1,40})")
LANGUAGES = {"asm": ".s", "c": ".c"}
MANIFEST_FIELDS = ("title", "unit", "hook", "summary", "concepts", "hints", "max_processed", "tests")
TEST_FIELDS = ("name", "input", "env", "seeds", "expect")
EXPECT_FIELDS = ("return", "returns", "packet", "maps", "output", "records")


class LessonFormatError(ValueError):
    """A lesson file that cannot be used: ``path`` and ``where`` (the field) name the place."""

    def __init__(self, path: Path, where: str, message: str):
        super().__init__(f"{path}: {where + ': ' if where else ''}{message}")
        self.path, self.where, self.message = path, where, message


@dataclass(frozen=True)
class Expect:
    """What one test asks of a run (see the module docstring); None: not checked."""

    returns: tuple[int, ...] | None = None  # one per packet (a single ``return`` is repeated)
    packet: bytes | str | None = None  # "same": the input packet unchanged
    maps: dict[str, dict[str, int | str]] = field(default_factory=dict)
    output: tuple[str, ...] | None = None
    records: tuple[bytes, ...] | None = None


@dataclass(frozen=True)
class LessonTest:
    """One test vector: a ``name`` and the ``setup`` it runs (``type``, ``input``, ``env``, ``seeds``: a
    playground setup without the program), and what it ``expect``s."""

    name: str
    setup: dict[str, Any]
    expect: Expect


@dataclass(frozen=True)
class Lesson:
    """One lesson. ``number`` is its place (1, 2, ...); ``starter`` and ``solution`` map a language
    (``asm``, ``c``) to its program text; ``text`` is Markdown."""

    slug: str
    number: int
    title: str
    unit: str
    hook: str
    summary: str
    text: str
    starter: dict[str, str]
    solution: dict[str, str]
    tests: tuple[LessonTest, ...]
    concepts: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()
    max_processed: int | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lang for lang in LANGUAGES if lang in self.starter)


def load_lessons(directory: Path = LESSONS_DIR) -> tuple[Lesson, ...]:
    """Every lesson folder in ``directory``, in course order; numbers must run 1, 2, 3 ... and slugs differ."""
    lessons = read_lessons(directory)
    if len({lesson.slug for lesson in lessons}) != len(lessons):
        raise LessonFormatError(directory, "", "two lessons have the same slug")
    for i, lesson in enumerate(lessons, 1):
        if lesson.number != i:
            raise LessonFormatError(directory, "", f"lesson {lesson.slug!r} is number {lesson.number}, expected {i}")
    return tuple(lessons)


def read_lessons(directory: Path = LESSONS_DIR) -> tuple[Lesson, ...]:
    """Each lesson folder in ``directory`` read on its own, in folder order, without checking the numbering
    (``load_lessons`` does): for tests that look at lessons one by one while a course is being written."""
    lessons = []
    for path in sorted(p for p in directory.iterdir() if p.is_dir()):
        m = FOLDER.fullmatch(path.name)
        if m is None:
            raise LessonFormatError(path, "", "a lesson folder is named NN-slug (two digits, lowercase words)")
        lessons.append(load_lesson(path, int(m["number"]), m["slug"]))
    return tuple(lessons)


@cache
def course() -> tuple[Lesson, ...]:
    """The lessons of ``LESSONS_DIR``, read once per process."""
    return load_lessons()


def lesson_by_slug(slug: str) -> Lesson | None:
    return next((lesson for lesson in course() if lesson.slug == slug), None)


def load_lesson(path: Path, number: int, slug: str) -> Lesson:
    manifest_path = path / "lesson.toml"
    try:
        manifest = tomllib.loads(_read(manifest_path))
    except tomllib.TOMLDecodeError as e:
        raise LessonFormatError(manifest_path, "", str(e)) from None
    unknown = sorted(set(manifest) - set(MANIFEST_FIELDS))
    if unknown:
        raise LessonFormatError(manifest_path, unknown[0], f"unknown field (fields: {', '.join(MANIFEST_FIELDS)})")
    hook = _text(manifest, "hook", manifest_path)
    if hook not in PROG_TYPES:
        raise LessonFormatError(manifest_path, "hook", f"unknown program type {hook!r}")
    starter, solution = {}, {}
    for language, suffix in LANGUAGES.items():
        if (path / f"starter{suffix}").exists() or language == "asm":
            starter[language] = _read(path / f"starter{suffix}")
            solution[language] = _read(path / f"solution{suffix}")
    max_processed = manifest.get("max_processed")
    if max_processed is not None and (not isinstance(max_processed, int) or max_processed < 1):
        raise LessonFormatError(manifest_path, "max_processed", "must be a whole number from 1")
    tests = manifest.get("tests", [])
    if not isinstance(tests, list) or not tests:
        raise LessonFormatError(manifest_path, "tests", "a lesson needs at least one [[tests]]")
    return Lesson(
        slug=slug, number=number, title=_text(manifest, "title", manifest_path),
        unit=_text(manifest, "unit", manifest_path), hook=hook, summary=_text(manifest, "summary", manifest_path),
        text=_read(path / "text.md"), starter=starter, solution=solution,
        tests=tuple(_test(t, i, hook, manifest_path) for i, t in enumerate(tests)),
        concepts=_strings(manifest, "concepts", manifest_path), hints=_strings(manifest, "hints", manifest_path),
        max_processed=max_processed,
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LessonFormatError(path, "", "missing") from None


def _text(data: dict[str, Any], key: str, path: Path, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise LessonFormatError(path, where + key, "required: non-empty text")
    return value


def _strings(data: dict[str, Any], key: str, path: Path) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LessonFormatError(path, key, "must be a list of non-empty texts")
    return tuple(value)


def _test(data: Any, index: int, hook: str, path: Path) -> LessonTest:
    where = f"tests[{index}]"
    if not isinstance(data, dict):
        raise LessonFormatError(path, where, "must be a table")
    unknown = sorted(set(data) - set(TEST_FIELDS))
    if unknown:
        raise LessonFormatError(path, f"{where}.{unknown[0]}", f"unknown field (fields: {', '.join(TEST_FIELDS)})")
    name = _text(data, "name", path, f"{where}.")
    setup = {"type": hook, **{k: data[k] for k in ("input", "env", "seeds") if k in data}}
    try:
        inputs = run_inputs(setup, Limits(64 * 1024, 64 * 1024, 1_000_000))
    except ApiError as e:
        raise LessonFormatError(path, f"{where}.{e.body.get('field', '')}", e.body["message"]) from None
    except FieldError as e:
        raise LessonFormatError(path, f"{where}.{e.field}", e.message) from None
    runs = len(inputs.packets) if inputs.packets else 1
    return LessonTest(name, setup, _expect(data.get("expect", {}), f"{where}.expect", hook, runs, path))


def _expect(data: Any, where: str, hook: str, runs: int, path: Path) -> Expect:
    if not isinstance(data, dict) or not data:
        raise LessonFormatError(path, where, "required: what the run must give (return, packet, maps, output)")
    unknown = sorted(set(data) - set(EXPECT_FIELDS))
    if unknown:
        raise LessonFormatError(path, f"{where}.{unknown[0]}", f"unknown field (fields: {', '.join(EXPECT_FIELDS)})")
    if "return" in data and "returns" in data:
        raise LessonFormatError(path, f"{where}.returns", "give return or returns, not both")
    returns = None
    if "return" in data:
        returns = (_return_value(data["return"], hook, path, f"{where}.return"),) * runs
    elif "returns" in data:
        values = data["returns"]
        if not isinstance(values, list) or len(values) != runs:
            raise LessonFormatError(path, f"{where}.returns", f"must list {runs} return values, one per packet")
        returns = tuple(_return_value(v, hook, path, f"{where}.returns[{i}]") for i, v in enumerate(values))
    packet = data.get("packet")
    if packet is not None:
        if not isinstance(packet, str):
            raise LessonFormatError(path, f"{where}.packet", 'must be hex or "same"')
        if packet != "same":
            try:
                packet = bytes.fromhex(packet)
            except ValueError:
                raise LessonFormatError(path, f"{where}.packet", 'must be hex or "same"') from None
    maps = data.get("maps", {})
    if not isinstance(maps, dict) or not all(isinstance(v, dict) for v in maps.values()):
        raise LessonFormatError(path, f"{where}.maps", "must be {map name: {key: value}}")
    for name, entries in maps.items():
        for key, value in entries.items():
            if not (re.fullmatch(r"[0-9]{1,20}", key) or re.fullmatch(r"hex:([0-9a-f]{2})+", key)):
                raise LessonFormatError(path, f"{where}.maps.{name}", f"key {key!r}: a decimal number or hex:bytes")
            if not (isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"([0-9a-f]{2})*", value))):
                raise LessonFormatError(path, f"{where}.maps.{name}", f"value of {key!r}: an integer, hex bytes or \"\"")
    output = data.get("output")
    if output is not None and not (isinstance(output, list) and all(isinstance(v, str) for v in output)):
        raise LessonFormatError(path, f"{where}.output", "must be a list of lines")
    records = data.get("records")
    if records is not None:
        try:
            records = tuple(bytes.fromhex(r) for r in records)
        except (TypeError, ValueError):
            raise LessonFormatError(path, f"{where}.records", "must be a list of hex records") from None
    return Expect(returns, packet, maps, tuple(output) if output is not None else None, records)


def _return_value(value: Any, hook: str, path: Path, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise LessonFormatError(path, where, "must be a number or a return code's name")
    if isinstance(value, int):
        return value & (1 << 64) - 1
    codes = {name: number for number, name in PROG_TYPES[hook].return_codes.items()}
    if value not in codes:
        raise LessonFormatError(path, where, f"{hook} has no return code {value!r} "
                                             f"(it names: {', '.join(codes) or 'none'})")
    return codes[value] & (1 << 64) - 1
