"""eBPF Playground: a Flask app around a pure-Python eBPF engine (``app.ebpf``).

``create_app()`` is the factory (``flask --app app run`` finds it). Configuration comes from the mapping
passed in, then from ``EBPF_PLAYGROUND_*`` environment variables (``EBPF_PLAYGROUND_SECRET_KEY``, ...).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"),
                instance_relative_config=True)
    app.config.update(
        SECRET_KEY=os.environ.get("EBPF_PLAYGROUND_SECRET_KEY") or secrets.token_hex(32),
        MAX_CONTENT_LENGTH=1 << 20,
        MAX_SOURCE_BYTES=64 * 1024,
        MAX_INPUT_BYTES=64 * 1024,
        MAX_RUN_INSNS=1_000_000,
    )
    if config:
        app.config.update(config)
    from .web import init_app as init_web

    init_web(app)
    return app
