"""The event decoder is strict about the envelope (PROTOCOL.md section 3): no coercion."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from contract.codes import Kind, new_code
from contract.messages import ContractError, Event, decode_event


def _event(**changes: Any) -> bytes:
    fields: dict[str, Any] = {"v": 1, "id": str(uuid.uuid4()), "kiosk": "store-1", "seq": 12, "boot": "b-1",
                              "at": "2026-11-25T10:00:00+08:00", "synced": True, "type": "asset.move",
                              "actor": None, "data": {"tag": str(new_code(Kind.ASSET)),
                                                      "to": str(new_code(Kind.LOCATION))}}
    fields.update(changes)
    return json.dumps(fields).encode()


@pytest.mark.parametrize("field, value", [
    ("seq", "12"), ("seq", 12.0), ("seq", True),
    ("synced", 1), ("synced", "true"), ("synced", None),
    ("at", 1764036000), ("at", "1764036000"), ("at", "2026-11-25T10:00:00+0800"), ("at", "2026-11-25T10:00+08:00"),
    ("at", "2026-11-25 10:00:00+08:00"), ("at", "2026-11-25T10:00:00"), ("at", "25/11/2026 10:00:00+08:00"),
    ("at", "2026-13-25T10:00:00Z"),
    ("kiosk", 7), ("boot", 1),
])
def test_envelope_fields_are_not_coerced(field: str, value: Any) -> None:
    payload = _event(**{field: value})
    with pytest.raises(ContractError) as caught:
        decode_event(payload, "store-1")
    assert caught.value.reason == "bad_schema", caught.value
    assert caught.value.event_id == json.loads(payload)["id"]  # the rejected ack can still name the event
    assert field in str(caught.value)


@pytest.mark.parametrize("at", ["2026-11-25T10:00:00+08:00", "2026-11-25T02:00:00Z", "2026-11-25t02:00:00.123456z",
                                "2026-11-25T10:00:00.5-03:30"])
def test_rfc3339_times_pass(at: str) -> None:
    event, _data = decode_event(_event(at=at), "store-1")
    assert event.at.utcoffset() is not None and event.seq == 12 and event.synced is True


def test_the_kiosk_still_builds_events_in_python() -> None:
    event = Event(id=uuid.uuid4(), kiosk="store-1", seq=1, boot="b", at=datetime.now(UTC), synced=False,
                  type="asset.move", data={"tag": str(new_code(Kind.ASSET)), "to": str(new_code(Kind.LOCATION))})
    assert decode_event(event.to_bytes(), "store-1")[0] == event


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe", "bad_json"), (b"[1]", "bad_json"), (b'{"v": 1, "id": "x"', "bad_json"),
    (_event(v=2), "bad_version"), (_event(type="asset.teleport"), "unknown_type"),
    (_event(data={"tag": "A-1"}), "bad_code"), (_event(kiosk="gate-1"), "kiosk_mismatch"),
])
def test_other_refusals_keep_their_reasons(payload: bytes, reason: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode_event(payload, "store-1")
    assert caught.value.reason == reason
