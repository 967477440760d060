"""Token buckets per client: one for creating shares, one for running and verifying programs.

Each client (its remote address; behind a proxy, configure ``TRUSTED_PROXIES`` so that it is the real one)
has a bucket of ``burst`` tokens that refills at ``per_minute`` tokens a minute; a request takes one token
or is refused with 429 and the seconds to wait (``Retry-After``). ``per_minute = 0`` turns a limit off.

``POLICIES`` names the limits and their config keys, ``DEFAULTS`` their default values (the app factory
starts from these). Shares are limited in ``share.py``; ``init_app`` limits the endpoints in
``RUN_ENDPOINTS`` (the API's ``run``, ``verify`` and lesson checks, the playground's ``run``, ``step`` and ``walk``) before
their views run. Views that run the engine only on some paths take their token where they do, with
``refuse`` (which returns the 429 answer) or ``require`` (which raises ``Refused``, answered by the same
429): a lesson's check (``learn.py``), the page ``POST /input`` builds without JavaScript, and the pages of examples and shares when
``pagecache.py`` does not hold them already.

The buckets live in this process's memory: each worker process counts on its own, so with N processes a
client can make up to N times as many requests, and a restart forgets them. A deployment that needs one
limit across processes or machines should keep the buckets in a shared store (Redis, or the database) or
limit at the proxy.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, jsonify, render_template, request

from .errors import API_PREFIX, ErrorPage


@dataclass(frozen=True)
class Policy:
    """A limit: its ``name``, the config keys of its rate (tokens a minute) and burst, and what a refused
    person reads (``title``, ``message``)."""

    name: str
    rate_key: str
    burst_key: str
    title: str
    message: str


SHARES = Policy("shares", "SHARE_RATE_PER_MINUTE", "SHARE_BURST", "Too many shares",
                "This address has shared a lot in a short time. Wait a little and share again.")
RUNS = Policy("runs", "RUN_RATE_PER_MINUTE", "RUN_BURST", "Too many runs",
              "This address has run a lot of programs in a short time. Wait a little and try again.")
POLICIES = (SHARES, RUNS)
DEFAULTS = {"SHARE_RATE_PER_MINUTE": 30, "SHARE_BURST": 10, "RUN_RATE_PER_MINUTE": 240, "RUN_BURST": 60}
"""The limits' default settings (config keys as in ``POLICIES``)."""
RUN_ENDPOINTS = frozenset({"api.run_program", "api.verify_program", "api.check_lesson", "playground.run_program", "playground.step",
                           "playground.walk"})
"""Endpoints that run the engine, limited by ``RUNS``."""

MAX_CLIENTS = 10_000
"""Buckets kept before full (idle) ones are forgotten, so memory stays bounded."""


@dataclass
class Bucket:
    """``tokens`` left at time ``updated`` (seconds, from the limiter's clock)."""

    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by client; ``take(key)`` answers 0 (go ahead) or the seconds to wait."""

    def __init__(self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when there was one, else the seconds until there will be."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= MAX_CLIENTS:
                    self._forget_full(now)
                bucket = self._buckets[key] = Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled completely: forgetting them changes nothing."""
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= MAX_CLIENTS:  # all busy: start over rather than grow without bound
            self._buckets.clear()


def retry_after(seconds: float) -> str:
    """The ``Retry-After`` header's value: whole seconds, rounded up."""
    return str(max(1, math.ceil(seconds)))


# --- in the app ---------------------------------------------------------------------------------------------

def limiter(policy: Policy) -> RateLimiter:
    """The current app's limiter for ``policy``, made from its config on first use."""
    key = f"rate_limiter.{policy.name}"
    found = current_app.extensions.get(key)
    if found is None:
        config = current_app.config
        found = current_app.extensions[key] = RateLimiter(float(config[policy.rate_key]), int(config[policy.burst_key]))
    return found


class Refused(Exception):
    """This client is over ``policy`` and may try again in ``wait`` seconds (raised by ``require``)."""

    def __init__(self, policy: Policy, wait: float):
        super().__init__(f"{policy.name}: try again in {retry_after(wait)} s")
        self.policy = policy
        self.wait = wait


def require(policy: Policy) -> None:
    """Take a token for this client, or raise ``Refused`` (answered as ``refuse`` answers, by ``init_app``'s
    error handler). For work a view decides on late, e.g. inside the builder ``render.page_or_fragment`` calls."""
    wait = limiter(policy).take(request.remote_addr or "unknown")
    if wait:
        raise Refused(policy, wait)


def refuse(policy: Policy) -> Response | None:
    """Take a token for this client: None to go ahead, else the 429 answer (JSON under ``/api/``)."""
    try:
        require(policy)
    except Refused as refused:
        return refusal(refused)
    return None


def refusal(refused: Refused) -> Response:
    """The 429 answer to ``refused``: a page, or JSON under ``/api/``, with ``Retry-After``."""
    policy, wait = refused.policy, refused.wait
    if request.path.startswith(API_PREFIX):
        response = jsonify({"error": {"message": f"{policy.title.lower()} from this address; try again in "
                                                 f"{retry_after(wait)} s"}})
    else:
        page = ErrorPage(429, policy.title, policy.message)
        response = current_app.make_response(render_template("errors/error.html", page=page))
    response.status_code = 429
    response.headers["Retry-After"] = retry_after(wait)
    return response


def limit_runs() -> Response | None:
    """``before_request`` hook: the ``RUNS`` limit, on ``RUN_ENDPOINTS``."""
    if request.endpoint in RUN_ENDPOINTS:
        return refuse(RUNS)
    return None


def init_app(app: Flask) -> None:
    """Limit the endpoints that run programs (settings default to ``DEFAULTS``)."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.before_request(limit_runs)
    app.register_error_handler(Refused, refusal)
