"""The lessons in the browser: the course at ``/learn``, one lesson at ``/learn/<slug>``.

A lesson page has the lesson's text beside an editor that opens with the learner's last checked program
(else the starter). "Check" (``POST /learn/<slug>``, CSRF-checked, counted against the run limit) verifies
and runs the program against the lesson's tests (``app.lessons.check``) and records the attempt
(``app.store.progress``); htmx swaps in the report, without JavaScript the whole page comes back with it.
Each test of a report can be opened in the playground: a form that posts the learner's program and the
test's input to the playground's ``/run``, which shows the run step by step.

Progress belongs to an anonymous browser: a random learner id in the signed session cookie
(``learner_id``), made on the first check. The solution is shown once a lesson is passed, or after
``SOLUTION_AFTER`` checks. ``POST /learn/forget`` deletes this browser's progress.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup

from app import store
from app.lessons import CheckReport, Lesson, check_program, course, lesson_by_slug
from app.store.progress import LessonState, forget, is_learner_id, progress_of, record_check

from .forms import LANG_ASM, LANG_C
from .highlight import highlight_source
from .inputs import FieldError, Limits
from .jsonbody import ApiError
from .lessontext import render
from .ratelimit import RUNS, require
from .render import page_or_fragment
from .setups import check_setup, form_of_setup

bp = Blueprint("learn", __name__, url_prefix="/learn")

SOLUTION_AFTER = 3
"""Checks after which a lesson's solution is offered even if it was not passed."""
_SESSION_KEY = "learner"
LANGUAGE_NAMES = {LANG_ASM: "Assembly", LANG_C: "C"}


def learner_id(create: bool = False) -> str | None:
    """This browser's learner id (from the signed session cookie), made when ``create`` and there is none."""
    found = session.get(_SESSION_KEY)
    if is_learner_id(found):
        return found
    if not create:
        return None
    made = secrets.token_urlsafe(16)
    session[_SESSION_KEY] = made
    session.permanent = True  # kept for PERMANENT_SESSION_LIFETIME, not only until the browser closes
    return made


def _limits() -> Limits:
    return Limits.from_config(current_app.config)


@dataclass(frozen=True)
class CourseEntry:
    lesson: Lesson
    status: str  # "passed", "tried" or "new"


@dataclass(frozen=True)
class TestOpening:
    """What a test's "Open in the playground" button posts: the playground form's fields."""

    name: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LessonPage:
    """Everything the lesson page shows."""

    lesson: Lesson
    html: Markup
    source: str
    highlighted: Markup
    language: str
    state: LessonState | None
    report: CheckReport | None
    openings: tuple[TestOpening, ...]
    previous: Lesson | None
    next: Lesson | None
    passed: int
    total: int

    @property
    def solution_shown(self) -> bool:
        return self.state is not None and (self.state.passed or self.state.attempts >= SOLUTION_AFTER)

    @property
    def solution_html(self) -> Markup:
        return highlight_source(self.lesson.solution[self.language], self.language)

    @property
    def line_count(self) -> int:
        return self.source.count("\n") + 1

    @property
    def rows(self) -> int:
        """The editor's height in lines: the program and some room, between 8 and 24."""
        return min(max(self.line_count + 2, 8), 24)


def _course_entries(progress: dict[str, LessonState]) -> list[CourseEntry]:
    return [CourseEntry(lesson, progress[lesson.slug].status if lesson.slug in progress else "new")
            for lesson in course()]


@bp.get("")
def index():
    progress = progress_of(store.engine(), learner_id())
    entries = _course_entries(progress)
    units: list[tuple[str, list[CourseEntry]]] = []
    for entry in entries:
        if not units or units[-1][0] != entry.lesson.unit:
            units.append((entry.lesson.unit, []))
        units[-1][1].append(entry)
    passed = sum(e.status == "passed" for e in entries)
    upcoming = next((e.lesson for e in entries if e.status != "passed"), None)
    return render_template("learn/index.html", units=units, passed=passed, total=len(entries),
                           learner=bool(progress), upcoming=upcoming)


def _lesson_or_404(slug: str) -> Lesson:
    lesson = lesson_by_slug(slug)
    if lesson is None:
        abort(404, description="There is no lesson with that name. The course lists them all.")
    return lesson


def _language(lesson: Lesson, asked: str | None, state: LessonState | None) -> str:
    if asked in lesson.languages:
        return asked
    if state is not None and state.language in lesson.languages:
        return state.language
    return lesson.languages[0]


def _page(lesson: Lesson, source: str, language: str, state: LessonState | None,
          report: CheckReport | None, progress: dict[str, LessonState]) -> LessonPage:
    lessons = course()
    at = lessons.index(lesson)
    passed = sum(1 for s in progress.values() if s.passed and lesson_by_slug(s.lesson) is not None)
    return LessonPage(lesson, render(lesson.text), source, highlight_source(source, language), language, state,
                      report, _openings(lesson, source, language, report), lessons[at - 1] if at else None,
                      lessons[at + 1] if at + 1 < len(lessons) else None, passed, len(lessons))


def _openings(lesson: Lesson, source: str, language: str, report: CheckReport | None) -> tuple[TestOpening, ...]:
    """A playground form per test of a report: the learner's program on the test's input, at the packet whose
    run went wrong."""
    if report is None:
        return ()
    limits = _limits()
    out = []
    for test, result in zip(lesson.tests, report.tests):
        body: dict[str, Any] = {"source": source, "type": lesson.hook, **test.setup}
        if language != LANG_ASM:
            body["language"] = language
        if result.run:  # several packets: open at the run that went wrong
            body["view"] = {"run": result.run}
        try:
            form = form_of_setup(check_setup(body, limits), limits)
        except (ApiError, FieldError):  # a program the playground would refuse too (too large): no links
            return ()
        out.append(TestOpening(test.name, form.hidden_fields() + ((("run", form.run),) if result.run else ())))
    return tuple(out)


@bp.get("/<slug>")
def lesson_page(slug: str):
    lesson = _lesson_or_404(slug)
    progress = progress_of(store.engine(), learner_id())
    state = progress.get(lesson.slug)
    language = _language(lesson, request.args.get("language"), state)
    kept = state is not None and state.language == language and request.args.get("start") != "over"
    source = state.source if kept else lesson.starter[language]
    return render_template("learn/lesson.html", page=_page(lesson, source, language, state, None, progress))


@bp.post("/<slug>")
def check(slug: str):
    lesson = _lesson_or_404(slug)
    language = request.form.get("language", LANG_ASM)
    source = request.form.get("source", "")
    if language not in lesson.languages:
        abort(400, description=f"This lesson is written in {', '.join(lesson.languages)}.")
    require(RUNS)
    limits = _limits()
    report = check_program(lesson, source, language, limits)
    engine = store.engine()
    if len(source.encode("utf-8", "surrogatepass")) <= limits.source_bytes:  # what was refused is not kept
        record_check(engine, learner_id(create=True), lesson.slug, passed=report.passed, source=source,
                     language=language)
    progress = progress_of(engine, learner_id())
    page = _page(lesson, source, language, progress.get(lesson.slug), report, progress)
    return page_or_fragment(("learn/_check.html", "learn/_course_count.html"), {"page": page, "oob": True},
                            lambda: ("learn/lesson.html", page))


@bp.post("/forget")
def forget_progress():
    learner = learner_id()
    if learner is not None:
        forget(store.engine(), learner)
        session.pop(_SESSION_KEY)  # the next check starts a new, unrelated id
    return redirect(url_for("learn.index"), 303)


@dataclass(frozen=True)
class LessonLink:
    url: str
    title: str


def lesson_link(slug: str) -> LessonLink | None:
    """The link to the lesson ``slug`` names (the message catalogue's ``lesson``), or None if there is none."""
    lesson = lesson_by_slug(slug)
    if lesson is None:
        return None
    return LessonLink(url_for("learn.lesson_page", slug=slug), f"{lesson.number}. {lesson.title}")


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    return {"lesson_link": lesson_link, "language_names": LANGUAGE_NAMES, "solution_after": SOLUTION_AFTER}
