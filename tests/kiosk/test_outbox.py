"""The outbox is the kiosk's memory: seq, durability, order, removal only on an ack."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from pydantic import ValidationError

from contract.codes import Kind, new_code
from contract.messages import Ack, decode_event, display_for
from kiosk.outbox import Outbox


def tag() -> str:
    return str(new_code(Kind.ASSET))


def ack(event_id: str, status: str = "accepted", reason: str | None = None) -> Ack:
    return Ack(id=event_id, status=status, reason=reason, display=display_for(status, reason))  # type: ignore[arg-type]


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.db", "k-test")


def test_events_are_valid_contract_events(box: Outbox) -> None:
    event = box.add("asset.checkin", None, {"tag": tag().lower()})
    decoded, data = decode_event(event.to_bytes(), "k-test")
    assert decoded == event
    assert data.tag == event.data["tag"] == event.data["tag"].upper()  # type: ignore[attr-defined]
    assert event.at.utcoffset() is not None  # RFC 3339 with an offset
    assert isinstance(event.synced, bool)


def test_seq_strictly_increases_across_reopen_and_acks(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    first = Outbox(path, "k-test")
    seqs = [first.add("asset.checkin", None, {"tag": tag()}).seq for _ in range(3)]
    boot1 = first.boot
    for queued in first.pending():
        assert first.mark_acked(ack(queued.id)) is not None  # empty the outbox entirely
    first.close()
    second = Outbox(path, "k-test")
    later = second.add("asset.checkin", None, {"tag": tag()})
    assert seqs == [1, 2, 3]
    assert later.seq == 4, "seq must not restart or reuse numbers after acks and a restart"
    assert later.boot != boot1
    assert second.boots() == 2
    second.close()


def test_pending_in_seq_order_and_after_cursor(box: Outbox) -> None:
    events = box.add_many([("asset.checkin", None, {"tag": tag()}) for _ in range(10)])
    pending = box.pending()
    assert [q.seq for q in pending] == [e.seq for e in events] == list(range(1, 11))
    assert [q.seq for q in box.pending(limit=3, after_seq=4)] == [5, 6, 7]
    assert pending[0].event() == events[0]
    assert pending[0].body == events[0].to_bytes()


def test_mark_acked_removes_and_keeps_history(box: Outbox) -> None:
    a = box.add("asset.checkin", None, {"tag": tag()})
    b = box.add("asset.exit", None, {"tag": tag()})
    assert box.depth() == 2
    record = box.mark_acked(ack(str(b.id), "rejected", "no_exit_permit"))
    assert record is not None and record.status == "rejected" and record.seq == b.seq
    assert [q.id for q in box.pending()] == [str(a.id)]
    # An ack for an already acked or unknown id changes nothing.
    assert box.mark_acked(ack(str(b.id))) is None
    assert box.mark_acked(ack("not-an-event")) is None
    assert box.mark_acked(Ack(id=None, status="rejected", reason="bad_json",
                              display=display_for("rejected", "bad_json"))) is None
    assert box.depth() == 1
    assert box.ack_for(str(b.id)).reason == "no_exit_permit"  # type: ignore[union-attr]
    assert [r.id for r in box.recent_acks()] == [str(b.id)]


def test_depth_and_oldest_age(box: Outbox) -> None:
    assert box.depth() == 0 and box.oldest_age() is None
    box.add("asset.checkin", None, {"tag": tag()})
    age = box.oldest_age()
    assert age is not None and 0 <= age < 5
    summary = box.summary()
    assert summary["depth"] == 1 and summary["last_seq"] == 1


def test_invalid_data_is_refused_and_nothing_stored(box: Outbox) -> None:
    good = tag()
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ValidationError):
        box.add("asset.checkin", None, {"tag": bad_check})
    with pytest.raises(ValidationError):
        box.add("asset.checkin", None, {"tag": "A-NOTACODE"})
    with pytest.raises(ValidationError):
        box.add("supply.pickup", None, {"item": str(new_code(Kind.SUPPLY)), "qty": 0,
                                        "taker": str(new_code(Kind.PERSON))})
    with pytest.raises(ValidationError):
        box.add("asset.checkin", str(new_code(Kind.ASSET)), {"tag": tag()})  # actor must be a P- code
    with pytest.raises(KeyError):
        box.add("asset.teleport", None, {"tag": tag()})
    assert box.depth() == 0 and box.last_seq() == 0


def test_file_is_wal_and_fully_synced(box: Outbox) -> None:
    db = sqlite3.connect(box.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    box.add("asset.checkin", None, {"tag": tag()})
    box.mark_acked(ack(box.pending()[0].id))
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # back to FULL after an ack


def test_two_writers_never_share_a_seq(tmp_path: Path) -> None:
    # The agent and `assetgate-kiosk publish` may write the same file at once.
    path = tmp_path / "outbox.db"
    boxes = [Outbox(path, "k-test"), Outbox(path, "k-test")]

    def write(box: Outbox) -> None:
        for _ in range(50):
            box.add("asset.checkin", None, {"tag": tag()})

    threads = [threading.Thread(target=write, args=(b,)) for b in boxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [q.seq for q in boxes[0].pending()] == list(range(1, 101))
