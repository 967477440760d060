"""The verifier's verdict on the playground page: our verifier run on the program for the chosen hook.

The VM runs whatever it is given, so a program the kernel would refuse still runs on the page; the verdict
beside the run says whether the kernel would have loaded it at all. The walk is held to the page's limit
(``Limits.verify_insns``), below the kernel's 1,000,000, so that one request stays short; past it the page
says "incomplete", never a verdict the kernel did not give.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from app.ebpf import Program
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.verifier import UNPRIVILEGED_TYPES, VerifierResult, verify
from app.ebpf.verifier.explain import explain

from .contexts import VerifierCheck
from .progress import Progress


def verified(program: Program, prog_type: str, limit: int, exact: bool = False,
             progress: Progress | None = None, privileged: bool = True) -> VerifierResult | None:
    """Our verifier's result for ``program`` as ``prog_type`` within the page's ``limit``, for a root loader
    or (``privileged`` false) a user without capabilities; None when no hook is chosen (raw bytecode, which
    no hook loads). The page's views share this one walk.

    Stepping through a walk asks for the same program again and again, so the last few results are kept
    in this process (the verifier is deterministic: a result depends only on the bytecode, the maps, the
    hook, the loader and the limit). Nothing depends on the cache: another process simply verifies again.

    ``exact``: the walk that compares every scalar exactly (``verify(track_precision=False)``), whose states
    cover every run in all its scalars (see abstractview.py).

    ``progress`` sees the walk as the ``verify`` phase (a result from the cache is not walked again) and
    may stop it (``progress.py``)."""
    if prog_type not in PROG_TYPES:
        return None
    key = (program.to_bytes(), program.maps, prog_type, limit, exact, privileged)
    with _recent_lock:
        if key in _recent:
            _recent.move_to_end(key)
            return _recent[key]
    counted = progress.begin("verify", limit) if progress is not None else None
    result = verify(program, prog_type, privileged=privileged, max_processed=limit, track_precision=not exact,
                    progress=counted)
    with _recent_lock:
        _recent[key] = result
        while len(_recent) > RECENT_WALKS:
            _recent.popitem(last=False)
    return result


RECENT_WALKS = 4  # results kept per process: each holds its walk's states (tens of MB for the longest)
_recent: OrderedDict[tuple, VerifierResult] = OrderedDict()
_recent_lock = threading.Lock()


def verifier_check(program: Program, result: VerifierResult, limit: int, prog_type: str,
                   privileged: bool = True) -> VerifierCheck:
    """The verdict section for ``result``, our verifier's walk of ``program`` as ``prog_type`` for the loader
    ``privileged`` says."""
    error = result.error
    idx = error.insn_idx if error and error.insn_idx >= 0 else None
    line = program.lines[idx] if idx is not None and 0 <= idx < len(program.lines) else None
    explanation = explain(error.message) if result.verdict == "reject" else None
    return VerifierCheck(result.verdict, idx, line or None, error.message if error else "",
                         error.errno if error else "", result.stats.processed, limit, explanation, privileged,
                         not privileged and prog_type not in UNPRIVILEGED_TYPES)
