"""Progress reports of a long walk: the hook the web page uses to show how far the verifier has got.

``verify(..., progress=f)`` calls ``f(processed)`` every ``PROGRESS_EVERY`` processed instructions, with
the count so far (``PROGRESS_EVERY``, twice that, ...), from inside the walk. Without a callback the walk
runs its plain loop and pays nothing. Whatever the callback raises stops the walk and propagates out of
``verify``: that is how a caller cancels it (the web page does when its client has gone, or when the
request has used its time). The callback only observes: the result is the same with or without one.
"""
from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int], None]
"""A progress callback: called with the number of instructions processed so far."""

PROGRESS_EVERY = 1000
"""Processed instructions between two calls (about 30 ms of walking)."""


def reporting(walker, progress: Progress):
    """``walker.step`` with ``progress(walker.processed)`` called before every ``PROGRESS_EVERY``-th step."""
    step = walker.step

    def reported(idx, state, prev):
        if walker.processed and walker.processed % PROGRESS_EVERY == 0:
            progress(walker.processed)
        return step(idx, state, prev)

    return reported
