"""Themes of written answers: agreement with known topics, the themes found, and speed.

    python -m bench themes [--answers=50000] [--assign=200]

Prints:
- the adjusted Rand index (ARI) between the themes found and the known topics of
  bench/data/themes_labelled.csv (665 answers, 7 topics, English with Welsh and Polish), with the
  glossary of council subjects and without it (engage.themes.words), so the glossary's share shows;
- the themes found on that set, with their words and quotes;
- the time to find themes in `answers` answers (copies grouped, then TF-IDF, LSA, KMeans), against
  a baseline measured in the same run: plain scikit-learn TF-IDF vectorising of the same texts;
- the time to place one new answer in existing themes (engage.themes.analysis.Assigner), one at a
  time, after the themes of those answers are built.
"""
from __future__ import annotations

import csv
import statistics
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score

from engage.themes import analysis, duplicates

DATA = Path(__file__).resolve().parent / "data"


def _labelled() -> tuple[list[str], list[str], list[str]]:
    with (DATA / "themes_labelled.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["topic"] for r in rows], [r["language"] for r in rows]


def _many(answers: int) -> list[str]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_themes_labelled", DATA / "make_themes_labelled.py")
    maker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(maker)
    rows = maker.rows(per_topic=answers // len(maker.TOPICS) + 1, seed=50_000)
    return [text for _id, _topic, _lang, text in rows][:answers]


def run(answers: int = 50_000, assign: int = 200) -> None:
    texts, topics, languages = _labelled()
    started = time.perf_counter()
    found = analysis.find(texts)
    labelled_seconds = time.perf_counter() - started
    ari = adjusted_rand_score(topics, found.labels)
    weight = analysis.SUBJECT_WEIGHT
    analysis.SUBJECT_WEIGHT = 0.0
    try:
        without = analysis.find(texts)
    finally:
        analysis.SUBJECT_WEIGHT = weight
    ari_without = adjusted_rand_score(topics, without.labels)
    print(f"labelled set: {len(texts)} answers, {len(set(topics))} topics "
          f"({languages.count('en')} en, {languages.count('cy')} cy, {languages.count('pl')} pl)")
    print(f"  adjusted Rand index: {ari:.3f} with the glossary of subjects ({found.k} themes, "
          f"silhouette {found.silhouette:.3f}, {labelled_seconds:.2f} s)")
    print(f"  adjusted Rand index: {ari_without:.3f} without it ({without.k} themes)")
    for lang in ("cy", "pl"):
        index = [i for i, code in enumerate(languages) if code == lang]
        # Does a Welsh or Polish answer land in the theme most English answers of its topic are in?
        majority = {}
        for topic in set(topics):
            english = [found.labels[i] for i, t in enumerate(topics) if t == topic and languages[i] == "en"]
            majority[topic] = max(set(english), key=english.count)
        together = sum(found.labels[i] == majority[topics[i]] for i in index)
        print(f"  {lang} answers in the theme of their topic's English answers: {together}/{len(index)}")
    print("themes found on the labelled set:")
    for j in range(found.k):
        members = [topics[i] for i, label in enumerate(found.labels) if label == j]
        top = max(set(members), key=members.count)
        print(f"  [{j + 1}] {', '.join(found.words[j])} — {len(members)} answers "
              f"({100 * members.count(top) / len(members):.0f}% {top})")
        for i in found.quotes[j][:3]:
            print(f"        “{texts[i]}”")

    many = _many(answers)
    started = time.perf_counter()
    TfidfVectorizer().fit_transform(many)
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    leaders = duplicates.group(many)
    grouped = time.perf_counter() - started
    unique = [many[i] for i in sorted(set(leaders))]
    started = time.perf_counter()
    big = analysis.find(unique)
    themes_seconds = time.perf_counter() - started
    total = grouped + themes_seconds
    print(f"{len(many)} answers ({len(unique)} after grouping copies): themes in {total:.2f} s "
          f"(copies {grouped:.2f} s, themes {themes_seconds:.2f} s; {big.k} themes); "
          f"baseline plain TF-IDF of the same texts {baseline:.2f} s; ratio {total / baseline:.1f}x")

    theme_of = [big.labels[i] for i in range(len(unique))]
    started = time.perf_counter()
    assigner = analysis.Assigner.build(unique, theme_of)
    built = time.perf_counter() - started
    new = _many(assign + 7)[-assign:]
    times = []
    for text in new:
        t0 = time.perf_counter()
        assigner.assign([text])
        times.append(1000 * (time.perf_counter() - t0))
    times.sort()
    print(f"placing new answers: model built in {built:.2f} s, then per answer mean "
          f"{statistics.mean(times):.2f} ms, p95 {times[int(0.95 * (len(times) - 1))]:.2f} ms, "
          f"max {times[-1]:.2f} ms ({len(times)} answers)")
