"""Fixtures for the web tests, shaped like flaskr's: ``app``, ``client``, plus helpers for forms and htmx."""
from __future__ import annotations

import re

import pytest

from app import create_app

HTMX = {"HX-Request": "true"}


@pytest.fixture
def app(tmp_path):
    database = tmp_path / "store.sqlite3"  # the store (app.store), upgraded at startup: one per test
    return create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{database}"})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def csrf(client) -> str:
    """This test client's CSRF token, as the page hands it out."""
    html = client.get("/").get_data(as_text=True)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, "the page has no csrf-token meta tag"
    return match.group(1)


@pytest.fixture
def post_form(client, csrf):
    """POST a form with this session's token: ``post_form("/run", source=..., htmx=True)``."""
    def post(url: str, *, htmx: bool = False, **fields: str):
        data = {"csrf_token": csrf, "mem": "", "max_insns": "1000", **fields}
        return client.post(url, data=data, headers=HTMX if htmx else {})
    return post
