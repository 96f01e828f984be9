"""At the moment of writing: a text that screens at concern or above gets a calm pause with the
region's lines before it is published; the pause never blocks publishing."""

from sqlalchemy import func, select

from forum.db import Database
from forum.models import Post
from moderation.models import Flag
from tests.browsing import Browser, Page

URGENT = "Ce soir je vais en finir, j'ai tout ce qu'il faut à côté de moi."
CONCERN = "Je voudrais ne plus me réveiller le matin, je suis tellement fatigué·e de tout."


async def count_posts(database: Database) -> int:
    async with database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Post)))


def pause_of(page: Page):
    return page.one("[data-crisis-level]")


async def test_an_urgent_reply_pauses_with_the_emergency_and_suicide_lines_first(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Aubépine")
    before = await count_posts(database)
    page = await browser.reply(1, URGENT)
    assert page.status == 200
    pause = pause_of(page)
    assert pause["data-crisis-level"] == "urgent"
    calls = [a["href"] for a in pause.select(".crisis-pause__call a")]
    assert calls == ["tel:15", "tel:3114"]
    said = " ".join(pause.get_text().split())
    assert ("l'équipe de modération (les modérateur·rices de l'espace et les "
            "administrateur·rices du forum) sera prévenue") in said
    buttons = {b.get_text(strip=True) for b in pause.select("button")}
    assert {"Publier mon message", "Modifier mon message"} <= buttons
    assert pause.select_one("a[href^='tel:']")
    assert await count_posts(database) == before


async def test_publishing_from_the_pause_stores_the_post_and_the_thread_shows_one_banner(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Aubépine")
    before = await count_posts(database)
    page = await browser.reply(1, URGENT)
    published = await browser.submit(page.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert published.status == 303
    assert await count_posts(database) == before + 1
    async with database.reader() as session:
        level = await session.scalar(select(Post.crisis_level).order_by(Post.id.desc()).limit(1))
    assert level == "urgent"
    thread = await browser.follow(published)
    assert len(thread.all(".crisis-banner")) == 1
    assert thread.one(".crisis-banner a")["href"] == "/help"
    assert URGENT.split(",")[0] in thread.text("#posts")


async def test_edit_from_the_pause_goes_back_to_the_form_with_the_text(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Aubépine")
    before = await count_posts(database)
    page = await browser.reply(1, CONCERN)
    assert pause_of(page)["data-crisis-level"] == "concern"
    back = await browser.submit(page.form(".crisis-pause__form"), {"crisis_edit": "1"})
    assert back.status == 200
    assert back.one("#reply-form textarea[name=body]").get_text() == CONCERN
    assert await count_posts(database) == before


async def test_the_pause_works_through_htmx_and_publishing_appends_the_post(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Aubépine")
    page = await browser.reply(1, CONCERN, htmx=True)
    assert page.status == 200
    pause = pause_of(page)
    assert pause.name == "section" and pause["id"] == "reply-form"
    assert not page.all("html")
    form = page.form(".crisis-pause__form")
    assert form.element["data-hx-post"] == "/t/1/reply"
    result = await browser.client.post(
        "/t/1/reply", data={**form.values(), "crisis_ack": "1"},
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver.local/t/1",
                 "x-csrftoken": browser.client.cookies.get("csrftoken")},
    )
    appended = Page(result)
    assert appended.status == 200
    assert "fatigué·e de tout" in appended.one("[data-hx-swap-oob] article.post").get_text()
    assert appended.one("form#reply-form textarea[name=body]").get_text() == ""


async def test_a_new_thread_and_an_edit_pause_too(browser: Browser, database: Database,
                                                 demo: None) -> None:
    await browser.signup("Aubépine")
    page = await browser.start_thread("depression-humeur", "Une nuit difficile", URGENT)
    assert pause_of(page)["data-crisis-level"] == "urgent"
    assert page.one(".crisis-pause__form input[name=title]")["value"] == "Une nuit difficile"
    created = await browser.submit(page.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert created.status == 303
    posted = await browser.reply(1, "Merci pour vos messages.")
    post_id = posted.response.headers["location"].split("post-")[1]
    edit = await browser.get(f"/p/{post_id}/edit")
    paused = await browser.submit(edit.form("form.composer"), {"body": CONCERN})
    assert pause_of(paused)["data-crisis-level"] == "concern"


async def test_quebec_members_see_quebec_lines(browser: Browser, demo: None) -> None:
    await browser.signup("Aubépine")
    settings = await browser.get("/settings")
    await browser.submit(settings.form("main form"), {"region": "CA-QC"})
    page = await browser.reply(1, URGENT)
    calls = [a["href"] for a in pause_of(page).select(".crisis-pause__call a")]
    assert calls == ["tel:911", "tel:18662773553"]


async def test_ordinary_words_and_idioms_publish_without_a_pause(
    browser: Browser, demo: None
) -> None:
    await browser.signup("Aubépine")
    for text in ("Mort de rire, ton message !", "Ce boulot me tue mais ça va.",
                 "Je suis bénévole en prévention du suicide."):
        result = await browser.reply(1, text)
        assert result.status == 303, text


async def test_addiction_space_lines_show_in_the_pause(browser: Browser, demo: None) -> None:
    await browser.signup("Aubépine")
    page = await browser.start_thread("addictions", "Je n'en peux plus", URGENT)
    names = pause_of(page).get_text()
    assert "Drogues Info Service" in names


async def test_publishing_an_urgent_post_raises_a_priority_welfare_flag(
    browser: Browser, database: Database, demo: None
) -> None:
    await browser.signup("Aubépine")
    page = await browser.reply(1, URGENT)
    await browser.submit(page.form(".crisis-pause__form"), {"crisis_ack": "1"})
    concern = await browser.reply(1, CONCERN)
    await browser.submit(concern.form(".crisis-pause__form"), {"crisis_ack": "1"})
    async with database.reader() as session:
        flags = list(await session.scalars(select(Flag).order_by(Flag.id)))
    # The urgent post: a priority welfare flag; the worrying one: a quiet mark in the queue.
    assert [(flag.reason, flag.flagger_id) for flag in flags] == [("danger", None),
                                                                  ("screen", None)]
    assert flags[0].text_copy == URGENT and flags[1].text_copy == CONCERN


async def test_autoflag_off_raises_no_flag_and_says_nothing_about_moderators(
    app, browser: Browser, database: Database, demo: None
) -> None:
    app.state.gate.autoflag = False
    await browser.signup("Aubépine")
    page = await browser.reply(1, URGENT)
    assert "sera prévenue" not in pause_of(page).get_text()
    await browser.submit(page.form(".crisis-pause__form"), {"crisis_ack": "1"})
    async with database.reader() as session:
        assert list(await session.scalars(select(Flag))) == []
