"""Issue 15: every moderation decision holds everywhere (search, edits, appeals, history and
erasure), through the real routes. Each test failed on the code before the issue."""

from __future__ import annotations

from datetime import timedelta

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from forum import actions
from forum.models import (
    Member,
    Notification,
    Post,
    PostStatus,
    SearchDocument,
    Space,
    Visibility,
)
from moderation import actions as ma
from moderation import queries as mq
from moderation.models import ActionKind, Appeal, ModerationAction
from tests.browsing import Browser, Page
from tests.moderation.access_matrix import (
    as_role,
    build_world,
    make_member,
    make_space,
    reply,
    verdict,
)


def hits(page: Page) -> list[str]:
    return [li.get_text(" ", strip=True) for li in page.all(".search-hit")]


async def moderate(browser: Browser, post_id: int, action: str, **data: str) -> Page:
    item = await browser.get(f"/mod/posts/{post_id}")
    return await browser.submit(item.form(f"#action-{action}"),
                                {"reason": "Relu par l'équipe", **data})


async def backdate(app: Litestar, *members: Member, days: int = 30) -> None:
    """Make accounts older (established members)."""
    async with app.state.database.writing() as session:
        for member in members:
            row = await session.get(Member, member.id)
            row.created_at = row.created_at - timedelta(days=days)


# -- derived data follows every change ----------------------------------------------------------

async def test_a_moderators_edit_takes_a_real_name_out_of_search_at_once(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        author = await session.get(Member, world.members["author"].id)
        post = await reply(session, world.ids["thread"], author,
                           "Je travaille chez Plastibrax, je m'appelle Jeanne Quimperlé.")
    await as_role(client, app, world, "visitor")
    assert hits(await browser.get("/search?q=Plastibrax"))
    await as_role(client, app, world, "mod_this")
    edited = await moderate(browser, post.id, "edit",
                            body="Je travaille dans une usine, et je cherche du soutien.")
    assert edited.status == 303
    await as_role(client, app, world, "visitor")
    assert not hits(await browser.get("/search?q=Plastibrax"))
    assert not hits(await browser.get("/search?q=Quimperle"))
    assert hits(await browser.get("/search?q=usine"))


async def test_a_thread_moved_into_a_members_only_space_leaves_visitors_searches(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        private = await make_space(session, "entre-nous", visibility=Visibility.MEMBERS)
        author = await session.get(Member, world.members["author"].id)
        await reply(session, world.ids["thread"], author, "Le mot ornithorynque pour ce test.")
        private_id = private.id
    await as_role(client, app, world, "visitor")
    assert hits(await browser.get("/search?q=ornithorynque"))
    await as_role(client, app, world, "admin")
    item = await browser.get(f"/mod/posts/{world.ids['post']}")
    moved = await browser.submit(item.form("form#action-move"),
                                 {"space": str(private_id), "reason": "Plus à l'abri"})
    assert moved.status == 303
    await as_role(client, app, world, "visitor")
    assert not hits(await browser.get("/search?q=ornithorynque"))
    await as_role(client, app, world, "member")
    assert hits(await browser.get("/search?q=ornithorynque"))
    async with app.state.database.reader() as session:  # every entry of the thread follows
        spaces = set(await session.scalars(select(SearchDocument.space_id).where(
            SearchDocument.thread_id == world.ids["thread"])))
    assert spaces == {private_id}


async def test_approved_posts_become_searchable_and_hidden_or_removed_ones_leave(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        author = await session.get(Member, world.members["author"].id)
        held = await reply(session, world.ids["thread"], author,
                           "Le mot capharnaüm attend la relecture.", PostStatus.PENDING)
    await as_role(client, app, world, "visitor")
    assert not hits(await browser.get("/search?q=capharnaum"))
    await as_role(client, app, world, "mod_this")
    assert (await moderate(browser, held.id, "approve")).status == 303
    await as_role(client, app, world, "visitor")
    assert hits(await browser.get("/search?q=capharnaum")), "approved: searchable"
    await as_role(client, app, world, "mod_this")
    assert (await moderate(browser, held.id, "hide")).status == 303
    await as_role(client, app, world, "visitor")
    assert not hits(await browser.get("/search?q=capharnaum")), "hidden: out of the index"
    await as_role(client, app, world, "mod_this")
    assert (await moderate(browser, held.id, "restore")).status == 303
    assert (await moderate(browser, held.id, "remove")).status == 303
    await as_role(client, app, world, "visitor")
    assert not hits(await browser.get("/search?q=capharnaum")), "removed: out of the index"
    async with app.state.database.reader() as session:
        indexed = await session.scalar(select(Post.id).where(Post.id == held.id).where(
            Post.id.in_(select(_document_ids()))))
    assert indexed is None


def _document_ids():  # noqa: ANN202
    from forum.models import SearchDocument

    return SearchDocument.post_id


async def test_search_snippets_honour_content_warnings_and_hidden_themes(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        author = await session.get(Member, world.members["author"].id)
        thread = await mq.get_thread(session, world.ids["thread"])
        await actions.do_reply(session, thread=thread, author=author,
                               source="Le mot zinzolin et des détails très durs.",
                               verdict=verdict("Le mot zinzolin et des détails très durs."),
                               content_warning="suicide")
    await as_role(client, app, world, "visitor")
    page = await browser.get("/search?q=zinzolin")
    hit = page.one(".search-hit")
    assert hit.select_one("details.search-hit__warning .search-hit__snippet"), "folded"
    assert "Suicide" in hit.select_one("details.search-hit__warning summary").get_text()
    await as_role(client, app, world, "member")
    async with app.state.database.writing() as session:
        await actions.do_set_hidden_warnings(
            session, await session.get(Member, world.members["member"].id), {"suicide"})
    page = await browser.get("/search?q=zinzolin")
    hit = page.one(".search-hit")
    assert not hit.select(".search-hit__snippet:not(.search-hit__snippet--hidden)")
    assert "masqué selon tes réglages" in hit.get_text()


# -- paths that skipped the rules -------------------------------------------------------------

async def test_an_edit_sending_a_removed_posts_key_goes_through_the_gate(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        author = await session.get(Member, world.members["author"].id)
        thread = await mq.get_thread(session, world.ids["thread"])
        removed = (await actions.do_reply(
            session, thread=thread, author=author, source="Un texte retiré par l'équipe.",
            verdict=verdict("Un texte retiré par l'équipe."), idempotency_key="cle-retiree")).post
        await ma.do_remove_post(session, await mq.get_post(session, removed.id),
                                actor=world.members["mod_second"], reason="Hors charte")
    await as_role(client, app, world, "author")
    form = (await browser.get(f"/p/{world.ids['post2']}/edit")).form("main form")
    answer = await browser.submit(form, {
        "body": "Ce soir je vais en finir, j'ai tout préparé.",
        "idempotency_key": "cle-retiree"})
    assert answer.status == 200 and answer.one("[data-crisis-level]"), "the gate ran"
    async with app.state.database.reader() as session:
        kept = await session.get(Post, world.ids["post2"])
    assert kept.source == "Une réponse sans signalement."
    assert "retiré par l'équipe" not in kept.html


async def test_nobody_decides_an_appeal_on_their_own_post(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        mod = await session.get(Member, world.members["mod_this"].id)
        thread = await mq.get_thread(session, world.ids["thread"])
        own = (await actions.do_reply(session, thread=thread, author=mod,
                                      source="Le message du modérateur.",
                                      verdict=verdict("Le message du modérateur."))).post
        own = await mq.get_post(session, own.id)
        await ma.do_hide_post(session, own, actor=world.members["admin"], reason="Hors sujet")
        action = await mq.action_for_appeal(session, own.id)
        appeal = await ma.do_appeal(session, action, member=mod, message="Je conteste.")
        appeal_id, own_id = appeal.id, own.id
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{own_id}")
    assert not item.all(f"form[action='/mod/appeals/{appeal_id}/grant']")
    response = await client.post(f"/mod/appeals/{appeal_id}/grant", data={
        "reason": "Moi-même", "_csrf_token": client.cookies.get("csrftoken") or ""})
    assert response.status_code == 403
    async with app.state.database.reader() as session:
        assert (await session.get(Post, own_id)).status == PostStatus.HIDDEN
        assert (await session.get(Appeal, appeal_id)).decided_at is None


async def test_granting_an_appeal_on_a_welfare_item_needs_a_second_person(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    post_id = world.ids["hidden"]
    async with app.state.database.writing() as session:
        post = await mq.get_post(session, post_id)
        await ma.do_flag_post(session, post, flagger=world.members["member"], reason="danger",
                              note="Je crois que cette personne va mal.")
    appeal_id = world.ids["appeal"]
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}")
    first = await browser.submit(item.form(f"form#action-appeal-{appeal_id}"),
                                 {"reason": "On peut rétablir"})
    assert first.status == 303
    async with app.state.database.reader() as session:
        assert (await session.get(Post, post_id)).status == PostStatus.HIDDEN, "proposed only"
        assert (await session.get(Appeal, appeal_id)).decided_at is None
    await as_role(client, app, world, "admin")
    item = await browser.get(f"/mod/posts/{post_id}")
    second = await browser.submit(item.form(f"form#action-appeal-{appeal_id}"),
                                  {"reason": "D'accord"})
    assert second.status == 303
    async with app.state.database.reader() as session:
        assert (await session.get(Post, post_id)).status == PostStatus.VISIBLE
        assert (await session.get(Appeal, appeal_id)).granted is True


async def test_a_confirmed_grant_on_a_welfare_item_is_logged_as_an_appeal_granted(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    """On a welfare item the second person's grant goes through the restore: the log keeps
    ``APPEAL_GRANTED`` for the appeal (with its id and the reason), as for any other appeal,
    beside the proposal and the restore."""
    world = await build_world(app)
    post_id, appeal_id = world.ids["hidden"], world.ids["appeal"]
    async with app.state.database.writing() as session:
        post = await mq.get_post(session, post_id)
        await ma.do_flag_post(session, post, flagger=world.members["member"], reason="danger",
                              note="Je crois que cette personne va mal.")
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}")
    assert (await browser.submit(item.form(f"form#action-appeal-{appeal_id}"),
                                 {"reason": "On peut rétablir"})).status == 303
    await as_role(client, app, world, "admin")
    item = await browser.get(f"/mod/posts/{post_id}")
    assert (await browser.submit(item.form(f"form#action-appeal-{appeal_id}"),
                                 {"reason": "D'accord, on rétablit"})).status == 303
    async with app.state.database.reader() as session:
        rows = list(await session.scalars(
            select(ModerationAction).where(ModerationAction.target_post_id == post_id)
            .order_by(ModerationAction.id)))
    granted = [row for row in rows if row.kind == ActionKind.APPEAL_GRANTED]
    assert len(granted) == 1
    assert granted[0].details["appeal_id"] == appeal_id
    assert granted[0].reason == "D'accord, on rétablit"
    assert granted[0].actor_id == world.members["admin"].id
    assert ActionKind.DECISION_PROPOSED in [row.kind for row in rows]
    assert rows[-1].kind == ActionKind.POST_RESTORED
    log = await browser.get("/mod/log")
    entries = [" ".join(row.get_text(" ").split()) for row in log.all("tr.mod-log__entry")]
    assert any("Recours accepté" in e and "D'accord, on rétablit" in e for e in entries)


async def test_pre_moderation_counts_approved_posts_only(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        await session.execute(update(Space).where(Space.id == world.ids["space"])
                              .values(premoderated_posts=3))
    await as_role(client, app, world, "member")
    for text in ("Premier essai jetable numéro un.", "Deuxième essai jetable numéro deux.",
                 "Troisième message, qui devrait attendre aussi."):
        assert (await browser.reply(world.ids["thread"], text)).status == 303
    async with app.state.database.reader() as session:
        statuses = list(await session.scalars(
            select(Post.status).where(Post.author_id == world.members["member"].id)
            .order_by(Post.id.desc()).limit(3)))
    assert statuses == [PostStatus.PENDING] * 3


async def test_a_suspended_moderator_moderates_nothing(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        mod = await session.get(Member, world.members["mod_this"].id)
        await ma.do_suspend_member(session, mod, actor=world.members["admin"],
                                   reason="Propos déplacés", days=3)
    await as_role(client, app, world, "mod_this")
    assert (await client.get("/mod")).status_code == 403
    assert (await client.get(f"/mod/posts/{world.ids['post']}")).status_code == 403
    response = await client.post(f"/mod/posts/{world.ids['post']}/hide", data={
        "reason": "Essai", "_csrf_token": client.cookies.get("csrftoken") or ""})
    assert response.status_code == 403
    assert not (await browser.get("/")).all("#mod-link")
    async with app.state.database.reader() as session:
        assert (await session.get(Post, world.ids["post"])).status == PostStatus.VISIBLE


async def test_new_accounts_cannot_hide_a_post_and_a_crisis_post_is_never_auto_hidden(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        await session.execute(update(Space).where(Space.id == world.ids["space"])
                              .values(auto_hide_flags=3))
        fresh = [await make_member(session, f"Nouveau{i}") for i in range(3)]
        target = await mq.get_post(session, world.ids["post2"])
        for member in fresh:
            await ma.do_flag_post(session, target, flagger=member, reason="spam", note="")
    async with app.state.database.reader() as session:
        assert (await session.get(Post, world.ids["post2"])).status == PostStatus.VISIBLE

    async with app.state.database.writing() as session:  # established accounts now
        olds = [await make_member(session, f"Ancien{i}") for i in range(3)]
        thread = await mq.get_thread(session, world.ids["thread"])
        for member in olds:
            for n in range(3):
                await actions.do_reply(session, thread=thread, author=member,
                                       source=f"Message ordinaire {member.pseudonym} {n}.",
                                       verdict=verdict("Message ordinaire."))
        crisis = (await actions.do_reply(
            session, thread=thread, author=world.members["author"],
            source="Je n'en peux plus, je veux mourir.",
            verdict=verdict("Je n'en peux plus, je veux mourir."))).post
        crisis.crisis_level = "concern"
        crisis_id = crisis.id
    await backdate(app, *olds)
    async with app.state.database.writing() as session:
        for member in olds:
            for post_id in (world.ids["post2"], crisis_id):
                await ma.do_flag_post(session, await mq.get_post(session, post_id),
                                      flagger=await session.get(Member, member.id),
                                      reason="spam", note="")
    async with app.state.database.reader() as session:
        assert (await session.get(Post, world.ids["post2"])).status == PostStatus.HIDDEN
        assert (await session.get(Post, crisis_id)).status == PostStatus.VISIBLE


async def test_toggling_a_mention_by_editing_tells_once(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "author")
    posted = await browser.reply(world.ids["thread"], "Un message qui va changer.")
    post_id = int(posted.response.headers["location"].rsplit("#post-", 1)[1])
    for body in ("Coucou @Member, tu vas bien ?", "Coucou, tu vas bien ?",
                 "Coucou @Member, tu vas bien ?", "Coucou tout le monde.",
                 "Re @Member !"):
        form = (await browser.get(f"/p/{post_id}/edit")).form("main form")
        assert (await browser.submit(form, {"body": body})).status == 303
    async with app.state.database.reader() as session:
        notices = list(await session.scalars(select(Notification).where(
            Notification.member_id == world.members["member"].id,
            Notification.post_id == post_id)))
    assert len(notices) == 1


# -- confidentiality between spaces and members ------------------------------------------------

async def test_an_items_history_shows_only_the_readers_spaces(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        author = await session.get(Member, world.members["author"].id)
        beta = await session.get(Space, world.spaces["beta"].id)
        opened = await actions.do_create_thread(
            session, space=beta, author=author, title="Ailleurs", source="Un autre espace.",
            verdict=verdict("Un autre espace."))
        elsewhere = await mq.get_post(session, opened.post.id)
        await ma.do_request_second_opinion(session, elsewhere, actor=world.members["mod_other"],
                                           note="risque suicidaire élevé")
        await ma.do_message_author(session, elsewhere, actor=world.members["mod_other"],
                                   text="Un mot privé de l'équipe de l'autre espace.")
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{world.ids['post2']}")
    assert "risque suicidaire élevé" not in item.text()
    assert "Un mot privé" not in item.text()
    await as_role(client, app, world, "admin")
    item = await browser.get(f"/mod/posts/{world.ids['post2_2']}")
    assert "risque suicidaire élevé" in item.text() or "Second avis" in item.text()


async def test_blocking_tells_nothing_about_who_exists(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        gone = await make_member(session, "Partie")
        from forum.privacy import do_delete_account
        await do_delete_account(session, gone, erase_posts=False)
        gone_id = gone.id
    await as_role(client, app, world, "member")
    token = {"_csrf_token": client.cookies.get("csrftoken") or ""}
    admin_id = world.members["admin"].id
    answers = {
        "admin, never posted": await client.post(f"/m/{admin_id}/block", data=token),
        "deleted": await client.post(f"/m/{gone_id}/block", data=token),
        "unknown": await client.post("/m/99999/block", data=token),
        "post of someone else": await client.post(
            f"/m/{admin_id}/block", data={**token, "post": str(world.ids["post2"])}),
        "unblock unknown": await client.post("/m/99999/unblock", data=token),
        "unblock deleted": await client.post(f"/m/{gone_id}/unblock", data=token),
        "unblock not blocked": await client.post(f"/m/{admin_id}/unblock", data=token),
        # The page that says what blocking does answers the same for the same cases.
        "offer, admin, never posted": await client.get(f"/m/{admin_id}/block"),
        "offer, deleted": await client.get(f"/m/{gone_id}/block?post={world.ids['post2']}"),
        "offer, unknown": await client.get(f"/m/99999/block?post={world.ids['post2']}"),
        "offer, post of someone else": await client.get(
            f"/m/{admin_id}/block?post={world.ids['post2']}"),
        "offer, post not a number": await client.get(f"/m/{admin_id}/block?post=%C2%B2"),
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        name: 404 for name in answers}
    assert len({Page(r).text("main") for r in answers.values()}) == 1, "one answer for all"
    author_id = world.members["author"].id
    blocked = await client.post(f"/m/{author_id}/block", follow_redirects=False,
                                data={**token, "post": str(world.ids["post2"])})
    assert blocked.status_code == 303
    for _ in range(25):
        last = await client.post(f"/m/{author_id}/block", follow_redirects=False,
                                 data={**token, "post": str(world.ids["post2"])})
    assert last.status_code == 429


async def test_look_alike_and_professional_pseudonyms_are_refused(browser: Browser) -> None:
    await browser.signup("Luciole-Test")
    await browser.logout()
    for name in ("luciole.test", "Luciole_Test", "Psychologue", "Dr_Martin", "Infirmière",
                 "SOS_Amitie", "aide_3114", "SAMU_15"):
        page = await browser.get("/signup")
        answer = await browser.submit(page.form(), {
            "pseudonym": name, "password": "une phrase assez longue ici",
            "password_confirm": "une phrase assez longue ici", "consent": "yes"})
        assert answer.status == 422, name
        assert answer.all("#pseudonym-error") or answer.all(".field-error"), name


async def test_erasure_blanks_appeals_and_the_log_never_keeps_a_title(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        thread = await mq.get_thread(session, world.ids["thread"])
        await ma.do_lock_thread(session, thread, actor=world.members["mod_this"],
                                reason="Calme")
        author = await session.get(Member, world.members["author"].id)
        from forum.privacy import do_delete_account
        await do_delete_account(session, author, erase_posts=True)
    async with app.state.database.reader() as session:
        appeal = await session.get(Appeal, world.ids["appeal"])
        logged = list(await session.scalars(select(ModerationAction.target_pseudonym).where(
            ModerationAction.target_thread_id == world.ids["thread"],
            ModerationAction.target_post_id.is_(None))))
    assert appeal.message == ""
    assert logged and all("tester" not in name for name in logged)
    assert f"#{world.ids['thread']}" in logged


async def test_the_export_holds_appeals_flags_reactions_and_blocks(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        member = await session.get(Member, world.members["member"].id)
        post = await mq.get_post(session, world.ids["post2"])
        await actions.do_toggle_reaction(session, post, member=member, kind="courage")
        await actions.do_block(session, member, await session.get(Member,
                                                                   world.members["author"].id))
    from forum.privacy import export_member_data
    async with app.state.database.reader() as session:
        member = await session.get(Member, world.members["member"].id)
        flagger_export = await export_member_data(session, member)
        author = await session.get(Member, world.members["author"].id)
        author_export = await export_member_data(session, author)
    assert flagger_export["flags_raised"] and "text_copy" not in flagger_export["flags_raised"][0]
    assert flagger_export["reactions_given"][0]["kind"] == "courage"
    assert flagger_export["members_blocked"]
    assert author_export["appeals"][0]["message"] == "Je ne comprends pas pourquoi."


async def test_visitors_see_what_is_true_about_pending_and_automatically_hidden_posts(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    async with app.state.database.writing() as session:
        post = await session.get(Post, world.ids["post2"])
        post.status = PostStatus.HIDDEN
        post.moderation_reason = ma.AUTO_HIDE_REASON
        from forum import changes
        changes.post(session, post)
    await as_role(client, app, world, "visitor")
    page = await browser.get(f"/t/{world.ids['thread']}")
    pending = page.one(f"#post-{world.ids['pending']}")
    assert "Author" not in pending.get_text() and "Message en attente" in pending.get_text()
    assert "Author" not in pending.select_one(".post__author").get_text()
    hidden = page.one(f"#post-{world.ids['post2']}")
    assert "masqué automatiquement" in hidden.get_text()
    # A member sees the same, and no "Bloquer …" link names the pending post's author (nor
    # leads, under a post they cannot see, to a page that does not exist).
    await as_role(client, app, world, "member")
    page = await browser.get(f"/t/{world.ids['thread']}")
    pending = page.one(f"#post-{world.ids['pending']}")
    assert "Author" not in pending.get_text() and "Message en attente" in pending.get_text()
    assert not pending.select("a.post__block-link")
    assert not page.one(f"#post-{world.ids['post2']}").select("a.post__block-link")
    assert page.all("a.post__block-link"), "the visible posts of others still offer it"


# -- visible edit history -------------------------------------------------------------------------

async def test_modified_opens_the_history_and_moderators_see_the_flagged_version(
    app: Litestar, client: AsyncTestClient, browser: Browser,
) -> None:
    world = await build_world(app)
    await as_role(client, app, world, "author")
    posted = await browser.reply(world.ids["thread"], "Texte blessant de départ.")
    post_id = int(posted.response.headers["location"].rsplit("#post-", 1)[1])
    async with app.state.database.writing() as session:
        await ma.do_flag_post(session, await mq.get_post(session, post_id),
                              flagger=world.members["member"], reason="harassment", note="")
    form = (await browser.get(f"/p/{post_id}/edit")).form("main form")
    assert (await browser.submit(form, {"body": "Texte adouci ensuite."})).status == 303
    await as_role(client, app, world, "member")
    thread = await browser.get(f"/t/{world.ids['thread']}")
    link = thread.one(f"#post-{post_id} a.post__edited")
    history = await browser.get(link["href"])
    assert len(history.all(".revision")) == 2
    assert "Texte blessant" not in history.text(), "readers see that and when, not the text"
    await as_role(client, app, world, "author")
    assert "Texte blessant de départ" in (await browser.get(link["href"])).text()
    await as_role(client, app, world, "mod_this")
    item = await browser.get(f"/mod/posts/{post_id}")
    flagged = item.one(".revision--flagged")
    assert "Texte blessant de départ" in flagged.get_text()
    assert "version signalée" in flagged.get_text()

