"""eBPF Playground: a Flask app around a pure-Python eBPF engine (``app.ebpf``).

``create_app()`` is the factory (``flask --app app run`` finds it). Configuration comes from the mapping
passed in, over ``EBPF_PLAYGROUND_<KEY>`` environment variables, over the defaults below. In the
environment, ``STRING_SETTINGS`` (``SECRET_KEY``, ``DATABASE_URL``, ``PUBLIC_URL``, ``SERVER_NAME``) are
taken as they are written; other values are read as JSON where they parse (``EBPF_PLAYGROUND_MAX_RUN_INSNS=5000``
is a number). ``NUMERIC_SETTINGS`` are checked once, here: a value that is not a number of the right kind stops
the app from starting, naming the setting.

``DATABASE_URL`` (or plain ``DATABASE_URL`` in the environment) names the database (``app.store``);
``TRUSTED_PROXIES`` is how many reverse proxies in front set ``X-Forwarded-For``/``-Proto``/``-Host`` (0: none,
the default); ``PUBLIC_URL`` (``https://ebpf.example.org``) is where the site is reached, used for the links a
share hands out instead of the request's ``Host`` header. The rate limits' settings and defaults are in
``app.web.ratelimit``; ``PAGE_CACHE_BYTES``, the pages of shares and examples kept per process, in
``app.web.pagecache``. ``BOOLEAN_SETTINGS`` must be ``true`` or ``false``: ``KERNEL_CHECK`` (off by default, for a
local install only) lets the page load programs into the running kernel (``app.web.kernelcheck``).

``SECRET_KEY`` signs the session cookie (CSRF tokens, a learner's id). Without one, the key is read from
``SECRET_KEY_FILE`` (default ``instance/secret_key``), which the first start makes: sessions then outlive a
restart, and every worker of one machine signs with the same key. Machines behind one proxy need the same
``SECRET_KEY``.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "EBPF_PLAYGROUND_"
SECRET_KEY_FILE = "secret_key"
"""Where, in the instance folder, the key that signs sessions is kept when ``SECRET_KEY`` is not given."""
STRING_SETTINGS = ("SECRET_KEY", "SECRET_KEY_FILE", "DATABASE_URL", "PUBLIC_URL", "SERVER_NAME")
"""Settings kept as text even when they look like JSON (a secret key of digits is still a string)."""
NUMERIC_SETTINGS = {
    "MAX_CONTENT_LENGTH": int, "MAX_SOURCE_BYTES": int, "MAX_INPUT_BYTES": int, "MAX_RUN_INSNS": int,
    "MAX_VERIFY_INSNS": int, "MAX_RUN_SECONDS": float, "MAX_PACKETS": int, "MAX_PACKET_BYTES": int, "MAX_PCAP_BYTES": int,
    "SHARE_RATE_PER_MINUTE": float, "SHARE_BURST": int, "RUN_RATE_PER_MINUTE": float, "RUN_BURST": int,
    "TRUSTED_PROXIES": int, "PAGE_CACHE_BYTES": int,
}
"""Settings that must be numbers from 0: whole numbers (``int``), or any number (``float``)."""
BOOLEAN_SETTINGS = ("KERNEL_CHECK",)
"""Settings that must be true or false (``EBPF_PLAYGROUND_KERNEL_CHECK=true``; ``True`` or ``1`` is refused)."""


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from .web.pagecache import DEFAULT_BYTES as PAGE_CACHE_BYTES
    from .web.ratelimit import DEFAULTS as RATE_DEFAULTS

    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_relative_config=True)
    app.config.update(
        SECRET_KEY=None,  # when none is given: the instance folder's, made once (secret_key_file)
        SECRET_KEY_FILE=None,
        MAX_CONTENT_LENGTH=1 << 20,
        MAX_SOURCE_BYTES=64 * 1024,
        MAX_INPUT_BYTES=64 * 1024,
        MAX_RUN_INSNS=1_000_000,
        MAX_RUN_SECONDS=30.0,
        DATABASE_URL=os.environ.get("DATABASE_URL"),
        PUBLIC_URL=None,
        TRUSTED_PROXIES=0,
        KERNEL_CHECK=False,
        PAGE_CACHE_BYTES=PAGE_CACHE_BYTES,
        PERMANENT_SESSION_LIFETIME=timedelta(days=365),  # a learner's progress (app.web.learn) keeps its id
        **RATE_DEFAULTS,
    )
    app.config.update(settings_from_env(os.environ))
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        path = app.config["SECRET_KEY_FILE"] or str(Path(app.instance_path) / SECRET_KEY_FILE)
        app.config["SECRET_KEY"] = instance_secret_key(Path(path))
    check_settings(app.config)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    from . import store
    from .web import init_app as init_web
    from .web import ratelimit

    store.init_app(app)
    init_web(app)
    ratelimit.init_app(app)
    return app


def instance_secret_key(path: Path) -> str:
    """The key in ``path``, made there (random, readable by this user only) if there is none yet. Processes that
    start at once agree: the file appears whole or not at all (written aside, then linked into place; the first
    link wins), so every worker signs sessions with the same key, and a restart keeps them valid."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        aside.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


def settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``EBPF_PLAYGROUND_<KEY>`` settings: ``STRING_SETTINGS`` as text, others as JSON where they parse."""
    out: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX:
            continue
        key = name[len(ENV_PREFIX):]
        if key in STRING_SETTINGS:
            out[key] = text
            continue
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse settings of the wrong kind at startup (``ValueError`` naming the setting)."""
    for key in STRING_SETTINGS:
        value = config.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"setting {key} (environment: {ENV_PREFIX}{key}) must be text, got {value!r}")
    for key in BOOLEAN_SETTINGS:
        value = config.get(key)
        if value is not None and not isinstance(value, bool):
            raise ValueError(f"setting {key} (environment: {ENV_PREFIX}{key}) must be true or false, got {value!r}")
    if not config.get("SECRET_KEY"):
        raise ValueError(f"setting SECRET_KEY (environment: {ENV_PREFIX}SECRET_KEY) must not be empty")
    for key, kind in NUMERIC_SETTINGS.items():
        value = config.get(key)
        if value is None:
            continue
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not (whole or (kind is float and isinstance(value, float))) or value < 0:
            wanted = "a whole number" if kind is int else "a number"
            raise ValueError(f"setting {key} (environment: {ENV_PREFIX}{key}) must be {wanted} from 0, "
                             f"got {value!r}")
