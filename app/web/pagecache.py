"""Pages of setups that never change (examples, shares), kept so that opening a popular link costs no engine work.

A share is immutable and the engine is deterministic, so the page built for a share (and a place on it:
``?step=``, ``run``, ``walk``, ``break``) is the same every time it is built, in every process; an example
is fixed in the code the same way. ``cached(key, build)`` answers the page kept under ``key`` when there is
one, without running anything and without taking a token from the client's run limit; otherwise it takes
a token (``ratelimit.require(RUNS)``, 429 past the limit), builds the page and keeps it. So the first
visitor of a link pays for its page as for a run, later visitors of the same link pay nothing, and an
abuser who asks for ever new pages (other shares, other steps) is held to the run limit.

What is kept is the page *context* (``PlaygroundPage``: presentation data, no engine objects), not the
HTML, which holds the visitor's CSRF token. Each is kept pickled: its size in memory is then exactly its
length, the cache holds no object a request could change, and the sum of the lengths stays under
``PAGE_CACHE_BYTES`` (default ``DEFAULT_BYTES``) by forgetting the least recently used pages first. A page
larger than the whole budget is built and not kept. The largest page (a 64 KiB program) pickles to about
1.5 MB; a typical one to 30-100 KB. ``PAGE_CACHE_BYTES = 0`` keeps nothing: every page then counts.

The cache is in this process's memory, like ``ratelimit.py``'s buckets: each worker keeps its own, and a
restart empties it (nothing depends on it; a miss only builds the page again). Two requests that miss the
same key at once both build it; the page they build is the same, and the second one kept wins.
"""
from __future__ import annotations

import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

from . import ratelimit

T = TypeVar("T")

CONFIG_KEY = "PAGE_CACHE_BYTES"
DEFAULT_BYTES = 32 * 1024 * 1024
"""Pickled bytes of pages kept per process by default."""


class PageCache:
    """Least recently used values, kept pickled, whose pickled lengths add up to at most ``max_bytes``."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> object | None:
        """The value kept under ``key`` (a fresh copy), or None."""
        with self._lock:
            data = self._entries.get(key)
            if data is None:
                return None
            self._entries.move_to_end(key)
        return pickle.loads(data)  # only bytes this process pickled itself

    def put(self, key: Hashable, value: object) -> None:
        """Keep ``value`` under ``key``, forgetting the least recently used values to stay in the budget."""
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= len(old)
            self._entries[key] = data
            self.size += len(data)
            while self.size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self.size -= len(dropped)


def page_cache() -> PageCache:
    """The current app's cache, made from its config on first use."""
    found = current_app.extensions.get("page_cache")
    if found is None:
        budget = int(current_app.config.get(CONFIG_KEY, DEFAULT_BYTES))
        found = current_app.extensions["page_cache"] = PageCache(budget)
    return found


def cached(key: Hashable, build: Callable[[], T]) -> T:
    """The value kept under ``key``; else, within this client's run limit, ``build()``'s, kept for next time
    (see the module docstring). ``key`` must name everything the value depends on."""
    cache = page_cache()
    found = cache.get(key)
    if found is not None:
        return found  # type: ignore[return-value]
    ratelimit.require(ratelimit.RUNS)
    value = build()
    cache.put(key, value)
    return value
