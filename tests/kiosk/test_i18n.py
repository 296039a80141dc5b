"""The kiosk speaks Simplified Chinese by default and English by choice, from a stdlib gettext catalogue.

Babel is used here only, to extract the texts from ``kiosk/`` and to compile the ``.po``; the kiosk
itself reads the committed ``.mo`` with ``gettext``.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, get_args

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from pydantic import ValidationError

import kiosk
from contract.codes import Kind, new_code
from contract.messages import KioskConfig, Reason
from kiosk import acktext, i18n
from kiosk.config import AgentConfig, ConfigError, parse_config
from kiosk.outbox import AckRecord
from kiosk.workflows import GateWorkflow, Outcome, StoreroomWorkflow, Workflow

ROOT = Path(__file__).parents[2]
KIOSK = Path(kiosk.__file__).parent
PO = KIOSK / "locale" / "zh" / "LC_MESSAGES" / "kiosk.po"
MO = PO.with_suffix(".mo")
CJK = re.compile(r"[\u4e00-\u9fff]")
# A word of English; codes (P-0A1B2C3D4) and the product name are not words a person translates.
CODE = re.compile(r"\b[ALSPV]-[0-9A-Z*~$=]+")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(text: str) -> list[str]:
    return LATIN_WORD.findall(CODE.sub("", text).replace("AssetGate", ""))


def read_catalogue() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f)


def compiled_messages(mo: bytes) -> dict[Any, Any]:
    catalogue = read_mo(io.BytesIO(mo))
    def plain(value: Any) -> Any:  # read_mo gives plural forms as lists
        return value if isinstance(value, str) else tuple(value)

    return {"plural_forms": catalogue.plural_forms} | {plain(m.id): plain(m.string) for m in catalogue if m.id}


def used_msgids() -> dict[Any, str]:
    """Every text marked in kiosk/ code (``_``, ``N_``, ``ngettext``) -> where it is used."""
    found: dict[Any, str] = {}
    for filename, line, message, _comments, _context in extract_from_dir(str(KIOSK),
                                                                          method_map=[("**.py", "python")]):
        found.setdefault(message, f"kiosk/{filename}:{line}")
    return found


# -- the catalogue ------------------------------------------------------------------------


def test_committed_mo_is_what_the_po_compiles_to() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue())  # what `pybabel compile` writes (fuzzy entries left out)
    assert compiled_messages(MO.read_bytes()) == compiled_messages(compiled.getvalue()), (
        "kiosk.mo is stale: run `pybabel compile -d kiosk/locale -D kiosk` (docs/kiosk.md, Language)"
    )


def test_every_text_of_the_kiosk_has_a_chinese_translation() -> None:
    used = used_msgids()
    assert len(used) > 100, "extraction found the kiosk's texts"
    catalogue = read_catalogue()
    problems = []
    for msgid, where in used.items():
        entry = catalogue.get(msgid if isinstance(msgid, str) else msgid[0])
        strings = [] if entry is None else ([entry.string] if isinstance(entry.string, str) else entry.string)
        if entry is None or entry.fuzzy or not strings or not all(strings):
            problems.append(f"{where}: {msgid!r}")
    assert not problems, "not translated in kiosk.po (pybabel update, then translate):\n" + "\n".join(problems)


def test_catalogue_has_no_entries_the_code_no_longer_uses() -> None:
    used = {m if isinstance(m, str) else m[0] for m in used_msgids()}
    stale = [m.id for m in read_catalogue() if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in used]
    assert not stale, f"kiosk.po has entries no code uses: {stale}"


def test_translations_keep_every_placeholder() -> None:
    def names(text: str) -> set[str]:
        return set(re.findall(r"\{(\w*)\}", text))

    wrong = []
    for message in read_catalogue():
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        wanted = set().union(*(names(i) for i in ids))
        wrong += [(message.id, s) for s in strings if names(s) != wanted]
    assert not wrong, f"a translation drops or invents a {{placeholder}}: {wrong}"


def test_chinese_catalogue_uses_the_glossary_terms() -> None:
    zh = i18n.translations("zh").gettext
    # GLOSSARY.md: one term for each thing, the same on every screen.
    for english, chinese in [("Storeroom", "库房"), ("Gate", "门岗"), ("Storekeeper", "库管员"), ("Guard", "门卫"),
                             ("unknown code", "未知编号"), ("no exit permit", "无物品放行条"),
                             ("Accepted", "已记录"), ("Already saved", "已保存过"),
                             ("Waiting to send: {n}", "待发送：{n}")]:
        assert zh(english) == chinese
    assert zh("Refused: {reason}").startswith("已拒绝")
    assert zh("Offline, saved locally: the broker is unreachable").startswith("离线，已本地保存")


def test_languages_are_the_config_choices_and_zh_is_the_default() -> None:
    assert get_args(AgentConfig.model_fields["language"].annotation) == i18n.LANGUAGES == ("zh", "en")
    assert parse_config({"kiosk": "k-1", "mode": "gate"}).language == "zh" == i18n.DEFAULT_LANGUAGE
    assert parse_config({"kiosk": "k-1", "mode": "gate", "language": "en"}).language == "en"
    with pytest.raises(ConfigError, match=r"language: Input should be 'zh' or 'en'"):
        parse_config({"kiosk": "k-1", "mode": "gate", "language": "fr"})
    with pytest.raises(ValueError, match="unknown kiosk language"):
        i18n.translations("fr")


def test_the_wheel_ships_the_catalogues() -> None:
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    for path in (KIOSK / "locale").rglob("*.[mp]o"):
        relative = path.relative_to(KIOSK).as_posix()
        assert any(fnmatch(relative, pattern) for pattern in package_data["kiosk"]), f"{relative} not in the wheel"


def test_kiosk_imports_neither_flask_nor_babel() -> None:
    code = ("import sys, kiosk.cli, kiosk.agent, kiosk.screen, kiosk.page, kiosk.acktext, kiosk.i18n;"
            "kiosk.i18n.translations('zh');"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'babel', 'server'));"
            "assert not bad, bad")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr


# -- every screen text, in both languages -------------------------------------------------


def tour(workflow: Workflow, visitor: str) -> list[str]:
    """Drive a workflow through its paths (successes and refusals): every text a person reads."""
    texts: list[str] = []

    def seen(outcome: Outcome) -> None:
        view = workflow.view()
        texts.extend([outcome.title, outcome.detail, view["prompt"], view["mode_label"], view["operator_label"]])
        texts.extend(b["label"] for b in view["buttons"])

    def code(kind: Kind) -> str:
        return str(new_code(kind))

    operator, asset, revoked = code(Kind.PERSON), code(Kind.ASSET), code(Kind.VISITOR)
    car = code(Kind.ASSET)
    workflow.server_config = KioskConfig(kiosk="k-1", mode=workflow.mode, display_names={operator: visitor},
                                         revoked_passes=[revoked], vehicles={car: "A12345"})
    seen(workflow.input("login"))
    seen(workflow.scan(operator))  # logged in, by name
    for text in ("12345", asset[:-1] + ("0" if asset[-1] != "0" else "1"), code(Kind.SUPPLY)):
        seen(workflow.scan(text))  # not a code, wrong check symbol, a kind idle does not take
    seen(workflow.input("finish"))  # not possible when idle
    if isinstance(workflow, StoreroomWorkflow):
        for text in (code(Kind.PERSON), asset, asset, code(Kind.ASSET), code(Kind.LOCATION)):
            seen(workflow.scan(text))  # a person's checkout list; the same asset twice; a location refused
        seen(workflow.input("finish"))
        seen(workflow.scan(code(Kind.ASSET)))  # check-in
        seen(workflow.scan(code(Kind.LOCATION)))
        seen(workflow.scan(code(Kind.PERSON)))  # not while moving
        seen(workflow.scan(code(Kind.ASSET)))
        seen(workflow.input("finish"))
        seen(workflow.scan(code(Kind.PERSON)))
        seen(workflow.scan(code(Kind.SUPPLY)))
        for qty in ("lots", "0", "2"):
            seen(workflow.input("quantity", {"qty": qty}))
    else:
        seen(workflow.scan(code(Kind.VISITOR)))  # sign-out
        seen(workflow.scan(code(Kind.ASSET)))  # exit check
        seen(workflow.input("signin"))
        seen(workflow.scan(revoked))
        seen(workflow.scan(code(Kind.VISITOR)))
        seen(workflow.scan(code(Kind.PERSON)))
        seen(workflow.input("visitor", {"host": "P-123", "name": visitor}))
        seen(workflow.input("visitor", {"id_last4": "x", "organisation": "o" * 300}))
        seen(workflow.input("visitor", {"name": visitor, "pass": revoked}))
        seen(workflow.input("visitor", {"name": visitor, "purpose": "audit"}))
        seen(workflow.input("vehicle_out"))  # the vehicle step (kiosk.vehicle_step)
        seen(workflow.scan(asset))  # a tag this gate does not know
        # plates without a province character: the screen's own words are checked, not the plates
        for form in ({}, {"plate": "A#1"}, {"plate": "A54321"}, {"plate": "A54321", "odometer": "lots"}):
            seen(workflow.input("vehicle", form))
        seen(workflow.input("vehicle", {"plate": "A54321", "odometer": "1200"}))
        seen(workflow.input("vehicle_out"))
        seen(workflow.scan(car))  # an official vehicle of the config
        seen(workflow.input("vehicle", {"plate": "B11111", "odometer": "1200"}))  # the wrong key tag
        workflow.online = lambda: False  # offline, and the config knows no dispatch
        seen(workflow.input("vehicle", {"odometer": "1200"}))
        seen(workflow.input("cancel"))
        seen(workflow.input("vehicle_in"))
        seen(workflow.scan(code(Kind.VISITOR)))
        seen(workflow.input("vehicle", {"plate": "D·12 345"}))
    seen(workflow.input("logout"))
    seen(workflow.input("cancel"))
    return [t for t in texts if t]


def record(type_: str, actor: str | None, data: dict[str, Any]) -> Any:
    """``record`` for workflows driven without an outbox: only the event's id is read."""
    return type("Recorded", (), {"id": new_code(Kind.ASSET)})()


@pytest.mark.parametrize("workflow", [StoreroomWorkflow, GateWorkflow])
def test_every_workflow_text_is_chinese_by_default(workflow: type[Workflow]) -> None:
    texts = tour(workflow(record, location=str(new_code(Kind.LOCATION))), visitor="李雷")
    english = [t for t in texts if english_words(t)]
    assert not english, f"English left on the Chinese screen: {english}"
    assert len([t for t in texts if CJK.search(t)]) > 40


@pytest.mark.parametrize("workflow", [StoreroomWorkflow, GateWorkflow])
def test_every_workflow_text_is_english_by_choice(workflow: type[Workflow]) -> None:
    texts = tour(workflow(record, location=str(new_code(Kind.LOCATION)), language="en"), visitor="Li Lei")
    assert not [t for t in texts if CJK.search(t) or "、" in t or "：" in t]
    assert {"Log in", workflow.mode_name} <= set(texts)


# -- acks ---------------------------------------------------------------------------------


def ack(status: str, reason: str | None, level: str = "error", title: str = "Refused: x",
        detail: str = "server words") -> AckRecord:
    return AckRecord(id="e1", seq=1, type="asset.exit", status=status, reason=reason, level=level, title=title,
                     detail=detail, at=0.0)


def test_every_contract_reason_has_kiosk_words() -> None:
    missing = {r.value for r in Reason} - set(acktext.REFUSALS)
    assert not missing, f"reasons the kiosk cannot word (they would show the server's English): {missing}"


@pytest.mark.parametrize("reason", sorted({*acktext.REFUSALS}))
def test_refusals_are_worded_by_the_kiosk_not_the_server(reason: str) -> None:
    zh = acktext.verdict(ack("rejected", reason, title=f"Refused: {reason}"), i18n.translations("zh"))
    assert zh.known and not zh.final_ok
    assert zh.title.startswith("待发送：" if reason in acktext.RETRIED else "已拒绝：")
    assert CJK.search(zh.detail) and not english_words(zh.title + zh.detail)
    en = acktext.verdict(ack("rejected", reason), i18n.translations("en"))
    assert en.title.startswith(("Refused: ", "Waiting to send: ")) and "server words" not in en.detail


def test_accepted_and_duplicate_verdicts() -> None:
    zh = i18n.translations("zh")
    assert acktext.verdict(ack("accepted", None, "ok", "Checked in A-1"), zh).title == "已记录"
    assert acktext.verdict(ack("accepted", None, "warn", "Checked in A-1"), zh).title == "已记录，待管理员核查"
    assert "冲突" in acktext.verdict(ack("accepted", "conflict", "warn"), zh).title
    duplicate = acktext.verdict(ack("duplicate", None, "ok", "Already saved"), zh)
    assert duplicate.title == "已保存过" and duplicate.final_ok


def test_an_unknown_reason_shows_the_servers_text() -> None:
    verdict = acktext.verdict(ack("rejected", "frobnicated", title="Refused: frobnicated", detail="why"),
                              i18n.translations("zh"))
    assert (verdict.title, verdict.detail, verdict.known) == ("Refused: frobnicated", "why", False)


def test_config_rejects_a_language_key_of_the_wrong_type() -> None:
    with pytest.raises(ValidationError):
        AgentConfig.model_validate({"kiosk": "k-1", "mode": "gate", "language": 7})
