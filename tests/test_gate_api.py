"""The gate's REST API: roles, printed passes and the roll call decoded for real, the logged export,
and host notifications delivered to a real SMTP server and a real webhook receiver (with a retry)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from sqlalchemy import select

from server import create_app
from server.models import AuditEntry, Notification, utcnow
from server.services import notify
from tests.brokers import free_port
from tests.gate_support import office, preregister


@pytest.fixture
def place(sessions: Any) -> dict[str, str]:
    return office(sessions)


def _window(hours: float = 4) -> dict[str, str]:
    start = utcnow() - timedelta(minutes=1)
    return {"valid_from": start.isoformat(), "valid_until": (start + timedelta(hours=hours)).isoformat()}


def test_roles_of_the_gate_routes(client: Any, tokens: Any, place: dict[str, str], sessions: Any) -> None:
    code = preregister(sessions, place["host"])
    body = {"name": "甲", "host": place["host"], **_window()}
    expectations = [
        ("get", "/api/v1/visitors/on-site", None, {"guard": 200, "admin": 200, "auditor": 403, "storekeeper": 403}),
        ("post", "/api/v1/visitors", body, {"storekeeper": 201, "guard": 201, "auditor": 403}),
        ("get", "/api/v1/watchlist", None, {"admin": 200, "guard": 403}),
        ("get", "/api/v1/visitors/export.csv?from=2026-01-01&to=2026-01-02", None, {"admin": 200, "guard": 403}),
        ("post", "/api/v1/exit-permits", {"assets": ["A-00000000"], "reason": "r", "carrier": "c",
                                          **{"valid_until": _window()["valid_until"]}},
         {"guard": 403, "auditor": 403, "storekeeper": 404}),
        ("post", f"/api/v1/visitors/{code}/sign-in", {}, {"storekeeper": 403, "guard": 200}),
    ]
    for method, url, json_body, by_role in expectations:
        for role, status in by_role.items():
            answer = getattr(client, method)(url, json=json_body, headers=tokens.headers(role))
            assert answer.status_code == status, (url, role, answer.get_json())
    assert client.get("/api/v1/visitors/on-site").status_code == 401


def test_bad_input_over_rest_changes_nothing(client: Any, tokens: Any, place: dict[str, str]) -> None:
    h = tokens.headers("guard")
    cases = [
        ({"name": "", "host": place["host"], **_window()}, 422, "bad_schema"),
        ({"name": "甲" * 201, "host": place["host"], **_window()}, 422, "bad_schema"),
        ({"name": "   ", "host": place["host"], **_window()}, 422, "bad_schema"),
        ({"name": "甲", "host": place["host"], "plate": "京A$%^", **_window()}, 422, "bad_plate"),
        ({"name": "甲", "host": "P-00000000", **_window()}, 404, "unknown_code"),
        ({"name": "甲", "host": place["host"], **_window(hours=24 * 40)}, 422, "bad_window"),
        ({"name": "甲", "host": place["host"], "valid_from": "2026-01-01T09:00", "valid_until": "2026-01-01T10:00"},
         422, "bad_schema"),  # no time zone
    ]
    for body, status, code in cases:
        answer = client.post("/api/v1/visitors", json=body, headers=h)
        assert (answer.status_code, answer.get_json()["error"]["code"]) == (status, code), body
    assert client.get("/api/v1/visitors", headers=h).get_json()["items"] == []
    unknown = client.post("/api/v1/visitors/V-00000000/sign-in", json={}, headers=h)
    assert (unknown.status_code, unknown.get_json()["error"]["code"]) == (404, "unknown_code")


def _decode_png(png: bytes) -> list[str]:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    return [r.text for r in zxingcpp.read_barcodes(image)]


def test_pass_qr_pdf_and_roll_call_decode(client: Any, tokens: Any, place: dict[str, str], tmp_path: Path) -> None:
    h = tokens.headers("guard")
    made = client.post("/api/v1/visitors", headers=h, json={
        "name": "欧阳娜娜", "host": place["host"], "organisation": "某某科技有限公司", "plate": "京A12345",
        **_window()})
    code = made.get_json()["code"]
    assert _decode_png(client.get(f"/api/v1/visitors/{code}/qr.png", headers=h).data) == [code]
    pdf = client.get(f"/api/v1/visitors/{code}/pass.pdf", headers=h)
    assert pdf.mimetype == "application/pdf"
    (tmp_path / "pass.pdf").write_bytes(pdf.data)
    subprocess.run(["pdftoppm", "-r", "200", "-png", str(tmp_path / "pass.pdf"), str(tmp_path / "p")], check=True)
    [page] = sorted(tmp_path.glob("p*.png"))
    assert _decode_png(page.read_bytes()) == [code]
    text = subprocess.run(["pdftotext", str(tmp_path / "pass.pdf"), "-"], capture_output=True, text=True).stdout
    assert "欧阳娜娜" in text and "访客通行证" in text and "京A12345" in text

    assert client.post(f"/api/v1/visitors/{code}/sign-in", json={"plate": "京B 54321"}, headers=h).status_code == 200
    roll = client.get("/api/v1/visitors/roll-call.pdf", headers=h)
    (tmp_path / "roll.pdf").write_bytes(roll.data)
    text = subprocess.run(["pdftotext", str(tmp_path / "roll.pdf"), "-"], capture_output=True, text=True).stdout
    assert "人员清点" in text and "欧阳娜娜" in text and "京B54321" in text and code in text


def test_export_is_admin_only_and_logged(client: Any, tokens: Any, place: dict[str, str], sessions: Any) -> None:
    code = preregister(sessions, place["host"], "孙七")
    client.post(f"/api/v1/visitors/{code}/sign-in", json={}, headers=tokens.headers("guard"))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # days are the office's days
    answer = client.get(f"/api/v1/visitors/export.csv?from={today}&to={today}", headers=tokens.headers("admin"))
    assert answer.status_code == 200
    text = answer.data.decode("utf-8-sig")
    assert "孙七" in text and code in text
    with sessions() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "visitors.export")).all()
        assert entry.actor == "token:test-admin" and entry.after is not None and entry.after["visits"] == 1
        assert "孙七" not in json.dumps(entry.after, ensure_ascii=False)
    bad = client.get("/api/v1/visitors/export.csv?from=2026-01-02&to=2026-01-01", headers=tokens.headers("admin"))
    assert bad.status_code == 422


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[Any, bytes]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Hook.fail_first:
            _Hook.fail_first -= 1
            self.send_response(503)
        else:
            _Hook.received.append((self.headers, body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receivers() -> Iterator[dict[str, Any]]:
    mails: list[Any] = []

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            mails.append(envelope)
            return "250 OK"

    smtp_port, http_port = free_port(), free_port()
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    _Hook.received, _Hook.fail_first = [], 1
    http = HTTPServer(("127.0.0.1", http_port), _Hook)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield {"smtp_port": smtp_port, "url": f"http://127.0.0.1:{http_port}/hook", "mails": mails}
    http.shutdown()
    http.server_close()
    smtp.stop()


def test_host_is_notified_by_email_and_signed_webhook_with_retry(settings_overrides: dict[str, Any],
                                                                 receivers: dict[str, Any]) -> None:
    app = create_app({**settings_overrides, "smtp_host": "127.0.0.1", "smtp_port": receivers["smtp_port"],
                      "gate_webhook_url": receivers["url"], "gate_webhook_secret": "s3cret"})
    sessions = app.extensions["assetgate.sessions"]
    settings = app.extensions["assetgate.settings"]
    client = app.test_client()
    try:
        place = office(sessions)
        from tests.conftest import Tokens

        tokens = Tokens(sessions)
        assert client.put(f"/api/v1/gate/hosts/{place['host']}/email", json={"email": "lihua@example.org"},
                          headers=tokens.headers("admin")).status_code == 200
        code = preregister(sessions, place["host"], "冯十一", organisation="审计局")
        assert client.post(f"/api/v1/visitors/{code}/sign-in", json={},
                           headers=tokens.headers("guard")).status_code == 200  # nothing sent yet: never waits

        first = notify.deliver_due(sessions, settings)
        assert (first.sent, first.failed) == (1, 1)  # the mail went; the webhook answered 503
        [mail] = receivers["mails"]
        assert mail.rcpt_tos == ["lihua@example.org"] and "冯十一" in mail.content.decode()
        with sessions() as session:
            hook = session.scalars(select(Notification).where(Notification.channel == "webhook")).one()
            assert (hook.attempts, hook.sent_at, "503" in hook.last_error) == (1, None, True)
            assert hook.next_attempt_at is not None and hook.next_attempt_at > utcnow()
        assert notify.deliver_due(sessions, settings).sent == 0  # not due again yet
        retry = notify.deliver_due(sessions, settings, now=utcnow() + timedelta(minutes=2))
        assert retry.sent == 1
        [(headers, body)] = _Hook.received
        assert headers["X-AssetGate-Signature"] == notify.signature("s3cret", headers["X-AssetGate-Timestamp"], body)
        sent = json.loads(body)
        assert (sent["event"], sent["pass"], sent["visitor"], sent["host"]) == ("visitor.arrived", code, "冯十一",
                                                                                place["host"])
    finally:
        app.extensions["assetgate.engine"].dispose()
