"""The marked bytes of a hex dump in a page: every byte element with its classes and title."""
from __future__ import annotations

import re

CELL = re.compile(r'<span class="([^"]*)"(?: title="([^"]*)")?>([0-9a-f]{2})</span>')


def cells(html: str, cls: str) -> list[tuple[str, str, str]]:
    """``(classes, title, hex)`` of each byte element of ``html`` whose classes include ``cls``."""
    return [(classes, title, text) for classes, title, text in CELL.findall(html) if cls in classes.split()]


def marked(html: str, cls: str) -> list[str]:
    """The hex of each byte of ``html`` that carries class ``cls``, in order."""
    return [text for _, _, text in cells(html, cls)]
