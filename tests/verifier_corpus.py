"""The verifier corpus: programs with the kernel's verdict on each, recorded in ``tests/data/verifier/*.yaml``.

Each YAML file groups cases by topic (``stack.yaml``, ``loops.yaml``, ...); each document in it is one case::

    name: stack_read_above_frame          # unique in the whole corpus: [a-z0-9_]+
    description: One sentence on what the case teaches.
    prog_type: socket_filter              # a key of app.ebpf.progtypes.PROG_TYPES
    language: c                           # optional: "asm" (the default, not written) or "c"
    unprivileged: true                    # optional: loaded by a user without capabilities (default false)
    source: |                             # our assembly syntax (README "Assembly syntax"), .map lines included;
                                          #   with language c, restricted C (see below)
      r0 = *(u64 *)(r10 + 8)
      exit
    expect: reject                        # accept | reject
    errno: EACCES                         # rejections only: the errno name BPF_PROG_LOAD failed with
    msg: invalid read from stack R10 off=8 size=8   # rejections only: the kernel's first error line, exactly
    insn: 0                               # rejections only: index of the last instruction line the level-1
                                          #   log printed before the error; null when it printed none (CFG
                                          #   errors such as "unreachable insn 5") and for the 1M-instruction
                                          #   limit, whose level-1 log is not taken (see the bench script)
    processed: 1                          # "processed N insns" from the stats line
    states: {total: 0, peak: 0, max_per_insn: 0}   # total_states, peak_states, max_states_per_insn
    origin: "selftests verifier_basic_stack.c: stack_out_of_bounds"   # or "ours"

Everything after ``expect`` is what the kernel said (Linux 6.18, loaded as root, so privileged, unless the case
says ``unprivileged: true``: then as user ``nobody``, see ``app/oracle_unprivileged.py``), written by
``python bench/verifier_corpus.py --update`` and checked by ``--check``; ``msg`` has kernel pointers
(``0xffff...``) replaced by :data:`KPTR`. Maps are created as declared by the ``.map`` lines and the program's
``ld_imm64`` references are patched to their fds before loading; nothing else is passed to the kernel except the
program type's ``expected_attach_type``.

A case in C (``language: c``) is compiled by ``app.ebpf.cc`` (the sandboxed clang, ``-O2 -g``, BPF ISA v3) and
loaded from the object as libbpf would (``app.ebpf.elf.load_elf``: its first program, ``.text`` subprograms
appended, maps from ``.maps``); the kernel also gets the object's BTF and ``func_info`` (``prog_btf_fd``), which
callbacks (``bpf_loop``) and function pointers need, and the object's license. Compiling needs the compiler;
where there is none, :func:`compiler_missing` says why and the tests skip these cases. The recorded counts are
those of the code this compiler makes, so a compiler upgrade can change them (``--check`` shows it).

:func:`load_cases` reads and validates every file (unknown, missing or mistyped keys, duplicate names, unknown
program types, sources that do not assemble) and raises :class:`CorpusError` naming the file, line and key.
Running this module prints a summary: ``python tests/verifier_corpus.py``.
"""
from __future__ import annotations

import functools
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

if __name__ == "__main__":  # run as a script: make ``app`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.ebpf import assemble
from app.ebpf.cc import compile_c, compiler_available
from app.ebpf.elf import ElfError, ElfProgram, load_elf
from app.ebpf.errors import AsmError
from app.ebpf.program import Program
from app.ebpf.progtypes import PROG_TYPES

CORPUS_DIR = Path(__file__).resolve().parent / "data" / "verifier"

#: What a kernel pointer in a message is replaced with.
KPTR = "0xKPTR"

#: Keys in the order they are written; the rejection-only keys come in the middle.
KEY_ORDER = ("name", "description", "prog_type", "language", "unprivileged", "source", "expect", "errno", "msg", "insn",
             "processed", "states", "origin")
REQUIRED = frozenset({"name", "description", "prog_type", "source", "expect", "processed", "states", "origin"})
REJECT_ONLY = frozenset({"errno", "msg", "insn"})
STATE_KEYS = ("total", "peak", "max_per_insn")
#: The errno names BPF_PROG_LOAD gives for a program it refuses.
ERRNOS = frozenset({"EACCES", "EINVAL", "E2BIG", "EPERM", "EFAULT", "ENOTSUPP", "ENOSPC", "EBADF", "ENOMEM"})
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
LANGUAGES = ("asm", "c")


class CorpusError(ValueError):
    """A corpus file that does not follow the schema; the message names the file, line and case."""


@dataclass(frozen=True)
class States:
    """The verifier's state statistics: ``total_states``, ``peak_states`` and ``max_states_per_insn``."""

    total: int
    peak: int
    max_per_insn: int


@dataclass(frozen=True)
class Case:
    """One program and what the kernel decided about it (see the module docstring for each field)."""

    name: str
    description: str
    prog_type: str
    source: str
    expect: str  # "accept" | "reject"
    errno: str | None  # rejections: "EACCES", "EINVAL", "E2BIG", ...
    msg: str | None  # rejections: the first error line
    insn: int | None  # rejections: the instruction the log names last before the error (None: none printed)
    processed: int
    states: States
    origin: str
    topic: str  # the file's stem, e.g. "stack"
    path: Path
    line: int  # 1-based line of the document in ``path``
    language: str = "asm"  # "asm" | "c"
    unprivileged: bool = False  # loaded without capabilities

    @property
    def privileged(self) -> bool:
        """The ``privileged`` argument of ``verify`` for this case."""
        return not self.unprivileged

    @property
    def accepted(self) -> bool:
        return self.expect == "accept"

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line} ({self.name})"

    def program(self) -> Program:
        """The assembled program (``Program.maps`` lists the maps its ``.map`` lines declare), or for C the
        program loaded from the compiled object; raises :class:`CorpusError` if the C does not compile."""
        if self.language == "c":
            return self.elf().program
        return assemble(self.source)

    def elf(self) -> ElfProgram:
        """A C case's compiled object, loaded (cached per source); raises :class:`CorpusError`."""
        if self.language != "c":
            raise ValueError(f"{self.where}: not a C case")
        try:
            return _compile(self.source, self.prog_type)
        except CorpusError as e:
            raise CorpusError(f"{self.where}: {e}") from None


def compiler_missing() -> str:
    """Why C cases cannot be compiled here ("" when they can)."""
    ok, why = compiler_available()
    return "" if ok else why


@functools.cache
def _compile(source: str, prog_type: str) -> ElfProgram:
    result = compile_c(source)
    if not result.ok:
        first = result.errors[0] if result.errors else None
        raise CorpusError(f"source does not compile: {first.line}:{first.col}: {first.message}" if first else
                          "source does not compile")
    try:
        return load_elf(result.object, prog_type=prog_type)
    except ElfError as e:
        raise CorpusError(f"the compiled object does not load: {e}") from None


# --------------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------------


def corpus_files(directory: Path = CORPUS_DIR) -> list[Path]:
    """The corpus files, sorted by name."""
    return sorted(directory.glob("*.yaml"))


def read_documents(path: Path) -> Iterator[tuple[int, Any, dict[str, int]]]:
    """Each YAML document of ``path`` as (1-based line of its first key, plain data, 1-based line of each key's
    value); safe types only."""
    text = path.read_text(encoding="utf-8")
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            value_lines = {}
            if isinstance(node, yaml.MappingNode):
                value_lines = {k.value: v.start_mark.line + 1 for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            yield node.start_mark.line + 1, loader.construct_document(node), value_lines
    except yaml.YAMLError as e:
        raise CorpusError(f"{path.name}: not valid YAML: {e}") from None
    finally:
        loader.dispose()


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_type(where: str, key: str, value: Any, want: type, *, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    # bool is an int in Python: refuse it where a count is wanted (YAML ``yes`` would slip through)
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise CorpusError(f"{where}: key {key!r} must be {want.__name__}{' or null' if nullable else ''}, "
                          f"got {_type_name(value)} {value!r}")


def parse_case(doc: Any, path: Path, line: int, *, require_expectations: bool = True,
               value_lines: dict[str, int] | None = None) -> Case:
    """Validate one document and build its :class:`Case`.

    With ``require_expectations=False`` (used by ``bench/verifier_corpus.py --update`` for newly written cases)
    the kernel's fields may be missing: ``expect`` then defaults to "accept" and the counts to 0.
    """
    where = f"{path.name}:{line}"
    if not isinstance(doc, dict):
        raise CorpusError(f"{where}: a case must be a mapping, got {_type_name(doc)}")
    name = doc.get("name")
    if isinstance(name, str):
        where = f"{where} ({name})"
    unknown = sorted(set(doc) - set(KEY_ORDER), key=str)
    if unknown:
        raise CorpusError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(KEY_ORDER)}")
    required = REQUIRED if require_expectations else REQUIRED - {"expect", "processed", "states"}
    missing = [k for k in KEY_ORDER if k in required and k not in doc]
    if missing:
        raise CorpusError(f"{where}: missing key(s) {', '.join(missing)}")

    for key in ("name", "description", "prog_type", "source", "origin"):
        _check_type(where, key, doc[key], str)
        if not doc[key].strip():
            raise CorpusError(f"{where}: key {key!r} is empty")
    if not _NAME_RE.match(name):
        raise CorpusError(f"{where}: name {name!r} must match [a-z0-9_]+")
    if doc["prog_type"] not in PROG_TYPES:
        raise CorpusError(f"{where}: unknown prog_type {doc['prog_type']!r}; known: {', '.join(PROG_TYPES)}")

    expect = doc.get("expect", "accept")
    if expect not in ("accept", "reject"):
        raise CorpusError(f"{where}: expect must be 'accept' or 'reject', got {expect!r}")
    if expect == "accept":
        extra = sorted(REJECT_ONLY & set(doc))
        if extra:
            raise CorpusError(f"{where}: an accepted case has no {', '.join(extra)}")
    elif require_expectations:
        missing = [k for k in ("errno", "msg", "insn") if k not in doc]
        if missing:
            raise CorpusError(f"{where}: a rejected case needs {', '.join(missing)}")
    errno = doc.get("errno")
    _check_type(where, "errno", errno, str, nullable=True)
    if errno is not None and errno not in ERRNOS:
        raise CorpusError(f"{where}: unknown errno {errno!r}; known: {', '.join(sorted(ERRNOS))}")
    msg = doc.get("msg")
    _check_type(where, "msg", msg, str, nullable=expect == "accept" or not require_expectations)
    if msg is not None and not msg.strip():
        raise CorpusError(f"{where}: msg is empty")
    insn = doc.get("insn")
    _check_type(where, "insn", insn, int, nullable=True)
    processed = doc.get("processed", 0)
    _check_type(where, "processed", processed, int)
    states = _parse_states(where, doc.get("states", {k: 0 for k in STATE_KEYS}))
    for key, value in (("insn", insn), ("processed", processed)):
        if value is not None and value < 0:
            raise CorpusError(f"{where}: {key} must not be negative")

    language = doc.get("language", "asm")
    if language not in LANGUAGES:
        raise CorpusError(f"{where}: language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    unprivileged = doc.get("unprivileged", False)
    _check_type(where, "unprivileged", unprivileged, bool)
    if unprivileged and language != "asm":  # the BTF a C case needs may not be loaded without CAP_BPF
        raise CorpusError(f"{where}: an unprivileged case must be in assembly")
    if language == "asm":  # C is compiled when the case's program is asked for (it needs the compiler)
        try:
            program = assemble(doc["source"])
        except AsmError as e:
            # a "|" block starts on the line after "source: |"
            at = f" (file line {value_lines['source'] + e.line})" if value_lines and "source" in value_lines else ""
            raise CorpusError(f"{where}: source does not assemble: {e}{at}") from None
        if insn is not None and insn >= len(program):
            raise CorpusError(f"{where}: insn {insn} is past the program's {len(program)} instructions")
    return Case(name=name, description=doc["description"], prog_type=doc["prog_type"], source=doc["source"],
                expect=expect, errno=errno, msg=msg, insn=insn, processed=processed, states=states,
                origin=doc["origin"], topic=path.stem, path=path, line=line, language=language,
                unprivileged=unprivileged)


def _parse_states(where: str, value: Any) -> States:
    _check_type(where, "states", value, dict)
    keys = set(value)
    if keys != set(STATE_KEYS):
        raise CorpusError(f"{where}: states must have exactly {', '.join(STATE_KEYS)}; got {', '.join(sorted(keys))}")
    for k in STATE_KEYS:
        _check_type(where, f"states.{k}", value[k], int)
    return States(**{k: value[k] for k in STATE_KEYS})


def load_file(path: Path, *, require_expectations: bool = True) -> list[Case]:
    """The cases of one file, validated."""
    return [parse_case(doc, path, line, require_expectations=require_expectations, value_lines=value_lines)
            for line, doc, value_lines in read_documents(path)]


def load_cases(directory: Path = CORPUS_DIR, *, require_expectations: bool = True) -> list[Case]:
    """Every case of the corpus, file by file (sorted) and in file order; raises :class:`CorpusError`."""
    cases: list[Case] = []
    seen: dict[str, Case] = {}
    for path in corpus_files(directory):
        for case in load_file(path, require_expectations=require_expectations):
            if case.name in seen:
                raise CorpusError(f"{case.where}: duplicate name, first used at {seen[case.name].where}")
            seen[case.name] = case
            cases.append(case)
    if not cases:
        raise CorpusError(f"no cases under {directory}")
    return cases


# --------------------------------------------------------------------------------------------------
# Writing (used by bench/verifier_corpus.py --update; deterministic)
# --------------------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _states_representer(dumper: yaml.SafeDumper, value: States):
    return dumper.represent_mapping("tag:yaml.org,2002:map",
                                    [(k, getattr(value, k)) for k in STATE_KEYS], flow_style=True)


_Dumper.add_representer(str, _str_representer)
_Dumper.add_representer(States, _states_representer)


def normalise_source(source: str) -> str:
    """Trailing blanks removed from every line and exactly one final newline, so YAML keeps it a ``|`` block."""
    lines = [ln.rstrip() for ln in source.expandtabs(4).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


def case_document(case: Case) -> dict:
    """The case as the ordered mapping it is written as."""
    doc = {"name": case.name, "description": case.description, "prog_type": case.prog_type}
    if case.language != "asm":
        doc["language"] = case.language
    if case.unprivileged:
        doc["unprivileged"] = True
    doc.update(source=normalise_source(case.source), expect=case.expect)
    if case.expect == "reject":
        doc.update(errno=case.errno, msg=case.msg, insn=case.insn)
    doc.update(processed=case.processed, states=case.states, origin=case.origin)
    return doc


def dump_cases(cases: list[Case], header: str = "") -> str:
    """A corpus file's text: the header comment lines, then one ``---`` document per case in the given order."""
    body = yaml.dump_all([case_document(c) for c in cases], Dumper=_Dumper, explicit_start=True,
                         sort_keys=False, allow_unicode=True, width=4096, default_flow_style=False)
    return header + body


def file_header(path: Path) -> str:
    """The comment lines at the top of a corpus file (kept by ``--update``)."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line.startswith("#"):
            break
        out.append(line)
    return "".join(out)


def summary(cases: list[Case]) -> str:
    """Case counts by topic and verdict, and rejections by errno."""
    accepted = sum(c.accepted for c in cases)
    lines = [f"{len(cases)} cases: {accepted} accept, {len(cases) - accepted} reject"]
    topics = Counter((c.topic, c.expect) for c in cases)
    for topic in sorted({c.topic for c in cases}):
        a, r = topics[(topic, "accept")], topics[(topic, "reject")]
        lines.append(f"  {topic:28} {a + r:4}  ({a} accept, {r} reject)")
    errnos = Counter(c.errno for c in cases if not c.accepted)
    lines.append("  rejections by errno: " + ", ".join(f"{k} {v}" for k, v in sorted(errnos.items())))
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        print(summary(load_cases()))
    except CorpusError as e:
        sys.exit(f"corpus error: {e}")
