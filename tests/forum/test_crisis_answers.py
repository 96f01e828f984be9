"""Issue 14, part 3: an answer in proportion to the screen's confidence, through the real forms.

The learned stage's scores are fixed here (a model with chosen answers), so that each answer
is reached on purpose: ``pause`` before publishing, a ``line`` under the author's own post
after publishing, a ``watch`` mark that only moderators see. The real model is measured on the
frozen file (tests/moderation/test_crisis_frozen.py)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.models import Post
from moderation.crisis.lexicon import load_lexicon
from moderation.crisis.model import ModelScore, Thresholds
from moderation.crisis.screen import Screen
from moderation.models import Flag, FlagReason
from tests.browsing import Browser
from tests.moderation.access_matrix import as_role, build_world

LINE_TEXT = "Les journées se ressemblent toutes et je ne vois plus rien au bout."
WATCH_TEXT = "Je range mes papiers depuis ce matin, c'est bizarre comme je suis calme."
SURE_TEXT = "Tout est en ordre maintenant, ils seront mieux comme ça."


class ChosenScores:
    """The learned stage with fixed scores per text (0 for any other text)."""

    thresholds = Thresholds(pause=0.9, line=0.6, watch=0.3, urgent=0.5)
    scores = {LINE_TEXT: 0.7, WATCH_TEXT: 0.4, SURE_TEXT: 0.95}

    urgent_scores: dict[str, float] = {}

    def score(self, text: str, *, explain: bool = False) -> ModelScore:
        return ModelScore(crisis=self.scores.get(text, 0.0),
                          urgent=self.urgent_scores.get(text, 0.1), unit=text)


def with_chosen_scores(app: Litestar) -> None:
    app.state.gate.screen = Screen(load_lexicon(), ChosenScores())  # type: ignore[arg-type]


async def stored(app: Litestar, text: str) -> Post:
    async with app.state.database.reader() as session:
        return (await session.scalars(select(Post).where(Post.source == text))).one()


async def screen_flags(app: Litestar, post_id: int) -> list[Flag]:
    async with app.state.database.reader() as session:
        return list(await session.scalars(select(Flag).where(Flag.post_id == post_id)))


async def test_a_line_answer_publishes_at_once_and_only_the_author_sees_the_line(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    with_chosen_scores(app)
    thread_id = world.ids["thread"]
    await as_role(client, app, world, "member")
    published = await browser.reply(thread_id, LINE_TEXT)
    assert published.status == 303, "no pause"
    post = await stored(app, LINE_TEXT)
    assert (post.crisis_answer, post.crisis_level) == ("line", "concern")
    page = await browser.follow(published)
    line = page.one(f"#post-{post.id} .crisis-line")
    assert [a["href"] for a in line.select("a[href^='tel:']")] == ["tel:15", "tel:3114"]
    assert "Il n'y a que toi qui vois ce mot" in line.get_text()
    assert page.one(".crisis-banner")
    for role in ("author", "mod_this", "visitor"):
        await as_role(client, app, world, role)
        page = await browser.get(f"/t/{thread_id}")
        assert not page.all(".crisis-line"), role
        assert page.one(".crisis-banner"), role
    flags = await screen_flags(app, post.id)
    assert [(f.reason, f.details["stage"], f.details["answer"]) for f in flags] == [
        (FlagReason.SCREEN.value, "model", "line")]


async def test_a_watch_answer_shows_nothing_to_anyone_but_the_moderators(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    with_chosen_scores(app)
    await as_role(client, app, world, "member")
    published = await browser.reply(world.ids["thread"], WATCH_TEXT)
    assert published.status == 303
    post = await stored(app, WATCH_TEXT)
    assert (post.crisis_answer, post.crisis_level) == ("watch", "none")
    page = await browser.follow(published)
    assert not page.all(".crisis-line") and not page.all(".crisis-banner")
    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    item = queue.one(f"#item-{post.id}")
    assert "la détection automatique hésite" in item.get_text()
    meta = item.select_one(".mod-item__meta").get_text()
    assert "Détection automatique" in meta and "a signalé" not in meta  # the screen is no one
    page = await browser.get(f"/mod/posts/{post.id}")
    flag = page.one(".mod-flag--screen")
    assert "Détection automatique" in flag.get_text()
    assert "rien : seule l'équipe est prévenue" in flag.get_text()
    assert "rien n'a été montré à l'auteur·e." in flag.get_text()
    assert "sous son message" not in flag.get_text()  # the note says what was shown, no more


async def test_a_sure_model_pauses_like_the_lexicon_and_never_blocks(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    with_chosen_scores(app)
    await as_role(client, app, world, "member")
    pause = await browser.reply(world.ids["thread"], SURE_TEXT)
    assert pause.status == 200 and pause.one("[data-crisis-level]")
    published = await browser.submit(pause.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert published.status == 303
    post = await stored(app, SURE_TEXT)
    assert post.crisis_answer == "pause"
    # the lines stay one glance away under the author's own post (the page opens on it, so
    # the thread's banner is out of sight); nobody else sees them
    page = await browser.follow(published)
    line = page.one(f"#post-{post.id} .crisis-line")
    assert "tel:3114" in [a["href"] for a in line.select("a[href^='tel:']")]
    await as_role(client, app, world, "mod_this")
    assert not (await browser.get(f"/t/{world.ids['thread']}")).all(".crisis-line")


async def test_an_ordinary_post_gets_no_answer(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    with_chosen_scores(app)
    await as_role(client, app, world, "member")
    text = "Merci pour vos réponses, je me sens moins seule ce soir."
    published = await browser.reply(world.ids["thread"], text)
    assert published.status == 303
    post = await stored(app, text)
    assert post.crisis_answer == "none" and not await screen_flags(app, post.id)


async def test_someone_else_at_risk_now_gets_the_lines_for_helping_a_loved_one(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "member")
    pause = await browser.reply(
        world.ids["thread"], "Mon fils m'a écrit qu'il allait se tuer cette nuit, je fais quoi ?")
    dialog = pause.one("[data-crisis-level]")
    assert "Tu t'inquiètes pour quelqu'un" in dialog.get_text()
    assert "répondent aussi aux proches" in dialog.get_text()
    assert [a["href"] for a in dialog.select(".crisis-pause__call a")] == ["tel:15", "tel:3114"]


async def test_the_screen_runs_before_the_transaction_and_off_the_event_loop(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """The gate's reading (Markdown, sanitising, both stages) runs in a worker thread."""
    import threading

    world = await build_world(app)
    seen: list[str] = []

    class Recording(ChosenScores):
        def score(self, text: str, *, explain: bool = False) -> ModelScore:
            seen.append(threading.current_thread().name)
            return super().score(text, explain=explain)

    app.state.gate.screen = Screen(load_lexicon(), Recording())  # type: ignore[arg-type]
    await as_role(client, app, world, "member")
    assert (await browser.reply(world.ids["thread"], "Un message tout simple.")).status == 303
    assert seen and all(name != threading.main_thread().name for name in seen)


@pytest.mark.parametrize(("status", "level", "expected"), [
    ("visible", "urgent", True), ("visible", "concern", True), ("visible", "none", False),
    ("pending", "urgent", False), ("hidden", "concern", False),
])
def test_a_post_in_hand_needs_care_by_the_same_rule_as_the_banner_query(
        status: str, level: str, expected: bool) -> None:
    assert Post(status=status, crisis_level=level).needs_care is expected


async def test_each_automatic_note_says_what_raised_it_and_what_the_author_saw(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """A mark's note follows the screen's answer (a line under the post, a pause before it);
    an urgent flag raised by the model alone does not speak of words the text does not hold;
    a member's flag beside the screen's is counted as one person."""
    world = await build_world(app)
    with_chosen_scores(app)
    app.state.gate.screen.model.urgent_scores = {SURE_TEXT: 0.9}
    await as_role(client, app, world, "member")
    published = await browser.reply(world.ids["thread"], LINE_TEXT)
    line_post = await stored(app, LINE_TEXT)
    pause = await browser.reply(world.ids["thread"], SURE_TEXT)
    published = await browser.submit(pause.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert published.status == 303
    urgent_post = await stored(app, SURE_TEXT)
    assert (urgent_post.crisis_level, urgent_post.crisis_answer) == ("urgent", "pause")
    [line_flag] = await screen_flags(app, line_post.id)
    assert "sous son message, sans pause" in line_flag.note
    [urgent_flag] = await screen_flags(app, urgent_post.id)
    assert urgent_flag.reason == FlagReason.DANGER.value
    assert "sans mot précis" in urgent_flag.note and "contient des mots" not in urgent_flag.note
    await as_role(client, app, world, "author")  # another member worries too
    page = await browser.get(f"/p/{line_post.id}/flag")
    assert (await browser.submit(page.form("main form"), {"reason": "danger"})).status == 200
    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    assert "a signalé" not in queue.text(f"#item-{urgent_post.id} .mod-item__meta")
    both = queue.text(f"#item-{line_post.id} .mod-item__meta")
    assert "Détection automatique" in both and "1 personne a signalé" in both
    page = await browser.get(f"/mod/posts/{urgent_post.id}")
    assert "sans mot précis" in page.text(".mod-flag--danger")
