"""The uvicorn internals server/transport/ relies on (listed in server/transport/fence.py)
are all in the installed uvicorn; an upgrade that removes one fails here, naming it."""

from __future__ import annotations

import pytest

from server.transport import fence


def test_the_installed_uvicorn_has_everything_the_transport_relies_on() -> None:
    missing = fence.missing({**fence.SERVER, **fence.FAST_PATH})
    assert missing == [], "uvicorn lacks: " + ", ".join(missing)


def test_the_fast_path_relies_on_the_classes_it_subclasses() -> None:
    from server.transport.handshake import HandshakeTimeoutProtocol
    from server.transport.wsproto import CoalescingWebSocketProtocol

    for cls in (CoalescingWebSocketProtocol, HandshakeTimeoutProtocol):
        base = cls.__mro__[1]
        assert f"{base.__module__}:{base.__name__}" in fence.FAST_PATH, base


def test_a_missing_attribute_is_reported_by_name() -> None:
    wanted = {
        "uvicorn.server:Server": ("shutdown", "gone_in_this_release"),
        "uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol": (
            "close_sent",
            "also_gone",
        ),
    }
    assert fence.missing(wanted) == [
        "uvicorn.server.Server.gone_in_this_release",
        "uvicorn.protocols.websockets.websockets_sansio_impl.WebSocketsSansIOProtocol.also_gone",
    ]
    with pytest.raises(fence.FenceError) as raised:
        fence.check(wanted, fence.STOCK)
    message = str(raised.value)
    assert "uvicorn.server.Server.gone_in_this_release" in message
    assert "WebSocketsSansIOProtocol.also_gone" in message
    assert "CFN_WS_FAST_PATH=0" in message


def test_a_missing_module_or_class_is_reported_by_name() -> None:
    assert fence.missing(
        {"uvicorn.protocols.moved_away:Protocol": ("send",), "uvicorn.server:NoSuchServer": ()}
    ) == ["uvicorn.protocols.moved_away", "uvicorn.server.NoSuchServer"]


def test_the_check_passes_quietly_on_the_installed_uvicorn() -> None:
    fence.check(fence.SERVER)
    fence.check(fence.FAST_PATH, fence.STOCK)
