"""Error responses: an HTML page for people, ``{"error": {"message": ...}}`` under ``/api/``.

Every HTTP error raised anywhere (400 from CSRF, 404, 405, 413 from a body over ``MAX_CONTENT_LENGTH``, 415 ...),
a request over its time limit (503, ``progress.py``) and every unexpected exception come through here. An
unexpected exception is logged with its traceback and answered with a plain 500: the traceback never reaches
the user.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from .progress import TimeLimit

API_PREFIX = "/api/"

_TITLES = {
    400: "Bad request",
    404: "Page not found",
    405: "Method not allowed",
    413: "Request too large",
    415: "Unsupported content type",
    503: "Took too long",
    500: "Something went wrong",
}


@dataclass(frozen=True)
class ErrorPage:
    """Context of ``errors/error.html``: ``status`` code, a short ``title`` and a ``message`` for a person."""

    status: int
    title: str
    message: str


def _message(error: HTTPException) -> str:
    if error.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return f"The request body is larger than the {limit:,} bytes this server accepts." if limit else \
            "The request body is too large."
    if error.code == 500:
        return "The server failed to handle this request. The error has been logged."
    return error.description or _TITLES.get(error.code or 500, "Error")


def error_response(error: HTTPException):
    code = error.code or 500
    message = _message(error)
    if request.path.startswith(API_PREFIX):
        response = jsonify({"error": {"message": message}})
    else:
        page = ErrorPage(code, _TITLES.get(code, error.name), message)
        response = current_app.make_response(render_template("errors/error.html", page=page))
    response.status_code = code
    if code == 405 and isinstance(error, HTTPException):
        allowed = error.get_headers()
        for name, value in allowed:
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response


def unexpected_error(error: Exception):
    current_app.logger.exception("unhandled exception on %s %s", request.method, request.path)
    return error_response(InternalServerError())


def time_limit(error: TimeLimit):
    """A request whose engine work passed ``MAX_RUN_SECONDS`` (``progress.py``): 503, saying so."""
    return error_response(ServiceUnavailable(description=str(error)))


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(TimeLimit, time_limit)
    app.register_error_handler(Exception, unexpected_error)
