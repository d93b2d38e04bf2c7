"""Near-duplicate answers: campaign texts and copy-paste, grouped so each group is read once.

Exact copies (after folding case, accents, spacing and punctuation) are grouped by a dictionary.
Near copies ("I object to the closure of Bush Fair library!!" and "i object to the closure of bush
fair library, please reconsider") are found with rapidfuzz, a maintained C++ string matcher: its
`ratio` (normalised Indel similarity) of 90 or more counts as the same text. Comparing every pair
of 50,000 answers is 1.25 billion comparisons, so texts are only compared within blocks that
share their first or last 24 characters: a campaign text keeps its opening or its ending when
people add a word, which is what copy-paste looks like. Only texts of 40 characters or more are
compared this way: short answers ("the park", "street lights") are alike because they are short,
not because someone copied them, and they stay separate answers that simply land in one theme.
"""
from __future__ import annotations

import re

from rapidfuzz import fuzz, process

from engage.themes.words import fold

NEAR_SIMILARITY = 90  # rapidfuzz ratio, 0-100
MIN_LENGTH = 40  # characters of the folded text
BLOCK = 24  # characters a block shares at the start or the end
_NOT_WORD = re.compile(r"[\W_]+")


def normalised(text: str) -> str:
    """The text as copies are compared: folded, punctuation and extra spaces gone."""
    return _NOT_WORD.sub(" ", fold(text)).strip()


def group(texts: list[str]) -> list[int]:
    """For each text, the index of the first text of its group (itself when it has no copy)."""
    parent = list(range(len(texts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    keys = [normalised(t) for t in texts]
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            union(first[key], i)
        else:
            first[key] = i
    # Near copies: one text per exact group, long enough, blocked by its start and by its end.
    long_ones = [i for key, i in first.items() if len(key) >= MIN_LENGTH]
    for block_of in (lambda k: k[:BLOCK], lambda k: k[-BLOCK:]):
        blocks: dict[str, list[int]] = {}
        for i in long_ones:
            blocks.setdefault(block_of(keys[i]), []).append(i)
        for members in blocks.values():
            if len(members) < 2:
                continue
            leaders: list[int] = []
            leader_keys: list[str] = []
            for i in members:
                found = process.extractOne(keys[i], leader_keys, scorer=fuzz.ratio,
                                           score_cutoff=NEAR_SIMILARITY) if leaders else None
                if found is None:
                    leaders.append(i)
                    leader_keys.append(keys[i])
                else:
                    union(leaders[found[2]], i)
    return [find(i) for i in range(len(texts))]
