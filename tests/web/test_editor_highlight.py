"""The editor's highlighting from the server: the page arrives with the program highlighted under the
textarea (hidden until a script shows it), and ``POST /highlight`` highlights an edited program, escaped,
with a 400 naming the field for what it cannot use."""
from __future__ import annotations

import html
import re

from app.web.highlight import highlight_source

HOSTILE = "r0 = 1 # </pre><script>alert(1)</script> &lt;b&gt;\n/* <img src=x onerror=alert(2)>\n */ exit\n"


def view_of(page: str) -> str:
    match = re.search(r'<pre class="hl code-view" id="source-view"[^>]*>\n(.*?)</pre>', page, re.DOTALL)
    assert match, "the page has no highlighted view of the program"
    return match.group(1)


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_the_page_holds_the_program_highlighted_and_hidden_until_a_script_shows_it(client):
    page = client.get("/?example=sum").get_data(as_text=True)
    tag = re.search(r'<pre class="hl code-view" id="source-view"[^>]*>', page).group(0)
    assert " hidden" in tag and 'aria-hidden="true"' in tag and 'data-url="/highlight"' in tag
    view = view_of(page)
    source = html.unescape(re.search(r'<textarea id="source"[^>]*>\n(.*?)</textarea>', page, re.DOTALL).group(1))
    assert text_of(view) == source  # the same text, character for character, line for line
    assert '<span class="hl-nb">r0</span>' in view


def test_highlight_answers_the_program_highlighted_and_escaped(post_form):
    response = post_form("/highlight", source=HOSTILE)
    assert response.status_code == 200 and response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert "<script" not in body and "<img" not in body and "</pre>" not in body
    assert "&lt;script&gt;" in body and "&amp;lt;b&amp;gt;" in body
    assert text_of(body) == HOSTILE
    lines = body.split("\n")
    assert len(lines) == HOSTILE.count("\n") + 1
    assert all(line.count("<span") == line.count("</span>") for line in lines)  # each line stands alone
    assert lines[0].startswith('<span class="hl-nb">r0</span>')


def test_highlight_reads_c_with_the_c_lexer_and_keeps_browser_line_ends(post_form):
    body = post_form("/highlight", source='int x = 1; // <b>\r\nSEC("xdp")', language="c").get_data(as_text=True)
    assert '<span class="hl-kt">int</span>' in body and "&lt;b&gt;" in body
    assert body.count("\n") == 1 and "\r" not in body
    assert body == highlight_source('int x = 1; // <b>\nSEC("xdp")', "c")


def test_highlight_refuses_what_it_cannot_use_naming_the_field(client, post_form, app):
    missing = post_form("/highlight", language="asm")
    assert missing.status_code == 400 and "source" in missing.get_data(as_text=True)
    wrong = post_form("/highlight", source="exit", language="rust")
    assert wrong.status_code == 400 and "language" in wrong.get_data(as_text=True)
    limit = app.config["MAX_SOURCE_BYTES"]
    too_big = post_form("/highlight", source="r0 = 0\n" * (limit // 7 + 1))
    assert too_big.status_code == 400 and "source" in too_big.get_data(as_text=True)
    no_token = client.post("/highlight", data={"source": "exit"})
    assert no_token.status_code == 400  # a form post like any other: CSRF-protected
