"""Pages of examples and shares (``pagecache.py``): built once per place, within the run limit, then kept.

Every request that runs or verifies a program counts against the client's run limit; a page kept from an
earlier request runs nothing, so it counts against nothing and is not built again.
"""
from __future__ import annotations

import re

import pytest

from app import create_app
from app.web import playground
from app.web.pagecache import PageCache

SUM = "r0 = 0\nr1 = 4\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"


def limited_app(tmp_path, name: str = "c", **config):
    """An app whose clients may build one page (their bucket's one token) and then one a minute."""
    database = f"sqlite:///{tmp_path / name}.sqlite3"
    return create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": database,
                       "RUN_RATE_PER_MINUTE": 1, "RUN_BURST": 1, **config})


@pytest.fixture
def builds(monkeypatch):
    """How many pages ``build_page`` built (every build runs and verifies the program)."""
    count = {"n": 0}
    real = playground.build_page

    def counted(*args, **kwargs):
        count["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(playground, "build_page", counted)
    return count


def share(client, source: str = SUM, **body) -> str:
    response = client.post("/api/v1/share", json={"source": source, "type": "xdp", **body})
    assert response.status_code in (200, 201), response.json
    return response.json["id"]


def assert_refused(response):
    assert response.status_code == 429 and response.mimetype == "text/html"
    assert 1 <= int(response.headers["Retry-After"]) <= 60 and "Too many runs" in response.get_data(as_text=True)


# --- the cache ------------------------------------------------------------------------------------------------

def test_the_cache_forgets_the_least_recently_used_to_stay_in_its_budget():
    cache = PageCache(max_bytes=3000)
    for name in "abc":
        cache.put(name, name * 900)
    assert len(cache) == 3 and cache.size <= 3000
    assert cache.get("a") == "a" * 900  # now the most recently used
    cache.put("d", "d" * 900)
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("d") is not None
    assert cache.size <= 3000


def test_a_value_larger_than_the_budget_is_not_kept():
    cache = PageCache(max_bytes=1000)
    cache.put("small", "x" * 10)
    cache.put("large", "y" * 2000)
    assert cache.get("large") is None and cache.get("small") == "x" * 10 and len(cache) == 1


def test_a_value_kept_is_a_copy():
    cache = PageCache(max_bytes=10_000)
    value = {"rows": [1, 2]}
    cache.put("k", value)
    value["rows"].append(3)
    got = cache.get("k")
    got["rows"].append(4)
    assert cache.get("k") == {"rows": [1, 2]}


# --- shares -----------------------------------------------------------------------------------------------------

def test_a_share_page_is_built_once_and_then_costs_no_run(tmp_path, builds):
    client = limited_app(tmp_path).test_client()
    id_ = share(client)
    first = client.get(f"/p/{id_}")
    assert first.status_code == 200 and builds["n"] == 1  # the one token of the bucket
    for _ in range(3):  # popular links are not refused to ordinary visitors
        again = client.get(f"/p/{id_}")
        assert again.status_code == 200 and builds["n"] == 1
    assert_refused(client.get(f"/p/{id_}?step=3"))  # another place on the page is built: over the limit
    assert builds["n"] == 1
    assert client.get(f"/p/{id_}?step=3", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200


def test_a_kept_share_page_is_the_page_built_afresh(tmp_path):
    body = {"view": {"step": 5}}
    cached = limited_app(tmp_path, "a", RUN_RATE_PER_MINUTE=0).test_client()
    fresh = limited_app(tmp_path, "b", RUN_RATE_PER_MINUTE=0, PAGE_CACHE_BYTES=0).test_client()
    id_ = share(cached, **body)
    assert share(fresh, **body) == id_

    def page(client) -> str:  # without the session's CSRF token, which differs between the two clients
        html = client.get(f"/p/{id_}?walk=2&break=3").get_data(as_text=True)
        return re.sub(r'(name="csrf_token" value=|name="csrf-token" content=)"[^"]+"', r'\1""', html)

    first = page(cached)
    assert 'data-index="5"' in first  # the shared step
    assert page(cached) == first == page(fresh)


def test_without_a_cache_every_share_page_counts(tmp_path, builds):
    client = limited_app(tmp_path, PAGE_CACHE_BYTES=0).test_client()
    id_ = share(client)
    assert client.get(f"/p/{id_}").status_code == 200
    assert_refused(client.get(f"/p/{id_}"))
    assert builds["n"] == 1


def test_an_embed_is_built_once_and_shares_the_page_of_its_link(tmp_path, builds):
    client = limited_app(tmp_path).test_client()
    id_, other = share(client), share(client, "r0 = 2\nexit\n")
    assert client.get(f"/embed/{id_}").status_code == 200 and builds["n"] == 1
    assert client.get(f"/embed/{id_}").status_code == 200 and client.get(f"/p/{id_}").status_code == 200
    assert builds["n"] == 1  # the embed is the link's page, opened where it was shared
    assert_refused(client.get(f"/embed/{other}"))
    assert builds["n"] == 1


# --- examples ----------------------------------------------------------------------------------------------------

def test_an_example_page_is_built_once_per_place(tmp_path, builds):
    client = limited_app(tmp_path).test_client()
    assert client.get("/?example=sum").status_code == 200
    assert client.get("/?example=sum").status_code == 200 and builds["n"] == 1
    assert_refused(client.get("/?example=sum&step=2"))
    assert_refused(client.get("/?example=call"))
    assert client.get("/?example=sum&step=nope").status_code == 200  # ignored view arguments: the same page
    assert builds["n"] == 1
