"""The kiosk's message catalogues: the same keys and placeholders in fi, sv and en, and
every key the page uses is there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

KIOSK = Path(__file__).resolve().parent.parent / "endpoint_agent" / "kiosk"
LANGUAGES = ("fi", "sv", "en")
CATALOGS: dict[str, dict[str, str]] = {
    lang: json.loads((KIOSK / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))
    for lang in LANGUAGES
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def used_keys() -> set[str]:
    """Keys the markup and the scripts ask for by name."""
    markup = (KIOSK / "index.html").read_text(encoding="utf-8")
    keys = set(re.findall(r'data-i18n(?:-[a-z-]+)?="([a-z][\w.-]*\.[\w.-]+)"', markup))
    for script in KIOSK.glob("*.js"):
        keys |= set(re.findall(r"\bt\('([a-z][\w.-]*)'", script.read_text(encoding="utf-8")))
    return keys


def test_every_language_has_the_same_keys() -> None:
    fi = set(CATALOGS["fi"])
    for lang in ("sv", "en"):
        assert set(CATALOGS[lang]) == fi, f"{lang}: {set(CATALOGS[lang]) ^ fi}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_empty_texts_and_the_same_placeholders(lang: str) -> None:
    for key, text in CATALOGS[lang].items():
        assert text.strip(), f"{lang}: {key} is empty"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(CATALOGS["fi"][key])), (
            f"{lang}: {key} has other placeholders than fi"
        )


def test_every_key_the_page_uses_is_in_the_catalogues() -> None:
    keys = used_keys()
    assert len(keys) > 50, "the key scan found too little to be right"
    missing = sorted(keys - set(CATALOGS["fi"]))
    assert missing == [], f"used but not in the catalogues: {missing}"
