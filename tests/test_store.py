"""The store: schema migrations match the models, shares are content-addressed, durable and safe to create
concurrently."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.store import make_engine, upgrade
from app.store.models import Base, Share
from app.store.progress import forget, is_learner_id, progress_of, record_check
from app.store.shares import ID_PATTERN, ShareConflict, is_share_id, load, save, share_id

POSTGRESQL_URL = os.environ.get("TEST_POSTGRESQL_URL")
"""A scratch PostgreSQL database (``postgresql+psycopg://user@host/db``) to run these tests on as well; its
tables are dropped before each test."""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    """The URL of an empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    if not POSTGRESQL_URL:
        pytest.skip("set TEST_POSTGRESQL_URL to a scratch PostgreSQL database to run this on PostgreSQL")
    scratch = create_engine(POSTGRESQL_URL)
    with scratch.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS lesson_progress, shares, alembic_version")
    scratch.dispose()
    return POSTGRESQL_URL


@pytest.fixture
def engine(url):
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_migrations_create_exactly_the_models(engine):
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert set(inspect(engine).get_table_names()) == {"alembic_version", "shares", "lesson_progress"}


def test_upgrade_twice_changes_nothing(engine):
    upgrade(engine)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0002_lesson_progress"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_parent_must_exist(engine):
    from datetime import datetime

    with Session(engine) as session:
        session.add(Share(id="A" * 16, setup="{}", parent="B" * 16, created_at=datetime(2026, 1, 1)))
        with pytest.raises(IntegrityError):
            session.commit()


def test_ids_come_from_the_content():
    first = share_id('{"source":"exit"}')
    assert first == share_id('{"source":"exit"}')
    assert first != share_id('{"source":"exit\\n"}')
    assert ID_PATTERN.fullmatch(first) and is_share_id(first)
    assert not is_share_id("short") and not is_share_id(first + "x") and not is_share_id("../" + first[3:])


def test_save_is_idempotent_and_records_the_parent(engine):
    parent = save(engine, '{"a":1}')
    assert parent.created and parent.parent is None
    again = save(engine, '{"a":1}', parent="0" * 16)
    assert again.id == parent.id and not again.created
    child = save(engine, '{"a":2}', parent=parent.id)
    assert child.parent == parent.id
    assert save(engine, '{"a":3}', parent="Z" * 16).parent is None  # names no share: not recorded
    assert save(engine, '{"a":4}', parent="not an id").parent is None
    assert load(engine, child.id).setup == '{"a":2}'
    assert load(engine, "Z" * 16) is None and load(engine, "nope") is None


def test_a_different_setup_under_an_existing_id_is_an_error(engine):
    stored = save(engine, '{"a":1}')
    with Session(engine) as session:
        session.get(Share, stored.id).setup = '{"a":"changed"}'
        session.commit()
    with pytest.raises(ShareConflict):
        save(engine, '{"a":1}')


def test_shares_survive_a_new_engine(url):
    first = make_engine(url)
    upgrade(first)
    stored = save(first, '{"kept":true}')
    first.dispose()
    second = make_engine(url)
    upgrade(second)
    assert load(second, stored.id).setup == '{"kept":true}'
    second.dispose()


def test_concurrent_saves_of_the_same_and_different_setups(engine):
    texts = [f'{{"n":{i % 5}}}' for i in range(40)]
    barrier = threading.Barrier(8)

    def store(text: str):
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return save(engine, text)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(store, texts))
    for text, result in zip(texts, results):
        assert result.id == share_id(text)
    assert sum(r.created for r in results) == 5  # each distinct setup stored once
    with Session(engine) as session:
        assert session.query(Share).count() == 5


def test_concurrent_first_upgrades_of_one_database(url):
    engines = [make_engine(url) for _ in range(4)]
    barrier = threading.Barrier(4)

    def start(engine):
        barrier.wait(timeout=5)
        upgrade(engine)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(start, engines))
    with engines[0].connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0002_lesson_progress"
    for engine in engines:
        engine.dispose()


def test_the_database_is_a_file_in_the_instance_folder_unless_configured(tmp_path, monkeypatch):
    from flask import Flask

    from app.store import database_url

    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = Flask("probe", instance_path=str(tmp_path / "instance"))
    assert database_url(app) == f"sqlite:///{tmp_path / 'instance' / 'playground.sqlite3'}"
    assert (tmp_path / "instance").is_dir()
    app.config["DATABASE_URL"] = "sqlite:///elsewhere.sqlite3"
    assert database_url(app) == "sqlite:///elsewhere.sqlite3"


def test_configuration_from_the_environment(tmp_path, monkeypatch):
    from app import create_app

    url = f"sqlite:///{tmp_path / 'from-env.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("EBPF_PLAYGROUND_SHARE_BURST", "3")
    app = create_app({"SECRET_KEY": "x"})
    assert app.config["DATABASE_URL"] == url and app.config["SHARE_BURST"] == 3
    assert (tmp_path / "from-env.sqlite3").exists()  # created and upgraded at startup


def test_text_settings_stay_text_and_numbers_are_checked_at_startup(tmp_path, monkeypatch):
    from app import create_app

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'settings.sqlite3'}")
    monkeypatch.setenv("EBPF_PLAYGROUND_SECRET_KEY", "123456789")  # JSON would make it an int
    monkeypatch.setenv("EBPF_PLAYGROUND_RUN_BURST", "7")
    app = create_app()
    assert app.config["SECRET_KEY"] == "123456789" and app.config["RUN_BURST"] == 7
    client = app.test_client()
    assert client.get("/").status_code == 200  # the session (CSRF token) is signed with the key
    assert client.get_cookie("session") is not None
    monkeypatch.setenv("EBPF_PLAYGROUND_SHARE_BURST", "ten")
    with pytest.raises(ValueError, match="SHARE_BURST.*whole number"):
        create_app()
    monkeypatch.setenv("EBPF_PLAYGROUND_SHARE_BURST", "-1")
    with pytest.raises(ValueError, match="EBPF_PLAYGROUND_SHARE_BURST"):
        create_app()
    monkeypatch.delenv("EBPF_PLAYGROUND_SHARE_BURST")
    with pytest.raises(ValueError, match="MAX_SOURCE_BYTES"):
        create_app({"MAX_SOURCE_BYTES": "64k"})


# --- lesson progress ------------------------------------------------------------------------------------------

LEARNER = "A" * 22


def test_progress_counts_checks_keeps_the_program_and_the_first_pass(engine):
    assert progress_of(engine, LEARNER) == {} and progress_of(engine, None) == {}
    first = record_check(engine, LEARNER, "registers", passed=False, source="exit\n", language="asm")
    assert (first.attempts, first.passed, first.status) == (1, False, "tried")
    record_check(engine, LEARNER, "registers", passed=True, source="r0 = 1\nexit\n", language="asm")
    third = record_check(engine, LEARNER, "registers", passed=False, source="oops", language="asm")
    assert (third.attempts, third.passed, third.source) == (3, True, "oops")  # a pass is never taken back
    record_check(engine, LEARNER, "alu", passed=False, source="x", language="asm")
    record_check(engine, "B" * 22, "alu", passed=True, source="y", language="asm")
    mine = progress_of(engine, LEARNER)
    assert {slug: state.status for slug, state in mine.items()} == {"registers": "passed", "alu": "tried"}
    assert forget(engine, LEARNER) == 2
    assert progress_of(engine, LEARNER) == {} and progress_of(engine, "B" * 22)["alu"].passed


def test_progress_survives_a_new_engine(url):
    first = make_engine(url)
    upgrade(first)
    record_check(first, LEARNER, "registers", passed=True, source="r0 = 1\nexit\n", language="asm")
    first.dispose()
    second = make_engine(url)
    upgrade(second)
    assert progress_of(second, LEARNER)["registers"].passed
    second.dispose()


def test_concurrent_checks_of_one_lesson_all_count(engine):
    barrier = threading.Barrier(8)

    def check(n: int):
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return record_check(engine, LEARNER, "registers", passed=n == 3, source=str(n), language="asm")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(check, range(8)))
    state = progress_of(engine, LEARNER)["registers"]
    assert state.attempts == 8 and state.passed


def test_learner_ids_have_one_shape():
    assert is_learner_id(LEARNER) and is_learner_id("abc-_" + "x" * 17)
    assert not is_learner_id("short") and not is_learner_id("A" * 21 + "!") and not is_learner_id(None)


def test_without_a_secret_key_one_is_kept_in_a_file_and_sessions_outlive_a_restart(tmp_path, monkeypatch):
    import threading as threads

    from app import create_app, instance_secret_key

    monkeypatch.delenv("EBPF_PLAYGROUND_SECRET_KEY", raising=False)
    key_file = tmp_path / "instance" / "secret_key"
    config = {"DATABASE_URL": f"sqlite:///{tmp_path / 'k.sqlite3'}", "SECRET_KEY_FILE": str(key_file)}
    first = create_app(config)
    assert key_file.stat().st_mode & 0o777 == 0o600 and len(first.config["SECRET_KEY"]) == 64
    assert create_app(config).config["SECRET_KEY"] == first.config["SECRET_KEY"]  # a restart keeps it
    assert create_app({**config, "SECRET_KEY": "given"}).config["SECRET_KEY"] == "given"
    # processes starting at once on a fresh folder agree on one key
    fresh = tmp_path / "fresh" / "secret_key"
    keys, barrier = [], threads.Barrier(6)

    def start():
        barrier.wait(timeout=5)
        keys.append(instance_secret_key(fresh))

    workers = [threads.Thread(target=start) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(set(keys)) == 1 and sorted(p.name for p in fresh.parent.iterdir()) == ["secret_key"]
