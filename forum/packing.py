"""How a worker packs the copies it keeps in memory: members' own pages (``forum.cache``) and
rendered posts (``forum.web.fragments``).

Posts are packed with Zstandard at level 1: a post of a few kilobytes to about half its size,
unpacked in about 4 µs; a post is unpacked only when a page showing it is rendered.

Members' pages are packed with LZ4 (block format, high-compression level 4), because a member's
cached page is unpacked on every hit and that was the largest part of what a hit cost. On the
bench's member page of 87 KB: Zstandard level 1 packs it to 22 KB and unpacks it in 30 µs
(about 50 µs in a worker under load); LZ4 packs it to 27 KB and unpacks it in 14 µs. Packing
takes 0.7 ms instead of 0.14, once per render of a page that took 10 to 80 ms to render
(docs/PERFORMANCE.md, "Members' pages, unpacked faster" and "LZ4 for members' pages").

A member's page holds the reader's CSRF token in every form (64 times on a thread page), and
each hit puts the reader's own token in. :func:`pack_page` packs the page without them and
keeps where they were, so a hit joins the pieces around the token (5 µs) instead of searching
the page for the placeholder (47 µs).

A Zstandard compressor and decompressor are made once per thread and reused (a fresh context
costs about 15 µs, several times what unpacking a post costs): zstandard's objects are not to
be shared between threads. LZ4's block functions keep no state. Nothing here leaves the
process.
"""

from __future__ import annotations

import threading
from array import array
from collections.abc import Iterable

import lz4.block
import zstandard

LEVEL = 1
"""Zstandard's level for posts."""

PAGE_LEVEL = 4
"""LZ4's high-compression level for members' pages (1: 27.9 KB, 4: 27.0 KB, 9: 26.7 KB in
1.1 ms; unpacking takes the same time)."""

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
    # The block stores its unpacked size: lz4.block.decompress needs it.
    return lz4.block.compress(b"".join(pieces), mode="high_compression",
                              compression=PAGE_LEVEL), cuts


def open_page(packed: bytes, cuts: Iterable[int], token: bytes) -> bytes:
    """The page :func:`pack_page` packed, with ``token`` where the placeholder was."""
    text = memoryview(lz4.block.decompress(packed))
    pieces = []
    start = 0
    for cut in cuts:
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return token.join(pieces)
