"""The theme switch as served: a static script in <head> ahead of the style sheets (no inline script: the CSP
forbids them), a labelled switch in the top bar that stays hidden until that script shows it (without
JavaScript the system's theme applies), and style sheets whose dark colours follow the system unless the
switch chose otherwise. In a browser: tests/web/test_browser_view.py."""
from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_the_theme_script_loads_in_head_before_the_style_sheets_and_is_not_deferred(client):
    html = client.get("/").get_data(as_text=True)
    head = html[:html.index("</head>")]
    script = re.search(r'<script src="/static/js/theme\.js"([^>]*)></script>', head)
    assert script and "defer" not in script.group(1) and "async" not in script.group(1)
    assert head.index("js/theme.js") < head.index("css/app.css")
    assert "<script>" not in html  # nothing inline


def test_the_switch_is_labelled_and_hidden_until_the_script_shows_it(client):
    for html in (client.get("/").get_data(as_text=True), client.get("/no-such-page").get_data(as_text=True)):
        header = html[html.index('<header class="topbar">'):html.index("</header>")]
        assert '<div class="theme-switch" hidden>' in header
        assert '<label for="theme-choice">Theme</label>' in header and '<select id="theme-choice">' in header
        assert re.findall(r'<option value="(\w+)">', header[header.index("theme-choice"):]) == [
            "system", "light", "dark"]


def dark_blocks(css: str) -> tuple[str, str]:
    """The declarations under ``prefers-color-scheme: dark`` and under ``[data-theme="dark"]``."""
    system = re.search(r'@media \(prefers-color-scheme: dark\) \{\s*:root:not\(\[data-theme="light"\]\) \{(.*?)\}\s*\}',
                       css, re.S)
    chosen = re.search(r':root\[data-theme="dark"\] \{(.*?)\}', css, re.S)
    assert system and chosen
    return system.group(1), chosen.group(1)


def declarations(block: str) -> list[str]:
    return [line.strip() for line in block.strip().splitlines()]


def test_the_chosen_dark_theme_is_the_systems_dark_theme():
    css = (STATIC / "css" / "app.css").read_text()
    system, chosen = dark_blocks(css)
    assert declarations(system) == declarations(chosen) and len(declarations(system)) > 20
    assert ':root[data-theme="light"] { color-scheme: light; }' in css
    assert ':root[data-theme="dark"] { color-scheme: dark; }' in css


def test_highlighting_follows_the_switch_too():
    css = (STATIC / "css" / "pygments.css").read_text()
    system = re.findall(r':root:not\(\[data-theme="light"\]\) (\.hl \.hl-\w+ \{[^}]*\})', css)
    chosen = re.findall(r'^:root\[data-theme="dark"\] (\.hl \.hl-\w+ \{[^}]*\})', css, re.M)
    assert system and system == chosen
