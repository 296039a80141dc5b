"""The reorder notification is delivered, once per crossing (not once per pickup), to a real webhook
receiver (signed JSON, retried after a failure) and a real SMTP server; a receiver that is down never
breaks a pickup; the settings are checked at start-up."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from server import create_app
from server.audit import SYSTEM, Actor
from server.config import ConfigError, load_settings
from server.models import Notification, utcnow
from server.services import directory, notify, supplies
from tests.admin_support import login
from tests.brokers import free_port
from tests.storeroom_support import stock_up

KEEPER = Actor("keeper", "web", "storekeeper")


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[Any, bytes]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Hook.fail_first:
            _Hook.fail_first -= 1
            self.send_response(500)
        else:
            _Hook.received.append((self.headers, body))
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receivers() -> Iterator[dict[str, Any]]:
    mails: list[Any] = []

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            mails.append(envelope)
            return "250 OK"

    smtp_port, http_port = free_port(), free_port()
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    _Hook.received, _Hook.fail_first = [], 1
    http = HTTPServer(("127.0.0.1", http_port), _Hook)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield {"smtp_port": smtp_port, "url": f"http://127.0.0.1:{http_port}/reorder", "mails": mails}
    http.shutdown()
    http.server_close()
    smtp.stop()


def _pick(sessions: Any, code: str, who: str, qty: int) -> None:
    with sessions() as session, session.begin():
        supplies.pickup(session, KEEPER, supplies.PickupIn(code, qty, who, "work"))


def _rows(sessions: Any) -> list[tuple[str, str]]:
    with sessions() as session:
        return [(n.channel, n.recipient) for n in session.scalars(select(Notification).order_by(Notification.id))]


def test_reorder_is_delivered_once_per_crossing_by_webhook_and_mail(settings_overrides: dict[str, Any],
                                                                     receivers: dict[str, Any]) -> None:
    app = create_app({**settings_overrides, "smtp_host": "127.0.0.1", "smtp_port": receivers["smtp_port"],
                      "reorder_webhook_url": receivers["url"], "reorder_webhook_secret": "k3y",
                      "reorder_email": "store@example.org, buyer@example.org"})
    sessions, settings = app.extensions["assetgate.sessions"], app.extensions["assetgate.settings"]
    try:
        with sessions() as session, session.begin():
            code = supplies.create_item(session, KEEPER, supplies.ItemIn(
                name="A4 paper", unit="ream", location="shelf 3", reorder_level=5, reorder_quantity=20)).code
            stock_up(session, code, 10)
            who = directory.create_person(session, SYSTEM, "Li Na", "Finance").code
        _pick(sessions, code, who, 3)  # 7: above the level, nothing
        assert _rows(sessions) == []
        _pick(sessions, code, who, 3)  # 4: the crossing
        _pick(sessions, code, who, 1)  # 3: still under, not once per pickup
        crossing = [("email", "store@example.org"), ("email", "buyer@example.org"), ("webhook", "reorder")]
        assert _rows(sessions) == crossing
        first = notify.deliver_due(sessions, settings)
        assert (first.sent, first.failed) == (2, 1)  # both mails went; the webhook answered 500
        assert sorted(m.rcpt_tos[0] for m in receivers["mails"]) == ["buyer@example.org", "store@example.org"]
        assert "A4 paper" in receivers["mails"][0].content.decode() and code in receivers["mails"][0].content.decode()
        client = app.test_client()  # the storekeeper sees what did not go out
        login(client, sessions, "storekeeper")
        page = client.get("/supplies/reorder").get_data(as_text=True)
        assert "未送达的通知" in page and "500" in page and "store@example.org" in page
        retry = notify.deliver_due(sessions, settings, now=utcnow() + timedelta(minutes=2))
        assert retry.sent == 1
        [(headers, body)] = _Hook.received
        assert headers["X-AssetGate-Event"] == "supply.reorder"
        assert headers["X-AssetGate-Signature"] == notify.signature("k3y", headers["X-AssetGate-Timestamp"], body)
        sent = json.loads(body)
        assert (sent["event"], sent["item"], sent["stock"], sent["level"], sent["reorder_quantity"]) == (
            "supply.reorder", code, 4, 5, 20)
        assert "未送达的通知" not in client.get("/supplies/reorder").get_data(as_text=True)
        with sessions() as session, session.begin():  # back above the level, then under again: a new crossing
            supplies.give_back(session, KEEPER, code, 5, who, "unused")
        _pick(sessions, code, who, 4)
        assert len(_rows(sessions)) == 2 * len(crossing)
    finally:
        app.extensions["assetgate.engine"].dispose()


def test_a_receiver_that_is_down_never_breaks_a_pickup(settings_overrides: dict[str, Any]) -> None:
    app = create_app({**settings_overrides, "reorder_webhook_url": f"http://127.0.0.1:{free_port()}/gone"})
    sessions, settings = app.extensions["assetgate.sessions"], app.extensions["assetgate.settings"]
    try:
        with sessions() as session, session.begin():
            code = supplies.create_item(session, KEEPER, supplies.ItemIn(name="Pens", unit="box",
                                                                         reorder_level=1)).code
            stock_up(session, code, 2)
            who = directory.create_person(session, SYSTEM, "Wang Wei", "IT").code
        _pick(sessions, code, who, 2)
        done = notify.deliver_due(sessions, settings)
        assert (done.sent, done.failed) == (0, 1)
        with sessions() as session:
            row = session.scalars(select(Notification)).one()
            assert row.sent_at is None and row.next_attempt_at is not None and row.last_error  # tried again later
            assert supplies.stock(session, supplies.item_by_code(session, code).id) == 0
    finally:
        app.extensions["assetgate.engine"].dispose()


@pytest.mark.parametrize("bad, where", [
    ({"reorder_email": "store@example.org"}, "smtp_host is empty"),
    ({"reorder_email": "not-an-address", "smtp_host": "mail"}, "reorder_email"),
    ({"reorder_webhook_url": "ftp://example.org/x"}, "reorder_webhook_url"),
    ({"reorder_webhook_url": "http://"}, "reorder_webhook_url"),
])
def test_reorder_channels_are_checked_at_start_up(bad: dict[str, Any], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        load_settings(bad, environ={})
    ok = load_settings({"reorder_email": " a@example.org,b@example.org ", "smtp_host": "mail"}, environ={})
    assert ok.reorder_emails == ("a@example.org", "b@example.org")
