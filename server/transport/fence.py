"""The uvicorn internals this server relies on, written down once, and a check for them.

uvicorn documents its ``Config`` and ``Server.serve()``; the protocol classes and the
server's shutdown are internals that may move in any release. Every use of them lives in
server/transport/, and this is the list of what those modules touch:

- ``serve.py`` (both modes): ``Server.shutdown(sockets)`` is extended and
  ``Server.server_state.connections`` read, to close sockets with 1001 first.
- ``wsproto.py`` (fast path): subclasses ``WebSocketsSansIOProtocol``.
- ``handshake.py`` (fast path): subclasses ``HttpToolsProtocol``.

``check()`` runs when a server is made (``serve.make_server``): an upgrade that removed one
of them stops the start with an error naming each missing piece, instead of failing later
on a live socket. tests/test_dependency_fences.py runs it against the installed uvicorn.
The realtime send path's one link to transport/ is ``transport/preframed.py``, which
imports no uvicorn at all.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable, Mapping
from typing import Any

# "module:Class" -> the attributes used: methods overridden or called, and instance
# attributes set by the class's __init__ (checked on an instance built for the purpose).
Requirements = Mapping[str, tuple[str, ...]]

SERVER: Requirements = {
    "uvicorn.server:Server": ("shutdown", "server_state"),
    "uvicorn.server:ServerState": ("connections",),
}

FAST_PATH: Requirements = {
    "uvicorn.protocols.utils:ClientDisconnected": (),
    "uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol": (
        # overridden
        "connection_made",
        "run_asgi",
        "send",
        "handle_parser_exception",
        "send_receive_event_to_app",
        # read or set
        "transport",
        "loop",
        "logger",
        "client",
        "queue",
        "conn",
        "close_timeout",
        "close_timer",
        "close_sent",
        "disconnected",
        "handshake_complete",
        "read_paused",
        "writable",
        "frames",
        "curr_msg_data_type",
    ),
    "uvicorn.protocols.http.httptools_impl:HttpToolsProtocol": (
        # overridden
        "connection_made",
        "data_received",
        "on_headers_complete",
        "on_message_complete",
        "connection_lost",
        # read
        "transport",
        "loop",
        "logger",
        "client",
        "cycle",
    ),
}

# Also relied on, but only there once a connection is under way, so not checkable here
# (tests/test_wsproto.py and the WebSocket tests exercise them): the sans-I/O protocol's
# ``scope`` (set by its handshake), and ``Server.servers`` (set by startup; serve.py reads
# it with a default).


class FenceError(RuntimeError):
    """The installed uvicorn lacks internals that server/transport/ relies on."""

    def __init__(self, missing: list[str], version: str, remedy: str) -> None:
        self.missing = missing
        super().__init__(
            f"uvicorn {version} lacks what server/transport/ relies on: "
            + ", ".join(missing)
            + ". "
            + remedy
        )


PIN = "Install the uvicorn release pyproject.toml pins."
STOCK = (
    "Set CFN_WS_FAST_PATH=0 to serve on uvicorn's stock protocols, or install the"
    " uvicorn release pyproject.toml pins."
)


def missing(requirements: Requirements) -> list[str]:
    """Each required module, class or attribute that is absent, as ``module.Class.attr``."""
    absent: list[str] = []
    for target, attributes in requirements.items():
        module_name, _, class_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            absent.append(module_name)
            continue
        cls = getattr(module, class_name, None)
        if not isinstance(cls, type):
            absent.append(f"{module_name}.{class_name}")
            continue
        try:
            instance = _instance(cls)
        except Exception as e:  # its constructor changed: its instance attributes are unknown
            absent.append(f"{module_name}.{class_name}() as built here ({e!r})")
            continue
        absent += [
            f"{module_name}.{class_name}.{name}"
            for name in attributes
            if not hasattr(cls, name) and not hasattr(instance, name)
        ]
    return absent


def check(requirements: Requirements, remedy: str = PIN) -> None:
    """Raise FenceError naming everything in ``requirements`` this uvicorn lacks."""
    absent = missing(requirements)
    if absent:
        import uvicorn

        raise FenceError(absent, uvicorn.__version__, remedy)


def _instance(cls: type) -> object:
    """An instance of one of the classes above, built as uvicorn builds it (the protocols'
    ``_loop`` argument included), to see the attributes its __init__ sets."""
    import uvicorn
    from uvicorn.server import ServerState

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never called
        raise AssertionError("the fence check does not serve")

    loop = asyncio.new_event_loop()
    try:
        config = uvicorn.Config(app, lifespan="off", log_config=None)
        if issubclass(cls, uvicorn.Server):
            return cls(config)
        if issubclass(cls, asyncio.Protocol):
            config.load()
            protocol: Callable[..., object] = cls  # its signature is what is being checked
            return protocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
        return cls()
    finally:
        loop.close()
