"""The catalog check CI runs: a stale messages.pot, missing, fuzzy or empty translations, wrong placeholders."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from locales.check_catalogs import ROOT, catalog_path, check, extract, main, shipped_languages
from locales.languages import BY_CODE

MODULE = '''from locales import i18n

_ = i18n.N_
GREETING = _("Hello %(name)s")


def answers(lang, n):
    return i18n.ngettext(lang, "%(num)s answer", "%(num)s answers", n)


def closed(lang, date):
    return i18n.gettext(lang, "Closed on %(date)s.", date=date)
'''


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project's extraction set-up with one small module and complete catalogs."""
    shutil.copy(ROOT / "babel.cfg", tmp_path / "babel.cfg")
    (tmp_path / "engage").mkdir()
    (tmp_path / "engage" / "words.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "locales").mkdir()
    assert main(["--update", "--root", str(tmp_path)]) == 0
    fill_catalogs(tmp_path)
    return tmp_path


def edit_catalog(root: Path, lang: str, edit) -> None:
    path = catalog_path(root, lang)
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    edit(catalog)
    with path.open("wb") as fh:
        write_po(fh, catalog)


def fill_catalogs(root: Path) -> None:
    """Translate every message the way a translator would: all plural forms, every placeholder kept."""
    for lang in shipped_languages(root):
        def fill(catalog, lang=lang):
            for message in catalog:
                if not message.id:
                    continue
                if message.pluralizable:
                    message.string = tuple(f"[{lang}{i}] %(num)s" for i in range(catalog.num_plurals))
                else:
                    message.string = f"[{lang}] {message.id}"
        edit_catalog(root, lang, fill)


def test_the_keywords_find_markers_and_language_first_calls(project):
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in extract(project) if m.id}
    assert ids == {"Hello %(name)s", "%(num)s answer", "Closed on %(date)s."}


def test_complete_catalogs_pass(project, capsys):
    assert check(project) == []
    assert main(["--root", str(project)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_new_string_without_re_extracting_fails(project, capsys):
    module = project / "engage" / "words.py"
    module.write_text(MODULE + '\nLATER = _("A string added later")\n', encoding="utf-8")
    problems = check(project)
    assert "messages.pot lacks 'A string added later' (context None): re-extract" in problems
    assert main(["--root", str(project)]) == 1
    assert "A string added later" in capsys.readouterr().out


def test_line_numbers_moving_is_not_staleness(project):
    module = project / "engage" / "words.py"
    module.write_text("\n\n\n" + MODULE, encoding="utf-8")
    assert check(project) == []


def test_a_removed_string_makes_the_template_stale(project):
    module = project / "engage" / "words.py"
    module.write_text(MODULE.replace('GREETING = _("Hello %(name)s")', ""), encoding="utf-8")
    assert any("still has 'Hello %(name)s'" in p for p in check(project))


def test_a_catalog_that_lacks_a_message_fails(project):
    module = project / "engage" / "words.py"
    module.write_text(MODULE + '\nLATER = _("A string added later")\n', encoding="utf-8")
    main(["--extract", "--root", str(project)])
    problems = check(project)
    assert not any("messages.pot" in p for p in problems)
    assert "locales/pl/LC_MESSAGES/messages.po: 'A string added later' is missing" in problems


def test_fuzzy_empty_and_wrong_placeholders_fail(project):
    def spoil(catalog):
        catalog.get("Hello %(name)s").flags.add("fuzzy")
        catalog.get("Closed on %(date)s.").string = "Zamknięte %(data)s."
    edit_catalog(project, "pl", spoil)
    edit_catalog(project, "ro", lambda c: setattr(c.get("Hello %(name)s"), "string", ""))
    problems = check(project)
    assert "locales/pl/LC_MESSAGES/messages.po: 'Hello %(name)s' is marked fuzzy" in problems
    assert "locales/ro/LC_MESSAGES/messages.po: 'Hello %(name)s' has an empty translation" in problems
    assert any(p.startswith("locales/pl/LC_MESSAGES/messages.po: 'Closed on %(date)s.': form 0 uses unknown "
                            "placeholders ['data']") for p in problems)


def test_a_missing_plural_form_fails(project):
    key = ("%(num)s answer", "%(num)s answers")
    edit_catalog(project, "cy", lambda c: setattr(c.get(key), "string", ("a", "b", "c", "d", "e", "")))
    assert "locales/cy/LC_MESSAGES/messages.po: '%(num)s answer' has an empty translation" in check(project)


def test_a_wrong_plural_forms_header_fails(project):
    path = catalog_path(project, "ar")
    text = path.read_text(encoding="utf-8")
    start = text.index('"Plural-Forms:')
    end = text.index("\\n\"", start)
    path.write_text(text[:start] + '"Plural-Forms: nplurals=2; plural=(n != 1);' + text[end:], encoding="utf-8")
    assert any(p.startswith("locales/ar/LC_MESSAGES/messages.po: Plural-Forms is") for p in check(project))


def test_officers_strings_are_required_only_in_the_dashboard_languages(project):
    (project / "dashboard").mkdir()
    (project / "dashboard" / "views.py").write_text('from locales import i18n\n_ = i18n.N_\nX = _("Saved.")\n',
                                                    encoding="utf-8")
    main(["--update", "--root", str(project)])
    problems = check(project)
    assert problems == ["locales/cy/LC_MESSAGES/messages.po: 'Saved.' has an empty translation"]


def test_templates_are_extracted_with_the_jinja_extractor(project):
    (project / "templates").mkdir()
    (project / "templates" / "chat.html").write_text(
        "<p>{{ _('Type your answer') }}</p>{% trans %}Send{% endtrans %}", encoding="utf-8")
    ids = {m.id for m in extract(project) if m.id}
    assert {"Type your answer", "Send"} <= ids


def test_new_catalogs_get_the_languages_plural_rule(project):
    for lang in shipped_languages(project):
        with catalog_path(project, lang).open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        assert catalog.plural_forms.replace(" ", "") == BY_CODE[lang].plural_forms.replace(" ", "")


# ----- words the extraction cannot see ---------------------------------------------------------------


def _problems_after(project: Path, relative: str, text: str) -> list[str]:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return check(project)


def test_a_template_string_marked_with_a_helper_the_extraction_does_not_know_fails_the_check(project):
    assert check(project) == []
    problems = _problems_after(project, "webhooks/webchat/templates/webchat/page.html",
                               '<button>{{ tr("Send your answer") }}</button>\n')
    assert problems == ["webhooks/webchat/templates/webchat/page.html:1: 'Send your answer' is marked with tr(), "
                        "which the extraction does not know: use _(\"...\") or add the helper to "
                        "check_catalogs.KEYWORD_SPECS"]
    assert main(["--root", str(project)]) == 1


@pytest.mark.parametrize("html, shown", [
    ("<p>Choose your answer</p>", "'Choose your answer'"),
    ('<a href="#answer" aria-label="Skip to your answer">→</a>', "'aria-label=\"Skip to your answer\"'"),
    ('{{ "Council said:" }}', "'Council said:'"),
    ('<textarea placeholder="Your message"></textarea>', "'placeholder=\"Your message\"'"),
])
def test_words_written_straight_into_a_template_fail_the_check(project, html, shown):
    problems = _problems_after(project, "templates/public/page.html", html + "\n")
    assert problems == [f"templates/public/page.html:1: {shown} is shown but not marked for translation: "
                        "wrap it in _(\"...\")"]


def test_marked_words_names_and_language_names_pass_the_check(project):
    template = ('<html lang="{{ lang }}"><a href="{{ url_for(\'webchat.chat\', flow_id=\'x\') }}">{{ t("Send") }}'
                '</a><option lang="cy">Cymraeg</option>{% if form.get(\'content\', \'message\') == \'message\' %}'
                '<p>SMS · CSV – 3</p>{% endif %}</html>\n')
    problems = _problems_after(project, "webhooks/webchat/templates/webchat/page.html", template)
    # t("...") is extracted, so the only problem is the new message still to translate.
    assert problems and all("'Send'" in p for p in problems)
    assert any("messages.pot lacks 'Send'" in p for p in problems)


def test_english_hard_coded_in_a_script_fails_the_check(project):
    script = ('(function () {\n  "use strict";\n  var el = document.querySelector("button.choice, textarea");\n'
              '  el.className = "message message-resident";\n  chart.label = "Census %";\n})();\n')
    problems = _problems_after(project, "static/dashboard/charts.js", script)
    assert problems == ["static/dashboard/charts.js:5: 'Census %' is hard-coded in a script: put the translated "
                        "words in the page (a data- attribute written with _(\"...\")) and read them from there"]
    # Vendored libraries are not ours to translate.
    (project / "static/dashboard/charts.js").unlink()
    assert _problems_after(project, "static/dashboard/vendor/lib.js", 'throw "Something went wrong";\n') == []


def test_a_python_helper_the_extraction_does_not_know_fails_the_check(project):
    module = ('from dashboard.i18n import _ngettext\n\n\ndef count(n):\n'
              '    return _ngettext("%(num)s answer", "%(num)s answers", n)\n')
    problems = _problems_after(project, "dashboard/counts.py", module)
    assert problems == ["dashboard/counts.py:5: '%(num)s answer' is marked with _ngettext(), which the extraction "
                        "does not know: use one of check_catalogs.KEYWORD_SPECS"]


def test_the_web_chats_t_calls_are_extracted():
    messages = {m.id for m in extract() if m.id}
    for words in ("Send", "Choose your answer", "Or type your answer", "Your message", "Skip to your answer",
                  "Council said:", "Language", "Change language"):
        assert words in messages
