"""``make screenshots``: every page at 1280 px and 375 px, light and dark, into docs/screenshots/.

Run as ``python -m tests.browser.screenshots``. It starts its own server on a fresh demo
database (see :mod:`tests.browser.live`), signs a member up through the real form, and saves
full-page PNGs named ``<page>-<desktop|mobile>-<light|dark>.png``. Nothing is fetched from
anywhere but 127.0.0.1.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.browser.flows import (
    MEMBERS_ONLY_SLUG,
    public_thread_url,
    reply_with_htmx,
    sign_up,
    start_thread,
)
from tests.browser.live import CHROMIUM, ROOT, launch_chromium, live_server
from tests.browser.moderating import log_in
from tests.browser.seed import ADMIN, MODERATOR

OUTPUT = ROOT / "docs" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "mobile": (375, 812)}
SCHEMES = ("light", "dark")
MEMBER_NAMES = {("desktop", "light"): "Brin_de_Thym", ("desktop", "dark"): "Petit_Phare",
                ("mobile", "light"): "Pomme_de_Pin", ("mobile", "dark"): "Nuage_Lent"}
LIVE_NAMES = {("desktop", "light"): ("Fil_de_Soie", "Vent_Doux"),
              ("desktop", "dark"): ("Lune_Claire", "Goutte_de_Pluie"),
              ("mobile", "light"): ("Caillou_Blanc", "Herbe_Folle"),
              ("mobile", "dark"): ("Ciel_de_Nuit", "Plume_Grise")}
"""The reader and the writer of the live pages (issue 18), one pair per width and scheme."""
Shoot = Callable[..., Path]
"""``shoot(name)`` saves the page of the person shown; ``shoot(name, other_page)`` another's."""

VISITOR_PAGES: dict[str, str] = {
    "home": "/",
    "space": "/s/anxiete",
    "members-only-space": f"/s/{MEMBERS_ONLY_SLUG}",
    "signup": "/signup",
    "login": "/login",
    "help-fr": "/help?region=FR",
    "help-ca-qc": "/help?region=CA-QC",
    "charter": "/charter",
    "privacy": "/privacy",
    "search": "/search?q=angoisse",
    "not-found": "/cette-page-n-existe-pas",
}
MEMBER_PAGES: dict[str, str] = {
    "account": "/me",
    "sessions": "/me/sessions",
    "settings": "/settings",
    "notifications": "/notifications",
    "safety-plan": "/safety-plan",
    "delete-account": "/me/delete",
    "export": "/me/export",
}


def _shoot(page: Any, name: str, width: str, scheme: str) -> Path:
    path = OUTPUT / f"{name}-{width}-{scheme}.png"
    page.wait_for_load_state("networkidle")
    # Fixed elements (the quick-exit bar) land where the viewport was: shoot from the top.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="initial")
    return path


def _visitor_pages(page: Any, shoot: Callable[[str], Path]) -> None:
    for name, url in VISITOR_PAGES.items():
        page.goto(url)
        shoot(name)
    page.goto(public_thread_url(page))
    shoot("thread")


def _member_pages(page: Any, shoot: Callable[[str], Path], pseudonym: str) -> None:
    sign_up(page, pseudonym)
    shoot("recovery-code")
    page.goto("/s/anxiete/new")
    shoot("new-thread")
    page.goto(public_thread_url(page))
    page.evaluate("document.getElementById('reply-body').removeAttribute('required')")
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector("#reply-form .field-error")
    page.evaluate("document.activeElement.blur()")
    shoot("reply-error")
    for name, url in MEMBER_PAGES.items():
        page.goto(url)
        shoot(name)


def _care_pages(page: Any, shoot: Callable[[str], Path]) -> None:
    """The crisis pause (urgent), then the thread with a warned post and the crisis banner."""
    start_thread(page, "Une semaine en dents de scie",
                 "Je partage ici comment se passe ma semaine, avec ses hauts et ses bas.")
    page.click("#reply-form details.field--warning summary")
    page.select_option("#reply-body-cw", "deuil")
    reply_with_htmx(page, "Ma grand-mère est partie il y a un an aujourd'hui. Elle me manque.")
    page.fill("#reply-body", "Ce soir je vais en finir, j'ai tout ce qu'il faut à côté de moi.")
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector("[data-crisis-level=urgent]")
    page.evaluate("document.activeElement.blur()")
    shoot("crisis-pause")
    page.click("[data-crisis-level] button[name=crisis_ack]")
    page.wait_for_selector("#reply-form textarea#reply-body")
    page.reload()
    shoot("thread-care")


def _staff_pages(page: Any, shoot: Callable[[str], Path]) -> None:
    """What the admin (a moderator of every space) sees: queue, an item, the log, the spaces."""
    log_in(page, ADMIN)
    page.goto("/mod")
    shoot("mod-queue")
    # The urgent post the member pages just published is in the queue (the moderators are told).
    page.goto(str(page.get_attribute(".mod-queue .mod-item--urgent a.button", "href")))
    shoot("mod-item")
    page.goto("/mod/log")
    shoot("mod-log")
    page.goto("/admin")
    shoot("admin-spaces")
    page.goto("/admin/watched-words")
    shoot("watched-words")


NEWS_SAYS = """(text) => {
    const news = document.getElementById('thread-news');
    return news !== null && news.textContent.includes(text);
}"""


def _live_pages(page: Any, writer: Any, moderator: Any, shoot: Shoot,
                names: tuple[str, str]) -> None:
    """Live updates (issue 18), each page told by its event stream, never reloaded: a thread
    page's news after two replies, then the moderator's header after an urgent post."""
    reader_name, writer_name = names
    sign_up(page, reader_name)
    thread_id = start_thread(page, "Nos petites victoires de la semaine",
                             "Je commence : j'ai réussi à sortir marcher trois fois.")
    page.goto(f"/t/{thread_id}")  # not on the opening post, which it lands on (focused)
    sign_up(writer, writer_name)
    writer.goto(f"/t/{thread_id}")
    reply_with_htmx(writer, "Bravo ! Moi, j'ai appelé ma sœur, ça faisait des mois.")
    reply_with_htmx(writer, "Et j'ai dormi une nuit entière, pour la première fois.")
    page.wait_for_function(NEWS_SAYS, arg="2 nouveaux messages")
    shoot("thread-news")

    log_in(moderator, MODERATOR)
    moderator.goto("/")
    moderator.wait_for_load_state("networkidle")  # its stream listens
    before = moderator.inner_text("#mod-link")
    writer.fill("#reply-body", "J'ai tout préparé, ce soir je vais en finir, "
                               "je ne veux plus être là demain.")
    writer.click("#reply-form button[type=submit]")
    writer.wait_for_selector("[data-crisis-level=urgent]")
    writer.click("[data-crisis-level] button[name=crisis_ack]")
    writer.wait_for_selector("#reply-form textarea#reply-body")
    moderator.wait_for_function("(before) => document.getElementById('mod-link')"
                                ".innerText !== before", arg=before)
    shoot("mod-header-live", moderator)


def take_all(browser: Any, base_url: str) -> list[Path]:
    taken: list[Path] = []
    for width, (pixels, height) in WIDTHS.items():
        for scheme in SCHEMES:
            def shoot(name: str, shot: Any = None, _w: str = width, _s: str = scheme) -> Path:
                taken.append(_shoot(shot or page, name, _w, _s))
                return taken[-1]

            def new_page(_p: int = pixels, _h: int = height, _s: str = scheme) -> Any:
                return browser.new_context(
                    base_url=base_url, locale="fr-FR", color_scheme=_s,
                    viewport={"width": _p, "height": _h},
                    device_scale_factor=1, reduced_motion="reduce",
                ).new_page()

            for who in ("visitor", "member", "staff", "live"):
                page = new_page()
                others: list[Any] = []
                try:
                    if who == "member":
                        _member_pages(page, shoot, MEMBER_NAMES[(width, scheme)])
                        _care_pages(page, shoot)
                    elif who == "staff":
                        _staff_pages(page, shoot)
                    elif who == "live":
                        others = [new_page(), new_page()]
                        _live_pages(page, *others, shoot, LIVE_NAMES[(width, scheme)])
                    else:
                        _visitor_pages(page, shoot)
                finally:
                    for opened in (page, *others):
                        opened.context.close()
    return taken


def main() -> int:
    if not CHROMIUM.exists():
        print("Screenshots need /usr/bin/chromium (apt-get install chromium).")
        return 1
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir, live_server(Path(workdir)) as base_url, \
            launch_chromium() as browser:
        taken = take_all(browser, base_url)
    for path in taken:
        print(path.relative_to(ROOT))
    print(f"{len(taken)} screenshots in {OUTPUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
