"""Static files under content-hashed names (forum/web/assets.py): what pages link to, how
long each name may be kept, and what a stale or made-up name gets."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from forum.config import ROOT
from forum.web.assets import DIGEST_LENGTH, IMMUTABLE, ONE_DAY, Assets, hashed_name

LINKED = re.compile(r'<(?:link|script)\b[^>]*\b(?:href|src)="(/static/[^"]+)"')


async def test_pages_link_every_static_file_under_its_content_hash(
    client: AsyncTestClient, demo: None
) -> None:
    assets = Assets(ROOT / "static")
    for path in ("/", "/t/1", "/help", "/login"):
        linked = LINKED.findall((await client.get(path)).text)
        assert linked == [assets.url(name) for name in (
            "css/entrepairs.css", "favicon.svg", "vendor/htmx-2.0.11.min.js",
            "js/quick-exit.js", "js/forum.js")], path
    for url in linked:
        name = re.sub(rf"\.[0-9a-f]{{{DIGEST_LENGTH}}}(\.\w+)$", r"\1",
                      url.removeprefix("/static/"))
        content = (ROOT / "static" / name).read_bytes()
        assert hashlib.sha256(content).hexdigest()[:DIGEST_LENGTH] in url
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.content == content
        assert response.headers["cache-control"] == IMMUTABLE
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_plain_names_keep_working_for_a_day(client: AsyncTestClient) -> None:
    for name in ("css/entrepairs.css", "js/forum.js", "favicon.svg"):
        response = await client.get(f"/static/{name}")
        assert response.status_code == 200
        assert response.content == (ROOT / "static" / name).read_bytes()
        assert response.headers["cache-control"] == ONE_DAY
    assert (await client.get("/static/css/entrepairs.css")).headers["content-type"].startswith(
        "text/css")


async def test_a_stale_or_made_up_digest_is_not_found(client: AsyncTestClient) -> None:
    assets = Assets(ROOT / "static")
    current = assets.url("css/entrepairs.css")
    stale = re.sub(r"\.[0-9a-f]+\.css$", ".0123456789ab.css", current)
    assert stale != current
    for path in (stale, "/static/css/nothing.0123456789ab.css",
                 "/static/css/../../forum/app.0123456789ab.py",
                 "/static/css/entrepairs.css.0123456789ab"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "immutable" not in response.headers.get("cache-control", "")


def test_hashed_names_go_before_the_last_suffix(tmp_path: Path) -> None:
    assert hashed_name("css/entrepairs.css", "abc") == "css/entrepairs.abc.css"
    assert hashed_name("vendor/htmx-2.0.11.min.js", "abc") == "vendor/htmx-2.0.11.min.abc.js"
    assert hashed_name("LICENSE", "abc") == "LICENSE.abc"
    (tmp_path / "LICENSE").write_text("MIT")
    with pytest.raises(LookupError, match="no extension"):
        Assets(tmp_path).url("LICENSE")  # unhash() and nginx read a digest before a suffix
    (tmp_path / "LICENSE").unlink()
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.b.js").write_text("1")
    (tmp_path / ".hidden").write_text("secret")
    assets = Assets(tmp_path)
    assert assets.names() == ["js/a.b.js"]
    url = assets.url("js/a.b.js")
    assert assets.unhash(url.removeprefix("/static/")) == ("js/a.b.js", True)
    assert assets.unhash("js/a.b.js") == ("js/a.b.js", False)


def test_in_development_an_edited_file_gets_a_new_address(tmp_path: Path) -> None:
    (tmp_path / "site.css").write_text("body { color: black; }")
    watched, fixed = Assets(tmp_path, watch=True), Assets(tmp_path)
    before = watched.url("site.css")
    assert fixed.url("site.css") == before
    (tmp_path / "site.css").write_text("body { color: teal; }")
    os.utime(tmp_path / "site.css", ns=(1, 1))  # a different date, whatever the clock's grain
    after = watched.url("site.css")
    assert after != before and fixed.url("site.css") == before
    assert watched.unhash(before.removeprefix("/static/")) is None
    # Not watching (production): the old name no longer answers with the new bytes, which
    # would be kept a year; it is not found until a restart hashes the file again.
    assert fixed.unhash(before.removeprefix("/static/")) is None
    (tmp_path / "new.js").write_text("1")
    assert watched.url("new.js").startswith("/static/new.")


def test_templates_write_no_static_address_by_hand() -> None:
    """Every address under /static/ goes through ``static_url`` (so it carries its hash)."""
    by_hand = [path.relative_to(ROOT).as_posix()
               for path in sorted((ROOT / "templates").rglob("*.html"))
               if re.search(r"""["'(]/static/""", path.read_text(encoding="utf-8"))]
    assert by_hand == []
