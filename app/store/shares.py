"""Shares: content-addressed, immutable records of a playground setup.

A share's id is the first ``ID_LENGTH`` base62 digits of the sha256 of its setup's canonical JSON: the same
setup always gets the same id, and ids are too sparse (about 2^95 of them) to find by guessing. Saving is
idempotent and safe under concurrency: when two requests store the same setup at once, one insert wins and
the other reads the row back (the primary key decides, on SQLite and on PostgreSQL alike). ``save``
commits before it returns, so a link handed to a user survives a restart.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import ID_LENGTH, Share

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_PATTERN = re.compile(f"[0-9A-Za-z]{{{ID_LENGTH}}}")


class ShareConflict(RuntimeError):
    """Two different setups with the same id: a sha256 prefix collision (never expected in practice)."""


@dataclass(frozen=True)
class StoredShare:
    """A share as read back: its ``id``, the ``setup`` JSON text, the ``parent`` id (or None), when it was
    ``created_at`` (UTC), and whether this request ``created`` it."""

    id: str
    setup: str
    parent: str | None
    created_at: datetime
    created: bool = False


def share_id(canonical_json: str) -> str:
    """The id of a setup, from its canonical JSON text."""
    number = int.from_bytes(hashlib.sha256(canonical_json.encode("utf-8")).digest(), "big")
    digits = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(digits)


def is_share_id(text: str) -> bool:
    """Whether ``text`` has the shape of an id (it may still name no share)."""
    return ID_PATTERN.fullmatch(text) is not None


def load(engine: Engine, id_: str) -> StoredShare | None:
    """The share with this id, or None (also for text that is not an id at all)."""
    if not is_share_id(id_):
        return None
    with Session(engine) as session:
        row = session.get(Share, id_)
        return _stored(row) if row is not None else None


def save(engine: Engine, canonical_json: str, parent: str | None = None) -> StoredShare:
    """Store a setup (its canonical JSON) and return the share, committed. An existing share with the same
    content is returned as it is (``created`` False). ``parent`` is recorded only if it names a share."""
    id_ = share_id(canonical_json)
    with Session(engine) as session:
        row = session.get(Share, id_)
        if row is None:
            if parent is not None and (not is_share_id(parent) or session.get(Share, parent) is None):
                parent = None
            row = Share(id=id_, setup=canonical_json, parent=parent,
                        created_at=datetime.now(UTC).replace(tzinfo=None))
            session.add(row)
            try:
                session.commit()
                return _stored(row, created=True)
            except IntegrityError:  # the same setup, stored by a concurrent request a moment ago
                session.rollback()
                row = session.get(Share, id_)
                if row is None:
                    raise
        if row.setup != canonical_json:
            raise ShareConflict(f"share {id_} already holds a different setup")
        return _stored(row)


def _stored(row: Share, created: bool = False) -> StoredShare:
    return StoredShare(row.id, row.setup, row.parent, row.created_at, created)
