"""Automatic rules and what members see: pre-moderation, watched words, the hourly limit for
new members, suspension, auto-hide at three flaggers, and the caring notice of a danger flag."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from forum.db import Database
from forum.models import Member, Notification, Post, PostStatus, Role, Space
from moderation import actions as ma
from moderation import patterns, rules
from moderation import queries as mq
from moderation.models import WatchedWord
from tests.browsing import Browser
from tests.moderation.access_matrix import (
    as_role,
    build_world,
    csrf_headers,
    make_member,
    reply,
)


async def _newcomer(app: Litestar, world, name: str = "Noisette") -> str:  # noqa: ANN001
    """A member who has not written yet; returns the role name to log in with."""
    async with app.state.database.writing() as session:
        world.members[name] = await make_member(session, name)
    return name


async def _set_space(app: Litestar, space_id: int, **values: int) -> None:
    async with app.state.database.writing() as session:
        space = await session.get(Space, space_id)
        for key, value in values.items():
            setattr(space, key, value)


async def _latest_post(app: Litestar, author_id: int) -> Post:
    async with app.state.database.reader() as session:
        return await session.scalar(select(Post).where(Post.author_id == author_id)
                                    .order_by(Post.id.desc()).limit(1))


async def test_a_new_members_first_posts_wait_and_the_author_sees_why(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await _set_space(app, world.ids["space"], premoderated_posts=1)
    await as_role(client, app, world, await _newcomer(app, world))
    sent = await browser.reply(world.ids["thread"], "Mon tout premier message ici.")
    assert sent.status == 303
    mine = await _latest_post(app, world.members["Noisette"].id)
    assert mine.status == PostStatus.PENDING
    page = await browser.follow(sent)
    assert "relus par un·e modérateur·rice" in page.text(f"#post-{mine.id} .post__status--reason")
    await as_role(client, app, world, "visitor")
    page = await browser.get(f"/t/{world.ids['thread']}")
    assert not page.all(f"#post-{mine.id} .post__body")
    await as_role(client, app, world, "mod_this")
    queue = await browser.get("/mod")
    assert queue.one(f"#item-{mine.id}")


async def test_a_phone_number_is_held_for_review(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "member")
    sent = await browser.reply(world.ids["thread"], "Appelle-moi au 06 12 34 56 78 ce soir.")
    assert sent.status == 303
    mine = await _latest_post(app, world.members["member"].id)
    assert mine.status == PostStatus.PENDING


async def test_new_members_are_limited_per_hour_and_keep_their_text(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await _set_space(app, world.ids["space"], new_member_hourly_limit=1)
    await as_role(client, app, world, await _newcomer(app, world))
    first = await browser.reply(world.ids["thread"], "Un premier message.")
    assert first.status == 303
    second = await browser.reply(world.ids["thread"], "Un deuxième message trop vite.")
    assert second.status == 422
    assert second.one("#reply-form textarea[name=body]").get_text() == \
        "Un deuxième message trop vite."


async def test_a_suspended_member_reads_sees_why_and_cannot_post(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "suspended")
    page = await browser.get(f"/t/{world.ids['thread']}")
    assert page.status == 200
    notice = page.text("#restricted-notice")
    assert "Propos blessants" in notice
    assert page.one("#restricted-notice a[href='/help']")
    assert not page.all("#reply-form")
    refused = await client.post(f"/t/{world.ids['thread']}/reply", data={"body": "Coucou"},
                                headers=csrf_headers(client, app), follow_redirects=False)
    assert refused.status_code == 403


async def test_three_distinct_flaggers_hide_a_post_until_the_flags_are_dismissed(
    app: Litestar, client: AsyncTestClient,
) -> None:
    """Established members (accounts old enough, with published posts: issue 15)."""
    world = await build_world(app)
    await _set_space(app, world.ids["space"], auto_hide_flags=3)
    post_id = world.ids["post2"]
    async with app.state.database.writing() as session:
        extra = [await make_member(session, name) for name in ("Saule", "Ortie", "Lierre")]
        for member in extra:
            member.created_at = member.created_at - timedelta(days=mq.ESTABLISHED_DAYS + 1)
            for number in range(mq.ESTABLISHED_POSTS):
                text = f"Un message ordinaire de {member.pseudonym}, {number}."
                await reply(session, world.ids["thread2"], member, text)
    for flagger in extra:
        world.members[flagger.pseudonym] = flagger
        await as_role(client, app, world, flagger.pseudonym)
        response = await client.post(f"/p/{post_id}/flag", data={"reason": "spam"},
                                     headers=csrf_headers(client, app))
        assert response.status_code == 200
    assert (await _post(app, post_id)).status == PostStatus.HIDDEN
    async with app.state.database.reader() as session:
        flag_id = (await mq.open_flags(session, post_id))[0].id
    await as_role(client, app, world, "mod_this")
    dismissed = await client.post(f"/mod/flags/{flag_id}/dismiss",
                                  data={"reason": "Rien de gênant"},
                                  headers=csrf_headers(client, app), follow_redirects=False)
    assert dismissed.status_code == 303
    assert (await _post(app, post_id)).status == PostStatus.VISIBLE


async def _post(app: Litestar, post_id: int) -> Post:
    async with app.state.database.reader() as session:
        return await session.get(Post, post_id)


async def _welfare_notices(app: Litestar, member_id: int) -> list[Notification]:
    async with app.state.database.reader() as session:
        return list(await session.scalars(select(Notification).where(
            Notification.member_id == member_id, Notification.kind == "welfare")))


async def test_a_danger_flag_sends_the_author_one_caring_notice_with_crisis_lines(
    app: Litestar, client: AsyncTestClient,
) -> None:
    world = await build_world(app)
    for role, post in (("member", "post2"), ("mod_other", "post2"), ("member", "pending")):
        await as_role(client, app, world, role)
        await client.post(f"/p/{world.ids[post]}/flag", data={"reason": "danger"},
                          headers=csrf_headers(client, app))
    notices = await _welfare_notices(app, world.members["author"].id)
    assert len(notices) == 1, "rate-limited: one caring notice a day"
    assert "3114" in str(notices[0].params["lines"])
    assert "Member" not in str(notices[0].params)


# -- watched words on RE2 (issue 16: no backtracking engine on the posting path) ----------------

def test_every_watched_word_runs_on_re2_whatever_its_origin() -> None:
    assert patterns.ENGINE == "re2"
    for word in rules.default_words():
        assert type(word.pattern).__module__ == "re2", word.label
    assert type(patterns.compiled(r"(a+)+$")).__module__ == "re2"


@pytest.mark.parametrize(("text", "label"), [
    ("Appelle-moi au 06 12 34 56 78 ce soir.", "numéro de téléphone"),
    ("mon numéro : +33 6 12 34 56 78", "numéro de téléphone"),
    ("0612345678", "numéro de téléphone"),
    ("écris à élodie.martin@exemple.fr", "adresse e-mail"),
    ("j'habite au 12 bis, rue des Lilas", "adresse postale"),
    ("3 Allée des roses", "adresse postale"),
    ("12 av. Foch", "adresse postale"),
    ("j'ai pris 10 comprimés", "médicament et quantité"),
    ("3 comprimé ce soir", "médicament et quantité"),
    ("2 boîtes de doliprane", "médicament et quantité"),
    ("20mg", "médicament et quantité"),
    ("la meilleure façon de se tuer", "demande de moyen"),
    ("Comment SE PENDRE", "demande de moyen"),
])
def test_the_shipped_patterns_find_what_they_watch_for_accents_or_not(text: str,
                                                                      label: str) -> None:
    assert [word.label for word in rules.matches(text, list(rules.default_words()))] == [label]


@pytest.mark.parametrize("text", [
    "Bonjour à toutes et tous, aujourd'hui ça va mieux.",
    "1234 06 12 34 56 789",  # a longer number is not a phone number
    "12 avril, j'ai revu ma psy",
    "a@b",
    "10 comprimesx",
    "Un jour après l'autre 💛",
    "a" * 20_000,
    "1" * 20_000,
])
def test_the_shipped_patterns_leave_ordinary_and_hostile_texts_alone(text: str) -> None:
    assert rules.matches(text, list(rules.default_words())) == []


def test_folding_keeps_every_position_and_only_yields_ascii_letters_or_digits() -> None:
    text = "Élodie a écrit à l'hôpital : œuvre, ５ 𝐚𝐛𝐜 ٣ ſ, （x） \\é"
    folded = patterns.fold(text)
    assert folded == "Elodie a ecrit a l'hopital : œuvre, 5 abc 3 s, （x） \\e"
    assert len(folded) == len(text)
    assert patterns.fold("plain ascii") == "plain ascii"


@pytest.mark.parametrize(("pattern", "message"), [
    (r"(?<![\d+])0", patterns.LOOKAROUND),
    (r"casino(?=s)", patterns.LOOKAROUND),
    (r"(casino)\1", patterns.BACKREFERENCE),
    (r"(?P<x>a)(?P=x)", patterns.BACKREFERENCE),
    (r"a{,3}", patterns.EMPTY_LOWER_BOUND),
    (r"\pL{1000}", patterns.TOO_COMPLEX),
    (r"(?:.{0,100}a){3}z", patterns.TOO_COMPLEX),
    (r"a{1001}", patterns.TOO_COMPLEX),
    ("casino(", patterns.UNSUPPORTED),
    (r"fin\Z", patterns.UNSUPPORTED),
    ("(?x) a b", patterns.UNSUPPORTED),
])
def test_patterns_re2_lacks_or_cannot_bound_are_refused_with_the_reason(pattern: str,
                                                                        message: str) -> None:
    problem = patterns.problem(pattern)
    assert problem is not None and problem.message == message
    assert patterns.compiled(pattern) is None


@pytest.mark.parametrize("pattern", [
    r"(a+)+$", r"\bété\b", r"casino\w*", r"\{,3}", r"https?://\S+", r"(?:\S+\s+){50}",
    r"\b(?:" + "|".join(f"mot{n}" for n in range(40)) + r")\b",
])
def test_patterns_re2_runs_in_linear_time_are_accepted(pattern: str) -> None:
    assert patterns.problem(pattern) is None
    assert patterns.compiled(pattern) is not None


def test_accents_are_ignored_and_matches_are_the_texts_own_words() -> None:
    regex = patterns.compiled(r"\bété\b")
    assert patterns.finditer_original(regex, "En ÉTÉ, un été (ete) ; étéx", 10) == [
        "ÉTÉ", "été", "ete"]


async def test_a_stored_pattern_re2_refuses_is_skipped_and_posting_goes_on(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        session.add(WatchedWord(pattern=r"(?<!pas de )casino", action="block", label="pub",
                                message="Pas de publicité ici, merci."))
        session.add(WatchedWord(pattern=r"(a+)+$", action="hold", label="aaa"))
    await as_role(client, app, world, "member")
    sent = await browser.reply(world.ids["thread"], "Le casino du coin a fermé, tant mieux.")
    assert sent.status == 303, "the refused pattern is skipped, not fatal, and blocks nothing"
    assert (await _latest_post(app, world.members["member"].id)).status == PostStatus.VISIBLE
    held = await browser.reply(world.ids["thread"], "J'ai envie de crier " + "a" * 40)
    assert held.status == 303
    assert (await _latest_post(app, world.members["member"].id)).status == PostStatus.PENDING


async def test_long_texts_are_matched_off_the_event_loop_short_ones_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[int, bool]] = []
    real = rules.matches

    def spy(text: str, words: list[rules.Watched]) -> list[rules.Watched]:
        seen.append((len(text), threading.current_thread() is threading.main_thread()))
        return real(text, words)

    monkeypatch.setattr(rules, "matches", spy)
    words = list(rules.default_words())
    assert await rules.matches_off_loop("06 12 34 56 78", words) == [words[0]]
    long_text = "Un jour après l'autre. " * 1_000 + "06 12 34 56 78"
    assert await rules.matches_off_loop(long_text, words) == [words[0]]
    assert seen == [(14, True), (len(long_text), False)]


async def test_a_session_reads_the_watched_words_once_and_again_after_they_change(
    database: Database, demo: None,
) -> None:
    """A reply's review and its after-publishing check share one read of the table; a word
    added or removed in the same session is seen at once."""
    async with database.writing() as session:
        admin = await session.scalar(select(Member).where(Member.role == Role.ADMIN).limit(1))
        before = await rules.watched_words(session)
        assert "zqxjw" not in [w.source for w in before]
        word = await ma.do_add_watched_word(session, actor=admin, pattern="zqxjw",
                                            action="block", label="essai", message="")
        assert "zqxjw" in [w.source for w in await rules.watched_words(session)]
        await ma.do_remove_watched_word(session, word, actor=admin)
        assert "zqxjw" not in [w.source for w in await rules.watched_words(session)]


async def test_a_blocked_word_in_a_worrying_text_still_shows_the_lines(
    browser: Browser, database: Database, demo: None,
) -> None:
    """A word the team blocks refuses the text whatever else it says; when the crisis screen
    found the text worrying, the refusal shows the region's lines beside the reason (the text
    is kept, nothing is stored)."""
    async with database.writing() as session:
        admin = await session.scalar(select(Member).where(Member.role == Role.ADMIN).limit(1))
        await ma.do_add_watched_word(session, actor=admin, pattern="zqxjw", action="block",
                                     label="essai", message="")
    await browser.signup("Glycine")
    refused = await browser.reply(1, "zqxjw, je n'en peux plus, je veux mourir ce soir.")
    assert refused.status == 422 and refused.one("#body-error")
    care = refused.one("#reply-form .crisis-line--refused")
    assert "tel:3114" in [a["href"] for a in care.select("a[href^='tel:']")]
    ordinary = await browser.reply(1, "zqxjw, quelle journée, vivement les vacances.")
    assert ordinary.status == 422 and not ordinary.all(".crisis-line--refused")
