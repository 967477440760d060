"""Compiler output -> ``Diagnostic`` records with line numbers in the user's ``program.c``.

Clang prints ``file:line:col: severity: message`` (``severity`` is ``error``, ``fatal error``, ``warning``,
``note`` or ``remark``), followed by the source line and a caret; messages without a location look like
``clang: error: ...`` or ``error: ...``. Paths inside the compile's temporary directory are shown relative
to it (``program.c``, ``include/bpf/bpf_helpers.h``), so no server path reaches the user.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

SOURCE_NAME = "program.c"

_LOCATED_RE = re.compile(
    r"^(?P<file>[^\s:][^:\n]*):(?P<line>\d+):(?P<col>\d+): (?P<sev>fatal error|error|warning|note|remark): "
    r"(?P<msg>.*)$")
_BARE_RE = re.compile(r"^(?:[\w.+-]+: )?(?P<sev>fatal error|error|warning): (?P<msg>.*)$")


@dataclass(frozen=True)
class Diagnostic:
    """One compiler message. ``line``/``col`` are 1-based (0 when the message has no location); ``file``
    is ``program.c`` for the user's source, a path under ``include/`` for our headers, or "" when none."""

    line: int
    col: int
    severity: str  # "error", "warning", "note" ("fatal error" is reported as "error")
    message: str
    file: str = SOURCE_NAME

    def to_json(self) -> dict:
        return {"line": self.line, "col": self.col, "severity": self.severity, "message": self.message,
                "file": self.file}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}: " if self.line else (f"{self.file}: " if self.file else "")
        return f"{where}{self.severity}: {self.message}"


def clean_paths(text: str, sandbox_dir: str) -> str:
    """``text`` with the temporary directory's path removed (``<tmp>/src/program.c`` -> ``program.c``)."""
    return text.replace(f"{sandbox_dir}/src/", "").replace(f"{sandbox_dir}/", "").replace(sandbox_dir, ".")


def parse(output: str) -> list[Diagnostic]:
    """Every diagnostic in ``output`` (already cleaned of sandbox paths), in order."""
    out: list[Diagnostic] = []
    for raw in output.splitlines():
        m = _LOCATED_RE.match(raw)
        if m:
            sev = "error" if m["sev"] == "fatal error" else m["sev"]
            out.append(Diagnostic(int(m["line"]), int(m["col"]), sev, m["msg"].strip(), m["file"]))
            continue
        m = _BARE_RE.match(raw)
        if m:
            sev = "error" if m["sev"] == "fatal error" else m["sev"]
            out.append(Diagnostic(0, 0, sev, m["msg"].strip(), ""))
    return out
