"""HEAD requests answered as their GET, without the body.

Uptime monitors and link checkers ask ``HEAD /``; Litestar routes only the methods a handler
declares, so every page answered 405. This ASGI wrapper, outermost in what ``forum run``
serves (``forum.app.create_server_app``), hands a HEAD request to the app as a GET and drops
the body it sends back: the status and headers (``Content-Length`` included) are the GET's,
as RFC 9110 asks. A GET is safe, so nothing is written; the page cache answers a HEAD from
its copy like a GET.
"""

from __future__ import annotations

from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


class AnswerHead:
    """``app``, with HEAD requests answered as GET without a body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        # Tests and tools reach the Litestar app's attributes (state, ...) through the wrapper.
        return getattr(self.app, name)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the last part below ends the response
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)
