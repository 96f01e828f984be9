"""Tests for moderation.crisis: crisis-language screening (issue 4, "Screening").

The lexicon is a soft trigger that shows help; these tests pin the evaluation targets, the
idioms that must stay quiet, the spelling variants (accents, SMS, Québec, Belgium, Switzerland,
English), the context rules (negation, someone else, past and recovery), span mapping, the
extension file and the cost of a call.
"""

from __future__ import annotations

import builtins
import io
import time
import unicodedata
from pathlib import Path

import pytest

from moderation.crisis import lexicon as crisis_lexicon
from moderation.crisis.lexicon import (
    FALSE_POSITIVE_TARGET,
    FLAG_RECALL_TARGET,
    URGENT_RECALL_TARGET,
    Assessment,
    LexiconError,
    Match,
    assess,
    evaluate,
    format_assessment,
    format_report,
    load_lexicon,
    read_eval_set,
)

# Sentences written for these tests only (not in crisis_eval.tsv), before the lexicon was tuned
# on the evaluation set. They check that the patterns generalise.
HELD_OUT_NONE = [
    "J'ai cru mourir de rire pendant le spectacle.",
    "Ce trajet en RER me tue chaque matin.",
    "Mdr t'es mort, il t'a grillé",
    "Je suis bénévole sur une ligne d'écoute et j'aimerais échanger avec d'autres écoutants.",
    "Le 3114 est joignable 24h/24, partagez le numéro autour de vous.",
    "Ma tante a fait une tentative de suicide l'an dernier, elle va mieux.",
    "Je n'ai aucune envie de mourir, je veux juste que ça aille mieux.",
    "J'en ai marre de ce froid, vivement l'été.",
    "Je veux en finir avec mes dettes cette année.",
    "Je me suis coupé le doigt en coupant des oignons.",
    "I'm not going to kill myself, don't worry, I just needed to rant.",
    "Suicide Squad 2 was better than the first one.",
    "This commute is killing me slowly lol",
    "I'm dead tired after the night shift.",
    "My uncle died by suicide when I was ten; I'm writing about grief.",
    "Honestly I'd rather die than sing karaoke again 😂",
    "Chu mort de fatigue, j'me couche de bonne heure à soir.",
    "Mon ex va me tuer si elle apprend ça mdr",
]
HELD_OUT_CONCERN = [
    "Je pense souvent à mourir ces derniers temps.",
    "jsuis fatiguée de vivre",
    "Je voudrais m'endormir pour toujours.",
    "J'ai recommencé à me scarifier.",
    "Personne ne me regretterait si je mourais.",
    "G plus envie de vivre",
    "J'ai des pensées de mort tout le temps.",
    "J'veux juste pu exister.",
    "I just want to stop existing.",
    "Lately I've been thinking about suicide a lot.",
    "I keep hurting myself and I can't stop.",
    "My girlfriend keeps saying she wants to die.",
    "I'm a burden, they'd all be happier without me.",
    "I don't see the point in living anymore.",
    "Des fois je me dis que le monde serait mieux sans moi.",
    "i wish i was dead tbh",
    "Je me suis encore fait du mal cette semaine.",
]
HELD_OUT_URGENT = [
    "Je vais en finir cette nuit, je suis désolé.",
    "J'ai avalé tous mes cachets il y a une heure.",
    "Adieu tout le monde, vous allez me manquer.",
    "C'est ma dernière nuit, merci pour tout.",
    "jvé me suicider demain",
    "J'ai préparé ma lettre, demain c'est fini.",
    "Je m'en vais me tirer une balle à soir.",
    "J'ai tout prévu, je veux mourir samedi.",
    "Quand tu liras ça, je ne serai plus là.",
    "I'm going to end it all tonight.",
    "I've swallowed all the pills I had.",
    "This is goodbye, thank you for everything.",
    "I'm going to kill myself tomorrow, I've made my decision.",
    "I have everything I need to end my life.",
    "gonna kms tonight, sorry",
    "I wrote goodbye letters to my family, it's over tonight.",
    "Je vais sauter du pont ce soir.",
    "J'ai pris toute la plaquette, ça tourne.",
]

# Every idiom and non-crisis example named in the issue and in the brief.
ISSUE_IDIOMS = [
    "mort de rire",
    "je suis mort de fatigue",
    "ce boulot me tue",
    "tu me tues",
    "Suicide Squad",
    "je suis bénévole en prévention du suicide",
    "le 3114 est le numéro national de prévention du suicide",
    "mon frère a fait une tentative l'an dernier",
    "il y a cinq ans j'ai fait une tentative, aujourd'hui je vais mieux",
    "je n'ai pas envie de mourir",
    "I'm not suicidal",
]


def level(text: str, locale: str | None = None) -> str:
    return assess(text, locale).level


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# --- evaluation set ----------------------------------------------------------------------------


def test_the_evaluation_set_meets_the_issue_targets() -> None:
    report = evaluate()
    assert report.flag_recall >= FLAG_RECALL_TARGET, format_report(report)
    assert report.urgent_recall >= URGENT_RECALL_TARGET, format_report(report)
    assert report.false_positive_rate <= FALSE_POSITIVE_TARGET, format_report(report)
    assert report.meets_targets


def test_the_evaluation_set_is_large_varied_and_balanced() -> None:
    rows = read_eval_set()
    langs = [lang for _, lang, _ in rows]
    labels = [label for label, _, _ in rows]
    french = sum(lang.startswith("fr") for lang in langs)
    assert len(rows) >= 220 and french >= 160 and langs.count("en") >= 60
    assert {"fr-FR", "fr-BE", "fr-CH", "fr-CA"} <= set(langs)
    for label, low, high in (("none", 0.30, 0.40), ("concern", 0.30, 0.40), ("urgent", 0.25, 0.35)):
        assert low <= labels.count(label) / len(rows) <= high, label
    assert len({text for _, _, text in rows}) == len(rows), "duplicate sentences"


def test_the_evaluation_report_prints_figures_and_errors() -> None:
    report = evaluate()
    text = format_report(report)
    assert "flag recall" in text and "urgent recall" in text and "false positives" in text
    assert str(report.total) in text
    assert report.label_counts["none"] + report.label_counts["urgent"] < report.total


def test_an_evaluation_file_without_the_header_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "eval.tsv"
    bad.write_text("none\tfr\tbonjour\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label"):
        read_eval_set(bad)


def test_a_custom_evaluation_file_is_scored(tmp_path: Path) -> None:
    path = tmp_path / "eval.tsv"
    path.write_text(
        "label\tlang\ttext\nnone\tfr\tmort de rire\nconcern\tfr\tj'ai envie de mourir\n"
        "urgent\ten\tI'm going to kill myself tonight\n",
        encoding="utf-8",
    )
    report = evaluate(path)
    assert (report.total, report.flag_recall, report.false_positive_rate) == (3, 1.0, 0.0)
    assert report.errors == []


# --- held-out sentences ------------------------------------------------------------------------


def test_held_out_sentences_are_screened_sensibly() -> None:
    flagged = [level(t) != "none" for t in HELD_OUT_CONCERN + HELD_OUT_URGENT]
    urgent = [level(t) == "urgent" for t in HELD_OUT_URGENT]
    false_positives = [level(t) != "none" for t in HELD_OUT_NONE]
    assert sum(flagged) / len(flagged) >= 0.8
    assert sum(urgent) / len(urgent) >= 0.7
    assert sum(false_positives) / len(false_positives) <= 0.1


@pytest.mark.parametrize("text", HELD_OUT_NONE)
def test_held_out_hard_negatives_stay_none(text: str) -> None:
    assert level(text) == "none"


@pytest.mark.parametrize("text", ISSUE_IDIOMS)
def test_each_idiom_named_in_the_issue_stays_none(text: str) -> None:
    assert level(text) == "none"
    assert level(text.upper()) == "none"


# --- spelling variants -------------------------------------------------------------------------


def test_accents_or_no_accents_give_the_same_level_on_every_french_row() -> None:
    for _, lang, text in read_eval_set():
        if lang.startswith("fr"):
            assert level(strip_accents(text), lang) == level(text, lang), text


@pytest.mark.parametrize(
    ("accented", "plain"),
    [
        ("Je voudrais ne plus me réveiller", "je voudrais ne plus me reveiller"),
        ("J'ai envie de disparaître", "jai envie de disparaitre"),
        ("Chu écœurée de vivre", "chu ecoeuree de vivre"),
        ("JE VEUX MOURIR", "je veux mourir"),
    ],
)
def test_case_accents_and_ligatures_are_folded(accented: str, plain: str) -> None:
    assert level(accented) == level(plain) == "concern"


@pytest.mark.parametrize(
    "text",
    [
        "jpp de cette vie",
        "jveux mourir",
        "g envie de crever",
        "envi de crever",
        "chui suicidaire",
        "jme scarifie encore",
        "jveux pu vivre",
    ],
)
def test_sms_spellings_are_recognised(text: str) -> None:
    assert level(text) == "concern"


def test_sms_intent_with_a_time_word_is_urgent() -> None:
    assert level("jvais me tuer ce soir") == "urgent"
    assert level("je vé me suicider demain") == "urgent"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("J'veux pu vivre", "concern"),
        ("j'ai pu le goût de vivre", "concern"),
        ("chu tanné de vivre", "concern"),
        ("je me tire une balle à soir", "urgent"),
        ("j'pense à me tirer une balle", "urgent"),
        ("je m'en vais me pitcher en bas du pont", "urgent"),
        ("à soir j'en finis", "urgent"),
        ("chu pu capable de ma job", "none"),
        ("ma blonde va me tuer", "none"),
    ],
)
def test_quebec_french_is_understood(text: str, expected: str) -> None:
    assert level(text, "fr-CA") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Je sais plus vivre comme ça", "concern"),
        ("je vais en finir endéans l'heure", "urgent"),
        ("le blocus me tue", "none"),
    ],
)
def test_belgian_french_is_understood(text: str, expected: str) -> None:
    assert level(text, "fr-BE") == expected


def test_the_swiss_adieu_greeting_is_not_a_goodbye() -> None:
    assert level("Adieu tout le monde, moi c'est Noé, je suis nouveau ici", "fr-CH") == "none"
    assert level("Adieu à tous, merci pour tout.", "fr-CH") == "urgent"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to die", "concern"),
        ("i wanna disappear", "concern"),
        ("I don't want to be here anymore", "concern"),
        ("I've been cutting myself again", "concern"),
        ("everyone would be better off without me", "concern"),
        ("I'm going to kill myself tonight", "urgent"),
        ("I've taken all my pills", "urgent"),
        ("goodbye everyone, thank you for everything", "urgent"),
        ("this job is killing me", "none"),
        ("I'm dying to see it", "none"),
        ("I cut myself shaving again", "none"),
        ("I'm thinking of dying my hair blue", "none"),
    ],
)
def test_english_is_understood(text: str, expected: str) -> None:
    assert level(text, "en") == expected


# --- context rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "je n'ai pas envie de mourir",
        "j'ai pas envie de mourir",
        "je n'ai plus envie de mourir depuis que je suis suivie",
        "je n'ai jamais eu envie de me faire du mal",
        "je ne me scarifie plus",
        "je ne suis pas suicidaire",
        "I'm not suicidal",
        "I don't want to die",
        "I no longer want to die",
    ],
)
def test_negation_before_a_match_keeps_it_quiet(text: str) -> None:
    assert level(text) == "none"


@pytest.mark.parametrize(
    "text",
    [
        "je ne sais pas pourquoi j'ai envie de mourir",
        "j'ai de plus en plus envie de mourir",
        "je n'ai jamais eu autant envie de mourir",
        "j'ai plus aucune raison de vivre",
        "I don't know why I want to die",
        "I'm not sure I want to be alive anymore",
    ],
)
def test_words_that_only_look_like_negation_do_not_hide_a_match(text: str) -> None:
    assert level(text) == "concern"


def test_someone_else_in_danger_now_is_concern_never_urgent() -> None:
    assert level("mon ami dit qu'il va se tuer ce soir") == "concern"
    assert level("My son told me he wants to die tonight") == "concern"
    assert level("Ma fille m'a écrit : « je veux mourir »") == "concern"


def test_someone_elses_past_is_none() -> None:
    assert level("mon frère a fait une tentative l'an dernier") == "none"
    assert level("My brother attempted suicide last year") == "none"
    assert level("Ma tante s'est suicidée quand j'avais quinze ans") == "none"


def test_the_writers_past_is_concern_unless_they_say_they_are_better() -> None:
    assert level("il y a cinq ans j'ai fait une tentative") == "concern"
    assert level("il y a cinq ans j'ai fait une tentative, aujourd'hui je vais mieux") == "none"
    assert level("I used to self-harm, I've been clean for three years") == "none"
    assert level("je vais mieux mais j'ai encore envie de mourir") == "concern"


def test_a_time_word_plan_or_means_escalates_concern_to_urgent() -> None:
    assert level("j'ai envie de mourir") == "concern"
    assert level("j'ai envie de mourir ce soir") == "urgent"
    assert level("J'ai envie d'en finir. Ma décision est prise.") == "urgent"
    assert level("I want to kill myself and I have a gun") == "urgent"
    cues = [m.term for m in assess("j'ai envie de mourir ce soir").matches]
    assert "cue.time" in cues


def test_a_passive_wish_is_not_escalated_by_a_time_word() -> None:
    assert level("je prie pour ne pas me réveiller demain") == "concern"


def test_news_statistics_and_media_are_not_a_personal_crisis() -> None:
    assert level("Selon une étude, les idées suicidaires augmentent chez les jeunes.") == "none"
    assert level("Dans le film, le héros veut mourir.") == "none"
    assert level("Suicide rates rose according to the latest statistics.") == "none"


# --- matches and spans -------------------------------------------------------------------------


def test_spans_point_into_the_original_text() -> None:
    text = "Bonjour. J’ai ENVIE de mourir, vraiment."
    result = assess(text)
    assert result.level == "concern"
    (match,) = result.matches
    assert text[match.start : match.end] == "ENVIE de mourir"


def test_spans_survive_characters_that_fold_to_several_or_none() -> None:
    text = "Œuvre… ﬁn. Je voudrais être mor\u200bte, e\u0301crit-elle. J'ai envie de crever"
    result = assess(text)
    spans = {text[m.start : m.end] for m in result.matches}
    assert "envie de crever" in spans
    assert any(span.startswith("voudrais") for span in spans)


def test_an_assessment_reports_its_matches_and_a_readable_summary() -> None:
    text = "J'ai tout prévu, je vais en finir."
    result = assess(text)
    assert result.level == "urgent" and result.at_least_concern
    assert all(isinstance(m, Match) for m in result.matches)
    summary = format_assessment(result, text)
    assert "urgent" in summary and "fr.intent" in summary and "en finir" in summary
    assert "none" in format_assessment(assess("bonjour"))


def test_the_none_assessment_has_no_matches() -> None:
    result = assess("Bonne journée à tous !")
    assert result == Assessment("none", ()) and not result.at_least_concern


# --- robustness and cost -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\x00\x01\x02", "😀" * 10, "a" * 5])
def test_empty_and_odd_texts_are_none(text: str) -> None:
    assert level(text) == "none"


def test_control_and_invisible_characters_do_not_break_or_hide_a_match() -> None:
    assert level("j'ai\tenvie\x00de\x1fmourir") == "concern"
    assert level("j'ai envie de mou\u00adrir") == "concern"
    assert level("je\u200b veux\r\nmourir") == "concern"
    text = "\x00\x07 je veux mourir \x7f"
    (match,) = assess(text).matches
    assert text[match.start : match.end] == "je veux mourir"


def test_assess_does_no_io_after_the_lexicon_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    load_lexicon()

    def refuse(*args: object, **kwargs: object) -> io.IOBase:
        raise AssertionError("assess() must not open files")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(Path, "open", refuse)
    monkeypatch.setattr(Path, "read_text", refuse)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    assert level("j'ai envie de mourir ce soir") == "urgent"
    assert level("rien à signaler") == "none"


def test_assess_is_deterministic() -> None:
    text = "J'ai des idées noires. Adieu à tous."
    assert assess(text) == assess(text) == assess(text, "fr-FR")


POST = (
    "Bonjour à toutes et à tous, je me permets d'écrire ici parce que je ne sais plus trop vers "
    "qui me tourner. Depuis le début de l'année, les crises d'angoisse sont revenues, surtout le "
    "soir quand je rentre du travail. Mon médecin m'a proposé de reprendre un traitement, mais "
    "j'hésite : la dernière fois, les effets secondaires étaient pénibles. Ma compagne m'écoute "
    "beaucoup, mais je sens qu'elle s'épuise aussi. Au boulot, ça va à peu près, même si mon chef "
    "nous met la pression avec des réunions à rallonge. J'ai commencé la méditation, dix minutes "
    "le matin, et ça m'aide à démarrer la journée. Le week-end, on marche en forêt avec le chien. "
    "Ce qui me pèse le plus, c'est la fatigue : je me réveille vers quatre heures et je tourne en "
    "rond jusqu'au matin. Est-ce que certains d'entre vous ont essayé les groupes de parole du "
    "CMP ? Comment s'est passée la première séance ? I also wonder if anyone tried CBT for "
    "insomnia in English, my therapist mentioned it. Merci d'avance pour vos retours, et merci à "
    "celles et ceux qui font vivre cet espace : vous lire me fait du bien, même les jours où je "
    "n'ai pas la force de répondre. Et toi, tu en penses quoi ? Bonne soirée à toutes et à tous."
)


def test_a_two_thousand_character_post_takes_about_a_millisecond() -> None:
    post = (POST + " ")[:2000]
    crisis_post = post[:1900] + " J'ai envie de mourir ce soir."
    assess(post)
    runs = 200
    started = time.process_time()
    for _ in range(runs):
        assess(post)
        assess(crisis_post)
    per_call = (time.process_time() - started) / (2 * runs)
    assert per_call < 0.005, f"{per_call * 1000:.2f} ms per call"  # generous for loaded CI


def test_a_one_megabyte_text_is_assessed_quickly() -> None:
    text = (POST + "\n") * (1_000_000 // (len(POST) + 1))
    text += "\nJe vais en finir cette nuit."
    started = time.process_time()
    result = assess(text)
    assert time.process_time() - started < 3.0
    assert result.level == "urgent"
    assert text[result.matches[-1].start : result.matches[-1].end] in text


# --- the lexicon file --------------------------------------------------------------------------


def test_an_extension_file_adds_a_term_and_an_idiom(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(
        """
[macros]
GIVE_UP = '(?:tout lacher|tout abandonner)'

[[entry]]
id = "local.give_up_for_good"
level = "concern"
lang = "fr"
pattern = 'envie de {GIVE_UP} pour (?:de bon|toujours)'
notes = "added by the admins of a local space"

[[exclusion]]
id = "local.idiom.job"
lang = "fr"
pattern = '{GIVE_UP} pour de bon (?:ce|mon) (?:boulot|projet)'

[cues]
time = ['a la fin du mois']
""",
        encoding="utf-8",
    )
    lexicon = load_lexicon(extra)
    default = load_lexicon()
    text = "j'ai envie de tout lâcher pour de bon"
    assert assess(text, lexicon=default).level == "none"
    assert assess(text, lexicon=lexicon).level == "concern"
    assert assess(text, lexicon=lexicon).matches[0].term == "local.give_up_for_good"
    assert assess(text + " à la fin du mois", lexicon=lexicon).level == "urgent"
    assert assess("envie de tout lâcher pour de bon ce boulot", lexicon=lexicon).level == "none"
    assert len(lexicon) == len(default) + 1
    assert load_lexicon() is default  # the default stays cached and unchanged


def test_an_extension_entry_can_replace_or_disable_a_default_entry(tmp_path: Path) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(
        '[[entry]]\nid = "fr.burden"\nlevel = "concern"\nlang = "fr"\npattern = "x"\n'
        "disabled = true\n",
        encoding="utf-8",
    )
    lexicon = load_lexicon(extra)
    assert level("je suis un poids pour tout le monde") == "concern"
    assert assess("je suis un poids pour tout le monde", lexicon=lexicon).level == "none"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[entry]]\nid = "x"\nlevel = "high"\npattern = "a"\n', "level"),
        ('[[entry]]\nid = "x"\nlevel = "concern"\npattern = "(a"\n', "bad pattern"),
        ('[[entry]]\nid = "x"\nlevel = "concern"\npattern = "{NOPE}"\n', "unknown macro"),
        ('[[entry]]\nid = "x"\nlevel = "concern"\n', "pattern"),
        ('[[entry]]\nid = "x"\nlevel = "concern"\npattern = "a"\ncolour = 1\n', "unknown"),
        ("[cues]\nmood = ['a']\n", "unknown cue"),
        ('[[exclusion]]\nid = "x"\npattern = "a"\nacross = "yes"\n', "across must be"),
        ("this is not toml", "TOML"),
    ],
)
def test_a_malformed_extension_file_is_refused_clearly(
    tmp_path: Path, body: str, message: str
) -> None:
    extra = tmp_path / "extra.toml"
    extra.write_text(body, encoding="utf-8")
    with pytest.raises(LexiconError, match=message):
        load_lexicon(extra)


def test_every_default_entry_has_an_id_level_language_and_pattern() -> None:
    lexicon = load_lexicon()
    ids = [entry.id for entry in lexicon.entries]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    for entry in lexicon.entries:
        assert entry.level in ("concern", "urgent") and entry.lang in ("fr", "en", "any")
        assert entry.pattern


def test_the_module_documents_the_file_format_and_the_decisions() -> None:
    doc = crisis_lexicon.__doc__ or ""
    for needle in ("soft trigger", "[[entry]]", "[[exclusion]]", "Someone else", "past"):
        assert needle in doc
