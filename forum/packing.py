"""How a worker packs the copies it keeps in memory: members' own pages (``forum.cache``) and
rendered posts (``forum.web.fragments``).

Zstandard at level 1: on a 52 KB thread page zstd at level 3 keeps the same size as zlib at
level 6 (about 19 KB) but packs in a ninth of the time (0.15 ms against 1.4 ms) and unpacks in
a fifth (0.03 ms against 0.17 ms); level 1 is 2.6 % larger than level 3 on a member's 113 KB
thread page and unpacks it in three quarters of the time (51 µs against 68 µs). A member's
cached page is unpacked on every hit, so that is most of what a hit costs
(docs/PERFORMANCE.md, "Members' pages, unpacked faster").

A member's page holds the reader's CSRF token in every form (64 times on a thread page), and
each hit puts the reader's own token in. :func:`pack_page` packs the page without them and
keeps where they were, so a hit joins the pieces around the token (5 µs) instead of searching
the page for the placeholder (47 µs).

A compressor and a decompressor are made once per thread and reused (a fresh context costs
about 15 µs, several times what unpacking a post costs): zstandard's objects are not to be
shared between threads. Nothing here leaves the process.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterable

import zstandard

LEVEL = 1

_local = threading.local()


def pack(data: bytes) -> bytes:
    compressor = getattr(_local, "compressor", None)
    if compressor is None:
        compressor = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    # A copy of exactly its size: zstandard returns the output in a buffer sized for the
    # worst case, and keeping those made a worker's heap grow by twice what the caches held
    # (measured: +47 MB of RSS for 16 MB kept, against +21 MB with the copy, or with zlib).
    return memoryview(compressor.compress(data)).tobytes()


def unpack(packed: bytes) -> bytes:
    decompressor = getattr(_local, "decompressor", None)
    if decompressor is None:
        decompressor = _local.decompressor = zstandard.ZstdDecompressor()
    return decompressor.decompress(packed)


def pack_page(page: bytes, placeholder: bytes) -> tuple[bytes, array]:
    """``page`` packed without ``placeholder``, and the offsets (in the unpacked text) where
    each occurrence was."""
    pieces = page.split(placeholder)
    cuts = array("I")
    offset = 0
    for piece in pieces[:-1]:
        offset += len(piece)
        cuts.append(offset)
    return pack(b"".join(pieces)), cuts


def open_page(packed: bytes, cuts: Iterable[int], token: bytes) -> bytes:
    """The page :func:`pack_page` packed, with ``token`` where the placeholder was."""
    text = memoryview(unpack(packed))
    pieces = []
    start = 0
    for cut in cuts:
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return token.join(pieces)
