"""The web layer: Flask blueprints that turn requests into engine calls and results into pages."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register blueprints, security headers and error pages."""
