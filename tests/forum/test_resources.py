"""Crisis and support lines: the data file, the grouping and the choice of region."""

import json
import re
from pathlib import Path

import pytest

from forum.resources import (
    DATA_FILE,
    REGIONS,
    RegionLines,
    lines_for,
    load_lines,
    parse_accept_language,
    region_name,
    resolve_region,
)


def ids(lines) -> list[str]:
    return [line.id for line in lines]


def write_data(tmp_path: Path, mutate) -> Path:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    mutate(data["lines"])
    path = tmp_path / "lines.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# ----------------------------------------------------------------- the data file


def test_the_data_file_loads_and_every_region_has_lines():
    lines = load_lines()
    assert set(lines) == set(REGIONS)
    for region in REGIONS:
        assert lines[region], region


def test_loading_is_cached_but_callers_get_their_own_lists():
    first = load_lines()
    first["FR"].clear()
    assert load_lines()["FR"]


def test_every_required_line_is_in_the_data():
    lines = load_lines()
    expected = {
        "FR": [
            "fr-15",
            "eu-112",
            "fr-3114",
            "fr-114",
            "fr-sos-amitie",
            "fr-suicide-ecoute",
            "fr-fsj",
            "fr-dis",
            "fr-ais",
            "fr-jis",
            "fr-ffab",
            "fr-3919",
            "fr-119",
            "fr-17",
        ],
        "BE": ["eu-112", "be-cps", "be-107", "be-1813"],
        "CH": ["ch-144", "eu-112", "ch-117", "ch-143", "ch-147"],
        "CA-QC": ["qc-appelle", "ca-911", "qc-811", "ca-988", "qc-teljeunes", "ca-khp"],
        "CA": ["ca-911", "ca-988", "ca-khp"],
        "INTL": ["intl-findahelpline", "intl-emergency"],
    }
    for region, wanted in expected.items():
        assert set(wanted) <= set(ids(lines[region])), region


def test_every_region_has_a_verified_emergency_line_and_a_verified_crisis_line():
    for region in REGIONS:
        grouped = lines_for(region)
        assert any(line.verified for line in grouped.emergency), region
        if region != "INTL":
            assert any(line.verified for line in grouped.crisis), region


def test_international_fallback_gives_emergency_guidance_and_the_directory_unverified():
    grouped = lines_for("INTL")
    assert ids(grouped.primary()) == ["intl-emergency"]
    guidance = grouped.emergency[0]
    assert "112" in guidance.audience_text("fr") and "911" in guidance.audience_text("fr")
    directory = next(x for x in grouped.listening if x.id == "intl-findahelpline")
    assert directory.status == "partial"
    assert not directory.verified


def test_tel_and_sms_links_are_uris_without_spaces():
    for lines in load_lines().values():
        for line in lines:
            if line.tel is not None:
                assert re.fullmatch(r"tel:\+?[0-9]+", line.tel), line.id
            if line.sms is not None:
                assert re.fullmatch(r"sms:\+?[0-9]+", line.sms), line.id
            assert line.tel or line.sms or line.url or line.id == "intl-emergency", line.id


def test_sms_only_and_text_channels_are_there():
    fr = {x.id: x for x in load_lines()["FR"]}
    assert fr["fr-114"].sms == "sms:114"
    assert fr["fr-114"].tel is None
    qc = {x.id: x for x in load_lines()["CA-QC"]}
    assert qc["qc-appelle"].sms == "sms:535353"
    assert qc["qc-appelle"].chat_url == "https://suicide.ca"
    assert qc["qc-appelle"].tel == "tel:18662773553"


def test_no_entry_claims_a_live_check_that_did_not_happen():
    for lines in load_lines().values():
        for line in lines:
            assert line.last_verified is None
            assert line.needs_live_check
            assert line.checked_against.startswith("shared/reference/safety.md")
            assert line.sources


def test_urls_the_research_could_not_confirm_are_left_out():
    fr = {x.id: x for x in load_lines()["FR"]}
    assert fr["fr-sos-amitie"].url is None
    assert fr["fr-sos-amitie"].chat_url is None
    assert fr["fr-dis"].url is None
    assert fr["fr-jis"].url is None
    ca = {x.id: x for x in load_lines()["CA"]}
    assert ca["ca-988"].url is None
    assert ca["ca-khp"].url is None
    assert fr["fr-3114"].url == "https://3114.fr"


def test_texts_fall_back_to_french_and_follow_the_locale():
    line = {x.id: x for x in load_lines()["CH"]}["ch-144"]
    assert line.label("en") == "144, medical emergencies (ambulance)"
    assert line.label("en-GB") == line.label("en")
    assert line.label("de") == line.label("fr") == "144, urgences médicales (ambulance)"
    assert line.hours_text("fr") == "24 h/24, 7 j/7"
    assert line.cost_text("en")
    assert line.audience_text("fr")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda lines: lines[0].update(kind="hotline"), "unknown kind"),
        (lambda lines: lines[0].update(regions=["FR", "US"]), "unknown region"),
        (lambda lines: lines[0].update(status="sure"), "unknown status"),
        (lambda lines: lines[0].update(tel="tel:01 45 39"), "invalid tel"),
        (lambda lines: lines[0].update(url="javascript:alert(1)"), "invalid url"),
        (lambda lines: lines.append(dict(lines[0])), "duplicate"),
        (lambda lines: lines[0].update(topics=["unknown"]), "unknown topic"),
    ],
)
def test_a_malformed_data_file_is_refused(tmp_path, mutate, message):
    path = write_data(tmp_path, mutate)
    with pytest.raises(ValueError, match=message):
        load_lines(path)


# ----------------------------------------------------------------- order and grouping


def test_france_urgent_shows_the_samu_then_the_3114():
    assert ids(lines_for("FR").primary()) == ["fr-15", "fr-3114"]


def test_france_groups_emergency_crisis_and_listening_lines():
    fr = lines_for("FR")
    assert ids(fr.emergency)[:3] == ["fr-15", "eu-112", "fr-17"]
    assert "fr-114" in ids(fr.emergency)
    assert ids(fr.crisis) == ["fr-3114", "fr-suicide-ecoute"]
    assert {"fr-sos-amitie", "fr-fsj", "fr-3919", "fr-119"} <= set(ids(fr.listening))
    assert fr.topical == []


def test_quebec_puts_1_866_appelle_first_and_988_after_it():
    qc = lines_for("CA-QC")
    crisis = ids(qc.crisis)
    assert crisis[0] == "qc-appelle"
    assert crisis.index("ca-988") > crisis.index("qc-appelle")
    assert "qc-811" in crisis
    assert ids(qc.primary()) == ["ca-911", "qc-appelle"]
    assert ids(qc.listening) == ["qc-teljeunes", "ca-khp"]


def test_canada_outside_quebec_gets_911_then_988():
    assert ids(lines_for("CA").primary()) == ["ca-911", "ca-988"]


def test_belgium_and_switzerland_primary_lines():
    assert ids(lines_for("BE").primary()) == ["eu-112", "be-cps"]
    assert ids(lines_for("CH").primary()) == ["ch-144", "ch-143"]


def test_unverified_entries_are_never_first_in_any_list():
    for region in REGIONS:
        grouped = lines_for(region, include_topic_lines=True)
        for group in (grouped.emergency, grouped.crisis, grouped.listening, grouped.topical):
            if group:
                assert group[0].verified or not any(x.verified for x in group), region
            # verified entries all come before the others
            flags = [x.verified for x in group]
            assert flags == sorted(flags, reverse=True), region
        for line in grouped.primary():
            assert line.status == "verified"


def test_an_unverified_entry_with_a_lower_order_still_comes_after_verified_ones(tmp_path):
    def mutate(lines):
        for line in lines:
            if line["id"] == "be-1813":
                line["order"] = 0  # before the CPS by order, but only partial
            if line["id"] == "fr-15":
                line["status"] = "unverified"
                line["order"] = 0

    path = write_data(tmp_path, mutate)
    be = lines_for("BE", path=path)
    assert ids(be.crisis) == ["be-cps", "be-1813"]
    fr = lines_for("FR", path=path)
    assert ids(fr.emergency)[0] == "eu-112"
    assert ids(fr.primary()) == ["eu-112", "fr-3114"]


def test_primary_is_empty_rather_than_unverified(tmp_path):
    grouped = RegionLines(region="FR", emergency=[], crisis=[], listening=[], topical=[])
    assert grouped.primary() == []


def test_topic_lines_for_addiction_give_the_three_info_services_in_france():
    fr = lines_for("FR", topics=["addiction"])
    assert ids(fr.topical) == ["fr-dis", "fr-ais", "fr-jis"]
    assert all(not x.verified for x in fr.topical)  # all partial in the research


def test_topic_lines_for_eating_disorders_give_the_ffab_line():
    fr = lines_for("FR", topics=["eating_disorder"])
    assert ids(fr.topical) == ["fr-ffab"]
    assert fr.topical[0].tel == "tel:0969325900"


def test_the_help_page_can_ask_for_every_topic_line_and_none_is_shown_twice():
    fr = lines_for("FR", include_topic_lines=True)
    assert {"fr-dis", "fr-ais", "fr-jis", "fr-ffab"} <= set(ids(fr.topical))
    everything = ids(fr.all())
    assert len(everything) == len(set(everything)) == len(load_lines()["FR"])


def test_a_listening_line_matched_by_a_topic_moves_to_the_topical_group():
    fr = lines_for("FR", topics=["violence"])
    assert "fr-3919" in ids(fr.topical)
    assert "fr-3919" not in ids(fr.listening)
    assert fr.emergency[0].id == "fr-15"


def test_topic_lines_of_other_regions_are_not_shown():
    assert lines_for("BE", topics=["addiction"]).topical == []


def test_lines_for_accepts_lowercase_and_refuses_unknown_regions():
    assert lines_for("ca-qc").region == "CA-QC"
    with pytest.raises(ValueError):
        lines_for("US")


# ----------------------------------------------------------------- choosing the region


def resolve(query=None, member=None, accept=None, default="FR") -> str:
    return resolve_region(
        query=query, member_region=member, accept_language=accept, default=default
    )


def test_the_query_wins_over_everything_else():
    assert resolve("BE", "CH", "fr-CA", "FR") == "BE"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ca-qc", "CA-QC"),
        ("qc", "CA-QC"),
        ("QC", "CA-QC"),
        (" ch ", "CH"),
        ("intl", "INTL"),
        ("CA_QC", "CA-QC"),
        ("ca", "CA"),
    ],
)
def test_the_query_is_case_insensitive_and_accepts_qc(query, expected):
    assert resolve(query) == expected


@pytest.mark.parametrize("query", ["US", "", "   ", "FR<script>", "ca-on", "x" * 500])
def test_an_invalid_query_is_ignored_and_the_next_step_decides(query):
    assert resolve(query, "CH", "fr-BE") == "CH"
    assert resolve(query, None, "fr-BE") == "BE"
    assert resolve(query, None, None, "CA") == "CA"


def test_the_member_setting_comes_before_accept_language():
    assert resolve(None, "CA-QC", "fr-BE") == "CA-QC"
    assert resolve(None, "bogus", "fr-BE") == "BE"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr-CA", "CA-QC"),
        ("en-CA", "CA"),
        ("fr-BE", "BE"),
        ("nl-BE", "BE"),
        ("fr-CH", "CH"),
        ("de-CH", "CH"),
        ("it-CH", "CH"),
        ("fr-FR", "FR"),
        ("fr", "INTL"),  # a bare language says nothing about where the reader is
        ("en", "INTL"),
        ("en-US", "INTL"),  # an unsupported country is skipped too
        ("fr, fr-CA;q=0.9", "CA-QC"),
        ("en-US,en;q=0.9,fr-CH;q=0.5", "CH"),
        ("fr-FR;q=0.4, fr-BE;q=0.8", "BE"),
        ("fr-BE;q=0.8, fr-CH;q=0.8", "BE"),  # equal q: the first listed wins
        ("fr-CA;q=0, fr-CH;q=0.1", "CH"),  # q=0 means "not acceptable"
        ("fr-CA;q=abc, fr-BE;q=0.2", "BE"),  # a malformed q drops the entry
        ("fr-CA;q=1.5, de-CH;q=0.2", "CH"),
        ("FR-be", "BE"),
        ("fr_CA", "CA-QC"),
        ("zh-Hant-CH", "CH"),
        ("*", "INTL"),
        ("garbage;;;,,,", "INTL"),
    ],
)
def test_accept_language_decides_only_through_a_supported_country(header, expected):
    assert resolve(None, None, header, "INTL") == expected


def test_a_bare_french_accept_language_keeps_the_configured_default():
    assert resolve(None, None, "fr", "BE") == "BE"
    assert resolve(None, None, "fr,en;q=0.5", "CH") == "CH"


def test_the_default_applies_when_nothing_else_does():
    assert resolve(None, None, None, "CA-QC") == "CA-QC"
    assert resolve("", "", "", "fr") == "FR"


def test_an_invalid_default_is_a_configuration_error():
    with pytest.raises(ValueError):
        resolve(None, None, None, "US")


def test_accept_language_parsing_orders_by_quality_then_position():
    assert parse_accept_language("en;q=0.5, fr-CA, de;q=0.5") == ["fr-CA", "en", "de"]
    assert parse_accept_language(None) == []


def test_region_names_in_both_languages():
    assert region_name("FR", "fr") == "France"
    assert region_name("BE", "fr") == "Belgique"
    assert region_name("CH", "fr") == "Suisse"
    assert region_name("CA-QC", "fr") == "Québec"
    assert region_name("CA", "fr") == "Canada"
    assert region_name("INTL", "fr") == "Ailleurs / International"
    assert region_name("CH", "en") == "Switzerland"
    assert region_name("qc", "en-CA") == "Quebec"
    with pytest.raises(ValueError):
        region_name("US", "fr")
