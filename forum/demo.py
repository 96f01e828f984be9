"""Demo content: the thematic spaces and a few kind, realistic threads, in French.

``seed_demo`` is idempotent: a space that exists is left as it is (with its threads), so
running it twice changes nothing. Demo members cannot log in (their hashes are not valid).
Text goes through the content gate, like everything members write.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from forum import actions, pseudonyms, queries
from forum.gate import ContentGate
from forum.models import Member, Space, Visibility

UNUSABLE_HASH = "!demo-account-cannot-log-in"

SPACE_CHARTER_DEFAULT = (
    "On parle de son expérience, à la première personne, sans juger celle des autres.\n"
    "Pas de détails de méthode, de doses ni de chiffres sur le poids.\n"
    "Pas de conseil médical présenté comme une vérité : chacun·e son parcours."
)


@dataclass(frozen=True)
class DemoSpace:
    slug: str
    name: str
    description: str
    visibility: Visibility = Visibility.PUBLIC
    topics: tuple[str, ...] = ()
    charter: str = SPACE_CHARTER_DEFAULT
    premoderated_posts: int = 0
    """A new member's first posts here wait for a moderator (set after the demo threads)."""


SPACES = (
    DemoSpace("anxiete", "Anxiété",
              "Crises d'angoisse, anxiété sociale, ruminations : ce qui aide, ce qui pèse, "
              "et les petites victoires."),
    DemoSpace("depression-humeur", "Dépression et humeur",
              "Dépression, troubles bipolaires, fatigue qui ne passe pas : parler sans avoir "
              "à faire semblant d'aller bien."),
    DemoSpace("addictions", "Addictions",
              "Alcool, drogues, jeux, écrans : consommer, réduire, arrêter, rechuter, "
              "recommencer. Sans jugement.", topics=("addiction",)),
    DemoSpace("proches-aidants", "Proches et aidant·es",
              "Pour les parents, conjoint·es, ami·es et enfants d'une personne qui va mal : "
              "tenir sans s'oublier."),
    DemoSpace("retablissement", "Rétablissement : témoignages",
              "Des parcours de rétablissement, avec leurs détours. Pour se donner de l'espoir "
              "les un·es aux autres."),
    DemoSpace("deuil", "Deuil",
              "Perdre quelqu'un, y compris par suicide. Un espace pour le chagrin, la colère "
              "et les souvenirs."),
    DemoSpace("bien-etre", "Bien-être au quotidien",
              "Sommeil, routines, sorties, petites choses qui font du bien : les astuces "
              "qui marchent pour de vrai."),
    DemoSpace("troubles-alimentaires", "Troubles alimentaires",
              "Anorexie, boulimie, hyperphagie : en parler sans chiffres, sans comparaison, "
              "avec douceur.", topics=("eating_disorder",),
              charter=SPACE_CHARTER_DEFAULT + "\nIci plus encore : aucun poids, aucune "
              "calorie, aucune mensuration."),
    DemoSpace("idees-suicidaires", "Idées suicidaires et automutilation",
              "Un espace réservé aux membres pour parler d'idées suicidaires et "
              "d'automutilation, entre personnes qui comprennent. Les numéros d'aide sont "
              "toujours en haut de la page.", visibility=Visibility.MEMBERS,
              charter=SPACE_CHARTER_DEFAULT + "\nAucune description de moyen ou de méthode. "
              "Si tu es en danger maintenant, appelle les secours avant d'écrire.",
              premoderated_posts=2),
)

MEMBERS = ("Colibri", "Tilleul_Paisible", "Brise_du_Soir", "Lueur", "Galet", "Mésange")

# (space slug, title, [(author index, text), ...]): the first text opens the thread.
THREADS: tuple[tuple[str, str, tuple[tuple[int, str], ...]], ...] = (
    ("anxiete", "Les crises d'angoisse dans les transports", (
        (0, "Depuis quelques mois, le métro m'est devenu difficile : le cœur qui s'emballe, "
            "l'impression que je vais tomber. Je descends parfois deux stations avant.\n\n"
            "Est-ce que certain·es d'entre vous ont trouvé des choses qui aident sur le "
            "moment ?"),
        (2, "Oui, ça m'arrivait beaucoup. Ce qui m'aide : **respirer en comptant** (4 "
            "secondes pour inspirer, 6 pour expirer) et regarder cinq choses autour de moi, "
            "une par une. Ça ne fait pas tout disparaître, mais ça redescend."),
        (4, "Je me reconnais tellement. Ma psychologue m'a conseillé de ne pas fuir "
            "complètement, mais d'y aller par petits bouts. Une station, puis deux. "
            "Courage à toi, tu n'es pas seul·e."),
    )),
    ("anxiete", "Anxiété sociale au travail", (
        (1, "Les réunions me vident. Je prépare tout ce que je vais dire et au final je me "
            "tais. Vous faites comment ?"),
        (5, "J'ai fini par en parler à une collègue de confiance. Rien que de savoir "
            "qu'une personne sait, ça m'enlève un poids."),
    )),
    ("depression-humeur", "Quand tout demande un effort", (
        (3, "Ce matin, prendre une douche m'a paru aussi dur que courir un marathon. Je sais "
            "que ça fait partie de la dépression, mais je culpabilise quand même.\n\n"
            "Je voulais juste l'écrire quelque part où on comprend."),
        (0, "On comprend. Prendre cette douche, c'était déjà beaucoup. Ici on compte les "
            "petites victoires : tu en as une aujourd'hui."),
        (2, "La culpabilité, c'est la maladie qui parle. Tu fais ce que tu peux, et c'est "
            "assez pour aujourd'hui."),
    )),
    ("addictions", "Trois mois sans alcool (et une rechute)", (
        (4, "J'avais tenu trois mois, puis il y a eu un repas de famille compliqué. J'ai bu. "
            "Le lendemain j'avais honte au point de ne plus vouloir essayer.\n\n"
            "Mon addictologue m'a dit qu'une rechute ne remet pas le compteur de ce qu'on "
            "a appris à zéro. J'essaie de le croire."),
        (1, "Trois mois, c'est énorme, et ce que tu as appris pendant ces trois mois est "
            "toujours là. Je suis passé par là plusieurs fois avant de tenir."),
    )),
    ("proches-aidants", "Mon frère ne veut pas se faire aider", (
        (5, "Mon frère va très mal depuis sa séparation, il s'isole et refuse de voir qui "
            "que ce soit. Je ne sais plus comment lui parler sans qu'il se ferme.\n\n"
            "Comment vous gérez l'impuissance ?"),
        (3, "J'ai vécu ça avec ma mère. Ce qui a changé les choses : arrêter de vouloir la "
            "convaincre, et juste rester là, régulièrement, sans pression. Et prendre soin "
            "de moi aussi, parce que je m'épuisais."),
        (0, "Les lignes d'écoute sont aussi pour les proches, pas seulement pour la "
            "personne qui va mal. Ça m'a fait du bien d'en appeler une."),
    )),
    ("retablissement", "Il y a deux ans, je n'y croyais plus", (
        (2, "Il y a deux ans, je ne sortais plus de chez moi. Aujourd'hui je travaille à mi-"
            "temps, je vois des ami·es, je dors mieux. Tout n'est pas réglé, mais la vie a "
            "repris de la place.\n\nJe poste ça pour celles et ceux qui sont au fond du "
            "trou : ça peut bouger, même lentement."),
        (4, "Merci pour ce message. J'en avais besoin aujourd'hui."),
    )),
    ("deuil", "Un an déjà", (
        (1, "Cela fait un an que mon amie est partie. Les gens autour de moi pensent que je "
            "devrais « aller mieux ». Certains jours oui, d'autres pas du tout."),
        (5, "Le deuil n'a pas de calendrier. Pense à toi en ce jour anniversaire, et fais-"
            "toi doux·ce. On est là."),
    )),
    ("bien-etre", "Vos petites routines du soir ?", (
        (0, "Je cherche des idées pour décrocher le soir. En ce moment : tisane, écrans "
            "coupés à 22 h, trois choses positives de la journée dans un carnet."),
        (3, "Une courte marche après le dîner, même dix minutes. Et une playlist calme."),
        (1, "Le carnet, je l'ai adopté aussi. Certains soirs j'écris juste « j'ai tenu ». "
            "Ça compte."),
    )),
    ("idees-suicidaires", "Les nuits sont le plus dur", (
        (2, "C'est la nuit que les idées noires reviennent. Écrire ici m'aide à tenir "
            "jusqu'au matin. Si vous êtes dans une nuit comme ça : les numéros d'aide sont "
            "en haut de la page, et c'est OK de les appeler."),
        (4, "Merci de l'écrire. Moi aussi la nuit c'est le pire. J'ai noté le 3114 dans mon "
            "téléphone, au cas où."),
    )),
)


async def _demo_members(session: AsyncSession) -> list[Member]:
    members: list[Member] = []
    for name in MEMBERS:
        key = pseudonyms.uniqueness_key(name)
        member = await session.scalar(select(Member).where(Member.pseudonym_key == key))
        if member is None:
            member = await actions.do_signup(
                session, pseudonym=name, pseudonym_key=key, password_hash=UNUSABLE_HASH,
                recovery_hash=UNUSABLE_HASH, locale="fr", region="FR",
            )
        members.append(member)
    return members


async def seed_demo(session: AsyncSession, gate: ContentGate) -> int:
    """Create the demo spaces that are missing, with their threads. Returns how many."""
    members = await _demo_members(session)
    created: list[Space] = []
    for position, demo in enumerate(SPACES):
        if await session.scalar(select(Space.id).where(Space.slug == demo.slug)):
            continue
        space = Space(
            slug=demo.slug, name=demo.name, description=demo.description, charter=demo.charter,
            visibility=demo.visibility, topics=list(demo.topics), position=position,
        )
        session.add(space)
        created.append(space)
    await session.flush()
    by_slug = {space.slug: space for space in created}
    for slug, title, posts in THREADS:
        space = by_slug.get(slug)
        if space is None:
            continue
        (first_author, first_text), *replies = posts
        opener = await actions.do_create_thread(
            session, space=space, author=members[first_author], title=title, source=first_text,
            verdict=await gate.review(session, first_text, author=members[first_author],
                                      space=space),
        )
        thread = await queries.get_thread(session, opener.post.thread_id)
        for author_index, text in replies:
            await actions.do_reply(
                session, thread=thread, author=members[author_index], source=text,
                verdict=await gate.review(session, text, author=members[author_index],
                                          space=space),
            )
    by_demo = {demo.slug: demo for demo in SPACES}
    for space in created:
        space.premoderated_posts = by_demo[space.slug].premoderated_posts
    await session.flush()
    return len(created)
