"""``/status/delivery``: how events reached this process (the hub's counters), as JSON.

For operators on the machine and for the cluster tests, which assert the path an event
took (local, backplane, gap fill, tail check, resync) and not only that it arrived.
Answered to loopback callers only; anyone else gets the usual 404.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server.errors import NotFound
from server.web.guards import services_of

LOOPBACK = {"127.0.0.1", "::1"}


async def delivery(request: Request) -> Response:
    if request.client is None or request.client.host not in LOOPBACK:
        raise NotFound()
    return JSONResponse(services_of(request).hub.stats())


def routes() -> list[BaseRoute]:
    return [Route("/status/delivery", delivery, name="status_delivery")]
