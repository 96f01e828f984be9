import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from forum.models import Space
from tests.browsing import Browser


async def test_healthz_answers_when_the_database_does(client: AsyncTestClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"


async def test_robots_txt_asks_search_engines_not_to_index(client: AsyncTestClient,
                                                           demo: None) -> None:
    response = await client.get("/robots.txt")
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert "User-agent: *" in lines and "Disallow: /" in lines
    assert not [line for line in lines if line.startswith("Allow")]


async def test_pages_carry_a_noindex_robots_meta_tag(client: AsyncTestClient, demo: None) -> None:
    for url in ("/", "/s/anxiete", "/t/1", "/help"):
        response = await client.get(url)
        assert '<meta name="robots" content="noindex, nofollow, noarchive">' in response.text, url


async def test_openapi_schema_routes_are_off(client: AsyncTestClient) -> None:
    for url in ("/schema", "/schema/openapi.json", "/schema/swagger"):
        assert (await client.get(url)).status_code == 404


async def test_an_admin_may_open_a_public_space_to_search_engines(
    client: AsyncTestClient, database, demo: None
) -> None:
    async with database.writing() as session:
        await session.execute(update(Space).where(Space.slug == "retablissement")
                              .values(indexable=True))
    robots = (await client.get("/robots.txt")).text.splitlines()
    assert "Allow: /s/retablissement" in robots and "Disallow: /" in robots
    space_thread = await client.get("/t/6")
    assert '<meta name="robots" content="index, follow">' in space_thread.text
    other = await client.get("/t/1")
    assert 'content="noindex, nofollow, noarchive"' in other.text


@pytest.mark.parametrize(("language", "label"), [("fr", "Transparence de la modération"),
                                                 ("en", "Moderation transparency")])
async def test_every_page_links_the_moderation_transparency_page_from_its_footer(
    browser: Browser, demo: None, language: str, label: str
) -> None:
    for path in ("/", "/help", "/t/1"):
        page = await browser.get(path, headers={"Accept-Language": language})
        link = page.one(".site-footer__links a[href='/moderation']")
        assert link.get_text(strip=True) == label, path
    assert (await browser.get("/moderation")).status == 200
