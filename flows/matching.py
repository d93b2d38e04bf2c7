"""Turn a resident's reply into an answer: pure functions, no state.

Every `match_*` returns a Match: the value and a confidence when the reply fits, else a reason
code (see REASONS) and its params, which the caller turns into words in the resident's language.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

# Reason codes, with a short English wording for tools (the simulator); real replies are translated elsewhere.
REASONS = {
    "empty": "The reply was empty.",
    "required": "This question needs an answer; it cannot be skipped.",
    "not_a_choice": "That is not one of the options.",
    "not_yes_no": "Please answer yes or no.",
    "not_a_number": "Please reply with a number.",
    "too_small": "That number is too small (lowest {min}).",
    "too_large": "That number is too big (highest {max}).",
    "too_long": "That reply is too long ({length} characters, at most {max_length}).",
    "too_few": "Please pick at least {min} options.",
    "too_many": "Please pick at most {max} options.",
    "unsure": "The reply says the resident does not know, and the question has no such option.",
}

# A fuzzy label match must reach this similarity (0-1) and beat the runner-up by MARGIN.
THRESHOLD = 0.74
MARGIN = 0.1
# How close a reply's core must be to a label for "not X" / "unX" to count as contradicting it.
CONTRADICTS = 0.85
# How close two labels' cores must be for one to be the other's opposite ("Safe" / "Unsafe", "Diogel" / "Anniogel").
OPPOSITES = 0.8

YES_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"y", "yes", "yeah", "yea", "yep", "yup", "ya", "yah", "yas", "ok", "okay", "k", "sure", "aye",
                     "of course", "yes please", "definitely", "certainly", "correct", "right", "true"}),
    "cy": frozenset({"ie", "do", "oes", "ydw", "yndw", "ydy", "yndy", "ydyn", "ydan", "ydych", "ydi", "iawn",
                     "gwnaf", "gwnes", "hoffwn", "cytuno", "wrth gwrs"}),
    "pl": frozenset({"tak", "no tak", "oczywiscie", "jasne"}),
    "ro": frozenset({"da", "sigur", "desigur"}),
    "pt": frozenset({"sim", "claro", "com certeza"}),
    "ur": frozenset({"ہاں", "جی", "جی ہاں", "haan", "han", "ha", "ji", "jee", "ji haan"}),
    "pa": frozenset({"ਹਾਂ", "ਜੀ", "ਜੀ ਹਾਂ", "haan", "han", "ha", "ji", "jee"}),
    "bn": frozenset({"হ্যাঁ", "হ্যা", "হাঁ", "জি", "hya", "ha", "haan", "ji"}),
    "ar": frozenset({"نعم", "ايوه", "أيوه", "اي", "naam", "na am", "aiwa", "aywa"}),
    "so": frozenset({"haa", "haah", "haye"}),
}
NO_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"n", "no", "nah", "nope", "naw", "no thanks", "no thank you", "not really", "never", "false",
                     "no way", "nay"}),
    "cy": frozenset({"na", "naddo", "nac oes", "nag oes", "nac ydw", "nag ydw", "nac ydy", "nag ydy", "nac ydyn",
                     "nac ydi", "nage", "dim diolch", "na diolch"}),
    "pl": frozenset({"nie", "nie dziekuje"}),
    "ro": frozenset({"nu", "nu multumesc"}),
    "pt": frozenset({"nao", "não", "nao obrigado", "nao obrigada"}),
    "ur": frozenset({"نہیں", "نہ", "nahi", "nahin", "nai", "na"}),
    "pa": frozenset({"ਨਹੀਂ", "ਨਾ", "nahi", "nahin", "nai", "na"}),
    "bn": frozenset({"না", "না না", "na", "naa"}),
    "ar": frozenset({"لا", "la", "laa"}),
    "so": frozenset({"maya", "mayo"}),
}
YES_EMOJI = frozenset({"👍", "✅", "✔", "☑", "🆗", "👌", "🙆"})
NO_EMOJI = frozenset({"👎", "❌", "✖", "🚫", "⛔", "🙅", "❎"})

# Words a resident can reply on an optional step to pass it by (officers may add more per flow/step).
SKIP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"skip", "pass"}),
    "cy": frozenset({"neidio", "hepgor", "sgipio"}),
    "pl": frozenset({"pomiń", "pomin", "dalej"}),
    "ro": frozenset({"sari", "sări", "omite"}),
    "pt": frozenset({"pular", "saltar"}),
}

# "Don't know" in each shipped language: the flow's don't-know option when it has one, else a re-prompt
# (never a No: "no idea" starts with "no"). Compared after dropping UNSURE_FILLERS ("I really don't know").
UNSURE_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"dont know", "do not know", "dunno", "dno", "idk", "no idea", "no clue", "not sure", "unsure",
                     "not certain", "uncertain", "cant say", "cannot say", "hard to say", "not a clue",
                     "havent a clue", "have no idea", "dont really know", "who knows", "no opinion"}),
    "cy": frozenset({"dim syniad", "ddim yn gwybod", "dim yn gwybod", "dwi ddim yn gwybod", "dw i ddim yn gwybod",
                     "dwn i ddim", "dwnim", "dwn im", "wn i ddim", "sai'n gwybod", "sai yn gwybod",
                     "sa i'n gwybod", "ddim yn siwr", "dim yn siwr", "ansicr", "dim clem", "does gen i ddim syniad",
                     "does dim syniad gen i"}),
    "pl": frozenset({"nie wiem", "nie mam pojecia", "nie jestem pewien", "nie jestem pewna", "trudno powiedziec",
                     "nie jestem pewny", "nie mam zdania"}),
    "ro": frozenset({"nu stiu", "nu știu", "nu sunt sigur", "nu sunt sigura", "habar n am", "habar nam",
                     "nu am idee", "nu am nicio idee", "nu as putea spune"}),
    "pt": frozenset({"nao sei", "não sei", "nao tenho certeza", "não tenho certeza", "nao faco ideia",
                     "não faço ideia", "sei la", "sei lá", "nao tenho a certeza", "não tenho a certeza"}),
    "ur": frozenset({"پتہ نہیں", "پتا نہیں", "معلوم نہیں", "مجھے نہیں پتا", "مجھے نہیں معلوم", "pata nahi",
                     "pata nahin", "maloom nahi", "malum nahi", "mujhe nahi pata"}),
    "pa": frozenset({"ਪਤਾ ਨਹੀਂ", "ਮੈਨੂੰ ਨਹੀਂ ਪਤਾ", "ਪੱਕਾ ਨਹੀਂ", "pata nahi", "pata nahin", "mainu nahi pata"}),
    "bn": frozenset({"জানি না", "জানিনা", "আমি জানি না", "নিশ্চিত না", "নিশ্চিত নই", "jani na", "janina",
                     "ami jani na"}),
    "ar": frozenset({"لا أعرف", "لا اعرف", "لا أدري", "لا ادري", "مش عارف", "ما بعرف", "مو متأكد", "لست متأكدا",
                     "لست متأكد", "لست متاكد", "ma aref", "mesh aref", "mish aarif"}),
    "so": frozenset({"ma garanayo", "garan maayo", "ma aqaan", "aqoon maayo", "ma hubo", "ma hubin", "ma ogi"}),
}
# Words around a "don't know" that change nothing ("um, I really don't know, sorry").
UNSURE_FILLERS = frozenset({"i", "im", "really", "honestly", "sorry", "just", "um", "umm", "erm", "hmm", "well",
                            "tbh", "genuinely", "at", "all", "mate", "to", "be", "honest", "afraid", "quite",
                            "totally", "completely", "yet", "any", "the", "answer", "sori", "wir", "naprawde",
                            "przepraszam", "chiar", "desculpe", "mesmo"})
# Stored values that mark a choice as the question's "don't know" option, whatever its label.
DONT_KNOW_VALUES = frozenset({"unsure", "dont_know", "don_t_know", "dontknow", "not_sure", "notsure", "dunno",
                              "unknown", "no_idea", "dk"})

# Number words 0-10 (and a few more in English); compounds ("twenty one", "dau ddeg un") are parsed.
NUMBER_WORDS: dict[str, dict[str, int]] = {
    "en": {"zero": 0, "nought": 0, "nil": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
           "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
           "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
           "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
           "ninety": 90, "hundred": 100},
    "cy": {"sero": 0, "un": 1, "dau": 2, "dwy": 2, "tri": 3, "tair": 3, "pedwar": 4, "pedair": 4, "pump": 5,
           "pum": 5, "chwech": 6, "chwe": 6, "saith": 7, "wyth": 8, "naw": 9, "deg": 10, "ddeg": 10, "deng": 10,
           "ugain": 20, "cant": 100},
    "pl": {"zero": 0, "jeden": 1, "jedna": 1, "jedno": 1, "dwa": 2, "dwie": 2, "trzy": 3, "cztery": 4, "pięć": 5,
           "sześć": 6, "siedem": 7, "osiem": 8, "dziewięć": 9, "dziesięć": 10},
    "ro": {"zero": 0, "unu": 1, "una": 1, "doi": 2, "două": 2, "trei": 3, "patru": 4, "cinci": 5, "șase": 6,
           "șapte": 7, "opt": 8, "nouă": 9, "zece": 10},
    "pt": {"zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "três": 3, "quatro": 4, "cinco": 5, "seis": 6,
           "sete": 7, "oito": 8, "nove": 9, "dez": 10},
}
# Words that multiply what comes before them: "dau ddeg" = 20, "two hundred" = 200.
_MULTIPLIERS = {"en": {"hundred": 100}, "cy": {"deg": 10, "ddeg": 10, "cant": 100}}

# "and" between picks of a multiple choice.
AND_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"and", "plus", "also"}),
    "cy": frozenset({"a", "ac", "hefyd"}),
    "pl": frozenset({"i", "oraz"}),
    "ro": frozenset({"si", "și"}),
    "pt": frozenset({"e"}),
}
# "All of them" for a multiple choice.
ALL_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"all", "all of them", "all of the above", "everything", "every one"}),
    "cy": frozenset({"pob un", "y cyfan", "i gyd", "nhw i gyd", "popeth"}),
    "pl": frozenset({"wszystkie", "wszystko"}),
    "ro": frozenset({"toate", "tot"}),
    "pt": frozenset({"todos", "todas", "tudo"}),
}

# Words that negate the rest of a reply ("not safe", "ddim yn ddiogel").
NEGATION_WORDS = frozenset({
    "not", "no", "never", "isnt", "arent", "dont", "doesnt", "didnt", "cant", "wont", "aint", "hardly",
    "ddim", "dim", "nid", "nad", "nie", "nu", "nao", "não",
})
# Prefixes that can negate one word ("unsafe", "anniogel", "niebezpieczny").
NEGATION_PREFIXES = ("un", "in", "im", "non", "dis", "an", "ann", "am", "di", "nie", "ne", "des")
# Words dropped before comparing a reply with labels ("I feel safe", "Dw i'n teimlo'n ddiogel").
FILLER_WORDS = frozenset({
    "i", "im", "am", "feel", "feels", "feeling", "it", "its", "is", "think", "my", "answer", "would", "say",
    "yn", "n", "dw", "dwi", "rwy", "rwyn", "rwyf", "teimlo", "teimlon", "fy", "ateb", "mae", "fe", "fi",
})
# Words of degree, also dropped when comparing ("very unsafe" is still Unsafe), in one extra reading.
INTENSIFIERS = frozenset({"very", "really", "quite", "so", "totally", "extremely", "fairly", "pretty", "bit",
                          "slightly", "iawn", "eithaf", "braidd", "reit", "bardzo", "foarte", "muito"})
_NUMBER_FILLERS = frozenset({"about", "around", "roughly", "approx", "approximately", "years", "year", "yrs",
                             "old", "and", "tua", "oed", "mlwydd", "mlynedd", "blwydd", "ac", "a"})


@dataclass(frozen=True)
class Match:
    """The outcome of matching a reply: a value and confidence, or a reason code with params."""

    value: Any = None
    confidence: float = 0.0
    reason: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason is None


class ChoiceLike(Protocol):
    value: str
    labels: Mapping[str, str]


def _no(reason: str, **params: Any) -> Match:
    return Match(reason=reason, params=params)


# ---------------------------------------------------------------- normalising


_LATIN_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ı": "i", "æ": "ae",
                             "œ": "oe", "’": "'", "‘": "'", "`": "'"})
_KEYCAP = re.compile("([0-9#*])\ufe0f?\u20e3")
_EMOJI_NOISE = re.compile("[\ufe0f\ufe0e\u200d\U0001f3fb-\U0001f3ff]")


def fold(text: str) -> str:
    """Casefold and drop accents from Latin letters only (Bengali or Panjabi vowel signs are kept)."""
    text = unicodedata.normalize("NFKC", text).translate(_LATIN_FOLD)
    out: list[str] = []
    base = ""
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(ch):
            if base and ord(base) < 0x250:
                continue
        else:
            base = ch
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)).casefold()


def _ascii_digits(text: str) -> str:
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() and not ch.isascii() else ch for ch in text)


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Return the reply folded to lower-case words and digits separated by single spaces."""
    # Cached: choice labels are normalised on every match, and replies repeat ("1", "yes").
    text = _KEYCAP.sub(r"\1", text.replace("🔟", "10"))
    text = _ascii_digits(fold(text)).replace("'", "")
    kept = [ch if unicodedata.category(ch)[0] in "LNM" else " " for ch in text]
    return " ".join("".join(kept).split())


def _fold_set(words: Iterable[str]) -> frozenset[str]:
    return frozenset(normalize(w) for w in words)


_YES = {lang: _fold_set(words) for lang, words in YES_WORDS.items()}
_NO = {lang: _fold_set(words) for lang, words in NO_WORDS.items()}
_SKIP = _fold_set(w for words in SKIP_WORDS.values() for w in words)
_NUMBERS = {lang: {normalize(w): v for w, v in words.items()} for lang, words in NUMBER_WORDS.items()}
_AND = {lang: _fold_set(words) for lang, words in AND_WORDS.items()}
_ALL = _fold_set(w for words in ALL_WORDS.values() for w in words)
_NEGATIONS = _fold_set(NEGATION_WORDS)
_UNSURE_FILLERS = _fold_set(UNSURE_FILLERS)


def _unsure_key(norm: str) -> str:
    return " ".join(w for w in norm.split() if w not in _UNSURE_FILLERS)


_UNSURE = frozenset(_unsure_key(normalize(w)) for words in UNSURE_WORDS.values() for w in words)


def is_unsure(text: str) -> bool:
    """Return True when the whole reply says "don't know" in a shipped language ("no idea", "nie wiem")."""
    key = _unsure_key(normalize(text or ""))
    return bool(key) and key in _UNSURE


def _lang_order(langs: Sequence[str], table: Mapping[str, Any]) -> list[str]:
    """Return the resident's languages first, then every other language of the table."""
    first = [lang for lang in dict.fromkeys(langs) if lang in table]
    return first + [lang for lang in table if lang not in first]


def similarity(a: str, b: str) -> float:
    """Return 0-1: the better of Indel ratio and OSA (which counts a swapped pair as one edit)."""
    return max(fuzz.ratio(a, b) / 100, OSA.normalized_similarity(a, b))


# ---------------------------------------------------------------- numbers


def words_to_number(words: Sequence[str], langs: Sequence[str] = ("en",)) -> int | None:
    """Return the number spelt by these normalised words in the first language that parses them."""
    for lang in dict.fromkeys(langs):
        table, multipliers = _NUMBERS.get(lang), _MULTIPLIERS.get(lang, {})
        if not table:
            continue
        total: int | None = None
        for word in words:
            if word in ("and", "ac", "a") and total is not None:
                continue
            value = table.get(word)
            if value is None:
                total = None
                break
            if total is None:
                total = value
            elif word in multipliers and 1 <= total < 10:
                total *= multipliers[word]
            elif total % 100 == 0 and value < 100 or total % 10 == 0 and total >= 10 and value < 10:
                total += value
            else:
                total = None
                break
        if total is not None:
            return total
    return None


_NUMBER_TOKEN = re.compile(r"(?<![\w.,])[-+]?\d+(?:[.,]\d+)*(?![\w])|(?<![\w.,])[-+]?[.,]\d+(?![\w])")


def _parse_number_token(token: str) -> float | None:
    sign = -1 if token.startswith("-") else 1
    token = token.lstrip("+-")
    if "," in token and "." in token:
        token = token.replace(",", "")
    elif "," in token:
        # 1,000 and 12,500,000 are thousands; 7,5 is a decimal comma (Polish, Romanian, Portuguese).
        token = token.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", token) else token.replace(",", ".")
    elif token.count(".") > 1:
        token = token.replace(".", "")
    try:
        return sign * float(token)
    except ValueError:
        return None


def _find_number(text: str, langs: Sequence[str]) -> tuple[float | None, float]:
    """Return (number, confidence) read from a reply, or (None, 0) when there is none or several."""
    prepared = _ascii_digits(_KEYCAP.sub(r"\1", unicodedata.normalize("NFKC", text).replace("🔟", "10"))).strip()
    prepared = re.sub(r"^[£$€]\s*|\s*[%£$€]$", "", prepared)
    tokens = _NUMBER_TOKEN.findall(prepared)
    if len(tokens) == 1:
        value = _parse_number_token(tokens[0])
        rest = normalize(_NUMBER_TOKEN.sub(" ", prepared))
        return value, 1.0 if not rest else 0.9
    if tokens:
        return None, 0.0
    words = normalize(text).split()
    if not words:
        return None, 0.0
    whole = words_to_number(words, langs)
    if whole is not None:
        return float(whole), 0.95
    # One run of number words inside other words: "about twenty years".
    content = [w for w in words if w not in _NUMBER_FILLERS]
    if content and len(content) < len(words):
        value = words_to_number(content, langs)
        if value is not None:
            return float(value), 0.85
    return None, 0.0


def match_number(text: str, min: float | None = None, max: float | None = None, integer: bool = False,
                 langs: Sequence[str] = ("en",)) -> Match:
    """Match a number typed as digits ("7", "7.5", "7,5") or words ("seven", "saith", "dau ddeg")."""
    if not text or not text.strip():
        return _no("empty")
    value, confidence = _find_number(text, langs)
    if value is None:
        return _no("unsure") if is_unsure(text) else _no("not_a_number")
    if value.is_integer():
        value = int(value)
    elif integer:
        return _no("not_a_number", integer=True, value=value)
    if min is not None and value < min:
        return _no("too_small", min=min, max=max, value=value)
    if max is not None and value > max:
        return _no("too_large", min=min, max=max, value=value)
    return Match(value, confidence)


_OUT_OF = re.compile(r"^\s*(\d+)\s*(?:/|out of|allan o|o)\s*(\d+)\s*$", re.IGNORECASE)


def match_scale(text: str, min: int, max: int, labels: Mapping[int, Mapping[str, str]] | None = None,
                langs: Sequence[str] = ("en",)) -> Match:
    """Match a point on a scale: a whole number ("4", "four", "4/5") or one of its labels ("very good")."""
    out_of = _OUT_OF.match(_ascii_digits(text or ""))
    if out_of and int(out_of.group(2)) == max:
        text = out_of.group(1)
    number = match_number(text, min, max, integer=True, langs=langs)
    if number.ok or number.reason != "not_a_number" or not labels:
        return number
    points = [_Point(str(point), texts) for point, texts in labels.items()]
    label = match_choice(text, points, langs, numbered=False)
    if label.ok:
        return Match(int(label.value), label.confidence)
    return label if label.reason == "unsure" else number


@dataclass(frozen=True)
class _Point:
    value: str
    labels: Mapping[str, str]


# ---------------------------------------------------------------- yes / no


def match_yes_no(text: str, langs: Sequence[str] = ("en",), numbered: bool = True) -> Match:
    """Match yes/no in the resident's language first, then any known language; 👍/👎 too.

    With `numbered`, "1" is yes and "2" is no (the order the options are shown in).
    """
    if not text or not text.strip():
        return _no("empty")
    bare = _EMOJI_NOISE.sub("", text).strip()
    if bare and all(ch in YES_EMOJI or ch.isspace() for ch in bare):
        return Match(True, 1.0)
    if bare and all(ch in NO_EMOJI or ch.isspace() for ch in bare):
        return Match(False, 1.0)
    norm = normalize(text)
    if numbered and norm in ("1", "2"):
        return Match(norm == "1", 1.0)
    if is_unsure(norm):
        # "no idea" is not a No; a yes/no question has no don't-know option, so it is asked again.
        return _no("unsure")
    order = _lang_order(langs, _YES)
    for candidate in (norm, re.sub(r"(.)\1+", r"\1", norm)):
        for lang in order:
            if candidate in _YES[lang]:
                return Match(True, 1.0 if candidate == norm else 0.9)
            if candidate in _NO.get(lang, ()):
                return Match(False, 1.0 if candidate == norm else 0.9)
    # "yes please do", "no not at all": a yes/no word first, nothing contrary after it.
    words = norm.split()
    for size in (3, 2, 1):
        head, tail = " ".join(words[:size]), words[size:]
        if len(words) <= size:
            continue
        for lang in order:
            answer = True if head in _YES[lang] else False if head in _NO.get(lang, ()) else None
            if answer is None:
                continue
            contrary = _NO if answer else _YES
            if any(w in contrary[other] for w in tail for other in contrary):
                return _no("not_yes_no")
            return Match(answer, 0.9)
    return _no("not_yes_no")


# ---------------------------------------------------------------- skip, text


def is_skip_word(text: str, extra: Iterable[str] = ()) -> bool:
    """Return True when the reply is a skip word in any language ("SKIP", "NEIDIO") or one of `extra`."""
    norm = normalize(text or "")
    return bool(norm) and (norm in _SKIP or any(normalize(w) == norm for w in extra))


def match_text(text: str, max_length: int | None = None) -> Match:
    """Accept free text, trimmed; reject it when empty or longer than max_length characters."""
    value = (text or "").strip()
    if not value:
        return _no("empty")
    if max_length is not None and len(value) > max_length:
        return _no("too_long", max_length=max_length, length=len(value))
    return Match(value, 1.0)


# ---------------------------------------------------------------- choices


def _readings(norm: str) -> list[tuple[bool, str]]:
    """Return (negated, core) readings: "not safe" -> (True, "safe"); "unsafe" -> also (True, "safe")."""
    words = norm.split()
    negated = any(w in _NEGATIONS for w in words)
    content = [w for w in words if w not in _NEGATIONS and w not in FILLER_WORDS]
    core = " ".join(content) or norm
    readings = [(negated, core)]
    plain = [w for w in content if w not in INTENSIFIERS]
    if plain and len(plain) < len(content):
        readings.append((negated, " ".join(plain)))
        content = plain
    if len(content) == 1:
        word = content[0]
        readings += [(not negated, word[len(p):]) for p in NEGATION_PREFIXES
                     if word.startswith(p) and len(word) - len(p) >= 3]
    return readings


# id(choice) -> (choice, its normalised texts); the choice is kept so its id cannot be reused meanwhile.
_CHOICE_TEXTS: dict[int, tuple[ChoiceLike, list[str]]] = {}


def _choice_texts(choice: ChoiceLike) -> list[str]:
    cached = _CHOICE_TEXTS.get(id(choice))
    if cached is not None and cached[0] is choice:
        return cached[1]
    texts = [*choice.labels.values(), str(choice.value)]
    for words in getattr(choice, "synonyms", {}).values():
        texts.extend(words)
    normalised = [n for n in dict.fromkeys(normalize(t) for t in texts) if n]
    if len(_CHOICE_TEXTS) >= 10000:
        # Flows are reloaded rarely; a full cache is simply started again.
        _CHOICE_TEXTS.clear()
    _CHOICE_TEXTS[id(choice)] = (choice, normalised)
    return normalised


def _are_opposites(a: list[str], b: list[str]) -> bool:
    return any(na != nb and similarity(ca, cb) >= OPPOSITES
               for x in a for y in b for na, ca in _readings(x) for nb, cb in _readings(y))


# "2", "no 2", "option 2", "rhif 2"; "b", "option b".
_INDEX = re.compile(r"^(?:(?:no|number|option|opsiwn|rhif)\s*)?(\d+)$|^(?:(?:option|opsiwn)\s+)?([a-z])$")


def _index_from(norm: str, count: int, langs: Sequence[str]) -> int | None:
    """Return the 1-based option a reply names by number, letter or number word."""
    found = _INDEX.match(norm)
    if found:
        index = int(found.group(1)) if found.group(1) else ord(found.group(2)) - ord("a") + 1
        return index if 1 <= index <= count else None
    value = words_to_number(norm.split(), langs)
    return value if value is not None and 1 <= value <= count else None


def dont_know_choice(choices: Sequence[ChoiceLike]) -> int | None:
    """Return the index of the question's one "don't know" option (by value or label), or None."""
    found = [i for i, c in enumerate(choices)
             if str(c.value).casefold() in DONT_KNOW_VALUES or any(_unsure_key(t) in _UNSURE for t in _choice_texts(c))]
    return found[0] if len(found) == 1 else None


# Negations that put a label they come shortly before into doubt ("don't feel safe"). "No" is left out: it
# is more often an answer of its own ("No, I feel safe").
_SCOPE_NEGATIONS = _NEGATIONS - {"no", "dim"}
_CLAUSES = re.compile(r"[,.;:!?\n()]+|\bbut\b|\bond\b|\bale\b|\bdar\b|\bmas\b")


def _label_mentions(text: str, texts: Sequence[Sequence[str]]) -> tuple[set[int], set[int]]:
    """Return (options whose label is a whole-word part of the reply, those named right after a negation).

    "I feel unsafe at night" names Unsafe only: "safe" is not a word of it. A label inside a longer
    label that is also named ("safe" in "very safe") does not count.
    """
    clauses = [normalize(part).split() for part in _CLAUSES.split(fold(text))]
    hits: list[tuple[int, int, int, int, bool]] = []  # (option, clause, start, end, negated)
    for option, labels in enumerate(texts):
        for label in labels:
            words = label.split()
            if len(label) < 2 or label.isdigit():
                continue
            for c, clause in enumerate(clauses):
                for start in range(len(clause) - len(words) + 1):
                    if clause[start:start + len(words)] == words:
                        negated = any(w in _SCOPE_NEGATIONS for w in clause[max(0, start - 3):start])
                        hits.append((option, c, start, start + len(words), negated))
    kept = [h for h in hits
            if not any(o[1] == h[1] and o[2] <= h[2] and h[3] <= o[3] and o[3] - o[2] > h[3] - h[2] for o in hits)]
    return {h[0] for h in kept if not h[4]}, {h[0] for h in kept if h[4]}


# Words around one number that make a label a range: before ("under 18") or after ("65 or over").
_BELOW_BEFORE = ("under", "below", "less than", "fewer than", "younger than", "o dan", "dan", "llai na", "iau na",
                 "ponizej", "mniej niz", "sub", "mai putin de", "menos de", "abaixo de")
_ATMOST_BEFORE = ("up to", "hyd at", "do", "pana la", "ate")
_ABOVE_BEFORE = ("over", "above", "more than", "older than", "dros", "mwy na", "hyn na", "powyzej", "wiecej niz",
                 "peste", "mai mult de", "mais de", "acima de")
_ATLEAST_AFTER = ("or over", "and over", "or older", "and older", "or more", "and more", "or above", "and above",
                  "plus", "neu hyn", "a throsodd", "neu drosodd", "neu fwy", "ac yn hyn", "i wiecej", "lub wiecej",
                  "i starsi", "lub starsi", "si peste", "sau mai mult", "sau peste", "ou mais", "e mais")
_ATMOST_AFTER = ("or under", "and under", "or younger", "and younger", "or less", "or fewer", "and below",
                 "neu iau", "neu lai", "i mniej", "lub mniej", "i mlodsi", "sau mai putin", "ou menos")
_BETWEEN = ("to", "i", "a", "and", "ac", "do", "la", "si", "e", "ate", "between", "rhwng", "od", "de", "entre",
            "intre")
_UNITS = ("years", "year", "yrs", "yr", "old", "years old", "oed", "mlwydd", "mlwydd oed", "mlynedd", "lat", "ani",
          "anos", "aged", "age", "ages")
_INF = float("inf")


def _words_match(words: list[str], table: Sequence[str]) -> bool:
    return " ".join(words) in table


@lru_cache(maxsize=4096)
def numeric_range(label: str) -> tuple[float, float, bool, bool] | None:
    """Return (low, high, low included, high included) for a label that is a range of numbers, else None.

    "18 to 64", "18-64", "65+", "65 or over", "Under 18", "O dan 18", "65 neu hŷn", "powyżej 65".
    Written by hand: no maintained library reads ranges out of survey labels in these languages.
    """
    text = fold(label).replace("+", " plus ").replace("–", "-").replace("—", "-")
    text = re.sub(r"(?<=\d)\s*-\s*(?=\d)", " to ", text)
    words = normalize(text).split()
    while words and words[-1] in _UNITS:
        words.pop()
    while words and words[0] in _UNITS:
        words.pop(0)
    numbers = [i for i, w in enumerate(words) if re.fullmatch(r"\d+", w)]
    if not numbers or len(numbers) > 2:
        return None
    first = numbers[0]
    if len(numbers) == 2:
        second = numbers[1]
        between = words[first + 1:second]
        if second != len(words) - 1 or not between or not all(w in _BETWEEN for w in between):
            return None
        if any(w not in _BETWEEN for w in words[:first]):
            return None
        low, high = sorted((float(words[first]), float(words[second])))
        return low, high, True, True
    value = float(words[first])
    before, after = words[:first], words[first + 1:]
    if not before and not after:
        return value, value, True, True
    if not after and _words_match(before, _BELOW_BEFORE):
        return -_INF, value, False, False
    if not after and _words_match(before, _ATMOST_BEFORE):
        return -_INF, value, False, True
    if not after and _words_match(before, _ABOVE_BEFORE):
        return value, _INF, False, False
    if not before and _words_match(after, _ATLEAST_AFTER):
        return value, _INF, True, False
    if not before and _words_match(after, _ATMOST_AFTER):
        return -_INF, value, False, True
    return None


def _in_range(value: float, bounds: tuple[float, float, bool, bool]) -> bool:
    low, high, low_in, high_in = bounds
    return (low < value or (low_in and low == value)) and (value < high or (high_in and high == value))


def _match_range(text: str, choices: Sequence[ChoiceLike], langs: Sequence[str]) -> Match | None:
    """Match a number ("45", "I'm 70", "saith deg") to the one option whose range holds it, when two or
    more options are ranges of numbers (age bands); None when the question is not like that."""
    ranges: list[tuple[int, tuple[float, float, bool, bool]]] = []
    for i, choice in enumerate(choices):
        bounds = next((b for b in map(numeric_range, choice.labels.values()) if b is not None), None)
        if bounds is not None:
            ranges.append((i, bounds))
    if len(ranges) < 2:
        return None
    value, confidence = _find_number(text, langs)
    if value is None:
        return None
    holding = [i for i, bounds in ranges if _in_range(value, bounds)]
    if len(holding) != 1:
        return None
    return Match(choices[holding[0]].value, round(min(confidence, 0.9), 3))


def match_choice(text: str, choices: Sequence[ChoiceLike], langs: Sequence[str] = ("en",),
                 numbered: bool = True) -> Match:
    """Match one option by number ("2", "B)", "two", "dau", 2️⃣), label in any language, or a close typo.

    `langs` is the resident's language then the base language: number words are read in those.
    With `numbered` False only labels count (used for scale labels).
    """
    norm = normalize(text or "")
    if not norm:
        return _no("empty")
    texts = [_choice_texts(c) for c in choices]
    if numbered and _INDEX.match(norm):
        index = _index_from(norm, len(choices), langs)
        if index is not None:
            return Match(choices[index - 1].value, 1.0)

    exact = [i for i, t in enumerate(texts) if norm in t]
    if len(exact) == 1:
        return Match(choices[exact[0]].value, 1.0)
    if numbered:
        index = _index_from(norm, len(choices), langs)
        if index is not None:
            return Match(choices[index - 1].value, 0.95)
    if is_unsure(norm):
        unsure = dont_know_choice(choices)
        return Match(choices[unsure].value, 0.95) if unsure is not None else _no("unsure")
    in_range = _match_range(text, choices, langs)
    if in_range is not None:
        return in_range
    named, named_negated = _label_mentions(text, texts)
    if len(named) == 1 and not named & named_negated:
        return Match(choices[next(iter(named))].value, 0.9)

    scores = [0.0] * len(choices)
    # A label named after "not" ("I don't feel safe at night") counts against that option.
    contradicted: set[int] = set(named_negated - named)
    reply = _readings(norm)
    for i, labels in enumerate(texts):
        for label in labels:
            for k, (neg_l, core_l) in enumerate(_readings(label)):
                for j, (neg_r, core_r) in enumerate(reply):
                    score = similarity(core_r, core_l)
                    if neg_r != neg_l:
                        if score >= CONTRADICTS:
                            contradicted.add(i)
                        continue
                    if len(core_r) < 3 and score < 1:
                        continue
                    # A whole-reply match keeps its score; a derived reading is a little less sure.
                    scores[i] = max(scores[i], score if j == k == 0 and core_r == norm else min(score, 0.95))
            if len(norm) >= 3 and label.startswith(norm):
                scores[i] = max(scores[i], 0.8)
    # "not safe" contradicts Safe: it means Safe's opposite, when the options have exactly one.
    for a in contradicted:
        opposites = [b for b in range(len(choices)) if b != a and _are_opposites(texts[a], texts[b])]
        if len(opposites) == 1 and opposites[0] not in contradicted:
            scores[opposites[0]] = max(scores[opposites[0]], 0.9)
    ranked = sorted(((s, i) for i, s in enumerate(scores) if i not in contradicted), reverse=True)
    if ranked and ranked[0][0] >= THRESHOLD and (len(ranked) == 1 or ranked[0][0] - ranked[1][0] >= MARGIN):
        return Match(choices[ranked[0][1]].value, round(ranked[0][0], 3))
    return _no("not_a_choice", count=len(choices))


def _split_words(words: list[str], separators: frozenset[str]) -> list[list[str]]:
    """Split on separator words that stand between two other words ("1 a 3"), never at an end."""
    parts: list[list[str]] = [[]]
    for i, word in enumerate(words):
        if word in separators and 0 < i < len(words) - 1 and parts[-1]:
            parts.append([])
        else:
            parts[-1].append(word)
    return [p for p in parts if p]


def match_multiple(text: str, choices: Sequence[ChoiceLike], langs: Sequence[str] = ("en",),
                   min: int | None = None, max: int | None = None) -> Match:
    """Match several options: "1 and 3", "1,3", "1 3", "1 & 3", "13", "safe and unsure", "1 a 3", "all"."""
    norm = normalize(text or "")
    if not norm:
        return _no("empty")
    if norm in _ALL:
        values = [c.value for c in choices]
        confidence = 1.0
    else:
        whole = match_choice(text, choices, langs)
        if whole.reason == "unsure":
            return whole
        if whole.ok and whole.confidence >= 0.95:
            values, confidence = [whole.value], whole.confidence
        else:
            found = _match_parts(text, choices, langs)
            if isinstance(found, str):
                return _no("not_a_choice", count=len(choices), part=found)
            picked, confidence = found
            values = [c.value for c in choices if c.value in picked]
    if min is not None and len(values) < min:
        return _no("too_few", min=min, max=max, count=len(values))
    if max is not None and len(values) > max:
        return _no("too_many", min=min, max=max, count=len(values))
    return Match(values, confidence)


def _match_parts(text: str, choices: Sequence[ChoiceLike], langs: Sequence[str]) -> tuple[set, float] | str:
    """Return the picked values and the least confidence, or the first part that matched nothing."""
    separators = frozenset().union(*(_AND.get(lang, frozenset()) for lang in langs))
    picked: set = set()
    confidence = 1.0
    for chunk in re.split(r"[,;&+/|\n]+", _KEYCAP.sub(r"\1", text)):
        chunk_words = normalize(chunk).split()
        if not chunk_words:
            continue
        whole = match_choice(" ".join(chunk_words), choices, langs)
        if whole.ok and whole.confidence >= 0.95:
            picked.add(whole.value)
            continue
        for words in _split_words(chunk_words, separators):
            part = " ".join(words)
            # "13" for options 1 and 3 when there are fewer than ten.
            if part.isdigit() and len(part) > 1 and int(part) > len(choices) and len(choices) < 10:
                if all(1 <= int(d) <= len(choices) for d in part):
                    picked.update(choices[int(d) - 1].value for d in part)
                    confidence = min(confidence, 0.8)
                    continue
            found = match_choice(part, choices, langs)
            if found.ok:
                picked.add(found.value)
                confidence = min(confidence, found.confidence)
                continue
            # "1 3", "safe unsure": every word on its own.
            singles = [match_choice(w, choices, langs) for w in words] if len(words) > 1 else []
            if singles and all(m.ok for m in singles):
                picked.update(m.value for m in singles)
                confidence = min(confidence, *(m.confidence for m in singles))
                continue
            return part
    return picked, confidence
