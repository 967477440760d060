"""Long work on the playground: progress reports, a time limit, cancelling, and the streamed answer.

A run from the page compiles (C), runs the VM and verifies, and the last two can take seconds (a walk of
100,000 processed instructions takes about three). ``Progress`` is what one request's engine work reports
to and is stopped by: each phase (``compile``, ``run``, ``verify``) starts with ``begin()``, which gives the
engine its progress callback (``verify(progress=...)``, ``run(progress=...)``). Every call checks

- the request's time limit (``Limits.run_seconds``, config ``MAX_RUN_SECONDS``): past it the work stops
  with ``TimeLimit``, answered 503. The counts (steps, processed instructions) are the limits that shape a
  result; the time limit only ever refuses one, so a result never depends on how busy the server was;
- whether the client has gone (``cancel()``): the work stops with ``Cancelled``.

The engine calls back every 1,000 processed instructions and every 4,096 steps of a traced run (65,536 of
another), so both stop the work within milliseconds. A C compile is not interrupted: it has its own time limit (10 s, ``app.ebpf.cc``).

**The streamed answer** (``stream()``). The page's script asks for it with ``Accept: application/x-ndjson``
on an htmx ``POST /run`` (``wants_stream()``). The work then runs in a thread of this worker while the
response streams newline-delimited JSON records, one object a line, in order:

``{"phase": "start", "count": null, "limit": null, "elapsed": 0.0}``
    at once, so that the page knows the streamed answer has begun;
``{"phase": "compile"|"run"|"verify", "count": int|null, "limit": int|null, "elapsed": float}``
    progress: a phase started (``count`` 0, or null for a compile, which has no count), or went on
    (at most every ``INTERVAL`` seconds; a record repeats the last one with a new ``elapsed`` when nothing
    happened for ``HEARTBEAT`` seconds). A run over several packets adds ``"packet"`` and ``"packets"``.
``{"phase": "done", "status": 200|422, "elapsed": float, "html": str}``
    the end: ``html`` is exactly the fragment the same request without the header gets (status 422 when a
    field was refused while building the program, e.g. a C compile error).
``{"phase": "error", "status": 503|500, "message": str, "elapsed": float}``
    the end, without a result: the time limit, or a server error (logged).

Errors found before any work starts (the form's fields, CSRF, the rate limit) are answered as without the
header: plain 4xx responses, not streams. Nothing is kept after the response: a streamed request needs no
more of the worker than a plain one, and any worker can serve it.

**Cancelling.** The page's Cancel button aborts the request. The server notices when a write fails: at the
next record (within ``INTERVAL``, or ``HEARTBEAT`` when nothing moves), the WSGI server closes the response
iterator, which sets ``Cancelled`` for the work; the response then waits (at most ``JOIN_SECONDS``) for the
work to stop, so that the worker takes its next request only when this one's work is over.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator

from flask import Response, copy_current_request_context, current_app, request, stream_with_context

MEDIA_TYPE = "application/x-ndjson"
INTERVAL = 0.1  # seconds between two progress records of one phase
HEARTBEAT = 0.5  # seconds after which the last record is sent again with a new elapsed time
JOIN_SECONDS = 15.0  # longest wait for cancelled work to stop (a C compile's 10 s limit, and some)
PHASES = ("compile", "run", "verify")


class Stopped(Exception):
    """The work was stopped before it had a result."""


class Cancelled(Stopped):
    """The client went away."""


class TimeLimit(Stopped):
    """The request used up its time."""


class Progress:
    """One request's progress: phases begun, counts reported, and the checks that stop the work.

    ``seconds`` is the time limit (0: none); ``emit`` receives each record to send (None: nothing is
    reported, the checks still apply)."""

    def __init__(self, seconds: float, emit: Callable[[dict], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.started = clock()
        self.seconds = seconds
        self.emit = emit
        self.cancelled = threading.Event()
        self.last: dict = {"phase": "start", "count": None, "limit": None}
        self._sent = self.started

    def elapsed(self) -> float:
        return round(self.clock() - self.started, 3)

    def cancel(self) -> None:
        self.cancelled.set()

    def check(self) -> None:
        """Raise ``Cancelled`` or ``TimeLimit`` when the work should stop."""
        if self.cancelled.is_set():
            raise Cancelled()
        if self.seconds and self.clock() - self.started > self.seconds:
            raise TimeLimit(f"This program needed more than {self.seconds:g} s of the server's time, this "
                            f"playground's limit for one request. Lower the step limit, or make the loop "
                            f"shorter.")

    def begin(self, phase: str, limit: int | None = None, **extra: int) -> Callable[[int], None]:
        """Start ``phase`` (counting up to ``limit``); returns the callback the engine reports counts to."""
        self.check()
        self._send({"phase": phase, "count": 0 if limit is not None else None, "limit": limit, **extra})

        def counted(count: int) -> None:
            self.check()
            if self.emit is not None and self.clock() - self._sent >= INTERVAL:
                self._send({**self.last, "count": count})

        return counted

    def heartbeat(self) -> dict:
        """The last record with the time now (sent when nothing else was)."""
        return {**self.last, "elapsed": self.elapsed()}

    def _send(self, record: dict) -> None:
        self.last = {**record, "elapsed": self.elapsed()}
        self._sent = self.clock()
        if self.emit is not None:
            self.emit(self.last)


def wants_stream() -> bool:
    """An htmx request that asked for progress records (``Accept: application/x-ndjson``)."""
    if request.headers.get("HX-Request") != "true":
        return False
    return any(value == MEDIA_TYPE for value in request.accept_mimetypes.values())


def stream(work: Callable[[Progress], tuple[str, int]], seconds: float) -> Response:
    """The streamed answer (see the module docstring) for ``work``, which returns (html, status)."""
    records: queue.SimpleQueue = queue.SimpleQueue()
    progress = Progress(seconds, records.put)
    logger = current_app.logger

    @copy_current_request_context
    def target() -> None:
        try:
            html, status = work(progress)
            records.put({"phase": "done", "status": status, "elapsed": progress.elapsed(), "html": html})
        except Cancelled:
            records.put(None)
        except TimeLimit as e:
            records.put({"phase": "error", "status": 503, "message": str(e), "elapsed": progress.elapsed()})
        except Exception:  # an engine or template bug: logged, answered as a 500 would be
            logger.exception("unhandled exception in streamed %s %s", request.method, request.path)
            records.put({"phase": "error", "status": 500, "elapsed": progress.elapsed(),
                         "message": "The server failed to handle this request. The error has been logged."})

    def lines() -> Iterator[str]:
        worker = threading.Thread(target=target, name="playground-work", daemon=True)
        worker.start()
        try:
            yield json.dumps({"phase": "start", "count": None, "limit": None, "elapsed": 0.0}) + "\n"
            while True:
                try:
                    record = records.get(timeout=HEARTBEAT)
                except queue.Empty:
                    record = progress.heartbeat()
                if record is None:
                    return
                yield json.dumps(record) + "\n"
                if record.get("phase") in ("done", "error"):
                    return
        finally:  # done, or the client went away (the server closed this generator): stop the work
            progress.cancel()
            worker.join(JOIN_SECONDS)

    response = Response(stream_with_context(lines()), mimetype=MEDIA_TYPE)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass records on as they come
    response.vary.add("Accept")
    response.vary.add("HX-Request")
    return response
