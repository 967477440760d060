"""What outlives a request: shared setups (``shares.py``), in a SQL database through SQLAlchemy 2.x.

``init_app(app)`` opens the database named by ``DATABASE_URL`` (the app's config, else the environment
variable of that name; by default a SQLite file in the Flask instance folder) and upgrades its schema to
the newest Alembic revision (``migrations/``), so ``flask --app app run`` needs nothing else started. The
upgrade holds a lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: an advisory lock), so several processes
starting at once on one database upgrade it once.

SQLite connections run in WAL mode (readers do not wait for the writer) with foreign keys enforced and a
busy timeout, so concurrent requests queue for the write lock instead of failing.
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DEFAULT_FILE = "playground.sqlite3"
_EXTENSION = "store"
_PG_LOCK_KEY = 0x65627066  # "ebpf": the advisory lock that serialises schema upgrades on PostgreSQL


def database_url(app: Flask) -> str:
    """The configured database URL, or a SQLite file in the instance folder."""
    url = app.config.get("DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        return url
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / DEFAULT_FILE}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get WAL, foreign keys and a busy timeout."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    # WAL is a property of the file: set once, by the first connection. Switching needs the file to itself
    # and SQLite does not wait for that (busy_timeout does not apply), so a connection opened while another
    # holds a transaction on a fresh file tries again.
    for _ in range(100):  # up to 5 s
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
            break
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError:
            time.sleep(0.05)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's configuration for our migrations (no ``alembic.ini`` needed)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision, holding a lock so concurrent callers upgrade once."""
    config = alembic_config(engine)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()


def init_app(app: Flask) -> None:
    """Open the database, upgrade its schema and keep the engine for ``engine()``."""
    engine = make_engine(database_url(app))
    upgrade(engine)
    app.extensions[_EXTENSION] = engine


def engine() -> Engine:
    """The current app's engine."""
    return current_app.extensions[_EXTENSION]
