"""Words the theme analysis leaves out or reads as one: stop words per language, and a small glossary.

Stop words: scikit-learn ships English ones (ENGLISH_STOP_WORDS); it has none for Welsh or Polish,
and the packages that do (NLTK's corpora, spaCy models) download data at run time or weigh hundreds
of megabytes, so the short Welsh and Polish lists are written here. They are the function words of
short answers (articles, pronouns, "is", "very", "please"), written without accents because the
analysis folds accents before it compares words (so "ŵ" and "w", "ś" and "s" read the same).

Glossary: residents answer the same question in English, Welsh and Polish. Character n-grams let
"parc" meet "park" and "bysiau" meet "bus", but "golau" will never look like "light". A short list
of the words council consultations are about (lighting, roads, rubbish, parks, buses, police,
housing, safety, health...) adds the English word beside the Welsh or Polish one, so answers in
those languages share features with English answers about the same thing. It never replaces the
resident's words (quotes and labels show what was written) and it is not fitted to any answers:
add a line when a consultation's subject needs one. Written by hand because the alternatives
(translation models, multilingual embeddings) are large downloads or cloud services.
"""
from __future__ import annotations

import re
import unicodedata

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

WELSH_STOP_WORDS = frozenset("""
a ac ag am ar at au bod bob byddai bydd cael chi chwi da dan de dim does dros dy e ef efo ei eich ein eu
fe fi fod fy gan gyda gydag hefyd hi hwn hwnna hyn hynny i iawn ie in lle llawer mae maen mai mewn mi mor
na nad nage nawr neu ni nid o oedd oes ohono os pa pan pe pob pwy rhy rwy rydw rydyn sef sy sydd ti
trwy tu tuag un wedi wrth y yma ychydig yn yna ydi ydw ydy ydych yr yw ym ymhob plis diolch angen
""".split())

POLISH_STOP_WORDS = frozenset("""
a aby ale bardzo bez by byc byl byla bylo byly co czy dla do go i ich im ja jak jakis jednak jego jej
jest jestem juz ktora ktore ktory ma mam mi mnie moj moze my na nad nam nas nasz nie nic no o od on ona
one oni oraz po pod prosze przez przy sa sie sobie tak tam te tego tej ten to tu tych tylko ty u w we
wiec wszystko z za ze zeby
""".split())

# Spoken words of answers that say nothing about the topic, in English ("please sort out", "I think").
ANSWER_FILLER = frozenset("""
think honestly please sort really definitely mainly council look biggest worry thanks thank just like
lot need needs want get got make always never every single day been months weeks reported twice nobody
listens disgrace fix better sort
""".split())


def fold(text: str) -> str:
    """Lower case with accents taken off (ŵ -> w, ś -> s, ł -> l), the form words are compared in."""
    if text.isascii():  # most answers: nothing to take off
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("ł", "l")


STOP_WORDS = frozenset(fold(w) for w in ENGLISH_STOP_WORDS | WELSH_STOP_WORDS | POLISH_STOP_WORDS | ANSWER_FILLER)

# Subject -> stems of words that name it, in English, Welsh (with the mutated forms of a stem where
# they differ) and Polish; a stem matches at the start of a folded word, so endings and plurals
# ("goleuadau", "oleuadau"; "latarnie", "latarni"; "potholes") are caught by one entry.
SUBJECTS: dict[str, tuple[str, ...]] = {
    "light": ("light", "lamp", "lit ", "unlit", "dark", "dim ", "golau", "goleu", "oleu", "ngolau", "tywyll",
              "dywyll", "latarn", "oswietl", "ciemn"),
    "road": ("road", "pothole", "tarmac", "resurfac", "pavement", "paving", "kerb", "ffordd", "ffyrdd", "twll",
             "tyllau", "palmant", "dziur", "jezdn", "chodnik"),
    "rubbish": ("rubbish", "litter", "bin ", "bins", "fly tip", "fly-tip", "dump", "recycl", "sbwriel", "finiau",
                "biniau", "tipio", "smiec", "kosz", "wysypisk"),
    "park": ("park ", "parks", "playground", "play area", "swings", "grass", "green space", "woodland", "trees",
             "bench", "parc", "chwarae", "coed", "meinciau", "plac zabaw", "drzew", "lawk"),
    "bus": ("bus", "transport", "fares", "bws", "bysiau", "fysiau", "autobus"),
    "police": ("police", "patrol", "gang", "youths", "drug", "antisocial", "crime", "cctv", "heddlu", "cyffur",
               "gwrthgymdeithas", "policj", "narkoty", "mlodziez"),
    "housing": ("damp", "mould", "repair", "boiler", "heating", "leak", "ceiling", "lleithder", "llwydni",
                "atgyweir", "boeler", "gwres", "wilgo", "plesn", "napraw", "bojler", "ogrzewan"),
    "safe": ("safe", "unsafe", "diogel", "bezpiecz"),
    "flood": ("flood", "llifogydd", "powodz"),
    "school": ("school", "ysgol", "szkol"),
}
# A stem ending in a space is a whole word ("lit", not "litter"; "bin", not "binding").
GLOSSARY = {stem.strip(): subject for subject, stems in SUBJECTS.items() for stem in stems}
_WHOLE = sorted((stem.strip() for stems in SUBJECTS.values() for stem in stems if stem.endswith(" ")), key=len,
                reverse=True)
_STEMS = sorted((stem for stems in SUBJECTS.values() for stem in stems if not stem.endswith(" ")), key=len,
                reverse=True)
_GLOSSARY_RE = re.compile(r"\b(?:(" + "|".join(map(re.escape, _WHOLE)) + r")\b|(" + "|".join(map(re.escape, _STEMS))
                          + r")\w*)")


def subjects_in(folded: str) -> list[str]:
    """The glossary's subjects named in a folded text, in order ("goleuadau wedi torri" -> ["light"])."""
    return [GLOSSARY[m.group(1) or m.group(2)] for m in _GLOSSARY_RE.finditer(folded)]
