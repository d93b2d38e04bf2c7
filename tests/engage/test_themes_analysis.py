"""Theme analysis: the same answers give the same themes, themes agree with known topics, copies are grouped."""
from __future__ import annotations

import csv
from pathlib import Path

from sklearn.metrics import adjusted_rand_score

from engage.themes import analysis, duplicates
from engage.themes.words import fold

LABELLED = Path(__file__).resolve().parents[2] / "bench" / "data" / "themes_labelled.csv"


def _labelled() -> tuple[list[str], list[str], list[str]]:
    with LABELLED.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["topic"] for r in rows], [r["language"] for r in rows]


def test_the_labelled_set_has_600_answers_in_six_to_eight_topics_in_three_languages():
    texts, topics, languages = _labelled()
    assert len(texts) >= 600 and 6 <= len(set(topics)) <= 8
    assert {"en", "cy", "pl"} <= set(languages)
    # Varied phrasing: most answers are written differently from every other.
    assert len({fold(t) for t in texts}) > 0.8 * len(texts)


def test_themes_agree_with_the_known_topics():
    texts, topics, _languages = _labelled()
    found = analysis.find(texts)
    ari = adjusted_rand_score(topics, found.labels)
    print(f"adjusted Rand index on {len(texts)} labelled answers: {ari:.3f} ({found.k} themes)")
    assert ari >= 0.6
    assert 5 <= found.k <= 12
    # Each theme is explained: words, and three to five quotes from its own answers.
    for j in range(found.k):
        assert found.words[j]
        assert 3 <= len(found.quotes[j]) <= 5 or found.labels.count(j) < 3
        assert all(found.labels[i] == j for i in found.quotes[j])


def test_the_same_answers_give_the_same_themes_every_time():
    texts, _topics, _languages = _labelled()
    first, second = analysis.find(texts), analysis.find(list(texts))
    assert first.labels == second.labels
    assert first.words == second.words and first.quotes == second.quotes and first.k == second.k


def test_welsh_and_polish_answers_land_with_english_answers_on_the_same_subject():
    texts = (["street lights broken near the station"] * 3 + ["no lighting on the footpath, very dark"] * 2
             + ["the buses are always late", "more buses in the evening", "bus never turns up"] * 2
             + ["goleuadau stryd ddim yn gweithio", "nie działają latarnie", "mae'r bysiau yn hwyr",
                "autobusy się spóźniają"])
    found = analysis.find(texts, k=2)
    light, bus = found.labels[0], found.labels[5]
    assert light != bus
    assert found.labels[-4] == light and found.labels[-3] == light
    assert found.labels[-2] == bus and found.labels[-1] == bus


def test_accents_and_case_do_not_separate_answers():
    assert fold("Ŵyl y Ddraig ŁÓDŹ") == "wyl y ddraig lodz"
    assert analysis.content("Goleuadau ŵedi TORRI") == analysis.content("goleuadau wedi torri")


def test_campaign_texts_and_copies_are_grouped_and_short_answers_are_not():
    campaign = "I object to the closure of Bush Fair library, it is a lifeline for older people"
    texts = [campaign, campaign.upper() + "!!", campaign.replace("older", "elderly"), "the park", "The park.",
             "I object to the closure of the swimming pool in the town centre, please keep it open",
             "street lights", "street lighting"]
    groups = duplicates.group(texts)
    assert groups[0] == groups[1] == groups[2] == 0
    assert groups[3] == groups[4] == 3  # exact copies once folded
    assert groups[5] == 5 and groups[6] == 6 and groups[7] == 7


def test_new_answers_go_to_the_nearest_theme_or_to_none():
    texts = ["street lights broken", "dark alley no lights", "more street lighting", "lamp posts broken",
             "potholes everywhere", "the road is full of potholes", "fix the potholes", "pothole damaged my car"]
    assigner = analysis.Assigner.build(texts, [1, 1, 1, 1, 2, 2, 2, 2])
    placed = assigner.assign(["the street lights are out again", "huge potholes on my road",
                              "the library opening hours"])
    assert placed[0][0] == 1 and placed[1][0] == 2
    assert placed[2][0] is None


def test_few_or_empty_answers_still_give_themes():
    assert analysis.find([]).k == 0
    one = analysis.find(["street lights"])
    assert (one.k, one.labels, one.words) == (1, [0], [["street lights"]])
    two = analysis.find(["street lights", "buses late"])
    assert two.k == 2 and two.labels == [0, 1]
    same = analysis.find(["ok"] * 5)
    assert same.k == 1 and same.quotes == [[0]]  # a copy is quoted once
    nothing = analysis.find(["the", "a", "it"])
    assert nothing.k == 1 and nothing.words == [[]]


def test_a_theme_of_one_answer_still_takes_close_new_answers():
    assigner = analysis.Assigner.build(["street lights broken"], [3])
    placed = assigner.assign(["the street lights are broken again", "swimming pool opening hours"])
    assert placed[0][0] == 3 and placed[1][0] is None
