"""Static files under content-hashed names (issue 19).

At start-up every file under ``static/`` is hashed (SHA-256, the first ``DIGEST_LENGTH`` hex
digits). The template global ``static_url("css/entrepairs.css")`` gives
``/static/css/entrepairs.<digest>.css``: a new version of a file is a new address, so the
address can be kept by browsers for a year without ever being asked again
(``Cache-Control: public, max-age=31536000, immutable``). The plain names
(``/static/css/entrepairs.css``) keep working with the one-day policy they had.

A hashed name whose digest is not the file's current one is a 404, not the current file and
not a redirect: the year-long policy would keep other bytes than the ones the name promised,
and the only page that can ask for an old digest is a page rendered before the file changed
(after a deployment), whose own cache policy (``private, no-cache``, ``no-store``) has it asked
again at once. nginx cannot check digests: its location strips the digest and serves the
current file (``deploy/nginx.conf``, ``docs/DEPLOYMENT.md``).

In development (``FORUM_ENV=development``) a file is hashed again when its size or date
changes, so an edited stylesheet gets a new address without a restart.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from litestar import get, head
from litestar.exceptions import NotFoundException
from litestar.file_system import BaseLocalFileSystem
from litestar.params import FromPath
from litestar.response.file import ASGIFileResponse
from litestar.static_files import StaticFiles

DIGEST_LENGTH = 12
IMMUTABLE = "public, max-age=31536000, immutable"
"""A hashed name's policy: a year, never revalidated (the bytes behind a name never change)."""
ONE_DAY = "public, max-age=86400"
"""A plain name's policy, as before issue 19."""
_HASHED = re.compile(
    rf"^(?P<stem>.+)\.(?P<digest>[0-9a-f]{{{DIGEST_LENGTH}}})(?P<suffix>\.[A-Za-z0-9]+)$")


@dataclass(frozen=True)
class _Hashed:
    digest: str
    stamp: tuple[int, int]
    """(size, modification time in ns) when it was hashed."""


def _stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_size, status.st_mtime_ns


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_LENGTH]


def hashed_name(name: str, digest: str) -> str:
    """``css/entrepairs.css`` → ``css/entrepairs.<digest>.css`` (before the last suffix; a
    name without one gets the digest at its end)."""
    folder, _, base = name.rpartition("/")
    stem, dot, suffix = base.rpartition(".")
    renamed = f"{stem}.{digest}.{suffix}" if dot and stem else f"{base}.{digest}"
    return f"{folder}/{renamed}" if folder else renamed


class Assets:
    """The files of one static directory and their digests."""

    def __init__(self, directory: Path, *, watch: bool = False) -> None:
        self.directory = directory
        self.watch = watch
        self._files: dict[str, _Hashed] = {}
        self.scan()

    def scan(self) -> None:
        """Hash every file (dot files aside) under the directory."""
        found: dict[str, _Hashed] = {}
        for root, folders, names in os.walk(self.directory):
            folders[:] = sorted(f for f in folders if not f.startswith("."))
            for name in sorted(names):
                if name.startswith("."):
                    continue
                path = Path(root, name)
                relative = path.relative_to(self.directory).as_posix()
                found[relative] = _Hashed(_digest(path), _stamp(path))
        self._files = found

    def names(self) -> list[str]:
        return sorted(self._files)

    def digest(self, name: str, *, rescan: bool = False) -> str | None:
        """The current digest of ``name`` (a path under the directory), or None.

        Only names found by a scan are ever read (never a path a request made up). When
        watching, a file is hashed again when its size or date changed, and ``rescan`` looks
        for files added since (``url`` asks it; a request never does)."""
        known = self._files.get(name)
        if not self.watch:
            return known.digest if known else None
        if known is None and rescan:
            self.scan()
            known = self._files.get(name)
        if known is None:
            return None
        path = self.directory / name
        try:
            stamp = _stamp(path)
            if stamp != known.stamp:
                known = _Hashed(_digest(path), stamp)
                self._files[name] = known
        except OSError:  # gone since
            self._files.pop(name, None)
            return None
        return known.digest

    def url(self, name: str) -> str:
        """The address of ``name`` (``"css/entrepairs.css"``) under its content hash."""
        digest = self.digest(name, rescan=True)
        if digest is None:
            raise LookupError(f"no file static/{name}")
        if "." not in name.rpartition("/")[2].lstrip("."):
            # unhash() and nginx's location read a digest only before an extension.
            raise LookupError(f"static/{name} has no extension: it cannot get a hashed name")
        return f"/static/{hashed_name(name, digest)}"

    def unhash(self, requested: str) -> tuple[str, bool] | None:
        """What a requested name under ``/static/`` is: ``(name, True)`` for a hashed name
        with the file's current digest, ``None`` for a hashed name with another digest,
        ``(requested, False)`` for anything else (a plain name, found or not)."""
        folder, _, base = requested.rpartition("/")
        found = _HASHED.match(base)
        if found is None:
            return requested, False
        base_name = found["stem"] + found["suffix"]
        name = f"{folder}/{base_name}" if folder else base_name
        digest = self.digest(name)
        if digest is None:
            return requested, False  # not a hashed name of ours: a file with dots in its name
        if digest != found["digest"] or not self._unchanged(name):
            return None
        return name, True

    def _unchanged(self, name: str) -> bool:
        """Whether the file is still the one hashed (size and date): without watching, a
        checkout updated under a running process must not serve new bytes for a year under
        the old digest's name (404 until the restart hashes it again)."""
        known = self._files.get(name)
        try:
            return known is not None and _stamp(self.directory / name) == known.stamp
        except OSError:
            return False


def static_routes(assets: Assets) -> list[Any]:
    """``GET /static/{path}``: hashed names for a year, plain names for a day, as files of
    ``assets.directory`` (Litestar's ``StaticFiles``: no path outside it is ever read)."""

    def files(policy: str) -> StaticFiles:
        return StaticFiles(is_html_mode=False, directories=[assets.directory],
                           file_system=BaseLocalFileSystem(),
                           headers={"cache-control": policy})

    plain, hashed = files(ONE_DAY), files(IMMUTABLE)

    async def answer(file_path: PurePath, *, is_head: bool) -> ASGIFileResponse:
        found = assets.unhash(file_path.as_posix().lstrip("/"))
        if found is None:
            raise NotFoundException("no static file has that digest")
        name, is_hashed = found
        return await (hashed if is_hashed else plain).handle(path=name, is_head_response=is_head)

    @get("/static/{file_path:path}", name="static", include_in_schema=False)
    async def static_file(file_path: FromPath[PurePath]) -> ASGIFileResponse:
        return await answer(file_path, is_head=False)

    @head("/static/{file_path:path}", name="static/head", include_in_schema=False)
    async def static_file_head(file_path: FromPath[PurePath]) -> ASGIFileResponse:
        return await answer(file_path, is_head=True)

    return [static_file, static_file_head]


def template_globals(assets: Assets) -> dict[str, Any]:
    return {"static_url": assets.url}
