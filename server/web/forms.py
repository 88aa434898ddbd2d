"""Reading what a request sent, and showing a form again after a mistake.

Numbers in a URL or a form are read one way (``whole_number``, ``path_ids``); text fields
are checked for being filled in and short enough (``text_field``). A mistake the member
can fix (``FORM_MISTAKES``) shows the form's own page again, as typed, with a
``FormError`` saying what to change (``show_form_again``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from server.errors import BadRequest, CFNError, Conflict, NotFound, PollClosed, TooLarge

MAX_NUMBER_DIGITS = 18  # fits SQLite's 64-bit integers with room to spare


def whole_number(value: Any, message: str, field: str | None = None) -> int:
    """The one way a number from a URL or a form is read: ASCII digits only (``str.isdigit``
    takes '²' and '٣', which ``int`` then refuses), anything else a plain 400 naming the field."""
    text = value.strip() if isinstance(value, str) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_NUMBER_DIGITS:
        raise BadRequest(message, field=field)
    return int(text)


def path_ids(request: Request, *names: str) -> list[int]:
    """Ids from the path; one too big for SQLite cannot exist, so it is the plain 404."""
    ids: list[int] = [request.path_params[n] for n in names]
    if any(i >= 2**62 for i in ids):
        raise NotFound()
    return ids


def text_field(form: FormData, name: str, label: str, limit: int) -> str:
    """A text field that must be filled in and at most ``limit`` characters long."""
    value = form.get(name, "")
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"Please write a {label} first.", field=name)
    if len(value) > limit:
        raise TooLarge(
            f"The {label} is too long: at most {limit:,} characters. Please "
            f"shorten it by {len(value) - limit:,}.",
            field=name,
        )
    return value


def form_cid(form: FormData) -> str:
    """The form's one-time id, so pressing the button twice posts once."""
    cid = str(form.get("cid", ""))[:60]
    return "form-" + (cid or secrets.token_urlsafe(12))


FORM_MISTAKES = (BadRequest, TooLarge, Conflict, PollClosed)
"""Errors that mean "change what you typed": the form is shown again, never an error page."""


@dataclass
class FormError:
    """One mistake on one form of a page, with everything that was typed into that form."""

    form: str  # which form on the page, e.g. "new-thread" or "vote-12"
    field: str | None  # the field to change; None for the form as a whole
    message: str
    values: dict[str, list[str]]
    status: int = 400

    @property
    def anchor(self) -> str:
        """The id of the sentence next to the field (the error summary links to it)."""
        return f"{self.form}-{self.field or 'form'}-error"

    def on(self, form: str, field: str | None = None) -> bool:
        return self.form == form and self.field == field

    def typed(self, form: str, name: str, default: Any = "") -> Any:
        """What was typed into a field of this form, else the page's usual value."""
        if self.form != form:
            return default
        return self.values.get(name, [""])[0]

    def chosen(self, form: str, name: str, value: Any, default: bool = False) -> bool:
        """Whether a radio, checkbox or option was chosen when the form was sent."""
        if self.form != form:
            return default
        return str(value) in self.values.get(name, [])


def safe_back(request: Request) -> str | None:
    """The ``?back=`` page a form came from, if it is a page of the same group."""
    target = request.query_params.get("back", "")
    slug = request.path_params.get("slug", "")
    if (
        (target.startswith(f"/g/{slug}/") or target == f"/g/{slug}")
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return None


async def show_form_again(
    request: Request, exc: CFNError, form: FormData, again: str, name: str
) -> Response:
    """Render the page the form lives on, as a GET of that page would, with the mistake and
    every typed value in ``request.state.form_error`` for its template."""
    params = {k: str(v) for k, v in request.path_params.items()}
    request.state.form_error = FormError(
        form=name.format(**params),
        field=exc.field,
        message=exc.message,
        values={k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form if k != "csrf"},
        status=exc.status,
    )
    target = urlsplit(safe_back(request) or again.format(**params))
    scope = {
        **request.scope,
        "method": "GET",
        "path": target.path,
        "raw_path": target.path.encode(),
        "query_string": target.query.encode(),
    }
    for route in request.app.router.routes:
        if isinstance(route, Route):
            match, child = route.matches(scope)
            if match == Match.FULL:
                # every page's route is a function endpoint answering a Response
                response: Response = await route.endpoint(
                    Request({**scope, **child}, request.receive)
                )
                return response
    raise exc
