"""Finding themes in written answers, on this machine, the same way every time.

The maths is scikit-learn's; this module only chooses and explains:

- Words and characters. Each answer becomes a TF-IDF vector of its words (one and two words, so
  "street lights" is a feature) and of its characters (3 to 5 letters inside words). Character
  n-grams let spelling slips ("ligths"), plurals ("pothole"/"potholes") and Welsh mutations
  ("golau"/"oleuadau") share features without a stemmer for each language. TF-IDF weighs a word
  by how rare it is across the answers, so "the" counts for nothing and "pothole" for much;
  `sublinear_tf` stops a word repeated three times in one answer counting three times.
- Before counting, text is folded (lower case, accents off: "ŵ" = "w"), stop words of English,
  Welsh and Polish are taken out, and so are names: words residents write with a capital letter
  in the middle of a sentence in most of the places they appear ("Fifth Avenue", "Harvey
  Centre"). Themes are about what residents say, not where; where is in the quotes and the
  ward split. The glossary of council subjects (engage.themes.words) adds a shared word to
  answers that name the same subject in other words or languages.
- Latent semantic analysis (TruncatedSVD to at most 100 dimensions) before clustering: short
  answers share few words, and LSA lets words that appear together ("lamp", "dark", "light")
  pull answers together even when two answers share no word.
- KMeans with a fixed `random_state` on the unit-length LSA vectors (so Euclidean distance
  ranks like cosine similarity) puts each answer in exactly one theme, which is what an officer
  counts and exports. NMF was tried and gave less agreement with known topics; agglomerative and
  spectral clustering do not scale to 50,000 answers. Several starts (`n_init`) and the fixed
  seed make the result the same on every run on the same answers.
- How many themes: every number from 2 to 12 (fewer for few answers) is tried on a sample of at
  most 1,000 answers, and the one whose themes are best separated (the highest silhouette score,
  cosine) is kept: a simple, explainable rule that needs no tuning per consultation. Officers then
  merge or split.
- Labels are the theme's most distinctive words: those whose average weight in the theme is
  furthest above their average over all answers. Quotes are the answers closest to the theme's
  centre.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn import config_context
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from engage.themes.words import GLOSSARY, STOP_WORDS, fold, subjects_in

SEED = 18
MIN_THEMES, MAX_THEMES = 2, 12
# Answers the number of themes is chosen on: the silhouette score is quadratic in them.
SILHOUETTE_SAMPLE = 1000
# Above this many different answers, the vocabulary, LSA and KMeans are fitted on a seeded sample of
# them and the rest are placed with the fitted model (a theme found in 12,000 answers is there in
# 50,000); every answer is still read, to be placed.
FIT_SAMPLE = 12_000
LSA_DIMENSIONS = 100
# The character block counts as much as the word block; both are unit length before they are joined.
CHARACTER_WEIGHT = 1.0
# The glossary's subjects, a block of their own: an answer naming a subject counts it as much as all its words.
SUBJECT_WEIGHT = 1.0
QUOTES = 5
MIN_FLOOR, MAX_FLOOR = 0.05, 0.3  # cosine similarity a new answer needs to join a theme (see Assigner)
LABEL_WORDS = 3

_WORD = re.compile(r"[^\W\d_]+")
_TOKEN = re.compile(r"[^\W\d_]{2,}")
_SUBJECTS = frozenset(GLOSSARY.values())


def names_in(texts: list[str]) -> frozenset[str]:
    """Folded words written with a capital letter mid-sentence in at least half their uses (and twice)."""
    capital: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for text in texts:
        previous_end = None
        for match in _WORD.finditer(text):
            start = match.start()
            sentence_start = previous_end is None or text[previous_end:start].strip()[-1:] in (".", "!", "?")
            previous_end = match.end()
            if sentence_start:
                continue
            word = fold(match.group())
            seen[word] += 1
            if match.group()[0].isupper():
                capital[word] += 1
    return frozenset(w for w, n in capital.items() if n >= 2 and n * 2 >= seen[w] and w not in _SUBJECTS)


SUBJECT = "="  # marks a glossary subject among an answer's words ("=light"): never read as the resident's word


def content(text: str, names: frozenset[str] = frozenset()) -> str:
    """The words of an answer that the analysis weighs (folded; stop words and names out), then its subjects."""
    folded = fold(text)
    words = [w for w in _TOKEN.findall(folded) if w not in STOP_WORDS and w not in names]
    return " ".join(words + [SUBJECT + s for s in subjects_in(folded)])


def _word_features(doc: str) -> list[str]:
    """Single words and pairs of the resident's words."""
    words = [t for t in doc.split() if not t.startswith(SUBJECT)]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def _subject_features(doc: str) -> list[str]:
    return [t for t in doc.split() if t.startswith(SUBJECT)]


def _character_text(doc: str) -> str:
    return " ".join(t for t in doc.split() if not t.startswith(SUBJECT)) or "answer"


@dataclass
class Vectoriser:
    """Words and character n-grams of answers as one TF-IDF matrix, rows of unit length."""

    names: frozenset[str] = frozenset()
    words: TfidfVectorizer = field(default_factory=lambda: TfidfVectorizer(
        analyzer=_word_features, min_df=2, sublinear_tf=True, dtype=np.float32))
    characters: TfidfVectorizer = field(default_factory=lambda: TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True, dtype=np.float32))
    subjects: TfidfVectorizer = field(default_factory=lambda: TfidfVectorizer(
        analyzer=_subject_features, sublinear_tf=True, dtype=np.float32))

    def _docs(self, texts: list[str]) -> list[str]:
        return [content(t, self.names) for t in texts]

    docs_seen: list[str] = field(default_factory=list)

    def fit_transform(self, texts: list[str]) -> sp.csr_matrix:
        docs = self._docs(texts)
        self.docs_seen = docs[:100]
        # min_df=2 needs two answers; with fewer every word is kept.
        if len(docs) < 4:
            self.words.set_params(min_df=1)
            self.characters.set_params(min_df=1)
        try:
            word_part = self.words.fit_transform(docs)
        except ValueError:  # no word in two answers (answers of stop words only): keep every word
            self.words.set_params(min_df=1)
            word_part = self.words.fit_transform([d or "answer" for d in docs])
        try:
            char_part = self.characters.fit_transform([_character_text(d) for d in docs])
        except ValueError:
            self.characters.set_params(min_df=1)
            char_part = self.characters.fit_transform([_character_text(d) for d in docs])
        try:
            subject_part = self.subjects.fit_transform(docs)
        except ValueError:  # no answer names a subject of the glossary
            self.subjects = None
            subject_part = None
        return self._join(word_part, char_part, subject_part)

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        docs = self._docs(texts)
        # The vocabulary is fitted already: skip scikit-learn's argument checks, which cost more than the
        # work itself when one new answer is placed.
        with config_context(skip_parameter_validation=True, assume_finite=True):
            return self._transform(docs)

    def _transform(self, docs: list[str]) -> sp.csr_matrix:
        return self._join(self.words.transform(docs), self.characters.transform([_character_text(d) for d in docs]),
                          None if self.subjects is None else self.subjects.transform(docs))

    @staticmethod
    def _join(word_part, char_part, subject_part) -> sp.csr_matrix:
        blocks = [normalize(word_part), CHARACTER_WEIGHT * normalize(char_part)]
        if subject_part is not None:
            blocks.append(SUBJECT_WEIGHT * normalize(subject_part))
        return normalize(sp.hstack(blocks).tocsr())

    def word_names(self) -> np.ndarray:
        return self.words.get_feature_names_out()


@dataclass
class Found:
    """Themes found in a list of texts: each text's theme, and per theme its words and quotes."""

    labels: list[int]
    words: list[list[str]]
    quotes: list[list[int]]  # indexes of the texts closest to each theme's centre, closest first
    k: int
    silhouette: float | None


def _choose_k(z: np.ndarray, low: int, high: int, seed: int) -> tuple[int, float | None]:
    rng = np.random.default_rng(seed)
    sample = z if len(z) <= SILHOUETTE_SAMPLE else z[np.sort(rng.choice(len(z), SILHOUETTE_SAMPLE, replace=False))]
    best_k, best_score = low, None
    for k in range(low, high + 1):
        labels = KMeans(k, n_init=1, random_state=seed).fit_predict(sample)
        if not 2 <= len(set(labels)) < len(sample):  # the silhouette needs 2 to n - 1 groups
            continue
        score = float(silhouette_score(sample, labels, metric="cosine"))
        if best_score is None or score > best_score + 1e-9:
            best_k, best_score = k, score
    return best_k, best_score


def find(texts: list[str], *, k: int | None = None, seed: int = SEED,
         max_themes: int = MAX_THEMES) -> Found:
    """Group texts into themes (k of them, or as many as separate best), with words and quotes per theme."""
    # One thread for the numeric libraries: the analysis runs inside a web process or the command line
    # on a small server, and KMeans' default of a thread per core competes with everything else there.
    with threadpool_limits(limits=1):
        return _find(texts, k=k, seed=seed, max_themes=max_themes)


def _find(texts: list[str], *, k: int | None, seed: int, max_themes: int) -> Found:
    if not texts:
        return Found([], [], [], 0, None)
    fit_on = list(range(len(texts)))
    if len(texts) > FIT_SAMPLE:
        fit_on = sorted(np.random.default_rng(seed).choice(len(texts), FIT_SAMPLE, replace=False).tolist())
    sample = [texts[i] for i in fit_on]
    vectoriser = Vectoriser(names=names_in(sample))
    x_fit = vectoriser.fit_transform(sample)
    distinct = len({content(t, vectoriser.names) for t in sample})
    if distinct < 2:  # one theme: every answer says the same (or nothing the analysis can weigh)
        x = x_fit if len(fit_on) == len(texts) else vectoriser.transform(texts)
        words = label_words(vectoriser, x, np.zeros(len(texts), int), 0) if any(vectoriser.docs_seen) else []
        return Found([0] * len(texts), [words], [_distinct_quotes(texts, np.arange(len(texts)))], 1, None)
    dims = min(LSA_DIMENSIONS, x_fit.shape[1] - 1, x_fit.shape[0] - 1)
    svd = TruncatedSVD(dims, random_state=seed, algorithm="randomized", n_iter=4) if dims >= 2 else None
    z_fit = normalize(svd.fit_transform(x_fit)) if svd else x_fit.toarray()
    high = max(MIN_THEMES, min(max_themes, distinct - 1, int(np.sqrt(len(texts))) + 1))
    silhouette = None
    if k is None:
        k, silhouette = _choose_k(z_fit, min(MIN_THEMES, high), high, seed)
    k = max(1, min(k, distinct))
    model = KMeans(k, n_init=3, random_state=seed).fit(z_fit)
    if len(fit_on) == len(texts):
        x, z = x_fit, z_fit
    else:  # read the answers outside the sample once, and put every row back in the texts' order
        chosen = set(fit_on)
        rest = [i for i in range(len(texts)) if i not in chosen]
        order = np.argsort(np.array(fit_on + rest), kind="stable")
        x = sp.vstack([x_fit, vectoriser.transform([texts[i] for i in rest])]).tocsr()[order]
        z = normalize(svd.transform(x)) if svd else x.toarray()
    labels = _in_size_order(model.predict(z), k)
    centres = np.vstack([z[labels == j].mean(axis=0) if (labels == j).any() else np.zeros(z.shape[1])
                         for j in range(k)])
    centres = normalize(centres)
    quotes = []
    for j in range(k):
        members = np.flatnonzero(labels == j)
        closeness = z[members] @ centres[j]
        quotes.append(_distinct_quotes(texts, members[np.argsort(-closeness, kind="stable")]))
    return Found(labels.tolist(), [label_words(vectoriser, x, labels, j) for j in range(k)], quotes, k, silhouette)


def _in_size_order(labels: np.ndarray, k: int) -> np.ndarray:
    """Number themes biggest first (ties by their first answer), so the same answers give the same numbers."""
    sizes = np.bincount(labels, minlength=k)
    firsts = [int(np.flatnonzero(labels == j)[0]) if sizes[j] else len(labels) for j in range(k)]
    order = sorted(range(k), key=lambda j: (-sizes[j], firsts[j]))
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    return rank[labels]


def _distinct_quotes(texts: list[str], ranked: np.ndarray, n: int = QUOTES) -> list[int]:
    """The first n of the ranked texts that say something different (copies are quoted once)."""
    chosen, seen = [], set()
    for i in ranked:
        key = " ".join(_TOKEN.findall(fold(texts[i])))
        if key in seen:
            continue
        seen.add(key)
        chosen.append(int(i))
        if len(chosen) == n:
            break
    return chosen


def label_words(vectoriser: Vectoriser, x: sp.csr_matrix, labels: np.ndarray, j: int,
                n: int = LABEL_WORDS) -> list[str]:
    """The theme's most distinctive words: furthest above their average weight over all answers."""
    names = vectoriser.word_names()
    if len(names) == 0:
        return []
    words = x[:, : len(names)]
    inside = np.asarray(words[labels == j].mean(axis=0)).ravel()
    overall = np.asarray(words.mean(axis=0)).ravel()
    ranked = np.argsort(-(inside - overall), kind="stable")
    chosen: list[str] = []
    for index in ranked:
        if inside[index] <= 0 or len(chosen) == n:
            break
        term = str(names[index])
        # "street lights" makes "street" and "lights" say nothing new.
        parts = term.split()
        if any(term in c.split() or set(parts) <= set(c.split()) for c in chosen):
            continue
        chosen = [c for c in chosen if not set(c.split()) <= set(parts)]
        chosen.append(term)
    return chosen


@dataclass
class Assigner:
    """Puts new answers in existing themes: the nearest theme's centre, if the answer is close enough.

    Built once from the themes' current answers (the officer's moves and merges included); then each
    new answer costs one vectorising and one small matrix product. An answer fits a theme when it is
    at least as close to the centre as the least close tenth of the theme's own answers: a rule that
    follows how tight each theme is instead of one number for all, kept between 0.05 and 0.3 cosine
    (a theme of one or two identical answers would otherwise take nothing but copies).
    """

    vectoriser: Vectoriser
    centres: np.ndarray  # one unit row per theme
    floors: np.ndarray  # the least similarity that still fits, per theme
    theme_ids: list[int]

    @classmethod
    def build(cls, texts: list[str], theme_of: list[int]) -> Assigner | None:
        ids = sorted(set(theme_of))
        if not texts or not ids:
            return None
        vectoriser = Vectoriser(names=names_in(texts))
        x = vectoriser.fit_transform(texts)
        index = {t: i for i, t in enumerate(ids)}
        rows = np.array([index[t] for t in theme_of])
        centres = normalize(np.vstack([np.asarray(x[rows == i].mean(axis=0)) for i in range(len(ids))]))
        own = np.asarray((x.multiply(centres[rows])).sum(axis=1)).ravel()
        floors = np.array([min(MAX_FLOOR, max(MIN_FLOOR, float(np.quantile(own[rows == i], 0.1))))
                           for i in range(len(ids))])
        return cls(vectoriser, centres, floors, ids)

    def assign(self, texts: list[str]) -> list[tuple[int | None, float]]:
        """For each text, (theme id or None when it fits none, similarity to the nearest centre)."""
        if not texts:
            return []
        similarity = np.asarray(self.vectoriser.transform(texts) @ self.centres.T)
        out = []
        for row in similarity:
            best = int(np.argmax(row))
            fits = row[best] >= self.floors[best] and row[best] > 0
            out.append((self.theme_ids[best] if fits else None, float(row[best])))
        return out
