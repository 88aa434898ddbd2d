"""The small exception hierarchy: each error carries its protocol code and HTTP status.

Raised anywhere in the domain, turned into a reply, a page or a CLI line in one place.
"""

from __future__ import annotations


class CFNError(Exception):
    """Base of every error a user may see; ``message`` is plain words, never internals."""

    code = "internal"
    status = 500
    default_message = "Something went wrong on the server. Nothing you sent was lost."

    def __init__(self, message: str | None = None, field: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field  # the form field to fix, so a page can say so next to it
        super().__init__(self.message)


class BadRequest(CFNError):
    code, status, default_message = "bad_request", 400, "That request was not understood."


class UnknownOp(CFNError):
    code, status, default_message = "unknown_op", 400, "That operation does not exist."


class Unauthorized(CFNError):
    code, status, default_message = "unauthorized", 401, "Please log in first."


class Forbidden(CFNError):
    code, status, default_message = "forbidden", 403, "You do not have access to that."


class NotFound(CFNError):
    code, status, default_message = "not_found", 404, "That could not be found."


class NotJoined(CFNError):
    code, status, default_message = "not_joined", 409, "Join the room first."


class TooLarge(CFNError):
    code, status, default_message = "too_large", 413, "That is too long."


class RateLimited(CFNError):
    code, status, default_message = "rate_limited", 429, "Too many requests; wait a moment."


class PollClosed(CFNError):
    code, status, default_message = "poll_closed", 409, "This poll has closed."


class Conflict(CFNError):
    code, status, default_message = "conflict", 409, "That conflicts with what is already there."


class Internal(CFNError):
    pass


ERROR_CODES = (
    "bad_request",
    "unknown_op",
    "unauthorized",
    "forbidden",
    "not_found",
    "not_joined",
    "too_large",
    "rate_limited",
    "poll_closed",
    "conflict",
    "internal",
)
