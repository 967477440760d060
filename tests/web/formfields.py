"""What a browser without JavaScript submits with a form, read from a page's HTML (for tests that click
through pages with the test client): the named fields inside the form and those elsewhere that name it with
``form=``, with a ``<select>``'s selected option (or its first), a ``<textarea>``'s text, checked radio
buttons and checkboxes; and its submit buttons, to pick one to click."""
from __future__ import annotations

from html.parser import HTMLParser

from werkzeug.datastructures import MultiDict


class FormFields(HTMLParser):
    """Feed a page; then ``fields`` holds (name, value) pairs of form ``form_id`` and ``buttons`` its named
    submit buttons as (name, value, attributes). Disabled fields are left out, as browsers leave them out."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.buttons: list[tuple[str, str, dict]] = []
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: dict | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def _mine(self, attrs: dict) -> bool:
        owner = attrs.get("form")
        return bool(attrs.get("name")) and "disabled" not in attrs and (
            owner == self.form_id or (owner is None and self.inside))

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if tag == "option" and self._select is not None:
            self._option = a
            self._select[1].append((a.get("value"), "selected" in a))
            return
        if not self._mine(a):
            return
        kind = a.get("type", "text")
        if tag == "input" and kind in ("radio", "checkbox"):
            if "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif tag == "input" and kind not in ("submit", "button", "reset", "image", "file"):
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and a.get("type", "submit") == "submit":
            self.buttons.append((a["name"], a.get("value", ""), a))
        elif tag == "select":
            self._select = (a["name"], [])
        elif tag == "textarea":
            self._textarea = (a["name"], [])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)
        elif self._option is not None and self._option.get("value") is None and self._select is not None:
            options = self._select[1]  # an option without a value submits its text
            value, selected = options[-1]
            options[-1] = ((value or "") + data, selected)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            name, options = self._select
            chosen = next((v for v, selected in options if selected), options[0][0] if options else None)
            if chosen is not None:
                self.fields.append((name, chosen.strip() if chosen else ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            self.fields.append((name, text.removeprefix("\n")))  # the one newline after <textarea> is not text
            self._textarea = None


def form_data(html: str, form_id: str, pick=None) -> MultiDict:
    """The fields of form ``form_id`` in ``html``, plus the first submit button for which ``pick(attributes)``
    holds (none when ``pick`` is None), as a browser without JavaScript posts them."""
    parser = FormFields(form_id)
    parser.feed(html)
    data = MultiDict(parser.fields)
    if pick is not None:
        name, value, _ = next(b for b in parser.buttons if pick(b[2]))
        data.add(name, value)
    return data
