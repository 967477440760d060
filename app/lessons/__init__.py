"""Lessons: the course under ``lessons/`` (``content.py`` reads it) and the checks of a learner's program
against a lesson's tests (``check.py``). The web pages (``app.web.learn``) and the CLI render these."""
from .check import CheckReport, TestResult, check_program
from .content import Lesson, LessonFormatError, LessonTest, course, lesson_by_slug, load_lessons

__all__ = ["CheckReport", "Lesson", "LessonFormatError", "LessonTest", "TestResult", "check_program", "course",
           "lesson_by_slug", "load_lessons"]
