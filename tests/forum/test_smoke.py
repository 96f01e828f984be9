from tests.browsing import Browser


async def test_visitor_reads_home_space_and_thread(browser: Browser, demo: None) -> None:
    home = await browser.get("/")
    assert home.status == 200
    assert "Anxiété" in home.text()
    space = await browser.get("/s/anxiete")
    assert space.status == 200
    link = space.one(".thread-row__title")
    thread = await browser.get(str(link["href"]))
    assert thread.status == 200
    assert thread.all("article.post")


async def test_member_signs_up_and_replies(browser: Browser, demo: None) -> None:
    code = await browser.signup("Hirondelle")
    assert len(code) >= 20
    result = await browser.reply(1, "Merci pour ce fil, ça m'aide.")
    assert result.status == 303, result.response.text
    page = await browser.follow(result)
    assert "Merci pour ce fil" in page.text()
