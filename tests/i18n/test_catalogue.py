"""The message catalogues: every interface message extracted from the source has a Chinese
translation whose placeholders match, and every catalogue compiles."""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import CompileCatalog, parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po
from babel.support import Translations

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "eventapp" / "babel.cfg"
TRANSLATIONS = ROOT / "eventapp" / "translations"
#: The catalogue of the app's `zh_CN` locale. Babel (and so Flask-Babel) resolves `zh_CN` to
#: `zh_Hans_CN` and looks for exactly that folder, never `zh_CN/`.
CHINESE = TRANSLATIONS / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po"
#: As `pybabel extract -k _l -k lazy_gettext` (the README's command); babel.cfg names them too.
KEYWORDS = {**DEFAULT_KEYWORDS, **parse_keywords(["_l", "lazy_gettext"])}
#: Only these top-level folders hold interface messages (babel.cfg's patterns start there).
SOURCE_DIRS = {"eventapp", "templates"}

PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]|%")
CJK = "\u3400-\u4dbf\u4e00-\u9fff"
HALF_WIDTH_PUNCTUATION = re.compile(rf"[{CJK}][,.:;?!()]|[(][{CJK}]")


def _source_dirs_only(dirpath: str) -> bool:
    relative = Path(os.path.relpath(dirpath, ROOT))
    if relative.name.startswith((".", "_")):
        return False
    return relative == Path(".") or relative.parts[0] in SOURCE_DIRS


def extracted_messages() -> dict[tuple[str | None, str | tuple[str, ...]], list[str]]:
    """(context, msgid) -> locations, extracted afresh with babel.cfg's mapping."""
    with MAPPING.open() as config:
        method_map, options_map = parse_mapping_cfg(config, str(MAPPING))
    messages: dict[tuple[str | None, str | tuple[str, ...]], list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS,
            directory_filter=_source_dirs_only):
        messages.setdefault((context, message), []).append(f"{filename}:{lineno}")
    return messages


def read_catalogue(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as po:
        return read_po(po, locale=path.parent.parent.name)


def placeholders(text: str) -> Counter[str]:
    return Counter(PLACEHOLDER.findall(text))


def all_catalogues() -> list[Path]:
    return sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def test_extraction_finds_messages_of_every_kind():
    """A guard for the test below: lazy messages (`_l`), `_()` in code and in templates."""
    files = {location.split(":")[0] for locations in extracted_messages().values()
             for location in locations}
    assert "eventapp/auth/forms.py" in files, "messages of _l() are not extracted"
    assert "eventapp/auth/views.py" in files, "messages of _() in code are not extracted"
    assert "templates/auth/login.html" in files, "messages of templates are not extracted"


def test_every_message_has_a_chinese_translation():
    catalogue = read_catalogue(CHINESE)
    missing = []
    for (context, msgid), locations in sorted(extracted_messages().items(), key=str):
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        entry = catalogue.get(key, context=context)
        if entry is None:
            state = "missing"
        elif entry.fuzzy:
            state = "fuzzy"
        elif not all(entry.string if isinstance(entry.string, tuple) else (entry.string,)):
            state = "empty"
        else:
            continue
        missing.append(f"{state}: {key!r} ({locations[0]})")
    assert not missing, (
        f"{len(missing)} message(s) lack a zh_CN translation; run the README's "
        "`pybabel extract` and `pybabel update`, then translate:\n" + "\n".join(missing))


@pytest.mark.parametrize("po", all_catalogues(), ids=lambda path: path.parent.parent.name)
def test_placeholders_of_each_translation_match_its_msgid(po):
    mismatched = []
    for entry in read_catalogue(po):
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        expected = placeholders(ids[-1] if len(ids) > 1 else ids[0])
        for string in strings:
            if string and placeholders(string) != expected:
                mismatched.append(f"{ids[0]!r}: {sorted(expected.elements())} "
                                  f"!= {string!r}: {sorted(placeholders(string).elements())}")
    assert not mismatched, "placeholders differ from the msgid:\n" + "\n".join(mismatched)


def test_chinese_text_uses_full_width_punctuation():
    wrong = [f"{entry.id!r}: {entry.string!r}" for entry in read_catalogue(CHINESE)
             if entry.id and isinstance(entry.string, str)
             and HALF_WIDTH_PUNCTUATION.search(entry.string)]
    assert not wrong, "use ，。：；？！（） next to Chinese characters:\n" + "\n".join(wrong)


@pytest.mark.parametrize("po", all_catalogues(), ids=lambda path: path.parent.parent.name)
def test_catalogue_compiles_without_errors(po, tmp_path):
    errors = [f"{message.id!r}: {error}" for message, message_errors in read_catalogue(po).check()
              for error in message_errors]
    mo = tmp_path / "messages.mo"
    command = CompileCatalog()
    command.input_file, command.output_file = str(po), str(mo)
    command.locale = po.parent.parent.name
    command.ensure_finalized()
    assert command.run() == 0 and not errors, "\n".join(errors)
    assert mo.exists(), "not compiled: is the catalogue's header marked fuzzy?"
    with mo.open("rb") as compiled:
        translations = Translations(compiled)
    assert all(translations.gettext(entry.id) == entry.string for entry in read_catalogue(po)
               if isinstance(entry.id, str) and entry.id and entry.string and not entry.fuzzy)
