"""A worker limits glibc's malloc arenas (forum.app.limit_malloc_arenas): threads that allocate
share two arenas instead of getting one each. Checked in a fresh process with glibc's own
report (``malloc_info``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from forum.config import ROOT

PROGRAM = """
import ctypes, sys, threading
if sys.argv[1] == "limited":
    from forum.app import limit_malloc_arenas
    limit_malloc_arenas()
def allocate():
    kept = [bytearray(2000) for _ in range(20000)]
    barrier.wait()
barrier = threading.Barrier(8)
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
report = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(report))
libc.fclose(ctypes.c_void_p(report))
"""


def heaps(mode: str, tmp_path: Path) -> int:
    report = tmp_path / f"{mode}.xml"
    subprocess.run([sys.executable, "-c", PROGRAM, mode, str(report)], cwd=ROOT, check=True,
                   timeout=60)
    return report.read_text().count("<heap nr=")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_threads_share_two_malloc_arenas_in_a_worker(tmp_path: Path) -> None:
    assert heaps("default", tmp_path) > 2  # each allocating thread got an arena of its own
    assert heaps("limited", tmp_path) <= 2
