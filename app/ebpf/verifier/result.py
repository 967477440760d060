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
        return {"insn": self.insn_idx if self.insn_idx >= 0 else None, "message": self.message,
                "errno": self.errno}


@dataclass(frozen=True)
class Stats:
    """The kernel's statistics line (``processed N insns (limit 1000000) max_states_per_insn M total_states T
    peak_states P mark_read 0``): instructions ``processed``; states kept for pruning in all
    (``total_states``), at most at once (``peak_states``), and at most at one instruction
    (``max_states_per_insn``); plus ``max_pending``, the most branches waiting at once (the kernel's
    jump-sequence limit counts those)."""

    processed: int
    max_pending: int = 0
    total_states: int = 0
    peak_states: int = 0
    max_states_per_insn: int = 0

    def line(self, limit: int) -> str:
        return (f"processed {self.processed} insns (limit {limit}) max_states_per_insn {self.max_states_per_insn} "
                f"total_states {self.total_states} peak_states {self.peak_states} mark_read 0")

    def to_json(self) -> dict:
        return {"processed_insns": self.processed, "total_states": self.total_states,
                "peak_states": self.peak_states, "max_states_per_insn": self.max_states_per_insn,
                "max_pending": self.max_pending}


@dataclass(frozen=True)
class VerifierResult:
    verdict: str  # "accept", "reject", or "incomplete" (stopped at the caller's max_processed: no verdict)
    error: Rejection | None
    stats: Stats
    log: str
    walk: tuple[Event, ...] = field(default=(), repr=False)
    walk_truncated: bool = False
    privileged: bool = True  # checked as for a root loader (False: verify(..., privileged=False))
    prog_type: str = ""  # the program type it was checked as (set by verify)

    @property
    def accepted(self) -> bool:
        return self.verdict == "accept"

    def to_json(self, walk: bool = False) -> dict:
        out = {"accepted": self.accepted, "verdict": self.verdict,
               "error": self.error.to_json() if self.error else None,
               "stats": self.stats.to_json(), "log": self.log}
        if walk:
            out["walk"] = [e.to_json() for e in self.walk]
            out["walk_truncated"] = self.walk_truncated
        return out
