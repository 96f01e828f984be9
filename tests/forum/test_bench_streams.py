"""The bench's live-stream client reads what ``/live`` sends (``bench/streams.py``).

``make bench`` is only run by hand; these keep its reading of HTTP/1.1 chunks and of
server-sent events right, byte by byte as they may arrive, on the bytes Litestar writes for
the forum's events (``ServerSentEventMessage``, what ``forum/web/live.py`` sends).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from litestar.response.sse import ServerSentEventMessage

from bench.streams import Dechunker, Delivery, LiveStream, SSEParser, percentile

READY = ServerSentEventMessage(data="", event="ready", retry=5000).encode()
POSTS = ServerSentEventMessage(data='{"thread":7,"last":31}', event="posts").encode()
KEEPALIVE = b": \r\n\r\n"


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def test_the_forum_s_events_are_read_whole() -> None:
    parser = SSEParser()
    assert parser.feed(READY + KEEPALIVE + POSTS) == [
        ("ready", ""), ("posts", '{"thread":7,"last":31}')]


def test_events_split_anywhere_are_read_once_complete() -> None:
    stream = READY + KEEPALIVE + POSTS
    for cut in range(1, len(stream)):
        parser = SSEParser()
        events = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
        assert events == [("ready", ""), ("posts", '{"thread":7,"last":31}')], cut


def test_line_endings_comments_and_fields() -> None:
    parser = SSEParser()
    text = ("event: posts\rdata: a\ndata:b\r\n: a comment\nid: 4\nretry: 10\n\n"
            "data: no event name\n\n"
            "event: nothing\n\n"  # no data: not dispatched
            "data: é\n\n")
    encoded = text.encode()
    events = [event for byte in range(len(encoded))
              for event in parser.feed(encoded[byte:byte + 1])]
    assert events == [("posts", "a\nb"), ("message", "no event name"), ("message", "é")]


def test_chunks_split_anywhere() -> None:
    body = chunked(READY, KEEPALIVE, POSTS)
    for cut in range(1, len(body)):
        chunks = Dechunker()
        assert chunks.feed(body[:cut]) + chunks.feed(body[cut:]) == READY + KEEPALIVE + POSTS
        assert chunks.finished


def test_the_client_reads_an_answer_and_its_events() -> None:
    loop = asyncio.new_event_loop()
    try:
        stream = LiveStream(7, 8765, loop)
        head = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
                b"transfer-encoding: chunked\r\n\r\n")
        answer = head + chunked(READY, KEEPALIVE, POSTS)[:-5]  # the stream goes on
        for byte in range(len(answer)):
            stream.data_received(answer[byte:byte + 1])
        assert stream.ready.result() is True
        assert [(kind, data) for _, kind, data in stream.events] == [
            ("posts", '{"thread":7,"last":31}')]

        refused = LiveStream(7, 8765, loop)
        refused.data_received(b"HTTP/1.1 404 Not Found\r\ncontent-type: text/html\r\n\r\n")
        assert refused.ready.result() is False
        assert refused.failure == "answered 404 text/html"
    finally:
        loop.close()


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([3.0], 0.99) == 3


def heard(worker: int, *arrivals: float) -> SimpleNamespace:
    return SimpleNamespace(worker=worker, events=[
        (at, "posts", '{"thread":7,"last":31}') for at in arrivals])


def test_a_stream_that_should_have_heard_and_did_not_is_lost() -> None:
    streams = [heard(1, 10.2), heard(1, 10.4), heard(2), heard(2)]
    before = {id(s): 0 for s in streams}

    through_redis = Delivery()
    through_redis.replies.append(through_redis._heard(  # noqa: SLF001 - the bench's own class
        "at rest 1", 7, 303, 10.0, 10.1, streams, before))
    figures = through_redis.figures()
    assert (figures["expected"], figures["delivered"], figures["lost"]) == (4, 2, 2)
    assert figures["since_sent_ms"]["max"] == pytest.approx(400)

    # Without Redis too, every worker's streams should hear it (Unix datagrams between them).
    in_process = Delivery()
    in_process.replies.append(in_process._heard(  # noqa: SLF001
        "at rest 1", 7, 303, 10.0, 10.1, streams, before))
    figures = in_process.figures()
    assert (figures["expected"], figures["delivered"], figures["lost"]) == (4, 2, 2)
