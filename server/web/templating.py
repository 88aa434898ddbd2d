"""The Jinja environment the pages render through: built once by the app factory
(``build_templates``), kept on ``app.state.templates``, used by ``page``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from server.domain.names import label_of
from server.web.render import markdown

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
LOCAL_TIME = ZoneInfo("Europe/London")  # the network's members are in England


def when(ms: int) -> str:
    """A moment in plain words, UK time: "Thu 26 Nov 2026, 14:05"."""
    moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(LOCAL_TIME)
    return f"{moment:%a} {moment.day} {moment:%b %Y, %H:%M}"


def iso(ms: int) -> str:
    """A moment for <time datetime>."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds")


def build_templates(
    template_globals: Mapping[str, Callable[..., Any]] | None = None,
    directory: Path = TEMPLATES_DIR,
) -> Environment:
    """The environment with the filters every page uses (``markdown``, ``when``, ``iso``,
    ``who``: a member as the viewer may see them, domain/names.py)
    and the helpers page modules lend their templates (``template_globals``)."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(markdown=markdown, when=when, iso=iso, who=label_of)
    env.globals.update(template_globals or {})
    return env


def templates_of(request: Request) -> Environment:
    """The running app's environment (made in create_app)."""
    templates: Environment = request.app.state.templates
    return templates


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template rendered for this request; a form shown again after a mistake
    (``request.state.form_error``) answers with that mistake's status."""
    context.setdefault("session", getattr(request.state, "session", None))
    form_error = context.setdefault("form_error", getattr(request.state, "form_error", None))
    if form_error is not None and status == 200:
        status = form_error.status
    html = templates_of(request).get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status)
