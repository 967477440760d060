"""The web layer: Flask blueprints that turn requests into engine calls and results into pages.

``playground`` (``playground.py``) is the page at ``/``; ``api`` (``api.py``) is the JSON API under
``/api/v1/``; ``share`` (``share.py``) stores setups and serves them as links (``/p/<id>``); ``learn``
(``learn.py``) is the course of lessons (``/learn``); ``kernel_check``
(``kernelcheck.py``, only when the setting ``KERNEL_CHECK`` is on) loads the program into the running kernel
beside our verifier. Around them:
security headers on every response (``security.py``), CSRF protection of form posts (``csrf.py``), and error
pages, HTML or JSON (``errors.py``). No eBPF semantics live here: views call
the engine's façade and render what it returns.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register blueprints, security headers, CSRF protection and error pages. (Imported here, not at the top:
    the lessons' checker, ``app.lessons``, uses this package's input checks, and the ``learn`` blueprint uses
    the checker.)"""
    from . import api, csrf, errors, kernelcheck, learn, playground, security, share

    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    security.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    app.register_blueprint(playground.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(share.bp)
    app.register_blueprint(learn.bp)
    kernelcheck.init_app(app)
