"""One-to-one conversations with a trained peer helper (issue 17), through the real forms and
pages: a helper says what they take, a member asks, the helper accepts, both write and read;
nobody else reads (a third member, a visitor, a moderator without a report, an admin, the
search); a crisis message pauses and alerts the theme's moderators, who then see that message
and the few before it only; either side ends it; a request nobody takes is closed kindly; the
export holds it and erasure takes the texts. Every refusal changes nothing."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update

from forum import actions, conversations
from forum.db import utcnow
from forum.models import (
    Conversation,
    ConversationStatus,
    Member,
    Notification,
    Post,
    PostStatus,
    SearchDocument,
    Space,
    Thread,
)
from forum.privacy import do_delete_account
from moderation import actions as ma
from moderation.models import ActionKind, ModerationAction
from tests.browsing import Browser
from tests.forum.test_groups import _at, as_role
from tests.moderation.access_matrix import World, build_world, csrf_headers, verdict

URGENT = "J'ai tout préparé, ce soir je vais en finir, je ne veux plus être là demain."
FIRST = "Bonjour, je n'arrive plus à dormir depuis que j'ai arrêté, zyglophore."
HELPER_WORDS = "Je t'entends. Qu'est-ce qui t'aide, d'habitude, le soir ?"


async def _world(app: Litestar, *helpers: str) -> World:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        await session.execute(update(Member).where(
            Member.id.in_([world.members[h].id for h in helpers or ("author",)]))
            .values(trained_helper=True))
        await session.commit()
    return world


async def set_availability(client: AsyncTestClient, browser: Browser, *, themes: list[str],
                           langs: list[str] | None = None, capacity: str = "2",
                           paused: bool = False) -> int:
    page = await browser.get("/helpers")
    assert page.status == 200, page.status
    form = page.form("form[action='/helpers/disponibilites']")
    data: dict[str, object] = {"_csrf_token": form.values()["_csrf_token"], "themes": themes,
                               "langs": langs if langs is not None else ["fr"],
                               "capacity": capacity}
    if paused:
        data["paused"] = "1"
    sent = await client.post("/helpers/disponibilites", data=data, follow_redirects=False)
    return sent.status_code


async def ask(browser: Browser, body: str = FIRST, theme: str = "alpha", **extra: str):  # noqa: ANN201
    page = await browser.get(f"/conversations/new?theme={theme}")
    assert page.status == 200, page.status
    assert page.one("select#theme option[selected]")["value"] == theme
    return await browser.submit(page.form("form.composer"), {"body": body, **extra})


def _thread_of(sent) -> int:  # noqa: ANN001
    assert sent.status == 303, sent.text()
    return int(sent.response.headers["location"].split("/t/", 1)[1].split("?")[0])


async def _conversation(app: Litestar, thread_id: int) -> Conversation:
    async with app.state.database.reader() as session:
        found = await session.scalar(select(Conversation).join(
            Thread, Thread.conversation_id == Conversation.id).where(Thread.id == thread_id))
        assert found is not None
        return found


async def _notices(app: Litestar, member: Member) -> list[Notification]:
    async with app.state.database.reader() as session:
        return list(await session.scalars(
            select(Notification).where(Notification.member_id == member.id,
                                       Notification.kind == conversations.NOTICE)
            .order_by(Notification.id)))


async def _accept(client: AsyncTestClient, browser: Browser, conversation_id: int) -> int:
    page = await browser.get("/helpers")
    form = page.form(f"form[action='/conversations/{conversation_id}/accepter']")
    return (await browser.submit(form)).status


async def _open(app: Litestar, client: AsyncTestClient, browser: Browser, world: World
                ) -> tuple[int, Conversation]:
    """The helper ("author") takes alpha in French; "member" asks; the helper accepts. The
    client is left logged in as the helper."""
    await as_role(client, app, world, "author")
    assert await set_availability(client, browser, themes=["alpha"]) == 303
    await as_role(client, app, world, "member")
    thread_id = _thread_of(await ask(browser))
    conversation = await _conversation(app, thread_id)
    await as_role(client, app, world, "author")
    assert await _accept(client, browser, conversation.id) == 303
    return thread_id, conversation


async def test_a_member_asks_a_helper_accepts_and_they_talk_with_nobody_else_reading(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    await as_role(client, app, world, "author")
    assert await set_availability(client, browser, themes=["alpha"]) == 303

    await as_role(client, app, world, "member")
    asking = await browser.get("/conversations/new")
    assert "pas un soin, ni un service d'urgence" in asking.text()
    assert asking.all(".crisis-line a[href^='tel:']"), "the emergency line is on the page"
    thread_id = _thread_of(await ask(browser))
    conversation = await _conversation(app, thread_id)
    assert conversation.status == ConversationStatus.WAITING
    waiting = await browser.get(f"/t/{thread_id}")
    assert "Ta demande attend une personne" in waiting.text()
    assert FIRST in waiting.text()
    told = await _notices(app, world.members["author"])
    assert [n.message for n in told] == [conversations.ASKED], "the helper with the theme"

    # Before anyone accepts, the helper sees the request in the queue, not its text.
    await as_role(client, app, world, "author")
    queue = await browser.get("/helpers")
    assert "Alpha" in queue.text("#queue-heading + *") or "Alpha" in queue.text()
    assert FIRST not in queue.text()
    assert (await client.get(f"/t/{thread_id}")).status_code == 404
    notices = await browser.get("/notifications")
    link = notices.one(f"a[href='/conversations/{conversation.id}']")
    assert "attend sur le thème" in link.text
    leads = await client.get(link["href"], follow_redirects=False)
    assert leads.headers["location"] == "/helpers", "the helper's notice leads to the queue"
    assert await _accept(client, browser, conversation.id) == 303
    page = await browser.get(f"/conversations/{conversation.id}", follow_redirects=True)
    assert FIRST in page.text() and "Conversation en cours" in page.text()
    assert (await browser.reply(thread_id, HELPER_WORDS)).status == 303
    assert [n.message for n in await _notices(app, world.members["member"])] == [
        conversations.ACCEPTED]

    await as_role(client, app, world, "member")
    mine = await browser.get(f"/t/{thread_id}")
    assert HELPER_WORDS in mine.text()
    assert (await browser.reply(thread_id, "Marcher un peu, parfois.")).status == 303
    listing = await browser.get("/conversations")
    assert "Alpha" in listing.text() and "En cours" in listing.text()
    await as_role(client, app, world, "admin")
    load = await browser.get("/admin/members?q=Author")
    assert "conversations en cours : 1 sur 2" in load.text(f"#member-{world.members['author'].id}")

    # Nobody else: a third member, a visitor, the theme's moderator, an admin, the search,
    # the space's lists; and not through a post's own address either.
    async with app.state.database.reader() as session:
        post_ids = list(await session.scalars(select(Post.id).where(Post.thread_id == thread_id)))
        indexed = await session.scalar(select(func.count()).select_from(SearchDocument)
                                       .where(SearchDocument.thread_id == thread_id))
    assert indexed == 0
    for role in ("author_2", "visitor", "mod_this", "admin"):
        await as_role(client, app, world, role)
        assert (await client.get(f"/t/{thread_id}")).status_code == 404, role
        assert (await client.get(f"/p/{post_ids[0]}")).status_code == 404, role
        page = await client.get(f"/conversations/{conversation.id}", follow_redirects=False)
        assert page.status_code == 404 or (role == "visitor" and f"/t/{thread_id}" not in
                                           page.headers.get("location", "")), role
        found = (await client.get("/search?q=zyglophore")).text
        assert f"/t/{thread_id}" not in found and "dormir" not in found, role
        assert FIRST not in (await client.get("/s/alpha")).text, role
    await as_role(client, app, world, "mod_this")
    assert (await client.get(f"/mod/posts/{post_ids[0]}")).status_code == 404, \
        "a moderator reads nothing of a conversation without a report"


async def test_a_crisis_message_pauses_alerts_and_shows_moderators_only_that_part(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    thread_id, _ = await _open(app, client, browser, world)
    for words in ("Premier message du soir.", "Deuxième message.", "Troisième message."):
        assert (await browser.reply(thread_id, words)).status == 303
    await as_role(client, app, world, "member")
    pause = await browser.reply(thread_id, URGENT)
    assert pause.one("[data-crisis-level]")["data-crisis-level"] == "urgent"
    published = await browser.submit(pause.form(".crisis-pause__form"), {"crisis_ack": "1"})
    assert published.status == 303
    post_id = int(published.response.headers["location"].rsplit("#post-", 1)[1])
    async with app.state.database.reader() as session:
        alerted = set(await session.scalars(select(Notification.member_id).where(
            Notification.post_id == post_id, Notification.kind == ma.WELFARE_ALERT)))
    assert world.members["mod_this"].id in alerted or world.members["mod_second"].id in alerted

    await as_role(client, app, world, "mod_this")
    item = await client.get(f"/mod/posts/{post_id}")
    assert item.status_code == 200
    assert "ce soir je vais en finir" in item.text
    assert "Troisième message." in item.text and "Deuxième message." in item.text
    assert FIRST not in item.text, "only the few messages before the reported one"
    assert (await client.get(f"/mod/posts/{post_id}")).status_code == 200
    async with app.state.database.reader() as session:
        logged = list(await session.scalars(select(ModerationAction.actor_id).where(
            ModerationAction.kind == int(ActionKind.CONVERSATION_READ),
            ModerationAction.target_post_id == post_id)))
    assert logged == [world.members["mod_this"].id], "who read it is on record, once"
    assert f'href="/p/{post_id}"' not in item.text


async def test_either_side_ends_it_and_then_nobody_writes(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    thread_id, conversation = await _open(app, client, browser, world)
    await as_role(client, app, world, "member")
    page = await browser.get(f"/t/{thread_id}")
    ended = await browser.submit(page.form(f"form[action='/conversations/{conversation.id}/fin']"))
    assert ended.status == 303
    assert (await _conversation(app, thread_id)).status == ConversationStatus.ENDED
    assert [n.message for n in await _notices(app, world.members["author"])][-1] == \
        conversations.ENDED
    assert "Conversation terminée" in (await browser.get(f"/t/{thread_id}")).text()
    for role in ("member", "author"):
        await as_role(client, app, world, role)
        refused = await client.post(f"/t/{thread_id}/reply", data={"body": "Encore un mot."},
                                    headers=csrf_headers(client, app), follow_redirects=False)
        assert refused.status_code == 403, role
    again = await client.post(f"/conversations/{conversation.id}/fin",
                              headers=csrf_headers(client, app), follow_redirects=False)
    assert again.status_code == 303, "a second end changes nothing and says nothing"
    async with app.state.database.reader() as session:
        count = await session.scalar(select(func.count()).select_from(Post)
                                     .where(Post.thread_id == thread_id))
    assert count == 1


async def test_a_request_nobody_takes_is_closed_kindly_and_a_second_helper_finds_it_taken(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app, "author", "author_2")
    for helper in ("author", "author_2"):
        await as_role(client, app, world, helper)
        assert await set_availability(client, browser, themes=["alpha"]) == 303
    await as_role(client, app, world, "member")
    thread_id = _thread_of(await ask(browser))
    conversation = await _conversation(app, thread_id)
    await as_role(client, app, world, "author_2")
    assert (await browser.get("/helpers")).all(
        f"form[action='/conversations/{conversation.id}/accepter']"), "in both queues"
    await as_role(client, app, world, "author")
    assert await _accept(client, browser, conversation.id) == 303
    await as_role(client, app, world, "author_2")
    late = await client.post(f"/conversations/{conversation.id}/accepter",
                             headers=csrf_headers(client, app), follow_redirects=False)
    assert late.status_code == 409 and "déjà pris" in late.text
    assert (await _conversation(app, thread_id)).helper_id == world.members["author"].id

    # A second request, which nobody takes: after two hours it is closed, the member told.
    async with app.state.database.writing() as session:
        await session.execute(update(Conversation).where(Conversation.id == conversation.id)
                              .values(status=ConversationStatus.ENDED, ended_at=utcnow()))
        await session.commit()
    await as_role(client, app, world, "member")
    second = _thread_of(await ask(browser, body="Quelqu'un est là ce soir ?"))
    _at(app, utcnow() + conversations.WAIT_LIMIT + timedelta(minutes=1))
    await app.state.conversation_watch.run_once()
    closed = await _conversation(app, second)
    assert closed.status == ConversationStatus.UNANSWERED
    assert [n.message for n in await _notices(app, world.members["member"])][-1] == \
        conversations.UNANSWERED
    page = await browser.get(f"/t/{second}")
    assert "Personne n'a pu prendre cette demande" in page.text()
    assert page.all(".crisis-line a[href^='tel:']")


async def test_refusals_change_nothing(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    await as_role(client, app, world, "member")
    assert (await browser.get("/helpers")).status == 403, "the helpers' page is for helpers"
    empty = await ask(browser, theme="alpha", body="   ")
    assert empty.status == 422 and empty.one("select#theme option[selected]")["value"] == "alpha"
    page = await browser.get("/conversations/new")
    no_theme = await browser.submit(page.form("form.composer"), {"theme": "nowhere"})
    assert no_theme.status == 422 and "Choisis le thème" in no_theme.text()
    assert "Bonjour" in no_theme.one("textarea#body").text, "what was typed is kept"
    thread_id = _thread_of(await ask(browser))
    conversation = await _conversation(app, thread_id)
    twice = await ask(browser, body="Une deuxième demande.")
    assert twice.status == 409 and "déjà en attente" in twice.text()
    form = (await browser.get("/conversations/new")).form("form.composer")
    token = form.values()["_csrf_token"]
    assert (await client.post(f"/conversations/{conversation.id}/accepter",
                              data={"_csrf_token": token},
                              follow_redirects=False)).status_code == 403
    await as_role(client, app, world, "author")  # a helper with no theme chosen yet
    helper_page = await browser.get("/helpers")
    token = helper_page.form("form[action='/helpers/disponibilites']").values()["_csrf_token"]
    assert (await client.post(f"/conversations/{conversation.id}/accepter",
                              data={"_csrf_token": token},
                              follow_redirects=False)).status_code == 409
    assert await set_availability(client, browser, themes=[]) == 422
    assert await set_availability(client, browser, themes=["alpha"], langs=[]) == 422
    await as_role(client, app, world, "author_2")
    assert (await client.post(f"/conversations/{conversation.id}/fin",
                              data={"_csrf_token": token},
                              follow_redirects=False)).status_code in (403, 404)
    async with app.state.database.reader() as session:
        stored = await session.get(Conversation, conversation.id)
        assert stored is not None and stored.status == ConversationStatus.WAITING
        assert stored.helper_id is None
        count = await session.scalar(select(func.count()).select_from(Conversation))
    assert count == 1


async def test_the_export_holds_it_and_deleting_the_account_ends_it_and_erases_the_texts(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    thread_id, conversation = await _open(app, client, browser, world)
    await as_role(client, app, world, "member")
    exported = (await client.get("/me/export.json")).json()
    assert [row["id"] for row in exported["conversations_asked"]] == [conversation.id]
    assert "helper_id" not in exported["conversations_asked"][0]
    assert any(FIRST in str(post) for post in exported["posts"])
    async with app.state.database.writing() as session:
        member = await session.get(Member, world.members["member"].id)
        await do_delete_account(session, member, erase_posts=True)
        await session.commit()
    async with app.state.database.reader() as session:
        assert await session.get(Conversation, conversation.id) is None
        assert await session.get(Thread, thread_id) is None
        texts = list(await session.scalars(select(Post.source).where(Post.thread_id == thread_id)))
    assert texts == [], "erasing the account takes the conversation it asked for, whole"
    await as_role(client, app, world, "author")
    assert (await client.get(f"/t/{thread_id}")).status_code == 404


async def test_leaving_without_erasing_ends_it_and_keeps_the_words_for_the_helper(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    thread_id, conversation = await _open(app, client, browser, world)
    async with app.state.database.writing() as session:
        member = await session.get(Member, world.members["member"].id)
        await do_delete_account(session, member, erase_posts=False)
        await session.commit()
    async with app.state.database.reader() as session:
        stored = await session.get(Conversation, conversation.id)
    assert stored is not None and stored.status == ConversationStatus.ENDED
    assert stored.member_id is None
    page = await browser.get(f"/t/{thread_id}")
    assert FIRST in page.text() and "Membre parti·e" in page.text()


async def test_a_closed_conversation_is_deleted_after_its_retention(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    thread_id, conversation = await _open(app, client, browser, world)
    async with app.state.database.writing() as session:
        stored = await session.get(Conversation, conversation.id)
        assert stored is not None
        await conversations.do_end(session, stored, None, theme="Alpha")
        await session.commit()
    _at(app, utcnow() + conversations.RETENTION - timedelta(days=1))
    await app.state.conversation_watch.run_once()
    async with app.state.database.reader() as session:
        assert await session.get(Thread, thread_id) is not None, "kept until its time"
    _at(app, utcnow() + conversations.RETENTION + timedelta(days=1))
    await app.state.conversation_watch.run_once()
    async with app.state.database.reader() as session:
        assert await session.get(Conversation, conversation.id) is None
        assert await session.get(Thread, thread_id) is None
        assert await session.scalar(select(func.count()).select_from(Post)
                                    .where(Post.thread_id == thread_id)) == 0


async def test_a_block_ends_the_conversation_and_the_helper_is_not_offered_the_member_again(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    thread_id, conversation = await _open(app, client, browser, world)
    sent = await browser.reply(thread_id, HELPER_WORDS)
    helper_post = int(sent.response.headers["location"].rsplit("#post-", 1)[1])
    await as_role(client, app, world, "member")
    helper_id = world.members["author"].id
    blocked = await client.post(f"/m/{helper_id}/block", data={"post": str(helper_post)},
                                headers=csrf_headers(client, app), follow_redirects=False)
    assert blocked.status_code == 303
    assert (await _conversation(app, thread_id)).status == ConversationStatus.ENDED
    second = _thread_of(await ask(browser, body="Quelqu'un d'autre, peut-être ?"))
    await as_role(client, app, world, "author")
    queue = await browser.get("/helpers")
    again = await _conversation(app, second)
    assert not queue.all(f"form[action='/conversations/{again.id}/accepter']")
    refused = await client.post(f"/conversations/{again.id}/accepter",
                                headers=csrf_headers(client, app), follow_redirects=False)
    assert refused.status_code == 409
    assert (await _conversation(app, second)).helper_id is None


async def _seasoned(app: Litestar, world: World, *roles: str) -> None:
    """Accounts old enough, with enough visible posts, to ask another member."""
    async with app.state.database.writing() as session:
        await session.execute(update(Member).where(
            Member.id.in_([world.members[r].id for r in roles]))
            .values(created_at=utcnow() - timedelta(days=30)))
        alpha = await session.get(Thread, world.ids["thread"])
        for role in roles:
            author = await session.get(Member, world.members[role].id)
            for n in range(conversations.NEW_ACCOUNT_POSTS):
                await actions.do_reply(session, thread=alpha, author=author,
                                       source=f"Message {n} de {role}.",
                                       verdict=verdict(f"Message {n} de {role}."))
        await session.commit()


async def _allow_requests(client: AsyncTestClient, app: Litestar, world: World, role: str,
                          accepts: bool = True) -> None:
    await as_role(client, app, world, role)
    sent = await client.post("/conversations/reglages", data={"accepts": "1"} if accepts else {},
                             headers=csrf_headers(client, app), follow_redirects=False)
    assert sent.status_code == 303


async def ask_member(browser: Browser, to: str, body: str = "Salut, on peut parler ?"):  # noqa: ANN201
    page = await browser.get(f"/conversations/membre?avec={to}")
    assert page.status == 200
    return await browser.submit(page.form("form.composer"),
                                {"to": to, "theme": "alpha", "body": body})


async def test_between_members_it_is_off_by_default_asked_once_and_opens_only_if_accepted(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    await _seasoned(app, world, "member")
    await as_role(client, app, world, "member")
    refused = await ask_member(browser, "Author_2")
    assert refused.status == 422 and "ne reçoit pas de demande" in refused.text()
    assert "Salut, on peut parler ?" in refused.one("textarea#body").text
    unknown = await ask_member(browser, "Personne_Inconnue")
    assert unknown.status == 422 and unknown.text("#to-error") == refused.text("#to-error"), \
        "an unknown pseudonym answers as a member who does not accept requests"

    await _allow_requests(client, app, world, "author_2")
    await as_role(client, app, world, "member")
    thread_id = _thread_of(await ask_member(browser, "Author_2"))
    conversation = await _conversation(app, thread_id)
    assert conversation.kind == "member" and conversation.status == ConversationStatus.WAITING
    again = await ask_member(browser, "Author_2", body="Et encore ?")
    assert again.status == 422, "once"

    await as_role(client, app, world, "author_2")
    told = await _notices(app, world.members["author_2"])
    assert [n.message for n in told] == [conversations.INVITED]
    page = await browser.get(f"/t/{thread_id}")
    assert "Salut, on peut parler ?" in page.text() and not page.all("#reply-form"), \
        "the member asked reads the request, and writes only once they accept"
    early = await client.post(f"/t/{thread_id}/reply", data={"body": "Oui ?"},
                              headers=csrf_headers(client, app), follow_redirects=False)
    assert early.status_code == 403
    async with app.state.database.reader() as session:
        request_post = await session.scalar(select(Post.id).where(Post.thread_id == thread_id))
    assert not page.all(f"#post-{request_post} form[action$='/react']")
    reacted = await client.post(f"/p/{request_post}/react", data={"kind": "courage"},
                                headers=csrf_headers(client, app), follow_redirects=False)
    assert reacted.status_code in (403, 404), "no reaction before an answer: only the answer"
    for role in ("author", "mod_this", "admin", "visitor"):
        await as_role(client, app, world, role)
        assert (await client.get(f"/t/{thread_id}")).status_code == 404, role
    await as_role(client, app, world, "author_2")
    page = await browser.get(f"/t/{thread_id}")
    answer = page.form(f"form[action='/conversations/{conversation.id}/reponse']")
    yes = await browser.submit(answer, {"accept": "1"})
    assert yes.status == 303
    assert (await _conversation(app, thread_id)).status == ConversationStatus.OPEN
    assert (await browser.reply(thread_id, "Oui, bien sûr.")).status == 303
    await as_role(client, app, world, "member")
    assert "Oui, bien sûr." in (await browser.get(f"/t/{thread_id}")).text()
    assert [n.message for n in await _notices(app, world.members["member"])][0] == \
        conversations.INVITE_ACCEPTED


async def test_between_members_a_no_a_new_account_and_its_links(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    await _allow_requests(client, app, world, "author_2")
    await as_role(client, app, world, "member")
    too_new = await browser.get("/conversations/membre")
    assert "au moins 7 jours et 5 messages" in too_new.text() and not too_new.all("form.composer")
    sent = await client.post("/conversations/membre", data={
        "to": "Author_2", "theme": "alpha", "body": "Salut"},
        headers=csrf_headers(client, app), follow_redirects=False)
    assert sent.status_code == 403
    async with app.state.database.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 0

    await _seasoned(app, world, "member")
    await as_role(client, app, world, "member")
    thread_id = _thread_of(await ask_member(browser, "Author_2"))
    conversation = await _conversation(app, thread_id)
    await as_role(client, app, world, "author_2")  # a new account: its links are plain text
    page = await browser.get(f"/t/{thread_id}")
    await browser.submit(page.form(f"form[action='/conversations/{conversation.id}/reponse']"),
                         {"accept": "1"})
    assert (await browser.reply(
        thread_id, "Regarde [ce site](https://exemple.org/page) et https://autre.org")).status \
        == 303
    shown = await browser.get(f"/t/{thread_id}")
    last = shown.all("#posts article")[-1]
    assert "ce site" in last.text and not last.select("a[href*='exemple.org']")
    assert not last.select("a[href*='autre.org']")

    # A no: the asker is told gently, the thread closes, and they cannot ask again.
    await as_role(client, app, world, "author_2")
    async with app.state.database.writing() as session:
        stored = await session.get(Conversation, conversation.id)
        assert stored is not None
        await conversations.do_end(session, stored, None, theme="Alpha")
        await session.commit()
    await _seasoned(app, world, "author")
    await _allow_requests(client, app, world, "member")
    await as_role(client, app, world, "author")
    second = _thread_of(await ask_member(browser, "Member", body="Bonjour toi."))
    asked = await _conversation(app, second)
    await as_role(client, app, world, "member")
    page = await browser.get(f"/t/{second}")
    no = await browser.submit(page.form(f"form[action='/conversations/{asked.id}/reponse']"),
                              {"accept": "0"})
    assert no.status == 303
    assert (await _conversation(app, second)).status == ConversationStatus.DECLINED
    assert [n.message for n in await _notices(app, world.members["author"])][-1] == \
        conversations.INVITE_DECLINED
    await as_role(client, app, world, "author")
    assert (await ask_member(browser, "Member", body="Et maintenant ?")).status == 422


async def test_asking_members_is_throttled(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    await _seasoned(app, world, "member")
    await as_role(client, app, world, "member")
    answers = []
    for n in range(8):
        sent = await client.post("/conversations/membre", data={
            "to": f"Inconnu{n}", "theme": "alpha", "body": "Salut"},
            headers=csrf_headers(client, app), follow_redirects=False)
        answers.append(sent.status_code)
    assert answers[:6] == [422] * 6 and answers[6:] == [429, 429], answers


async def test_the_helpers_space_is_read_by_helpers_and_admins_only(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)  # "author" is a trained helper
    await as_role(client, app, world, "admin")
    admin_page = await browser.get("/admin")
    created = await browser.submit(admin_page.form("form[action='/admin/spaces']"), {
        "name": "Entre pair-aidant·es", "slug": "entre-pairs", "visibility": "helpers",
        "description": "Pour déposer ce qui pèse.", "charter": "Ce qui se dit ici reste ici."})
    assert created.status == 303, created.text()
    await as_role(client, app, world, "author")
    opened = await browser.start_thread("entre-pairs", "Débrief du jeudi",
                                        "Une conversation lourde hier soir, zorbalune. @Member")
    assert opened.status == 303
    thread_id = int(opened.response.headers["location"].split("/t/", 1)[1].split("#")[0])
    await browser.reply(thread_id, "Merci d'être là. @Member")
    assert (await client.get(f"/t/{thread_id}")).status_code == 200
    for role in ("member", "mod_this", "visitor"):
        await as_role(client, app, world, role)
        assert (await client.get(f"/t/{thread_id}")).status_code == 404, role
        space = (await client.get("/s/entre-pairs")).text
        assert "Débrief du jeudi" not in space, role
        assert "Débrief du jeudi" not in (await client.get("/")).text, role
        found = (await client.get("/search?q=zorbalune")).text
        assert "Débrief du jeudi" not in found and "zorbalune</mark>" not in found, role
    async with app.state.database.reader() as session:
        told = await session.scalar(select(func.count()).select_from(Notification).where(
            Notification.member_id == world.members["member"].id,
            Notification.thread_id == thread_id))
    assert told == 0, "a mention in the helpers' space tells nobody who cannot read it"
    await as_role(client, app, world, "admin")
    assert (await client.get(f"/t/{thread_id}")).status_code == 200
    found = (await client.get("/search?q=zorbalune")).text
    assert "Débrief du jeudi" in found, "the search finds it for those who read it"


async def test_a_premoderated_theme_holds_nothing_and_a_danger_call_after_another_still_goes(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    async with app.state.database.writing() as session:
        await session.execute(update(Space).where(Space.slug == "alpha")
                              .values(premoderated_posts=3, new_member_hourly_limit=1))
        await session.commit()
    thread_id, conversation = await _open(app, client, browser, world)
    async with app.state.database.reader() as session:
        statuses = list(await session.scalars(select(Post.status).where(
            Post.thread_id == thread_id)))
    assert statuses == [PostStatus.VISIBLE], "a theme's pre-moderation is for its public threads"
    assert FIRST in (await browser.get(f"/t/{thread_id}")).text(), "the helper reads it"
    await as_role(client, app, world, "member")
    for words in ("Un deuxième message.", "Un troisième, dans la même heure."):
        assert (await browser.reply(thread_id, words)).status == 303
    await as_role(client, app, world, "mod_this")
    assert "Un deuxième message." not in (await client.get("/mod")).text

    await as_role(client, app, world, "author")
    answers = []
    for reason in ("other", "other", "danger"):
        sent = await client.post(f"/conversations/{conversation.id}/moderateurs",
                                 data={"reason": reason}, headers=csrf_headers(client, app),
                                 follow_redirects=False)
        answers.append(sent.status_code)
    assert answers == [303, 422, 303], "a second call waits; a danger call after one goes"
    assert await _flags(app, "danger") == 1, "the worry that grew reaches the moderators"
    await as_role(client, app, world, "mod_this")
    page = (await client.get("/mod")).text
    assert "Conversation privée" in page and "Un troisième, dans la même heure." not in page, \
        "the queue names a conversation's item without showing its words"


async def _flags(app: Litestar, reason: str) -> int:
    from moderation.models import Flag

    async with app.state.database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(Flag).where(
            Flag.reason == reason)) or 0)


async def test_a_badge_taken_back_gives_the_conversation_back_to_the_queue_and_an_archive_keeps_it(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    thread_id, conversation = await _open(app, client, browser, world)
    async with app.state.database.writing() as session:
        helper = await session.get(Member, world.members["author"].id)
        admin = await session.get(Member, world.members["admin"].id)
        assert await ma.do_revoke_helper_badge(session, helper, actor=admin, reason="test")
        await session.execute(update(Space).where(Space.slug == "alpha").values(archived=True))
        await session.commit()
    again = await _conversation(app, thread_id)
    assert again.status == ConversationStatus.WAITING and again.helper_id is None
    assert [n.message for n in await _notices(app, world.members["member"])][-1] == \
        conversations.RELEASED
    await as_role(client, app, world, "author")
    assert (await client.get(f"/t/{thread_id}")).status_code == 404, "no badge, no reading"
    await as_role(client, app, world, "member")
    page = await browser.get(f"/t/{thread_id}")
    assert page.status == 200 and FIRST in page.text(), "an archived theme keeps it theirs"


async def test_the_member_asked_who_closes_a_request_declines_it_and_leaving_takes_the_notices(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    await _seasoned(app, world, "member")
    await _allow_requests(client, app, world, "author_2")
    await as_role(client, app, world, "member")
    # Messages in one's own conversations do not make an account seasoned: only public posts.
    async with app.state.database.reader() as session:
        member = await session.get(Member, world.members["member"].id)
        assert member is not None and not await conversations.is_new_account(session, member)
    thread_id = _thread_of(await ask_member(browser, "Author_2"))
    conversation = await _conversation(app, thread_id)
    await as_role(client, app, world, "author_2")
    ended = await client.post(f"/conversations/{conversation.id}/fin",
                              headers=csrf_headers(client, app), follow_redirects=False)
    assert ended.status_code == 303
    assert (await _conversation(app, thread_id)).status == ConversationStatus.DECLINED
    assert [n.message for n in await _notices(app, world.members["member"])][-1] == \
        conversations.INVITE_DECLINED, "however it is closed, the asker hears 'not accepted'"
    async with app.state.database.writing() as session:
        leaver = await session.get(Member, world.members["author_2"].id)
        await do_delete_account(session, leaver, erase_posts=False)
        await session.commit()
    assert await _notices(app, world.members["member"]) == [], \
        "the notices naming someone who left go with them"


async def test_messages_in_conversations_do_not_season_an_account(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await _world(app)
    async with app.state.database.writing() as session:
        await session.execute(update(Member).where(Member.id == world.members["member"].id)
                              .values(created_at=utcnow() - timedelta(days=30)))
        await session.commit()
    await as_role(client, app, world, "member")
    thread_id = _thread_of(await ask(browser))
    for n in range(conversations.NEW_ACCOUNT_POSTS):
        assert (await browser.reply(thread_id, f"Encore un mot, le {n}e.")).status == 303
    async with app.state.database.reader() as session:
        member = await session.get(Member, world.members["member"].id)
        assert member is not None and await conversations.is_new_account(session, member)


async def test_the_database_keeps_one_waiting_request_and_one_ask_per_pair(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """What the pages check first, the unique indexes hold when two sends cross."""
    world = await _world(app)
    async with app.state.database.writing() as session:
        member = await session.get(Member, world.members["member"].id)
        other = await session.get(Member, world.members["author_2"].id)
        alpha = await session.scalar(select(Space).where(Space.slug == "alpha"))
        assert member is not None and other is not None and alpha is not None
        first = await conversations.do_request(session, member=member, space=alpha, lang="fr")
        second = await conversations.do_request(session, member=member, space=alpha, lang="fr")
        asked = await conversations.do_ask_member(session, asker=member, asked=other,
                                                  space=alpha, lang="fr")
        again = await conversations.do_ask_member(session, asker=member, asked=other,
                                                  space=alpha, lang="fr")
        await session.commit()
    assert first is not None and second is None
    assert asked is not None and again is None
    async with app.state.database.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 2

