"""The tables, as SQLAlchemy 2.x typed models. Alembic migrations (``migrations/versions``) create them;
``tests/test_store.py`` checks that the two never drift apart."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 16
"""Characters in a share's id (base62, about 95 bits of its content's sha256)."""
LEARNER_LENGTH = 22
"""Characters in a learner's id (``secrets.token_urlsafe(16)``: 128 random bits)."""


class Base(DeclarativeBase):
    pass


class Share(Base):
    """A shared setup, stored once and never changed.

    ``id`` is derived from the content (``app.store.shares.share_id``), so the same setup always gets the
    same id. ``setup`` is its canonical JSON (``app.web.setups``). ``parent`` is the share the page was
    opened from when this one was made (a fork); it is not part of the content, so the first share of a
    setup keeps the parent it was made with. ``created_at`` is UTC.
    """

    __tablename__ = "shares"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    setup: Mapped[str] = mapped_column(Text)
    parent: Mapped[str | None] = mapped_column(String(ID_LENGTH), ForeignKey("shares.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class LessonProgress(Base):
    """One learner's work on one lesson. A learner is an anonymous browser: ``learner`` is the random id
    kept in its signed session cookie (``app.web.learner``). ``attempts`` counts checks; ``passed_at`` is
    when a check first passed (None until then; UTC); ``source`` and ``language`` are the last program
    checked, which the lesson page opens with. Rows change as the learner works: unlike shares, progress is
    not content-addressed."""

    __tablename__ = "lesson_progress"

    learner: Mapped[str] = mapped_column(String(LEARNER_LENGTH), primary_key=True)
    lesson: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    passed_at: Mapped[datetime | None] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
