"""Lesson progress: what each anonymous learner has checked and passed, one row per learner and lesson.

``record_check`` is called after every check of a learner's program: it counts the attempt, keeps the
program (the lesson page opens with it next time) and the first time the check passed. It commits before it
returns, so progress shown to the learner survives a restart. Two checks of the same learner and lesson at
once (two tabs) both count: the insert that loses the race on the primary key is retried as an update.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import LEARNER_LENGTH, LessonProgress

MAX_SOURCE_CHARS = 256 * 1024
"""A kept program is cut to this many characters (the checker refuses sources over the server's limit, far
below this; the cap only bounds a row)."""


@dataclass(frozen=True)
class LessonState:
    """One learner's state on one lesson, as the pages show it."""

    lesson: str
    attempts: int
    passed: bool
    source: str
    language: str

    @property
    def status(self) -> str:
        """``passed``, ``tried`` (checked, never passed) or ``new``."""
        return "passed" if self.passed else "tried" if self.attempts else "new"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def is_learner_id(text: object) -> bool:
    return isinstance(text, str) and len(text) == LEARNER_LENGTH and all(c.isalnum() or c in "-_" for c in text)


def record_check(engine: Engine, learner: str, lesson: str, *, passed: bool, source: str,
                 language: str) -> LessonState:
    """Count one check of ``source`` on ``lesson`` by ``learner`` and keep it; committed on return."""
    source = source[:MAX_SOURCE_CHARS]
    now = _now()
    for _ in range(3):
        with Session(engine) as session:
            row = session.get(LessonProgress, (learner, lesson))
            try:
                if row is None:
                    row = LessonProgress(learner=learner, lesson=lesson, attempts=1, source=source,
                                         language=language, passed_at=now if passed else None, updated_at=now)
                    session.add(row)
                else:
                    values = {"attempts": LessonProgress.attempts + 1, "source": source, "language": language,
                              "updated_at": now}
                    session.execute(update(LessonProgress)
                                    .where(LessonProgress.learner == learner, LessonProgress.lesson == lesson)
                                    .values(**values))
                    if passed:  # the first pass stays the date shown
                        session.execute(update(LessonProgress)
                                        .where(LessonProgress.learner == learner, LessonProgress.lesson == lesson,
                                               LessonProgress.passed_at.is_(None))
                                        .values(passed_at=now))
                session.commit()
            except IntegrityError:  # another check of the same lesson inserted the row a moment ago
                continue
            row = session.get(LessonProgress, (learner, lesson), populate_existing=True)
            return _state(row)
    raise RuntimeError(f"could not record progress on {lesson}")


def progress_of(engine: Engine, learner: str | None) -> dict[str, LessonState]:
    """Every lesson ``learner`` has checked, by slug (empty for None: a browser that never checked)."""
    if learner is None:
        return {}
    with Session(engine) as session:
        rows = session.scalars(select(LessonProgress).where(LessonProgress.learner == learner))
        return {row.lesson: _state(row) for row in rows}


def forget(engine: Engine, learner: str) -> int:
    """Delete all of ``learner``'s progress; the number of lessons it covered."""
    with Session(engine) as session:
        count = session.execute(delete(LessonProgress).where(LessonProgress.learner == learner)).rowcount
        session.commit()
        return count


def _state(row: LessonProgress) -> LessonState:
    return LessonState(row.lesson, row.attempts, row.passed_at is not None, row.source, row.language)
