"""The shipped catalogues are complete, current and well formed: every string the source marks
for translation (templates, Python, JavaScript) has a translation in every language, none is
fuzzy, each plural has all its language's forms, the placeholders match (msgfmt --check) and
the committed .po files hold exactly what makemessages finds in the source today."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "locale"
DOMAINS = ("django", "djangojs")
# Locale folder names of the shipped languages other than English (the source language).
SHIPPED = [
    code.split("-")[0] + ("_" + code.split("-")[1].upper() if "-" in code else "")
    for code, _ in settings.LANGUAGES
    if code != settings.LANGUAGE_CODE
]
# What makemessages skips: not the product's source.
IGNORED = [".venv", "node_modules", "var", "tests", "bench", "docker", "static/vendor"]


def catalogue(lang: str, domain: str) -> polib.POFile:
    path = LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"
    assert path.exists(), f"{path} is missing"
    return polib.pofile(str(path))


def key(entry: polib.POEntry) -> tuple[str, str, str]:
    return (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")


def test_the_site_ships_the_languages_it_promises():
    assert SHIPPED == ["es", "pt_BR", "fr", "de", "ja", "hi"]


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("lang", SHIPPED)
def test_every_string_is_translated_and_none_is_fuzzy(lang, domain):
    po = catalogue(lang, domain)
    assert len(po) > 0
    nplurals = int(po.metadata["Plural-Forms"].split(";")[0].split("=")[1])
    problems = []
    for entry in po:
        if entry.obsolete:
            problems.append(("obsolete", entry.msgid))
        if "fuzzy" in entry.flags:
            problems.append(("fuzzy", entry.msgid))
        if entry.msgid_plural:
            forms = entry.msgstr_plural
            if sorted(forms) != list(range(nplurals)) or not all(forms.values()):
                problems.append(("plural forms", entry.msgid))
        elif not entry.msgstr:
            problems.append(("untranslated", entry.msgid))
    assert problems == []
    assert not po.metadata_is_fuzzy
    assert po.metadata["Language"] == lang


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("lang", SHIPPED)
def test_msgfmt_accepts_each_catalogue(lang, domain):
    # --check: the header, and each translation's %(name)s placeholders against its msgid.
    path = LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"
    done = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_the_committed_catalogues_match_the_source(tmp_path):
    """makemessages on a copy of the tree: the strings it finds are the committed ones, no
    more (a new string not yet in a catalogue) and no fewer (one the source no longer has)."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".venv", "node_modules", "var", ".git", "test-artifacts", "*.mo", "__pycache__"
        ),
    )
    before = {p: p.read_bytes() for p in LOCALE.glob("*/LC_MESSAGES/*.po")}
    for domain in DOMAINS:
        command = [sys.executable, "manage.py", "makemessages", "-d", domain, "--no-obsolete"]
        command += [arg for lang in SHIPPED for arg in ("-l", lang)]
        command += [arg for path in IGNORED for arg in ("--ignore", path)]
        done = subprocess.run(
            command, cwd=copy, capture_output=True, text=True, env={"DEV_MODE": "true", **_env()}
        )
        assert done.returncode == 0, done.stderr
    # The copy's settings wrote into the copy, never into the tree under test.
    assert {p: p.read_bytes() for p in LOCALE.glob("*/LC_MESSAGES/*.po")} == before
    for lang in SHIPPED:
        for domain in DOMAINS:
            found = polib.pofile(str(copy / "locale" / lang / "LC_MESSAGES" / f"{domain}.po"))
            committed = catalogue(lang, domain)
            wanted = {key(e) for e in found if not e.obsolete}
            have = {key(e) for e in committed if not e.obsolete}
            assert sorted(wanted - have) == [], f"{lang}/{domain}: not in the catalogue"
            assert sorted(have - wanted) == [], f"{lang}/{domain}: no longer in the source"


def _env() -> dict[str, str]:
    import os

    # The copy's own code first: its settings resolve LOCALE_PATHS to the copy.
    keep = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")
    }
    return {**keep, "DJANGO_SETTINGS_MODULE": "config.settings"}
