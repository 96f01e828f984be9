"""HEAD is answered on every page a GET answers (uptime monitors ask ``HEAD /``)."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient


@pytest.mark.parametrize("path", ["/", "/help", "/search?q=douche", "/t/1", "/healthz",
                                  "/static/css/entrepairs.css"])
async def test_head_answers_what_get_answers_without_the_body(
    client: AsyncTestClient, demo: None, path: str
) -> None:
    got = await client.get(path)
    head = await client.head(path)
    assert got.status_code == 200 and got.content
    assert head.status_code == 200, head.text
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers.get("content-length") == got.headers.get("content-length")


async def test_head_of_an_unknown_page_is_a_404_and_of_a_form_route_a_405(
    client: AsyncTestClient, demo: None
) -> None:
    assert (await client.head("/t/999999")).status_code == 404
    # A route that only takes POST answers HEAD as it answers GET: never as a POST.
    assert (await client.head("/t/1/reply")).status_code == 405
