"""Errors as pages: plain words inside the usual header, whatever went wrong."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from server.web.guards import current_session
from server.web.templating import page

TITLES = {
    400: "Please check what you sent",
    403: "Sorry, that cannot be done",
    404: "Page not found",
    413: "That was too much to send",
    429: "Please wait",
    500: "Something went wrong",
}


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error in plain words, inside the usual header so "My groups" and "Log out" stay."""
    return page(
        request,
        "error.html",
        status=status,
        title=TITLES.get(status, "Sorry"),
        message=message,
        error_status=status,
        form_error=None,
    )


async def error_page_for(request: Request, status: int, message: str) -> HTMLResponse:
    """The error page, after finding who is asking when the route never did (no route
    matched, or the failure came first); a broken session lookup only drops the header."""
    if not hasattr(request.state, "session"):
        try:
            await current_session(request)
        except Exception:  # the page must still answer: an anonymous header is enough
            request.state.session = None
    return error_page(request, status, message)
