"""``forum.packing``: what a worker keeps packed comes back byte for byte, in any thread."""

from __future__ import annotations

import threading

from forum.packing import pack, unpack


def test_a_page_comes_back_byte_for_byte_and_smaller():
    page = ("<article><p>Je me reconnais beaucoup dans ce que tu écris·es.</p></article>\n"
            * 400).encode()
    packed = pack(page)
    assert len(packed) < len(page) // 10
    assert unpack(packed) == page


def test_empty_and_binary_bodies_survive():
    for body in (b"", bytes(range(256)) * 3, b"\x00csrf\x00"):
        assert unpack(pack(body)) == body


def test_what_one_thread_packed_another_unpacks():
    """Each thread has its own compressor and decompressor; their frames are the same format."""
    page = "Bonjour à toutes et à tous, ".encode() * 100
    packed_elsewhere: list[bytes] = []
    unpacked_elsewhere: list[bytes] = []
    thread = threading.Thread(target=lambda: packed_elsewhere.append(pack(page)))
    thread.start()
    thread.join()
    assert unpack(packed_elsewhere[0]) == page
    thread = threading.Thread(target=lambda: unpacked_elsewhere.append(unpack(pack(page))))
    thread.start()
    thread.join()
    assert unpacked_elsewhere == [page]
