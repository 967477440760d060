"""``VerifierResult``: what ``verify`` returns (and the web page, the API and the CLI render)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .walk import Event


@dataclass(frozen=True)
class Rejection:
    """Why the program was refused: the kernel's ``message`` and errno name, at instruction ``insn_idx``,
    or -1 for checks made after the walk at no instruction (the combined stack size); JSON gives null."""

    insn_idx: int
    message: str
    errno: str

    def to_json(self) -> dict:
        return {"insn_idx": self.insn_idx if self.insn_idx >= 0 else None, "message": self.message,
                "errno": self.errno}


@dataclass(frozen=True)
class Stats:
    processed: int  # instructions processed, as the kernel counts them (before pruning matches it: higher)
    max_pending: int  # most branches waiting at once

    def to_json(self) -> dict:
        return {"processed": self.processed, "max_pending": self.max_pending}


@dataclass(frozen=True)
class VerifierResult:
    verdict: str  # "accept", "reject", or "incomplete" (stopped at the caller's max_processed: no verdict)
    error: Rejection | None
    stats: Stats
    log: str
    walk: tuple[Event, ...] = field(default=(), repr=False)
    walk_truncated: bool = False

    @property
    def accepted(self) -> bool:
        return self.verdict == "accept"

    def to_json(self, walk: bool = False) -> dict:
        out = {"verdict": self.verdict, "error": self.error.to_json() if self.error else None,
               "stats": self.stats.to_json(), "log": self.log}
        if walk:
            out["walk"] = [e.to_json() for e in self.walk]
            out["walk_truncated"] = self.walk_truncated
        return out
