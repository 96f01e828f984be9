"""The lexicon's structural faults seen in issue 14, each held with sentences of its kind.

None of these sentences is one the issue quotes: each checks that a rule works for a family of
texts (words slipped into a phrase, participles, inclusive writing, word order of the past,
"ni" and "sans", elliptic intent with a time, means or plan cue, Québec pronouns, the Swiss
greeting, someone else at risk now)."""

from __future__ import annotations

import pytest

from moderation.crisis.lexicon import assess


def level(text: str) -> str:
    return assess(text).level


@pytest.mark.parametrize("text", [
    "je me suis vraiment coupée hier soir",
    "j'ai juste envie de mourir",
    "je vais franchement me tuer",
    "I just really want to die",
    "jai genre envie de crever",
])
def test_words_slipped_into_a_phrase_do_not_hide_it(text: str) -> None:
    assert level(text) != "none"


@pytest.mark.parametrize(("text", "expected"), [
    ("je me suis tailladé les poignets", "urgent"),
    ("je me suis ouverte les veines dans la baignoire", "urgent"),
    ("j'ai avalé toute ma plaquette de xanax", "urgent"),
    ("jai avaler tous mes cachets", "urgent"),
    ("ce matin j'ai pris 25 comprimés de lexomil", "urgent"),
    ("je me suis brûlée exprès avec un briquet", "concern"),
    ("je me suis scarifié les cuisses", "concern"),
])
def test_past_participles_and_typed_infinitives_are_read(text: str, expected: str) -> None:
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    "épuisé.e de vivre comme ça",
    "fatigué(e) d'exister",
    "tellement lassé·e de la vie",
])
def test_inclusive_writing_does_not_break_a_match(text: str) -> None:
    assert level(text) == "concern"


def test_a_match_keeps_its_span_in_the_text_as_written() -> None:
    text = "hier, épuisé·e de vivre, j'ai juste dormi"
    match = assess(text).matches[0]
    assert text[match.start : match.end] == "épuisé·e de vivre"


@pytest.mark.parametrize("text", [
    "J'ai voulu mourir il y a quatre ans, aujourd'hui je vais mieux.",
    "J'ai songé au suicide quand j'avais 16 ans, je vais bien maintenant.",
    "Il y a six ans j'ai voulu mourir. Je vais beaucoup mieux.",
])
def test_a_recovered_past_is_none_whatever_the_word_order(text: str) -> None:
    assert level(text) == "none"


def test_thinking_of_it_in_the_passé_composé_without_recovery_is_still_concern() -> None:
    assert level("J'ai pensé au suicide toute la nuit.") == "concern"


@pytest.mark.parametrize("text", [
    "deux ans sans me couper, je suis fière",
    "six mois sans me faire de mal",
    "a whole year without cutting",
])
def test_sans_and_without_right_before_a_match_negate_it(text: str) -> None:
    assert level(text) == "none"


def test_ni_before_a_match_negates_it_but_ni_envie_de_vivre_is_concern() -> None:
    assert level("Je n'ai ni envie de mourir ni de disparaître, juste de souffler.") == "none"
    assert level("ni envie de vivre ni envie de rien") == "concern"


@pytest.mark.parametrize("text", [
    "je vais le faire cette nuit",
    "c'est pour ce soir.",
    "jvais tout prendre demain",
    "tonight is the night",
    "j'ai tout prévu, je vais passer à l'acte",
    "je vais faire une bêtise ce soir, j'ai acheté une corde",
])
def test_an_elliptic_intent_counts_with_a_time_means_or_plan_cue(text: str) -> None:
    assert level(text) == "urgent"


@pytest.mark.parametrize("text", [
    "je vais le faire",
    "C'est ce soir le concert, j'ai hâte !",
    "Je vais faire le ménage ce soir, enfin !",
    "Je me suis coupée hier en épluchant des carottes.",
])
def test_an_elliptic_phrase_alone_or_about_a_thing_is_none(text: str) -> None:
    assert level(text) == "none"


@pytest.mark.parametrize("text", [
    "a veut se suicider à soir",
    "y dit qu'y va se tuer, chu inquiète",
])
def test_quebec_y_and_a_are_someone_else(text: str) -> None:
    result = assess(text)
    assert result.level == "concern" and result.about == "other"


def test_the_swiss_adieu_greeting_survives_an_exclamation_mark() -> None:
    assert level("Adieu ! Je m'appelle Noé, j'arrive de Sion.") == "none"
    assert level("Adieu tout le monde. Merci pour tout, vraiment.") == "urgent"


@pytest.mark.parametrize("text", [
    "Adieu tout le monde ! Moi c'est Jeanne, j'arrive de Vevey.",
    "Adieu à toutes et à tous ! Je suis nouvelle par ici.",
    "Adieu les amis ! Petit coucou depuis le val d'Hérens.",
    "Adieu la compagnie ! Comment ça va chez vous ?",
])
def test_a_swiss_greeting_to_everyone_reaches_past_its_exclamation_mark(text: str) -> None:
    """The greeting's exclusion runs past the "!" that ends its first sentence."""
    assert level(text) == "none"


@pytest.mark.parametrize("text", [
    "Adieu à tous ! Je ne serai plus là demain.",
    "Adieu tout le monde ! Merci pour tout, prenez soin de vous.",
    "Adieu à tous ! À la prochaine vie.",
    "Adieu à tous ! À bientôt de l'autre côté.",
    "Adieu la compagnie ! À demain peut-être, ou jamais.",
])
def test_a_goodbye_after_an_exclamation_mark_is_still_one(text: str) -> None:
    """Only an introduction may follow the greeting across its "!", and the greeting's own
    match is the one that must stay (no other phrase of these texts is a match)."""
    result = assess(text)
    assert result.level == "urgent" and {m.term for m in result.matches} == {"fr.goodbye"}


def test_the_greetings_exclusion_never_covers_another_match() -> None:
    result = assess("Adieu tout le monde, je vais me tuer ce soir ! Je m'appelle Léa.")
    assert result.level == "urgent"
    assert "fr.intent" in {m.term for m in result.matches}


@pytest.mark.parametrize(("text", "expected"), [
    ("Avec ma psy j'ai écrit une lettre d'adieu à ma boulimie.", "none"),
    ("J'ai écrit une lettre d'adieu à l'alcool, quatre pages.", "none"),
    ("j'ai écrit une lettre d'adieu à mon ancienne moi", "none"),
    ("J'ai écrit une lettre d'adieu à mes enfants.", "urgent"),
    ("J'ai écrit une lettre d'adieu à ta sœur.", "urgent"),
    ("La lettre d'adieu est sur mon bureau.", "urgent"),
    ("Quand vous lirez ce message, ma lettre d'adieu à l'anorexie sera finie, et moi aussi.",
     "urgent"),
])
def test_a_letter_of_farewell_to_an_illness_is_a_therapy_exercise(text: str,
                                                                 expected: str) -> None:
    assert level(text) == expected


@pytest.mark.parametrize(("text", "locale", "expected"), [
    ("J'ai fait une tentative de conciliation avec mon proprio, sans succès.", "fr-FR", "none"),
    ("l'an passé j'ai fait une tentative de régime, lol", "fr-BE", "none"),
    ("Ma TS du CLSC m'a rappelée pour mon dossier.", "fr-CA", "none"),
    ("ma TS dit que je peux espacer les rencontres", "fr-CA", "none"),
    ("J'ai fait une tentative de suicide en 2020.", "fr-FR", "concern"),
    ("j'ai fait une tentative d'en finir cet hiver", "fr-FR", "concern"),
    ("J'ai fait une tentative de pendaison l'an dernier.", "fr-FR", "concern"),
    ("J'ai fait une tentative d'overdose en 2021.", "fr-CH", "concern"),
    ("J'ai fait une tentative de suiside en 2020.", "fr-FR", "concern"),
    ("J'ai fait une tentative de suicide en mars, puis une tentative de reprise du boulot.",
     "fr-FR", "concern"),
    ("J'ai fait ma TS l'été passé, personne le sait.", "fr-CA", "concern"),
    ("Ma TS m'a laissé des séquelles aux mains.", "fr-FR", "concern"),
    ("Ma TS m'a dit de revenir jeudi.", "fr-FR", "concern"),
])
def test_an_attempt_at_something_else_and_a_quebec_social_worker_are_not_a_past_attempt(
        text: str, locale: str, expected: str) -> None:
    """Each exclusion covers only its own words (never the rest of the sentence), and "ma TS"
    reads as a social worker only in Québec's French."""
    assert assess(text, locale).level == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Ce soir c'est la fin... du championnat, je vais pleurer.", "none"),
    ("demain c'est la fin d'une belle aventure au boulot", "none"),
    ("c'est la dernière nuit que je passe dans ce studio, demain je déménage", "none"),
    ("Ce soir c'est la fin de tout, j'ai tout préparé.", "urgent"),
    ("demain c'est la fin du stage et la fin de moi, c'est décidé", "urgent"),
    ("ce soir c'est fini pour moi", "urgent"),
])
def test_the_end_of_something_else_is_not_an_elliptic_intent(text: str, expected: str) -> None:
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    "My GP asked me during the check-up if I ever think about ending my life; I could say no.",
    "The nurse asked me straight out whether I'd had thoughts of suicide lately, and I hadn't.",
    "Le médecin m'a posé les questions habituelles sur le sommeil et les idées noires.",
])
def test_a_screening_question_asked_by_a_professional_is_not_a_crisis(text: str) -> None:
    assert level(text) == "none"


def test_a_screening_question_does_not_hide_an_answer_that_is_one() -> None:
    assert level("Ma psy m'a demandé si j'allais bien. Non : j'ai envie de mourir.") != "none"


def test_a_swiss_introduction_with_a_name_and_an_age_is_a_greeting() -> None:
    assert level("Adieu tout le monde ! Je suis Maude, 34 ans, de Bulle.") == "none"


@pytest.mark.parametrize(("text", "expected"), [
    ("I haven't self-harmed since March and my therapist is chuffed.", "none"),
    ("Three months today since I last burned myself.", "none"),
    ("Showed my sister my faded self-harm scars for the first time.", "none"),
    ("I haven't stopped self-harming, it's every night now.", "concern"),
    ("hid my fresh cuts under a hoodie again today", "concern"),
])
def test_english_self_harm_that_is_over_is_read_as_over(text: str, expected: str) -> None:
    assert level(text) == expected


def test_working_oneself_to_death_is_an_idiom() -> None:
    assert level("Je me tue à l'ouvrage depuis la rentrée, double service.") == "none"
    assert level("Je vais me tuer ce soir, j'en peux plus.") == "urgent"


def test_someone_else_now_is_about_them_and_first_person_text_is_about_the_writer() -> None:
    other = assess("ma fille m'a écrit qu'elle allait se tuer cette nuit, je fais quoi ?")
    assert (other.level, other.about) == ("concern", "other")
    mine = assess("je pense à mourir tout le temps")
    assert (mine.level, mine.about) == ("concern", "self")


@pytest.mark.parametrize("text", [
    "j'ai envie de me pendre devant ce match lol",
    "Les idées noires sont parties depuis que je vois ma psy.",
    "Ma sœur dit souvent « je vais me tuer » quand elle rate un gâteau, c'est son expression.",
    "C'est ma dernière nuit à la clinique, demain je rentre !",
    "Adieu à ce vieux canapé qui nous a suivis partout.",
])
def test_hyperbole_recovery_quoted_words_and_leaving_a_place_stay_quiet(text: str) -> None:
    assert level(text) == "none"


@pytest.mark.parametrize(("idiom", "with_a_crisis_beside_it"), [
    ("Ma mère va se tuer au travail si elle continue comme ça.",
     "Ma mère va se tuer au travail, et elle parle de se suicider depuis hier."),
    ("Je vais prendre le bus de 7 h demain.",
     "Je vais prendre le bus pour rentrer, puis je vais tout prendre cette nuit."),
    ("I've been killing myself at the gym all month.",
     "I keep killing myself at work and now I'm going to kill myself for real."),
    ("I'll do it for the team, promise.",
     "I'll do it for the team on Monday, but tonight I'm going to do it, the pills are ready."),
])
def test_an_idiom_excludes_its_own_words_not_a_crisis_phrase_beside_it(
    idiom: str, with_a_crisis_beside_it: str
) -> None:
    """An entry's ``exclude_overlap`` idiom (se tuer au travail, prendre le bus, killing myself
    at work, do it for the team) drops only the match it overlaps: the same idiom earlier in
    the sentence used to hide a real intent after it."""
    assert level(idiom) == "none"
    assert level(with_a_crisis_beside_it) != "none"


@pytest.mark.parametrize(("text", "expected"), [
    ("I took all my pills at 10 and it's 10:45 now.", "urgent"),
    ("swallowed the whole bottle at 9, it's almost midnight now", "urgent"),
    ("I took all my pills at 10:30 and I feel sick.", "urgent"),
    ("I tried to kill myself at 15.", "concern"),
    ("I overdosed on my meds at 17 and nobody ever knew.", "concern"),
])
def test_a_time_of_day_is_not_an_age(text: str, expected: str) -> None:
    """"at 14" reads as an age (the writer's distant past, concern at most), but a clock or a
    "now" further on in the sentence makes "at 10" a time of day: an overdose an hour ago is
    urgent (found on 2026-12-06: read as concern, so the moderators on duty were not told)."""
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    "je suis assise sur le parapet du viaduc depuis une heure",
    "jsuis de l'autre côté du garde-corps, le vent souffle fort",
    "j'ai les jambes dans le vide, au dernier étage du parking",
    "I'm sitting on the railing of the overpass right now",
    "stepped over the railing, my legs over the edge",
    "j'ai avalé de l'antigel tout à l'heure, j'ai mal partout",
    "I swallowed weed killer twenty minutes ago",
    "la prochaine fois je vais pas me louper, c'est promis à moi-même",
    "This time I'm not going to wake up, I counted them twice.",
])
def test_a_person_at_the_edge_a_poison_swallowed_or_a_second_attempt_is_urgent(text: str) -> None:
    """Three ways of saying it is happening now that no entry read before 2026-12-06 (night):
    being at a height (a railing, a ledge, legs over the void), a household poison swallowed,
    and "this time I won't fail"."""
    assert level(text) == "urgent"


@pytest.mark.parametrize("text", [
    "je suis sur le toit de l'immeuble avec les voisins pour le feu d'artifice",
    "On est sur le quai de la gare, le TER a encore vingt minutes de retard.",
    "je suis sur la rambarde pour la photo, regardez ce panorama",
    "Ma fille a bu de la javel par erreur, le centre antipoison dit que ça va aller.",
    "My dog drank antifreeze from the garage floor, we're at the vet.",
    "This time I won't fail the driving test, I've done forty hours.",
    "cette fois je vais pas me rater au bac, j'ai tout révisé",
    "I'm on the roof of my building having a smoke with my neighbour.",
])
def test_heights_poisons_and_second_tries_of_everyday_life_stay_quiet(text: str) -> None:
    assert level(text) == "none"


@pytest.mark.parametrize(("text", "expected", "about"), [
    ("I've been hoarding my sertraline since the summer, it's enough now.", "urgent", "self"),
    ("saved up my tramadol for weeks", "urgent", "self"),
    ("My flatmate told me she's been stockpiling her pills.", "concern", "other"),
    ("I googled the fatal dose of my sleeping tablets.", "concern", "self"),
    ("I worked out how many tablets it would take to die.", "concern", "self"),
    ("j'ai trouvé la dose de xanax qui tue, sur un forum", "concern", "self"),
    ("j'ai noué la corde au crochet du plafond", "urgent", "self"),
])
def test_english_stockpiling_and_dose_research_and_a_rope_tied_are_read(
        text: str, expected: str, about: str) -> None:
    """English had no entry for stockpiling medication or researching a lethal dose (French
    had both); French read "j'ai accroché la corde" but not "attaché" or "noué"."""
    found = assess(text)
    assert (found.level, found.about) == (expected, about)


@pytest.mark.parametrize("text", [
    "Stockpiling my meds for the trip, three weeks abroad with no pharmacy nearby.",
    "Our nurse told us the lethal dose of paracetamol is lower than most people think.",
    "j'ai lu que la dose de paracétamol qui tue est plus basse qu'on croit, attention aux enfants",
    "j'ai attaché la corde à linge entre les deux arbres",
])
def test_medication_talk_and_ropes_of_everyday_life_stay_quiet(text: str) -> None:
    assert level(text) == "none"


@pytest.mark.parametrize(("text", "expected"), [
    ("Adieu les ami·es, merci pour tout, je vous embrasse une dernière fois.", "urgent"),
    ("adieu mes ami.e.s, prenez soin de vous", "urgent"),
    ("Farewell everybody, thank you for everything.", "urgent"),
    ("Adieu les ami·es, à demain pour la rando !", "none"),
    ("Farewell everyone, I'm off to Lisbon for a new job, see you!", "none"),
])
def test_a_goodbye_in_inclusive_writing_or_as_a_farewell_is_read(text: str, expected: str) -> None:
    """"adieu les amis" was read, not "les ami·es" nor "ami.e.s"; "goodbye everyone" was read,
    not "farewell everyone". The greetings and the moves stay quiet as before."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("ce soir je vais me noyer, j'ai plus la force", "urgent"),
    ("je compte avancer dans le fleuve jusqu'à ne plus avoir pied", "urgent"),
    ("gonna walk into the lake once it's dark", "urgent"),
    ("My dad says he's going to walk into the river, what do I do?", "concern"),
    ("je vais me noyer dans les révisions jusqu'aux partiels", "none"),
    ("La thérapie m'a appris à nager dans mes émotions au lieu de m'y noyer dedans.", "none"),
    ("We're going to wade into the river for a swim after the picnic.", "none"),
])
def test_drowning_as_a_method_and_as_an_idiom(text: str, expected: str) -> None:
    """"je vais me noyer" was not read at all (English "drown myself" was), nor walking into
    the water meaning not to come back; "se noyer dans le boulot" and a swim stay quiet."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("J'ai bu de la javel, dites à mon fils que je l'aime.", "urgent"),
    ("I'm on the ledge, the view is the last thing I'll see.", "urgent"),
    ("I've been stockpiling my meds and lying to the pharmacy that I lost them.", "urgent"),
    ("this time I won't wake up, no more tests and doctors", "urgent"),
    ("je suis au bord de la falaise, j'ai dit à tout le monde que j'étais en randonnée", "urgent"),
    ("je suis sur la rambarde, j'ai arrêté l'escalade depuis ma dépression", "urgent"),
    ("je suis au bord de la falaise en escalade avec Léa, vue incroyable", "none"),
    ("this time I'll make sure to bring snacks for everyone", "none"),
    ("cette fois je vais pas me louper au code, j'ai fait 40 séries", "none"),
    ("My puppy swallowed rat poison, we're at the vet now.", "none"),
])
def test_the_new_entries_everyday_words_do_not_hide_a_crisis_beside_them(
        text: str, expected: str) -> None:
    """The everyday uses of the night's entries are told apart by the words the entry reads
    (an exam after "me louper", a pet before "swallowed"), not by a word anywhere in the
    sentence: "my son", "the pharmacy", "the view", "randonnée" or "l'escalade" beside a real
    crisis."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("j'ai pris 40 cachets de 500 mg", "urgent"),
    ("j'ai avalé 30 comprimés de tramadol 50 mg tout à l'heure", "urgent"),
    ("I took 40 tablets of 500mg paracetamol", "urgent"),
    ("j'ai pris 50 mg de sertraline ce matin, comme d'habitude", "none"),
    ("I took 100 mg of sertraline today", "none"),
])
def test_a_dose_in_milligrams_does_not_hide_a_count_of_pills(text: str, expected: str) -> None:
    """The overdose entries dropped any sentence holding "mg": meant for a dose ("50 mg de
    sertraline"), it hid forty pills of 500 mg. The unit now drops only the number it
    follows."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("j'ai mis de côté assez de cachets pour partir", "urgent"),
    ("j'ai stocké mes médicaments pour partir tranquille", "urgent"),
    ("I took 30 pills, a day after the funeral", "urgent"),
    ("j'ai stocké mes médicaments pour partir en Espagne trois semaines", "none"),
    ("I took 30 mg a day for years on that trial", "none"),
])
def test_leaving_and_a_day_are_read_where_they_stand(text: str, expected: str) -> None:
    """"pour partir" is also how French says dying, so only leaving *for* somewhere is the
    trip; "a day" is a daily dose, not "a day after"."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("j'ai envie de disparaître... une semaine, dans une cabane sans réseau", "none"),
    ("je voudrais disparaître sous mon plaid jusqu'à dimanche", "none"),
    ("envie de disparaître pendant les vacances, loin des mails", "none"),
    ("je veux disparaître quelques jours au chalet", "none"),
    ("j'aimerais disparaître pendant mon sommeil", "concern"),
    ("je voudrais disparaître quelques instants de ce monde, puis plus rien", "concern"),
    ("je veux disparaître… trois semaines que je pleure tous les soirs", "concern"),
    ("je veux disparaître. Deux jours sans dormir, je tiens plus", "concern"),
])
def test_a_short_break_is_a_stay_that_ends_not_any_word_after_disappearing(
        text: str, expected: str) -> None:
    """"Disparaître" for a bounded time or to a place one comes back from is a break: after a
    joking ellipsis too. Before, "pendant" or "quelques" after it hid "disparaître pendant mon
    sommeil", and a duvet or a cottage other than the listed ones was a wish to die."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("C'est mon dernier message pour un bon moment, je pars en cure demain", "none"),
    ("c'est mon dernier message ici avant la rentrée, bonnes vacances à tous", "none"),
    ("This is my last post for a few weeks, new job starting Monday", "none"),
    ("this is my last message here for the summer, see you in September", "none"),
    ("c'est mon dernier message. Merci pour tout.", "urgent"),
    ("c'est mon dernier message, pour un moment j'ai cru que ça irait", "urgent"),
    ("c'est mon dernier message pour un moment, demain je serai plus là", "urgent"),
    ("This is my last post, for a while now I've known how it ends", "urgent"),
    ("this is my last post for good", "urgent"),
])
def test_a_last_post_for_a_while_is_a_break_not_a_farewell(text: str, expected: str) -> None:
    """A last post whose length is said right after it ("for a while", "pour un moment") is a
    break; across a comma, or with another goodbye beside it, it stays a farewell."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("je suis un poids pour ma sœur, elle mérite mieux", "concern"),
    ("jsuis une charge pr mes parents depuis l'accident", "concern"),
    ("je me sens un fardeau pour eux tous", "concern"),
    ("I'm just a drain on my parents, always have been", "concern"),
    ("I'm nothing but a cost to my husband", "concern"),
    ("c'est une charge pour ma mère de garder les petits le mercredi", "none"),
    ("je suis une charge de travail en plus pour l'équipe cette semaine", "none"),
    ("I'm a cost to my employer, that's how contracting works", "none"),
])
def test_feeling_a_burden_in_other_words(text: str, expected: str) -> None:
    """A burden was only "un poids / fardeau pour tout le monde" or "a burden": "une charge pour
    ma mère", "a drain on my family" were not read. A task that weighs on someone is none."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("some nights I lie down hoping not to wake up", "concern"),
    ("i just wanna fall asleep n never come back", "concern"),
    ("every evening I pray to God to take me in my sleep", "concern"),
    ("I hate that I'm still alive after everything", "concern"),
    ("honestly I'm angry that I survived it", "concern"),
    ("je regrette de m'être réveillée à l'hôpital", "concern"),
    ("toujours en vie et ça me dégoûte", "concern"),
    ("I hate that I'm still here at the office at 9pm", "none"),
    ("hoping the baby sleeps through and doesn't wake up at 3 again", "none"),
    ("je regrette d'être venue à cette soirée", "none"),
])
def test_a_passive_wish_and_a_survivor_s_grievance(text: str, expected: str) -> None:
    """Hoping not to wake up, asking to be taken in one's sleep, being angry to be alive: concern.
    Still being somewhere, or a regret about an evening, is none."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("je me prive de manger depuis deux jours pour me punir de la rechute", "concern"),
    ("j'ai sauté les repas hier pour me punir, ça me semble mérité", "concern"),
    ("pour me punir je mange plus rien le soir", "concern"),
    ("didn't eat anything yesterday to punish myself for the fight", "concern"),
    ("I'm skipping meals as punishment for bingeing", "concern"),
    ("je jeûne le lundi pour ma santé, pas pour me punir", "none"),
    ("je saute le petit-déj, j'ai jamais faim le matin", "none"),
    ("I skip lunch on Fridays, not as punishment, it's just busy", "none"),
])
def test_starving_oneself_as_a_punishment_is_self_harm(text: str, expected: str) -> None:
    """Issue 14 names "se priver de manger pour se punir" among self-harm in many words: read in
    either order; a fast that says it is not a punishment is none."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Once the shop closes on Saturday I'm going to do it.", "urgent"),
    ("once everyone's asleep tonight I'm ending it all", "urgent"),
    ("I once thought about ending my life, years ago, and I'm doing much better now.", "none"),
])
def test_once_as_a_conjunction_is_a_plan_not_a_story(text: str, expected: str) -> None:
    """"Once the shop closes" sets a moment to come; "I once thought" tells the past (and here a
    recovered one). Until 2026-12-07 any "once" read the match as past: concern, never urgent."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected", "about"), [
    ("Je vais un peu mieux depuis la rentrée. Mais mon mari serait plus tranquille si je "
     "n'existais plus.", "concern", "self"),
    ("Ça va mieux au boulot, pourtant je me dis que mes parents respireraient si je "
     "disparaissais.", "concern", "self"),
    ("Ma sœur serait soulagée si je n'étais plus là.", "concern", "self"),
    ("Il y a trois ans je pensais que tout le monde serait mieux si je n'étais plus là ; "
     "aujourd'hui je vais mieux.", "none", "self"),
    ("Mon coloc m'a écrit que personne ne remarquerait s'il disparaissait.", "concern", "other"),
])
def test_an_imperfect_after_si_is_a_hypothesis_about_now(text: str, expected: str,
                                                         about: str) -> None:
    """"Si je n'étais plus là" is a wish about now, not a past tense: it was read as past, so a
    recovery sentence elsewhere dropped it, and so did anyone named before it (read as someone
    else's story). A real past ("il y a trois ans je pensais") still follows the recovery rule;
    someone else's words reported stay about them."""
    assessed = assess(text)
    assert assessed.level == expected
    assert assessed.about == about


@pytest.mark.parametrize(("text", "expected"), [
    ("Honestly my husband would be better off if I was gone.", "concern"),
    ("my sisters would be happier if I weren't around at all", "concern"),
    ("I'm doing better now, but my kids would be fine if I wasn't here.", "concern"),
    ("The team would be better off if I wasn't around on Mondays.", "none"),
    ("they'd be better off if I wasn't here to nag them about the bins", "none"),
])
def test_better_off_if_i_were_gone(text: str, expected: str) -> None:
    """The burden thought said with "if I were gone / wasn't here", not only "without me"; a
    bounded absence (on Mondays, here to nag) is none."""
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    "Je me suis ratée en 2021, cette fois je vais pas me rater.",
    "cette fois-ci jvais pas me manquer comme l'an passé",
    "Back in 2020 I messed it up. This time I won't survive it.",
])
def test_an_attempt_to_come_is_not_read_as_the_past_it_names(text: str) -> None:
    """"Cette fois je vais pas me rater… comme en 2022" names a past attempt to announce the next
    one: the retry entries are never read as past (``tense = "now"``), so they stay urgent."""
    assert level(text) == "urgent"


@pytest.mark.parametrize(("text", "expected"), [
    ("jveux m'endormir pr tjrs", "concern"),
    ("je vx plus vivre", "concern"),
    ("jvai me foutre en l'air mtn", "urgent"),
    ("g envie de crever ajd", "concern"),
    ("merci pour tout, adieu tlm", "urgent"),
    ("I wanna end it tonite", "urgent"),
    ("gonna kill myself 2nite", "urgent"),
])
def test_sms_spellings_of_everyday_words_are_read_as_the_words(text: str, expected: str) -> None:
    """SMS spellings ("pr", "tjrs", "jveux", "mtn", "tlm", "2nite") are spelled out before matching,
    so every pattern and cue reads them without listing each spelling."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("j'ai pa envie de mourir, jveux juste dormir", "none"),
    ("mon pa veut se tuer depuis que maman est partie", "concern"),
    ("je ne vx plus vivre comme ça", "concern"),
])
def test_pa_is_pas_after_a_verb_and_a_dad_after_a_determiner(text: str, expected: str) -> None:
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("jveux pa mourir, jveux juste que ça s'arrête un peu", "none"),
    ("ya 4 ans jvoulais mourir, ajd je vais mieux", "none"),
    ("mon vx chien a envie de dormir pr tjrs sur le canapé lol", "none"),
    ("j'ai fait une ts en 2019", "concern"),
])
def test_sms_spellings_keep_their_negations_past_and_other_words(text: str, expected: str) -> None:
    """"pa" after a word is "pas" (a negation), "ya 4 ans" is past; "vx" alone (vieux) is left,
    and so is "ts" (tentative de suicide), which patterns read as written."""
    assert level(text) == expected


def test_a_spelled_out_word_keeps_its_span_in_the_text_as_written() -> None:
    text = "bref. jvx dormir pr tjrs."
    match = assess(text).matches[0]
    assert text[match.start : match.end] == "jvx dormir pr tjrs"


@pytest.mark.parametrize(("text", "expected"), [
    ("I've been free of self-harm for a year", "none"),
    ("free from cutting for 8 months now, proud of myself", "none"),
    ("300 days clean from self harm today!", "none"),
    ("90 days clean from self harm and tonight I want to cut myself so bad", "urgent"),
    ("un an sans me scarifier, c'est fini depuis longtemps tout ça", "none"),
    ("Two years self-harm free, and tonight I need to burn myself", "urgent"),
    ("I want to be free from this pain, I want to die", "concern"),
    ("I can't get free of suicidal thoughts, tonight is bad", "urgent"),
    ("I wish I was free from suicidal ideation", "concern"),
    ("how do I get free of suicidal urges", "concern"),
    ("one year self-harm free and the urges to cut are gone", "none"),
    ("c'est fini depuis l'an dernier, je me scarifiais tous les soirs", "none"),
    ("un an sans scarification, mais hier soir je me suis coupée", "concern"),
    ("I want to burn myself a mix CD for the road trip", "none"),
])
def test_free_or_clean_from_self_harm_is_a_streak_like_sans(text: str, expected: str) -> None:
    """"Free from / clean of" after a duration or "been / I'm" negates a match, as "sans" and
    "without" do (not "can't get free of", "wish I was free from"); a streak said before a
    match covers it unless a turn ("mais", "but") or a time ("tonight") comes between them."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("dites à mes parents que je les aime, je suis désolée", "urgent"),
    ("dis à mon frère que c'est pas de sa faute", "urgent"),
    ("please tell my dad it wasn't his fault", "urgent"),
    ("Tell my girlfriend I loved her.", "urgent"),
    ("ce post sera mon dernier, merci d'avoir été là", "urgent"),
    ("This message will be my last. Thank you all.", "urgent"),
    ("Ce message sera mon dernier avant les vacances, à bientôt !", "none"),
    ("This post is my last of the year, see you in January!", "none"),
    ("dis à ta mère que je l'aime bien, elle cuisine trop bien", "none"),
    ("Tell my mum I said happy birthday, she's not on here", "none"),
])
def test_a_last_word_for_ones_family_or_a_last_message_in_the_future_is_a_goodbye(
        text: str, expected: str) -> None:
    """"Dites à ma mère que je l'aime / que ce n'est pas sa faute", "tell my mum I'm sorry" are
    a farewell's words, as "please don't blame yourselves" is; "ce message sera mon dernier"
    says "c'est mon dernier message" in the future (a break with its length is not one)."""
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    'My cousin texted me "I am going to end it tonight", what do I do',
    "Ma coloc m'a écrit : je vais me tuer ce soir. Je fais quoi ?",
    "He told me: I want to die.",
])
def test_words_someone_is_reported_to_have_said_are_about_them(text: str) -> None:
    """Inside a quotation or after a colon that follows "texted me", "m'a écrit", "told me",
    the "I" is the person quoted: the writer is a helper and gets the lines for helping."""
    found = assess(text)
    assert (found.level, found.about) == ("concern", "other")


@pytest.mark.parametrize("text", [
    "my therapist told me to post here: I want to die",
    'I told him "I want to die" and he laughed',
])
def test_the_writers_own_words_after_a_colon_or_in_quotes_stay_theirs(text: str) -> None:
    found = assess(text)
    assert (found.level, found.about) == ("concern", "self")


@pytest.mark.parametrize(("text", "expected"), [
    ("honestly why should I even bother living", "concern"),
    ("honestly, why am I still trying to stay alive", "concern"),
    ("why bother living in Paris with these rents", "none"),
    ("I'm basically waiting to die now that she's gone", "concern"),
    ("waiting to die of boredom in this meeting", "none"),
    ("je n'attends plus que la mort", "concern"),
    ("j'attends la mort du moteur, il fait un bruit pas possible", "none"),
    ("l'idée d'en finir me hante depuis l'hiver", "concern"),
    ("l'idée de mourir me terrifie depuis mon infarctus", "none"),
    ("chaque soir je prie pour que le bon Dieu vienne me chercher", "concern"),
    ("mes trois tentatives de suicide, je les porte encore", "concern"),
    ("je me suis cramée exprès avec le briquet", "concern"),
    ("jme suis brûlé avec ma cigarette sur la main, encore", "concern"),
    ("j'ai cramé les crêpes, encore", "none"),
])
def test_a_passive_wish_a_count_of_attempts_and_burns_in_other_words(text: str,
                                                                      expected: str) -> None:
    """Waiting to die, praying to be taken, a thought of dying that haunts, "why bother
    living", attempts counted ("mes deux TS"), burns with "ma clope" or "cramé"; the same
    words about a place, a motor or a fear stay quiet."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("je ne sais pas pourquoi je veux mourir ce soir", "urgent"),
    ("je comprends pas pourquoi j'ai encore envie de me couper", "concern"),
    ("I don't know why I keep wanting to kill myself", "concern"),
    ("been wanting to end it all week", "concern"),
    ("not wanting to die is hard to explain to my psychiatrist", "none"),
    ("je ne veux pas mourir, je veux juste que ça s'arrête", "none"),
])
def test_a_why_starts_a_clause_and_wanting_is_a_wish(text: str, expected: str) -> None:
    """"Je ne sais pas pourquoi je veux mourir": the negation belongs to "savoir", not to the
    wish after "pourquoi" (the match's own "je" hid the clause); "wanting to" is a wish too."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("je peux pas dire à ma psy que je veux mourir", "concern"),
    ("j'ose pas avouer à mon mari que j'ai envie de me tuer", "concern"),
    ("je ne veux pas mourir", "none"),
    ("je ne me suis pas scarifiée depuis un an", "none"),
    ("I don't want to die", "none"),
])
def test_a_negation_of_another_verb_does_not_hide_a_match_with_its_own_subject(
        text: str, expected: str) -> None:
    """"Je peux pas dire que je veux mourir": the match carries its own "je" and verb, so the
    "pas" of "dire" before it is not its negation; a negation of the match's own verb is."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("J'ai arrêté de me scarifier il y a deux ans et demi.", "none"),
    ("ça fait un moment que j'ai arrêté de me couper", "none"),
    ("I quit cutting myself when I moved out", "none"),
    ("I stopped burning myself the year I met my wife", "none"),
    ("j'avais arrêté de me scarifier mais hier j'ai recommencé à me couper", "concern"),
    ("j'ai arrêté mon traitement et j'ai envie de mourir", "concern"),
    ("I stopped taking my meds and I want to die", "concern"),
    ("I've stopped eating and I want to kill myself", "concern"),
    ("je n'ai jamais arrêté de me scarifier, même enceinte", "concern"),
    ("je n'arrive pas à arrêter de me couper", "concern"),
    ("I never stopped cutting myself, I just hid it better", "concern"),
])
def test_having_stopped_is_said_right_before_what_was_stopped(text: str, expected: str) -> None:
    """"J'ai arrêté de me scarifier", "I stopped burning myself": self-harm that was stopped
    is over, like "sans me scarifier". Only right before the words: having stopped a
    treatment or eating says nothing about a wish to die told after it; never having stopped,
    or not managing to stop, is not a negation."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("the nurse asked me at my check-up this morning whether I'd ever had thoughts of suicide",
     "none"),
    ("we practised asking people straight out if they are thinking of suicide", "none"),
    ("le médecin m'a posé toute une série de questions, dont « avez-vous des idées "
     "suicidaires ? »", "none"),
    ("ce rappeur parle de l'envie de mourir comme personne", "none"),
    ("le dernier album de cette chanteuse parle d'idées suicidaires sans détour", "none"),
    ("the nurse asked how I was and I said I want to kill myself", "concern"),
    ("j'ai des idées suicidaires depuis le concert, je ne sais pas pourquoi", "concern"),
])
def test_a_screening_question_and_an_artists_song_are_talk_about_the_topic(
        text: str, expected: str) -> None:
    """A carer who asks the screening question, a song about wanting to die: talk about the
    topic (labelling guide), while the writer's own answer or feeling is still read."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Il y a dix ans j'ai fait une tentative. Aujourd'hui j'enseigne le piano et je veux vivre.",
     "none"),
    ("Seven years ago I attempted suicide. Those thoughts don't come back anymore.", "none"),
    ("I tried to kill myself in my twenties. I want to live now, really.", "none"),
    ("Il y a dix ans j'ai fait une tentative. Je ne sais plus si je veux vivre.", "concern"),
    ("Seven years ago I attempted suicide and the thoughts came back this winter.", "concern"),
])
def test_a_recovery_told_as_wanting_to_live_or_thoughts_that_no_longer_come(
        text: str, expected: str) -> None:
    """A past attempt with "je veux vivre", "I want to live now" or thoughts that no longer
    come is a recovery story; not when the wish to live is in doubt or the thoughts are back."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Adieu la compagnie, petit message du soir : ma fille a fait ses premiers pas", "none"),
    ("Adieu tout le monde, je rentre du boulot, quelqu'un est là pour papoter ?", "none"),
    ("Adieu tout le monde, je rentre du boulot et ce soir je me tue", "urgent"),
])
def test_a_swiss_adieu_before_a_little_news_or_a_chat_is_a_greeting(
        text: str, expected: str) -> None:
    """In Romandie "adieu" greets: before a little message, coming home from work or an
    invitation to chat, it says hello; a crisis said after it is still read."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("swallowed a whole strip of my sertraline", "urgent"),
    ("I took the entire bottle of my sleeping pills", "urgent"),
    ("took the whole blister pack of paracetamol before bed", "urgent"),
    ("I took the whole bottle", "urgent"),
    ("I took the whole pack of gum to school", "none"),
    ("she took a whole box of chocolates to the office", "none"),
])
def test_a_medicine_taken_by_its_container_is_an_overdose(text: str, expected: str) -> None:
    """"The whole strip / the entire bottle / a blister pack of" a medicine is an overdose like
    "all my pills"; a container of something else (gum, chocolates) is not."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("why keep going when nothing ever changes", "concern"),
    ("honestly why bother carrying on at all", "concern"),
    ("why do I even keep going?", "concern"),
    ("why keep going to the gym if the scale never moves", "none"),
    ("why bother going on holiday with them", "none"),
])
def test_why_keep_going_asked_of_life_is_a_wish_not_to_go_on(text: str, expected: str) -> None:
    """"Why keep going", "why bother carrying on" at the end of a clause ask whether life is
    worth it; followed by a place or an errand they do not."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("je ne pense pas que je vais me tuer", "concern"),
    ("je crois pas que je vais me tuer ce soir", "concern"),
    ("I don't think I'm going to kill myself tonight", "concern"),
    ("je pense que je vais me tuer", "urgent"),
    ("je ne crois pas que je tiendrai, je vais me tuer ce soir", "urgent"),
])
def test_an_intent_the_writer_doubts_is_a_concern_not_urgent(text: str, expected: str) -> None:
    """"Je ne pense pas que je vais me tuer" tells of the thought and doubts the act: it still
    pauses (concern), but is not the plan of an urgent post; said plainly, or in a clause of
    its own, the intent stays urgent."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Adieu à tous, je ne serai plus là demain", "urgent"),
    ("Adieu à tous, je vais me tuer ce soir, à bientôt", "urgent"),
    ("Adieu tout le monde, j'ai avalé toutes mes pilules, à la prochaine", "urgent"),
    ("Adieu la vie, à bientôt peut-être", "urgent"),
    ("Goodbye all, I'm going to kill myself tonight, have a good life", "urgent"),
    ("Goodbye everyone, I took all my pills, see you later", "urgent"),
    ("Goodbye everyone, see you on the other side", "urgent"),
    ("Adieu tout le monde, à demain !", "none"),
    ("Adieu la compagnie, comment ça va ce soir ?", "none"),
    ("Goodbye everyone, see you tomorrow!", "none"),
    ("Farewell friends, talk soon", "none"),
])
def test_a_greeting_covers_its_own_adieu_or_goodbye_and_nothing_said_after_it(
        text: str, expected: str) -> None:
    """"Adieu à tous … à bientôt" greets (Romandie) and "goodbye … see you tomorrow" takes
    leave for a day, but only the "adieu"/"goodbye" and its addressee are the greeting: a
    crisis said between them and the closing words is still read, "là demain" is not "à
    demain", "adieu la vie" is never a greeting, and "see you on the other side" is a farewell."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("j'ai pris toutes mes pilules mdr", "urgent"),
    ("Je me suis ouvert les veines 😅", "urgent"),
    ("slit my wrists lol idk why im posting", "urgent"),
    ("pas de mdr cette fois, j'ai avalé toute la boîte", "urgent"),
    ("je vais me pendre mdr ce prof est insupportable", "none"),
    ("ce DM va me tuer lol", "none"),
])
def test_laughter_never_cancels_an_act_already_done(text: str, expected: str) -> None:
    """"Mdr", "lol", an emoji mark hyperbole ("je vais me pendre mdr"); they do not make
    pills swallowed or veins opened a joke, and "pas de mdr" is not laughter."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("I drank bleach an hour ago, should I call poison control?", "urgent"),
    ("J'ai avalé du déboucheur il y a une heure, faut-il appeler le centre antipoison ?",
     "urgent"),
    ("j'ai bu de la javel et c'était pas par erreur", "urgent"),
    ("mon fils a bu de la javel par erreur, j'ai appelé le centre antipoison", "none"),
    ("I drank bleach by accident while cleaning, poison control said I'm fine", "none"),
])
def test_asking_for_poison_control_is_not_an_accident(text: str, expected: str) -> None:
    """A poison swallowed and help asked for is still a poison swallowed; an accident said
    so stays an accident, a negated one ("pas par erreur") does not."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("J'ai tout raté je vais me tuer ce soir", "urgent"),
    ("J'ai appelé le 3114 personne répond j'ai pris toutes mes pilules", "urgent"),
    ("I called the hotline twice nobody answered so I took all my pills", "urgent"),
    ("Au cours de la soirée j'ai avalé toute la boîte", "urgent"),
    ("dans le film le héros dit qu'il va se tuer ce soir", "none"),
    ("the suicide rates in rural areas are shocking", "none"),
])
def test_a_first_person_act_is_never_talk_about_the_topic(text: str, expected: str) -> None:
    """A match that carries its own "je"/"I" is the writer's, whatever words stand before it
    ("raté" is not "rates", a hotline that did not answer is not a leaflet)."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Ma mère dort j'ai pris toutes mes pilules", "urgent"),
    ("Elle m'a quittée j'ai avalé toutes mes pilules", "urgent"),
    ("Il est 4h du mat j'ai avalé toute la plaquette", "urgent"),
    ("Mon frère m'a écrit qu'il allait se tuer ce soir", "concern"),
])
def test_an_act_with_its_own_i_is_the_writers_after_someone_else_is_named(
        text: str, expected: str) -> None:
    """"Ma mère dort, j'ai pris toutes mes pilules": the act's own "j'" makes it the writer's;
    someone else's act told by the writer stays about them."""
    assert level(text) == expected
    assert assess(text).about == ("other" if "frère" in text else "self")


@pytest.mark.parametrize(("text", "expected"), [
    ("Depuis ma TS en 2022 je vais mieux, mais ce soir je vais me jeter du pont", "urgent"),
    ("Back in 2019 I survived an attempt, but tonight I'm going to kill myself", "urgent"),
    ("I used to love life, now I'm going to kill myself tonight", "urgent"),
    ("Il y a cinq ans j'ai avalé toutes mes pilules, aujourd'hui je vais mieux", "none"),
])
def test_a_near_time_makes_an_act_present_whatever_past_is_told_before_it(
        text: str, expected: str) -> None:
    """An urgent act or intent with "ce soir"/"tonight" in its sentence is now, even after a
    past attempt or a recovery told in the same sentence."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Everyone is gone now so I took all my pills", "urgent"),
    ("C'est fini depuis qu'elle est partie, je vais me tuer ce soir", "urgent"),
    ("Toute envie est partie, j'ai avalé toute la boîte", "urgent"),
    ("my urges to cut are gone now", "none"),
])
def test_something_else_being_over_does_not_cover_an_act(text: str, expected: str) -> None:
    """"Everyone is gone now", "c'est fini depuis qu'elle est partie": an "over" said of
    something else never drops an urgent act or intent."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("je n'arrête pas d'avoir envie de mourir", "concern"),
    ("Pas un jour sans envie de mourir", "concern"),
    ("Not a day goes by without wanting to die", "concern"),
    ("I never stop wanting to die", "concern"),
    ("je n'ai pas envie de mourir", "none"),
])
def test_not_stopping_and_not_a_day_without_are_affirmations(text: str, expected: str) -> None:
    """"Je n'arrête pas d'avoir envie de mourir", "pas un jour sans", "never stop": the
    negation is of the stopping, so the wish stands."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ('I always think "I want to die" when I wake up', "concern"),
    ("Dans ma tête c'est souvent « je veux mourir »", "concern"),
    ('my sister says "I\'m going to kill myself" every time she loses at cards', "none"),
])
def test_the_writers_own_thought_in_quotes_stays_theirs(text: str, expected: str) -> None:
    """Quoted words are dropped when they are someone's expression; a thought the writer
    quotes from their own head is a disclosure."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Si je rate encore ce permis je me tire une balle 🙄", "none"),
    ("si j'entends encore cette pub je me jette par la fenêtre 🙄", "none"),
    ("Je ne serai plus là lundi, je suis en formation toute la semaine.", "none"),
    ("je serai plus là lundi, j'ai tout prévu", "urgent"),
    ("the nurse asked me if I'd thought about ending my life and I said no", "none"),
])
def test_irony_an_absence_with_its_reason_and_a_screening_question_stay_quiet(
        text: str, expected: str) -> None:
    """An eye-roll marks irony like "mdr" (not the upside-down smile, which often masks
    distress: "je veux juste mourir 🙃"); "je ne serai plus là lundi"
    with the reason for the absence is a notice; the nurse's question stays talk. Before the
    rules above, "rate" and "formation" hid them as talk about statistics and training."""
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    'ma mère m\'a dit au tel "prends soin de ton frère quand je serai plus là", j\'ai peur',
    "ma grand-mère m'a dit très calmement : « je veux mourir, je suis prête »",
])
def test_words_reported_after_a_pause_are_still_the_other_persons(text: str) -> None:
    """A first-person match in words someone said, even with words between "m'a dit" and the
    quotation, is about them: the writer is the helper."""
    assert assess(text).about == "other"


@pytest.mark.parametrize(("text", "expected"), [
    ("Adieu à tous, on se retrouve à la prochaine vie", "urgent"),
    ("Adieu tout le monde, à bientôt de l'autre côté", "urgent"),
    ("Goodbye everyone, I'm leaving for good tonight", "urgent"),
    ("j'ai envie de disparaître loin de tout, pour toujours", "concern"),
    ("Adieu tout le monde, à demain !", "none"),
    ("Goodbye everyone, I'm leaving for Spain tomorrow, see you in June", "none"),
    ("j'ai envie de disparaître loin de tout, juste un week-end", "none"),
])
def test_a_word_of_finality_turns_a_greeting_or_a_break_back_into_a_farewell(
        text: str, expected: str) -> None:
    """"À la prochaine vie", "de l'autre côté", "for good", "pour toujours": said in the
    sentence, a greeting, a departure or a short break is none of them."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Mon frère a pris toutes ses pilules, je fais quoi ?", "concern"),
    ("mon fils vient d'avaler toute la boîte de doliprane", "concern"),
    ("My sister took all her sleeping pills, what do I do", "concern"),
    ("ma mère a pris ses médicaments ce matin comme d'habitude", "none"),
    ("Il y a deux ans mon père a pris tous ses cachets, aujourd'hui il va bien", "none"),
])
def test_someone_elses_overdose_now_shows_the_helpers_lines(text: str, expected: str) -> None:
    """An overdose someone else has just taken is someone else at risk now (the writer is
    the helper); taking one's medication, or an overdose years ago, is not."""
    assert level(text) == expected
    if expected != "none":
        assert assess(text).about == "other"


@pytest.mark.parametrize(("text", "expected"), [
    # a near time does not make an act told "ago" present; weekdays are not "now"
    ("Five years ago tonight I swallowed all my pills. I'm glad I'm still here.", "none"),
    ("J'ai pris toutes mes pilules un vendredi il y a deux ans, aujourd'hui je vais mieux",
     "none"),
    # songs and screening questions stay talk even for a first-person act
    ("Love the new song where she sings I took all my pills", "none"),
    ("My therapist asked if I'm going to kill myself, I said no", "none"),
    # someone else's daily medication, food and wine are not an overdose
    ("Ma grand-mère a pris tous ses médicaments ce matin sans râler", "none"),
    ("Mon chien a avalé toute la boîte de chocolats", "none"),
    ("Ma sœur a bu toute la bouteille de vin", "none"),
    ("J'ai avalé toute la boîte de Pringles mdr", "none"),
    ("I downed the whole bottle of vodka last night lol", "none"),
    # moving away for good, a cabin up there
    ("Goodbye everyone, moving to Canada for good next week!", "none"),
    ("Adieu les amis, petit message depuis là-haut à la cabane, à bientôt !", "none"),
    # someone's expression, with "je pense" far before the quotation
    ("Je pense que ma sœur exagère, elle dit toujours « je vais me tuer », c'est son expression",
     "none"),
    ("I've never quite been suicidal, just very low", "none"),
])
def test_what_the_review_found_answered_too_high_stays_quiet(text: str, expected: str) -> None:
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Adieu à tous, un petit message pour vous dire merci pour tout.", "urgent"),
    ("Je ne serai plus là demain, je pars en voyage pour de bon.", "urgent"),
    ("My son keeps asking me if it would hurt, he says he wants to kill himself", "concern"),
    ("Just asking if it's normal that I want to kill myself all the time", "concern"),
    ("I tried to kill myself last month. I don't think I want to live anymore.", "concern"),
    ("J'ai fait une tentative le mois dernier. Je veux vivre mais je n'y arrive pas.",
     "concern"),
    ("I attempted suicide last year. The thoughts don't come as often but they're still there.",
     "concern"),
    ("No doubt I'm going to kill myself tonight", "urgent"),
    ("I stopped cutting myself two days ago but the urges are unbearable", "concern"),
    ("J'ai arrêté de me scarifier hier, j'ai des envies horribles", "concern"),
    ("Avec un morceau de verre je me scarifie tous les soirs", "concern"),
    ("En tant qu'artiste je veux mourir", "concern"),
    ("Je veux juste mourir 🙃", "concern"),
    ("I drank bleach and it wasn't by accident", "urgent"),
    ("J'ai avalé toutes mes pilules il y a cinq ans, tout ça est derrière moi.", "none"),
])
def test_what_the_review_found_dropped_or_lowered_is_read(text: str, expected: str) -> None:
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("je crois que je vais juste me laisser mourir", "concern"),
    ("j'ai envie de me laisser crever dans mon lit", "concern"),
    ("I think I'm just going to let myself die", "concern"),
    ("je n'arrête pas de penser à mourir", "concern"),
    ("j'arrive pas à arrêter de penser au suicide", "concern"),
    ("je vais me laisser mourir de faim si le resto livre pas", "none"),
    ("ma prof de yoga parle de laisser mourir l'ancien soi", "none"),
])
def test_letting_oneself_die_and_not_stopping_thinking_of_it_are_wishes(
        text: str, expected: str) -> None:
    """A passive wish ("me laisser mourir", "let myself die") and thoughts that will not stop
    ("je n'arrête pas de penser à mourir"); dying "de faim" is an idiom."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("c'est pas un appel à l'aide envie d'en finir ce soir", "urgent"),
    ("this is not a cry for help just want to die", "concern"),
    ("je n'ai pas envie de mourir", "none"),
    ("je n'ai plus l'envie de me couper", "none"),
    ("ce n'est pas une envie de mourir, juste de la fatigue", "none"),
    ("ce n'est pas une vraie envie de mourir", "none"),
    ("I don't want to die", "none"),
])
def test_a_negation_of_a_noun_phrase_does_not_reach_the_wish_after_it(
        text: str, expected: str) -> None:
    """"C'est pas un appel à l'aide envie d'en finir": the negation is of "un appel à l'aide",
    not of the wish said after it (a determiner and two words at least between them)."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    # an overdose with a slang verb or a medicine the list did not know
    ("I took all my pregabalin", "urgent"),
    ("popped 30 of my amitriptyline an hour ago", "urgent"),
    ("I've taken 40 of my zopiclone", "urgent"),
    ("j'ai bouffé tous mes médocs", "urgent"),
    ("je me suis fait la plaquette de zolpidem en entier", "urgent"),
    ("popped a paracetamol for my headache", "none"),
    ("had 2 of my pregabalin as prescribed", "none"),
    ("necked a pint after work", "none"),
    ("j'ai descendu une bouteille de rosé avec ma sœur", "none"),
    ("j'ai bouffé tout le chocolat de Pâques", "none"),
    # a gun at the head or in the mouth
    ("j'ai le canon dans la bouche", "urgent"),
    ("le fusil est contre ma tempe", "urgent"),
    ("I've got dad's revolver pressed to my temple", "urgent"),
    ("j'ai mal à la tempe depuis ce matin", "none"),
    ("at the range I pointed the rifle at the target", "none"),
    # a river, the railway
    ("je vais me jeter dans la Seine", "urgent"),
    ("m'as me jeter dans le fleuve à soir", "urgent"),
    ("I'm going to throw myself in the river tonight", "urgent"),
    ("je suis allongée sur les voies", "urgent"),
    ("je suis allongé sur les rails", "urgent"),
    ("I put the gun in my mouth", "urgent"),
    ("la police arrive, j'ai le canon dans la bouche", "urgent"),
    ("I'm sitting on the tracks near the station", "urgent"),
    ("I threw myself into my work this year", "none"),
    ("je me suis jeté dans le boulot", "none"),
    ("we walked along the old disused railway line", "none"),
    ("je suis sur le quai, voie 3, le train a du retard", "none"),
    # passive wishes: the heart to stop, joining the dead
    ("I just want my heart to stop", "concern"),
    ("je voudrais juste que mon cœur s'arrête", "concern"),
    ("je veux rejoindre mon mari au ciel", "concern"),
    ("I want to be with my wife again in heaven", "concern"),
    ("my heart stopped when I saw the price", "none"),
    ("je veux rejoindre mon père à Lyon pour les fêtes", "none"),
])
def test_acts_and_wishes_both_stages_missed_are_read(text: str, expected: str) -> None:
    """Families a helper's probes found both stages missing (none, or only a mark for
    moderators), each with near misses in the same words."""
    assert level(text) == expected


def test_every_entry_and_exclusion_of_the_default_lexicon_has_its_own_id() -> None:
    """Two entries with one id would make ``Lexicon.entry`` and the extension file's
    ``disabled`` reach only one of them (seen: a second "fr.into_the_water" written by mistake)."""
    import tomllib

    from moderation.crisis.lexicon import DEFAULT_LEXICON_PATH

    data = tomllib.loads(DEFAULT_LEXICON_PATH.read_text(encoding="utf-8"))
    ids = [item["id"] for key in ("entry", "exclusion") for item in data.get(key, [])]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("text", [
    "I'm back on the rails after a rough year",
    "je suis remise sur les rails depuis ma thérapie",
    "I'm working on the tracks tonight near Crewe",
    "je suis cheminot, je suis souvent sur les voies la nuit",
    "even with a gun to my head I couldn't tell you what I ate",
    "a cop held a gun to my head at the protest yesterday",
    "la police m'a mis le pistolet sur la tête",
    "le pistolet de la douche sur la tête, enfin de l'eau chaude",
    "I had 40 pills in the bottle when I counted",
    "I've had all my pregabalin today, as usual",
    "I popped all my pills into the new weekly organiser",
    "je me suis fait une boîte hier soir avec les copines",
    "je me suis fait une plaquette de beurre",
    "j'ai descendu tous mes médicaments à la pharmacie pour les rapporter",
    "je vais me jeter dans le lac, il fait 35 degrés",
    "I'm going to throw myself into the river of paperwork",
    "mon pote va me jeter dans le lac pour mon anniversaire",
    "j'ai arrêté de penser à mourir depuis ma thérapie",
    "je n'arrête pas de penser à la mort de mon père",
    "je vais me laisser mourir d'ennui à cette réunion",
    "I will let myself die on that hill",
    "I just want my heart to stop pounding before the exam",
    "je voudrais que mon cœur s'arrête de battre si fort quand je le vois",
    "je veux rejoindre mes potes là-haut au refuge ce week-end",
    "je n'ai pas une seule seconde envie de mourir",
    "je ne suis pas le genre de personne à vouloir mourir",
    "I'm not the kind of person who wants to die",
])
def test_what_the_third_review_found_answered_stays_quiet(text: str) -> None:
    assert level(text) == "none"


@pytest.mark.parametrize("text", [
    "le pistolet de massage sur ma tête, quel bonheur",
    "the nurse put the thermometer gun to my head",
    "With a gun to my head I'd still pick the Beatles",
    "the shotgun recoil slammed against my chin at the clay shoot",
    "dans le film il a le revolver contre la tempe",
    "il fait tellement chaud que je vais me jeter dans la Loire",
    "je vais me garrocher dans le fleuve avec les enfants, il fait 32",
    "I'm going to throw myself in the reservoir for a wild swim after work",
    "chu sur la track avec mon mémoire, enfin",
    "je suis encore sur les rails, le train est bloqué à Dijon",
    "I'm on the railway line to Brighton till Friday",
    "I'm on the rails now with the new routine",
    "je veux rejoindre mon chum de l'autre bord, à Gatineau",
    "My nan always said she was ready to join my grandad in heaven",
    "Goodbye everyone, see you someday at the next meetup",
    "Je n'arrête pas de penser au suicide de mon frère il y a dix ans",
    "Ce n'est pas une question de vouloir mourir, c'est la fatigue",
    "It's not a case of wanting to die, I'm just exhausted",
    "Mamie a pris tous ses cachets ce matin sans râler",
    "Ma fille a pris toutes ses gélules de fer",
    "j'ai pris toute la boîte de Doliprane 😂 non je rigole, juste deux",
])
def test_what_the_last_probe_of_ordinary_sentences_found_stays_quiet(text: str) -> None:
    """A helper's ordinary sentences aimed at the day's new entries (tools called guns, a swim
    on a hot day, Québec "sur la track", grief, daily doses, a retracted joke)."""
    assert level(text) == "none"


@pytest.mark.parametrize("text", [
    "I took all my medication with me on holiday",
    "I packed all my pills in my suitcase for the trip",
    "I took all my meds with me to the hospital for the operation",
    "j'ai pris tous mes médicaments avec moi en vacances",
    "j'ai bien pris toutes mes pilules dans ma valise pour le voyage",
    "j'emporte tous mes cachets en week-end, on ne sait jamais",
    "n'oublie pas de prendre tous tes médicaments avec toi pour le séjour",
    "j'ai pris toute la bouteille d'huile d'olive pour la salade",
    "I took the whole bottle of shampoo with me",
    "I used the whole bottle of ketchup on my chips",
])
def test_medicines_taken_along_and_containers_of_everyday_things_stay_quiet(text: str) -> None:
    """Taking one's medicines along (an errand) is not swallowing them; a bottle of oil or of
    shampoo is not a bottle of pills."""
    assert level(text) == "none"


@pytest.mark.parametrize(("text", "expected"), [
    ("j'ai pris tous mes médicaments avec de l'alcool", "urgent"),
    ("I took all my pills with vodka", "urgent"),
    ("I took all my medication with me to the bridge tonight", "urgent"),
    ("j'ai pris tous mes cachets avec moi, je vais au pont ce soir", "urgent"),
    ("j'ai pris toute la bouteille de javel", "urgent"),
    ("I drank the whole bottle of bleach", "urgent"),
    ("j'ai pris toute la boîte d'un coup", "urgent"),
    ("j'ai avalé toute la bouteille de sirop", "urgent"),
])
def test_medicines_swallowed_with_something_or_carried_to_a_place_of_danger_are_read(
    text: str, expected: str,
) -> None:
    assert level(text) == expected


@pytest.mark.parametrize("text", [
    "j'ai pris tous mes médicaments dans ma voiture",
    "j'ai pris toute la boîte au boulot",
    "j'ai pris tous mes cachets à la clinique, personne n'a vu",
    "I took all my meds for the weekend at once",
    "I'm going to take all my pills in the car tonight",
    "je vais prendre tous mes cachets dans ma voiture ce soir",
    "jai pris tt mes medocs dans ma voiture",
    "I took way too many pills in the car",
    "j'ai pris une poignée de cachets dans ma voiture",
    "j'ai pris une boîte entière de doliprane dans ma voiture",
    "I took the whole bottle in the car",
    "I took all the pills in my pill organizer at once",
    "j'ai pris tous les médicaments dans mon pilulier",
    "I took all my pills with me vodka",
    "I'm on the bridge and I took all my pills with me",
    "j'ai avalé toute la boîte de sel de lithium",
    "I took all my pills to hospital with me and swallowed them",
])
def test_a_review_of_the_errand_exclusions_overdoses_they_must_not_hide(text: str) -> None:
    """A helper's probes of the 'taken along' exclusions: places where pills are swallowed
    (a car, work, a clinic), amounts that can only mean swallowing, the pills *in* a box, a
    danger named before, dialect 'me' for 'my'."""
    assert level(text) == "urgent"


@pytest.mark.parametrize("text", [
    "I took a bottle of bleach to clean the bathroom",
    "I took the empty bottle of bleach to the recycling",
    "I took a can of weed killer to the allotment",
    "I took the bottle of bleach away from my toddler",
    "j'ai pris une bouteille de javel au supermarché",
    "j'ai pris un bidon d'antigel pour la voiture",
    "j'ai pris une tache de javel sur mon jean",
    "j'ai pris le quai de Javel à vélo",
])
def test_carrying_or_buying_a_household_product_is_not_drinking_it(text: str) -> None:
    assert level(text) == "none"


@pytest.mark.parametrize(("text", "expected"), [
    ("I don't want to see tomorrow", "concern"),
    ("I don't want to see tomorrow 😔", "concern"),
    ("I really don't want to see tomorrow tbh", "concern"),
    ("i dont want to see tomorow", "concern"),
    ("I don't want to see another day.", "concern"),
    ("I don't want to see the sun rise again.", "concern"),
    ("je ne veux pas voir demain", "concern"),
    ("je veux plus voir le jour se lever", "concern"),
    ("jai plus envie de voir demain 😢", "concern"),
    ("je voudrais ne pas voir demain.", "concern"),
    ("jveux pu voir demain", "concern"),
    ("I don't want to see tomorrow, I'm going to end it tonight", "urgent"),
    # A reason after the day, someone else, tomorrow's something, sleeping in: ordinary.
    ("I don't want to see tomorrow, it's my dentist appointment", "none"),
    ("Ugh I don't want to see tomorrow I have back to back meetings", "none"),
    ("We don't want to see tomorrow.", "none"),
    ("Investors don't want to see another day like this on the markets.", "none"),
    ("Two hours on the ring road, I don't want to see another day like this!", "none"),
    ("I don't want to see the sun rise, I'm sleeping in until noon on Sunday.", "none"),
    ("I don't want to see tomorrow's results", "none"),
    ("Je ne veux pas voir demain, c'est le jour du dentiste.", "none"),
    ("J'ai pas envie de voir demain, j'ai l'oral du bac à 8h.", "none"),
    ("je ne veux pas voir le soleil se lever, je dors jusqu'à midi", "none"),
    ("je ne veux pas voir demain ma belle-mère", "none"),
    ("je veux voir demain comment ça se passe", "none"),
    ("il ne veut pas voir demain", "none"),
    # "I attempted" with no object: no word pattern tells it from an exam (left to the model).
    ("I attempted twice and failed my driving test both times.", "none"),
    ("The GMAT? I've attempted before.", "none"),
])
def test_not_wanting_to_see_tomorrow_is_read_only_when_it_closes_the_sentence(
    text: str, expected: str,
) -> None:
    """A passive wish whose time word is the wish itself (never urgent by it), said by the
    writer and closing the sentence; a helper's probes of a first version found it answering
    dentists, exams and the in-laws when a reason followed."""
    assert level(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("I took all my meds this morning like prescribed", "none"),
    ("I've taken all my medication on time this week", "none"),
    ("I took all my tablets as directed every day this week", "none"),
    ("j'ai pris tous mes médicaments ce matin comme le médecin a dit", "none"),
    ("j'ai pris tous mes cachets à l'heure cette semaine", "none"),
    ("jai pris tt mes medocs a lheure cette semaine", "none"),
    # A helper's probes of a first version (sentence-wide exclusions): an overdose told
    # beside adherence, "comme prévu" (as planned), pride in irony, "without missing one".
    ("I took all my meds as my doctor said, then the rest of the bottle too.", "urgent"),
    ("Every day this week I wanted to die, and just now I took all my antidepressants.", "urgent"),
    ("I took all of my pills, not like prescribed, all of them at once.", "urgent"),
    ("For once I took all my pills like prescribed... all of them at once, the whole bottle.",
     "urgent"),
    ("jai pris tt mes medocs comme prevu, jvais dormir pr tjrs", "urgent"),
    ("J'ai avalé tous mes cachets comme le psy a dit... tous en même temps.", "urgent"),
    ("J'ai pris tous mes médocs sans en oublier un, toute la plaquette d'un coup", "urgent"),
    ("I took all my pills tonight, so proud of myself lol", "urgent"),
    ("chu fiere de moi jai pris toutes mes pilules dun coup", "urgent"),
    ("Mom would be proud of me, I finally took all my pills at once", "urgent"),
    ("I took all my pills, I'm not proud of myself", "urgent"),
])
def test_taking_ones_medicines_as_prescribed_is_not_an_overdose(
    text: str, expected: str,
) -> None:
    """Taking one's treatment as the doctor said is a common post here. Only the words right
    after the intake say so; pride says nothing about the dose, and "comme prévu" is a plan."""
    assert level(text) == expected
