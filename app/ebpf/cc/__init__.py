"""Restricted C -> BPF object, compiled in a sandbox: ``compile_c(source) -> CompileResult``.

The source is untrusted. A compile

1. refuses sources over 64 KiB, with NUL characters, or with an include the playground cannot vouch for
   (:mod:`.scan`: absolute paths, ``..``, computed names, ``#embed``, ``#pragma GCC dependency``), naming
   the line;
2. writes ``program.c`` and a fresh include directory (:mod:`.headers`: our ``bpf/bpf_helpers.h`` generated
   from the helper table, plus a copy of the toolchain's UAPI headers) into a new private temporary
   directory;
3. runs the compiler (:mod:`.toolchain`: the ``ziglang`` package, or the clang named by
   ``EBPF_PLAYGROUND_CC``) with options that are all ours, in the sandbox of :mod:`.sandbox`: Landlock
   limits it to the toolchain's files and the temporary directory, ``setrlimit`` to 2 GiB of address
   space and 64 MiB per written file, a wall-clock timeout (10 s) kills its process group, and its
   environment is empty but for what the toolchain needs;
4. checks the compiler's own list of the files it read (``-MD``): anything outside the temporary directory
   and the toolchain's own files discards the whole result;
5. parses the diagnostics into (line, col, severity, message) for ``program.c`` and removes the directory.

Where the kernel has no Landlock, step 3 runs in two stages: preprocess (``-E``), check the dependency
list and refuse inline assembly (``asm``, which could ``.incbin`` a file) in the preprocessed text, then
compile the preprocessed text, in which no ``#include`` is left.

Without a compiler the result says so plainly (``available`` is False, one error diagnostic with the
reason and the fix).
"""
from __future__ import annotations

import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from . import diagnostics, headers, sandbox, scan
from .diagnostics import SOURCE_NAME, Diagnostic
from .sandbox import Limits
from .toolchain import CPUS, OPT_LEVELS, Toolchain, find_toolchain

MAX_OBJECT_BYTES = 16 << 20

_ASM_RE = re.compile(r"\b(asm|__asm|__asm__)\b")
_STRING_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')


@dataclass(frozen=True)
class CompileResult:
    """The outcome of one compile.

    ``object`` is the ELF object (None when compilation failed or was refused); ``diagnostics`` the
    compiler's messages (or the refusal), errors and warnings alike; ``command`` the argv that ran, with the
    temporary directory shown as ``$TMP``; ``duration`` wall-clock seconds; ``log`` the compiler's output
    with paths cleaned; ``toolchain`` which compiler ran; ``sandbox`` the isolation layers in force;
    ``available`` is False when this server has no C compiler at all.
    """

    object: bytes | None
    diagnostics: list[Diagnostic]
    command: list[str]
    duration: float
    log: str = ""
    toolchain: str = ""
    sandbox: tuple[str, ...] = ()
    available: bool = True
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.object is not None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    def to_json(self) -> dict:
        return {"ok": self.ok, "available": self.available, "timed_out": self.timed_out,
                "diagnostics": [d.to_json() for d in self.diagnostics], "command": self.command,
                "duration": round(self.duration, 4), "log": self.log, "toolchain": self.toolchain,
                "sandbox": list(self.sandbox), "object_size": len(self.object) if self.object else 0}


def compiler_available() -> tuple[bool, str]:
    """(True, description) when C can be compiled here; (False, the reason and the fix) otherwise."""
    tc, why = find_toolchain()
    return (True, tc.description) if tc else (False, why)


def compile_c(source: str, *, cpu: str = "v3", optimize: str = "2", debug: bool = True,
              limits: Limits | None = None, toolchain: Toolchain | None = None,
              use_landlock: bool = True) -> CompileResult:
    """Compile ``source`` (restricted C) to a BPF ELF object in the sandbox; never raises for bad input.

    ``cpu`` is the BPF ISA version (``v1``..``v4``; the kernel here takes them all), ``optimize`` the
    ``-O`` level, ``debug`` adds ``-g`` (BTF: needed for ``.maps`` and line info); ``limits`` default to
    :class:`Limits()` (10 s, 2 GiB). ``toolchain`` overrides
    the choice of :func:`.toolchain.find_toolchain`. ``use_landlock=False`` forces the two-stage compile
    used where the kernel lacks Landlock (for tests).
    """
    start = time.monotonic()
    limits = limits or Limits()
    if cpu not in CPUS:
        raise ValueError(f"cpu must be one of {', '.join(CPUS)}")
    if optimize not in OPT_LEVELS:
        raise ValueError(f"optimize must be one of {', '.join(OPT_LEVELS)}")

    def refused(diags: list[Diagnostic], **kw) -> CompileResult:
        return CompileResult(None, diags, [], time.monotonic() - start, **kw)

    source = scan.normalize_newlines(source)
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > scan.MAX_SOURCE_BYTES:
        return refused([Diagnostic(0, 0, "error", f"the program is {size} bytes; at most "
                                                  f"{scan.MAX_SOURCE_BYTES} bytes of C are accepted", "")])
    if "\0" in source:
        line = source[:source.index("\0")].count("\n") + 1
        return refused([Diagnostic(line, 1, "error", "the program contains a NUL character")])
    refusals = scan.scan(source)
    if refusals:
        return refused([Diagnostic(r.line, r.col, "error", r.message) for r in refusals])

    tc, why = (toolchain, "") if toolchain else find_toolchain()
    if tc is None:
        return refused([Diagnostic(0, 0, "error", why, "")], available=False)
    landlock = use_landlock and sandbox.landlock_abi() > 0
    layers = sandbox.describe(limits, sandbox.landlock_abi() if landlock else 0)
    tmp = tempfile.mkdtemp(prefix="ebpf-cc-")
    try:
        return _compile_in(Path(tmp), source, tc, cpu=cpu, optimize=optimize, debug=debug, limits=limits,
                           landlock=landlock, layers=layers, start=start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compile_in(tmp: Path, source: str, tc: Toolchain, *, cpu: str, optimize: str, debug: bool,
                limits: Limits, landlock: bool, layers: tuple[str, ...], start: float) -> CompileResult:
    for sub in ("src", "include", "tmp", "zig-cache"):
        (tmp / sub).mkdir()
    (tmp / "src" / SOURCE_NAME).write_text(source, encoding="utf-8", errors="surrogatepass")
    headers.write_include_tree(tmp / "include", headers.include_tree(headers.find_uapi_root()))
    d = str(tmp)

    def run(src: str, out: str, preprocess_only: bool = False):
        argv = tc.command(source=src, output=out, include_dir=f"{d}/include", deps=f"{d}/tmp/deps.d",
                          prefix_map=d, cpu=cpu, optimize=optimize, debug=debug,
                          preprocess_only=preprocess_only)
        outcome = sandbox.run(argv, cwd=f"{d}/src", env=tc.env(d), read_paths=list(tc.read_paths),
                              write_paths=[d], limits=limits, use_landlock=landlock)
        return argv, outcome

    def result(argv, outcome, obj=None, extra=()) -> CompileResult:
        log = diagnostics.clean_paths(outcome.output, d) if outcome else ""
        diags = list(extra) + diagnostics.parse(log)
        if outcome is not None and "out of memory" in log.lower():
            diags.append(Diagnostic(0, 0, "error", f"the compiler ran out of memory (the limit is "
                                                   f"{limits.memory >> 20} MiB) and was stopped", ""))
        if outcome is not None and outcome.timed_out:
            diags.append(Diagnostic(0, 0, "error", f"the compiler did not finish within {limits.timeout:g} s "
                                                   "and was stopped", ""))
        elif outcome is not None and obj is None and not any(x.severity == "error" for x in diags):
            diags.append(Diagnostic(0, 0, "error", _exit_message(outcome.returncode, limits), ""))
        command = [a.replace(d, "$TMP") for a in argv]
        return CompileResult(obj, diags, command, time.monotonic() - start, log=log, toolchain=tc.description,
                             sandbox=layers, timed_out=bool(outcome and outcome.timed_out))

    src = SOURCE_NAME
    if not landlock:
        argv, outcome = run(SOURCE_NAME, "program.i", preprocess_only=True)
        if outcome.returncode != 0:
            return result(argv, outcome)
        problem = _check_deps(tmp, tc.read_paths) or _check_preprocessed(tmp / "src" / "program.i")
        if problem:
            return result(argv, None, extra=[problem])
        src = "program.i"
    argv, outcome = run(src, "program.o")
    obj_path = tmp / "src" / "program.o"
    problem = _check_deps(tmp, tc.read_paths) if outcome.returncode == 0 else None
    if problem:
        return result(argv, None, extra=[problem])  # the compiler's output is not shown either
    obj = None
    if outcome.returncode == 0 and obj_path.is_file() and not obj_path.is_symlink() and \
            obj_path.stat().st_size <= MAX_OBJECT_BYTES:
        obj = obj_path.read_bytes()
    return result(argv, outcome, obj)


def _exit_message(returncode: int | None, limits: Limits) -> str:
    if returncode is not None and returncode < 0:
        return (f"the compiler was stopped by signal {-returncode} (it may have run out of its "
                f"{limits.memory >> 20} MiB of memory)")
    return f"the compiler failed (exit status {returncode}) without a message"


def _check_deps(tmp: Path, toolchain_paths: tuple[str, ...]) -> Diagnostic | None:
    """Every file the compiler read must lie in the temporary directory or the toolchain's own files (zig
    puts its builtin headers, ``stdint.h`` and the like, before ours) -- from the ``-MD`` dependency list."""
    deps = tmp / "tmp" / "deps.d"
    if not deps.is_file():
        return None
    text = deps.read_text(errors="replace").replace("\\\n", " ")
    _, _, files = text.partition(":")
    roots = [str(tmp.resolve())] + [str(Path(p).resolve()) for p in toolchain_paths if Path(p).is_dir()]
    for name in files.split():
        path = Path(name) if name.startswith("/") else tmp / "src" / name
        resolved = str(path.resolve())
        if not any(resolved == r or resolved.startswith(r.rstrip("/") + "/") for r in roots):
            return Diagnostic(0, 0, "error", "the program made the compiler read a file outside the playground's "
                                             "headers; the compile was discarded", "")
    return None


def _check_preprocessed(path: Path) -> Diagnostic | None:
    """No inline assembly in the preprocessed program (without Landlock, ``.incbin`` could read a file)."""
    line_no, current = 0, SOURCE_NAME
    for raw in path.read_text(errors="replace").splitlines():
        marker = re.match(r'^# (\d+) "([^"]*)"', raw)
        if marker:
            line_no, current = int(marker.group(1)) - 1, marker.group(2)
            continue
        line_no += 1
        if _ASM_RE.search(_STRING_RE.sub('""', raw)):
            where = line_no if current.endswith(SOURCE_NAME) else 0
            return Diagnostic(where, 0, "error", "inline assembly (asm) is not available on this server: its "
                                                 "compile sandbox needs Landlock, which the kernel lacks")
    return None


__all__ = [
    "CPUS",
    "OPT_LEVELS",
    "CompileResult",
    "Diagnostic",
    "Limits",
    "Toolchain",
    "compile_c",
    "compiler_available",
    "find_toolchain",
]
