"""Reading: home, spaces, threads, permalinks; what visitors may and may not see."""

import re

from litestar.testing import AsyncTestClient

from forum.queries import POSTS_PER_PAGE
from tests.browsing import Browser


async def test_home_lists_spaces_with_description_count_and_recent_threads(
    browser: Browser, demo: None
) -> None:
    page = await browser.get("/")
    assert page.status == 200
    cards = page.all(".space-card")
    names = [card.select_one(".space-card__name").get_text(strip=True) for card in cards]
    assert "Anxiété" in names and "Proches et aidant·es" in names
    anxiety = cards[names.index("Anxiété")]
    assert "2 fils" in anxiety.select_one(".space-card__meta").get_text()
    assert page.all(".thread-list .thread-row")


async def test_home_is_french_by_default_with_a_help_link_early_in_the_page(
    browser: Browser, demo: None
) -> None:
    page = await browser.get("/")
    assert page.soup.html["lang"] == "fr"
    links = page.all("a[href]")
    hrefs = [a["href"] for a in links]
    assert hrefs.index("/help") <= 2
    assert page.one("a.help-link").get_text(strip=True) == "Besoin d'aide maintenant ?"


async def test_space_page_lists_threads_by_latest_activity(browser: Browser, demo: None) -> None:
    page = await browser.get("/s/anxiete")
    titles = [a.get_text(strip=True) for a in page.all(".thread-row__title")]
    assert titles == ["Anxiété sociale au travail", "Les crises d'angoisse dans les transports"]


async def test_unknown_space_thread_and_post_are_french_404_pages(browser: Browser) -> None:
    for url in ("/s/nulle-part", "/t/424242", "/p/424242", "/p/424242/edit", "/nope"):
        page = await browser.get(url)
        assert page.status == 404, url
        assert page.soup.html["lang"] == "fr"
        assert "Cette page n'existe pas" in page.text()
        assert "Traceback" not in page.response.text


async def test_thread_page_shows_posts_oldest_first_with_ids_authors_dates_and_permalinks(
    browser: Browser, demo: None
) -> None:
    page = await browser.get("/t/1")
    posts = page.all("article.post")
    assert len(posts) == 3
    assert all(re.fullmatch(r"post-\d+", p["id"]) for p in posts)
    numbers = [int(p["id"].split("-")[1]) for p in posts]
    assert numbers == sorted(numbers)
    first = posts[0]
    assert first.select_one(".post__author").get_text(strip=True) == "Colibri"
    permalink = first.select_one("a.post__permalink")
    assert permalink["href"] == f"/p/{numbers[0]}"
    date_text = permalink.get_text(strip=True)
    assert re.search(r"\d{1,2} \w+\.? \d{4}, \d{2}:\d{2}", date_text), date_text
    assert first.select_one(".post__body[data-hx-disable]") is not None


async def test_permalink_redirects_to_the_right_page_and_anchor(
    browser: Browser, demo: None
) -> None:
    response = await browser.client.get("/p/2", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "/t/1?page=1#post-2"


async def test_members_only_space_invites_visitors_and_hides_its_threads(
    browser: Browser, client: AsyncTestClient, demo: None
) -> None:
    page = await browser.get("/s/idees-suicidaires")
    assert page.status == 200
    assert "Un espace réservé aux membres" in page.text()
    assert not page.all(".thread-row")
    home = await browser.get("/")
    recent = [a.get_text(strip=True) for a in home.all(".thread-list .thread-row__title")]
    assert "Les nuits sont le plus dur" not in recent
    hidden_thread_id = 9
    assert (await browser.get(f"/t/{hidden_thread_id}")).status == 404
    assert (await browser.get("/t/424242")).status == 404
    hidden_post = await browser.client.get("/p/21", follow_redirects=False)
    assert hidden_post.status_code == 404


async def test_members_read_the_members_only_space(browser: Browser, demo: None) -> None:
    await browser.signup("Hibiscus")
    page = await browser.get("/s/idees-suicidaires")
    titles = [a.get_text(strip=True) for a in page.all(".thread-row__title")]
    assert titles == ["Les nuits sont le plus dur"]
    thread = await browser.get("/t/9")
    assert thread.status == 200 and len(thread.all("article.post")) == 2


async def test_long_threads_are_paginated_thirty_posts_a_page(
    browser: Browser, demo: None
) -> None:
    await browser.signup("Pivoine")
    for index in range(POSTS_PER_PAGE + 2):
        last_page = (2 + index - 1) // POSTS_PER_PAGE + 1  # the thread starts with 2 posts
        result = await browser.reply(2, f"Message numéro {index}", page_number=last_page)
        assert result.status == 303
    first = await browser.get("/t/2")
    second = await browser.get("/t/2?page=2")
    assert len(first.all("article.post")) == POSTS_PER_PAGE
    assert len(second.all("article.post")) == 4
    assert "Page 2 sur 2" in second.text(".pager")
    assert (await browser.get("/t/2?page=3")).status == 404
    assert second.one("#reply-form")
    assert not first.all("#reply-form")


async def test_space_list_is_keyset_paginated(browser: Browser, demo: None) -> None:
    await browser.signup("Capucine")
    for index in range(27):
        result = await browser.start_thread("bien-etre", f"Petit fil {index:02d}", "Bonjour")
        assert result.status == 303
    first = await browser.get("/s/bien-etre")
    rows = first.all(".thread-row__title")
    assert len(rows) == 25
    more = first.one(".more a")["href"]
    second = await browser.get(more)
    second_titles = [a.get_text(strip=True) for a in second.all(".thread-row__title")]
    assert len(second_titles) == 3
    assert not set(second_titles) & {a.get_text(strip=True) for a in rows}
    assert (await browser.get("/s/bien-etre?apres=n'importe-quoi")).status == 200
