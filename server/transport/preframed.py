"""Events framed once for every receiver: the seam between realtime's send path and the
fast-path WebSocket protocol (transport/wsproto.py).

No uvicorn import here, so the connection imports this whatever ``CFN_WS_FAST_PATH`` says:
under the fast path the protocol puts a writer at ``scope["extensions"][PREFRAMED]["send"]``
(an awaitable taking a frame made by ``wire()``, under the rules of ``websocket.send``); under
stock uvicorn there is none, and the connection sends plain ASGI messages instead.
"""

from __future__ import annotations

import struct

# The ASGI scope extension that offers the pre-framed writer.
PREFRAMED = "cfn.preframed"


def wire(payload: bytes | str) -> bytes:
    """A complete unmasked server-to-client WebSocket frame: binary for bytes, text for str.

    Server frames carry no mask, so the bytes are the same for every receiver: an event is
    framed once and written as is to each subscriber.
    """
    if isinstance(payload, str):
        data, first = payload.encode(), 0x81
    else:
        data, first = payload, 0x82
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", first, n)
    elif n < 65536:
        head = struct.pack("!BBH", first, 126, n)
    else:
        head = struct.pack("!BBQ", first, 127, n)
    return head + data
