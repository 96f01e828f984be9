"""``forum.packing``: what a worker keeps packed comes back byte for byte, in any thread."""

from __future__ import annotations

import threading
import tracemalloc

from forum import packing
from forum.packing import open_page, pack, pack_page, unpack


def test_a_page_comes_back_byte_for_byte_and_smaller():
    page = ("<article><p>Je me reconnais beaucoup dans ce que tu écris·es.</p></article>\n"
            * 400).encode()
    packed = pack(page)
    assert len(packed) < len(page) // 10
    assert unpack(packed) == page


def test_empty_and_binary_bodies_survive():
    for body in (b"", bytes(range(256)) * 3, b"\x00csrf\x00"):
        assert unpack(pack(body)) == body


def test_what_one_thread_packed_another_unpacks_with_its_own_contexts():
    """Each thread has its own compressor and decompressor (zstandard's are not to be shared);
    their frames are the same format."""
    page = "Bonjour à toutes et à tous, ".encode() * 100
    assert unpack(pack(page)) == page
    here = (packing._local.compressor, packing._local.decompressor)
    seen: list[object] = []

    def elsewhere() -> None:
        seen.append(pack(page))
        seen.append(unpack(seen[0]))
        seen.append((packing._local.compressor, packing._local.decompressor))

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert unpack(seen[0]) == page
    assert seen[1] == page
    assert seen[2][0] is not here[0] and seen[2][1] is not here[1]


def test_what_is_kept_takes_the_memory_of_its_size():
    """Packed bytes are kept for minutes in a byte-bounded cache that counts their length: they
    must not hold the compressor's worst-case buffer (for a 100 KB page, about 100 KB for
    every 20 KB kept: the heap grew by twice what the caches held)."""
    pages = [(f"<p>Page {i}</p>" + "Je me reconnais beaucoup dans ce que tu écris. " * 2000
              ).encode() for i in range(20)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [pack(page) for page in pages]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4 * sum(len(packed) for packed in kept) + 64 * 1024


PLACEHOLDER = b"f" * 64 + b"0" * 64


def test_a_page_packed_without_its_placeholder_opens_with_the_readers_token():
    """Wherever the placeholder stands (first, last, twice in a row, in the middle of a
    word), the page comes back with the token there and nothing else changed, whatever the
    token's length; the packed form holds no placeholder."""
    token = b"a1b2" * 20
    pages = [
        b"",
        b"no form on this page",
        PLACEHOLDER,
        PLACEHOLDER + b"<form>" + PLACEHOLDER + PLACEHOLDER + b"</form>" + PLACEHOLDER,
        (b'<input name="_csrf_token" value="' + PLACEHOLDER
         + '"><p>Courage à toi·e</p>'.encode()) * 64,
        b"ff" + PLACEHOLDER + b"00",
    ]
    for page in pages:
        packed, cuts = pack_page(page, PLACEHOLDER)
        assert len(cuts) == page.count(PLACEHOLDER)
        assert PLACEHOLDER not in open_page(packed, (), b"")
        assert open_page(packed, cuts, token) == page.replace(PLACEHOLDER, token)
        assert open_page(packed, cuts, b"") == page.replace(PLACEHOLDER, b"")


def test_a_members_page_is_kept_smaller_and_in_the_memory_of_its_size():
    """A member's page (LZ4) is kept in less than a third of its size, and each kept copy
    holds only its own bytes, as posts do."""
    pages = [(f"<p>Page {i}</p>" + '<form><input name="_csrf_token" value="'
              + PLACEHOLDER.decode() + '"><button>Courage</button></form>'
              + "Je me reconnais beaucoup dans ce que tu écris. " * 2000).encode()
             for i in range(20)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [pack_page(page, PLACEHOLDER) for page in pages]
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert all(len(packed) < len(page) // 3 for (packed, _), page in zip(kept, pages))
    assert held < 4 * sum(len(packed) + len(cuts) * 4 for packed, cuts in kept) + 64 * 1024
    for (packed, cuts), page in zip(kept, pages):
        assert open_page(packed, cuts, b"t0k3n") == page.replace(PLACEHOLDER, b"t0k3n")

