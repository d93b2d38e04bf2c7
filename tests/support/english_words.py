"""Find English UI words on a page shown in another language: any text equal to one of the English catalog's
messages that the language's catalog translates differently (a word kept the same, such as SMS, is a loanword)."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from locales.check_catalogs import ROOT, catalog_path
from locales.languages import BASE_LANGUAGE

POT = Path(__file__).resolve().parents[2] / "locales" / "messages.pot"
# Words the catalogs keep in English on purpose in some languages (names of things, not sentences).
LOANWORDS = frozenset({"SMS", "Telegram", "CSV", "XLSX", "OK", "Email", "E-mail"})

# Every piece of text a person meets: text nodes, and the attributes that are read out or shown.
VISIBLE_TEXT_JS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent && (parent.closest("script, style, template"))) { continue; }
    const text = node.textContent.trim();
    if (text) { out.push(text); }
  }
  for (const el of document.querySelectorAll("[aria-label], [title], [placeholder], [alt], input[type=submit]")) {
    for (const name of ["aria-label", "title", "placeholder", "alt", "value"]) {
      const value = el.getAttribute(name);
      if (value && (name !== "value" || el.type === "submit")) { out.push(value.trim()); }
    }
  }
  out.push(document.title.trim());
  return out;
}"""


@cache
def english_messages() -> frozenset[str]:
    """The English catalog's messages that can appear whole on a page (no placeholders)."""
    with POT.open("rb") as fh:
        catalog = read_po(fh)
    found = set()
    for message in catalog:
        ids = [message.id] if isinstance(message.id, str) else list(message.id or ())
        found.update(i for i in ids if i and "%(" not in i and "%s" not in i)
    return frozenset(found)


@cache
def kept_in_english(lang: str) -> frozenset[str]:
    """Messages the language's catalog deliberately keeps as they are (its translation is the English)."""
    with catalog_path(ROOT, lang).open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    return frozenset(m.id for m in catalog if isinstance(m.id, str) and m.id and m.string == m.id)


def english_on_page(page, lang: str) -> list[str]:
    """Return the English UI words a Playwright page shows although it is in `lang`.

    A message the catalog lacks or leaves empty is English on the page; one it translates as itself is a
    deliberate loanword.
    """
    if lang == BASE_LANGUAGE:
        return []
    allowed = LOANWORDS | kept_in_english(lang)
    found = []
    for text in page.evaluate(VISIBLE_TEXT_JS):
        for piece in {text, text.rstrip(":").strip(), text.rstrip(".").strip()}:
            if piece in english_messages() and piece not in allowed:
                found.append(piece)
                break
    return sorted(set(found))
