"""An app served by a real uvicorn with ``forum/server.py``'s protocol, in the test's own event
loop, on a free port of 127.0.0.1 (the server tests, and the live streams, which the in-process
test client cannot read as they come)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from forum import server as guarded

HOST = "127.0.0.1"


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http=guarded.GuardedHttpProtocol, log_level="warning",
                            lifespan="off", timeout_keep_alive=guarded.KEEP_ALIVE_SECONDS)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for it
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()
