"""The yardstick: a bare `websockets` broadcast server with no persistence and no auth.

It speaks just enough of cfn.v1.msgpack (hello, join, message.post) for the load generator,
numbers events in memory, encodes each once and broadcasts it, so the fan-out benchmark
can say how much the real server's persistence, checks and flow control cost.
Run: ``python -m bench.bare --port 8765``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import msgpack
from websockets.asyncio.server import ServerConnection, broadcast, serve

SUBPROTOCOL = "cfn.v1.msgpack"


class Rooms:
    def __init__(self) -> None:
        self.members: dict[str, set[ServerConnection]] = {}
        self.seq: dict[str, int] = {}
        self.ids = itertools.count(1)

    async def handle(self, ws: ServerConnection) -> None:
        joined: set[str] = set()
        try:
            async for raw in ws:
                cmd = msgpack.unpackb(raw, raw=False)
                op, ref = cmd.get("op"), cmd.get("ref")
                data: dict[str, Any] = {}
                if op == "join":
                    room = cmd["room"]
                    self.members.setdefault(room, set()).add(ws)
                    joined.add(room)
                    data = {
                        "room": room,
                        "seq": self.seq.get(room, 0),
                        "epoch": "bare",
                        "recovered": False,
                    }
                elif op == "message.post":
                    data = {"message": self.post(ws, cmd)}
                await ws.send(msgpack.packb({"op": "reply", "ref": ref, "ok": True, "data": data}))
        finally:
            for room in joined:
                self.members.get(room, set()).discard(ws)

    def post(self, ws: ServerConnection, cmd: dict[str, Any]) -> dict[str, int]:
        room = cmd["room"]
        seq = self.seq[room] = self.seq.get(room, 0) + 1
        now = int(time.time() * 1000)
        message_id = next(self.ids)
        frame = msgpack.packb(
            {
                "op": "event",
                "room": room,
                "seq": seq,
                "type": "message.created",
                "at": now,
                "data": {
                    "id": message_id,
                    "thread": cmd["thread"],
                    "author": {"id": 1, "name": "Bench"},
                    "body": cmd["body"],
                    "cid": cmd["cid"],
                    "created_at": now,
                },
            }
        )
        broadcast(self.members.get(room, ()), frame)
        return {"id": message_id, "seq": seq}


async def main(host: str, port: int) -> None:
    rooms = Rooms()
    async with serve(
        rooms.handle,
        host,
        port,
        subprotocols=[SUBPROTOCOL],
        compression=None,
        ping_interval=None,
        max_size=65536,
        max_queue=None,
    ) as server:
        print("ready", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    import uvloop

    uvloop.run(main(args.host, args.port))
