"""Developer tool and test helper: which strings of the code and templates the catalogue lacks.

    python -m server.catalogue missing zh      # .po entries to add (msgid + where it is used)
    python -m server.catalogue unused zh       # catalogue entries nothing uses any more

Strings are found by Babel's extractors: ``_``, ``gettext``, ``ngettext``, ``lazy_gettext``, ``_l``
and ``N_`` in Python, ``_`` and ``gettext`` in Jinja templates.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from server.i18n import TRANSLATIONS

ROOT = Path(__file__).resolve().parent
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]


def extract() -> dict[str, list[str]]:
    """msgid -> places it is used (file:line), for every marked string under server/."""
    found: dict[str, list[str]] = defaultdict(list)
    for filename, lineno, message, _comments, _context in extract_from_dir(
            ROOT, METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {"extensions": ""}}):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found[msgid].append(f"server/{filename}:{lineno}")
    return dict(found)


def translated(language: str) -> dict[str, str]:
    strings: dict[str, str] = {}
    for path in sorted((TRANSLATIONS / language).glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.string and not message.fuzzy:
                    strings[message.id if isinstance(message.id, str) else message.id[0]] = (
                        message.string if isinstance(message.string, str) else message.string[0])
    return strings


def missing(language: str) -> dict[str, list[str]]:
    have = translated(language)
    return {msgid: places for msgid, places in extract().items() if msgid not in have}


def _po_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("missing", "unused"):
        print(__doc__)
        return 2
    if argv[0] == "missing":
        for msgid, places in sorted(missing(argv[1]).items(), key=lambda item: item[1][0]):
            print(f"#: {' '.join(places[:3])}\nmsgid {_po_quote(msgid)}\nmsgstr \"\"\n")
    else:
        used = extract()
        for msgid in sorted(set(translated(argv[1])) - set(used)):
            print(msgid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
