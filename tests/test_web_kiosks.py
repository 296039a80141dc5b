"""The kiosk pages and their REST twins: state, enrolment with the bundle as a download (checked against
a real Mosquitto), revocation after a confirmation step, the rejected log with reasons by their Chinese names."""

from __future__ import annotations

import base64
import io
import queue
import re
import time
import uuid
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select

from server import create_app
from server.audit import SYSTEM
from server.models import Kiosk, RejectedMessage, utcnow
from server.services import directory, kiosks
from tests.admin_support import audited, login
from tests.brokers import PrivateBroker


def _bundle(page: str) -> zipfile.ZipFile:
    found = re.search(r'href="data:application/zip;base64,([^"]+)"', page)
    assert found, page
    return zipfile.ZipFile(io.BytesIO(base64.b64decode(found.group(1))))


@pytest.mark.parametrize("role,index,enrol", [("guard", 403, 403), ("storekeeper", 403, 403),
                                              ("auditor", 200, 403), ("admin", 200, 200)])
def test_who_may_see_and_enrol(client: Any, sessions: Any, role: str, index: int, enrol: int) -> None:
    login(client, sessions, role)
    assert client.get("/kiosks").status_code == index
    assert client.get("/kiosks/rejected").status_code == index
    assert client.get("/kiosks/enrol").status_code == enrol
    assert client.post("/kiosks/x/revoke").status_code == (enrol if enrol == 403 else 404)
    if index == 200:
        assert ('href="/kiosks/enrol"' in client.get("/kiosks").get_data(as_text=True)) == (enrol == 200)


def test_kiosk_list_shows_state_waiting_events_last_seen_mode_and_location(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        room = directory.create_location(session, SYSTEM, "东门岗亭", "gate").code
        gate, _ = kiosks.enroll(session, SYSTEM, "gate-1", "gate", room)
        gate.status, gate.last_seen_at = {"state": "online", "outbox": 7}, utcnow()
        kiosks.enroll(session, SYSTEM, "store-1", "storeroom")
        kiosks.enroll(session, SYSTEM, "old-1", "storeroom")
        kiosks.revoke(session, SYSTEM, "old-1", utcnow())
    login(client, sessions, "auditor")
    page = client.get("/kiosks").get_data(as_text=True)
    gate_row = page.split("<code>gate-1</code>")[1].split("</tr>")[0]
    assert "在线" in gate_row and ">7<" in gate_row and "门岗" in gate_row and "东门岗亭" in gate_row
    store_row = page.split("<code>store-1</code>")[1].split("</tr>")[0]
    assert "尚未上报" in store_row and "从未" in store_row and "库房" in store_row
    assert "已吊销" in page.split("<code>old-1</code>")[1].split("</tr>")[0]
    assert "吊销</button>" not in page  # an auditor reads; only an admin revokes


def test_enrol_offers_the_bundle_once_and_says_the_broker_needs_a_hand(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        room = directory.create_location(session, SYSTEM, "Main storeroom", "storeroom").code
    login(client, sessions, "admin")
    response = client.post("/kiosks/enrol", data={"name": "store-2", "mode": "storeroom", "location": room})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "自助终端 store-2 已登记" in page
    assert response.headers["Cache-Control"] == "no-store"
    assert "未配置消息服务器的密码文件" in page  # no broker files in the test settings
    bundle = _bundle(page)
    assert sorted(bundle.namelist()) == ["store-2/broker-password", "store-2/kiosk.toml"]
    assert bundle.getinfo("store-2/broker-password").external_attr >> 16 & 0o777 == 0o600
    toml = bundle.read("store-2/kiosk.toml").decode()
    assert 'kiosk = "store-2"' in toml and f'location = "{room}"' in toml
    assert [e.entity_id for e in audited(sessions, "kiosk.enroll")] == ["store-2"]
    assert "data:application/zip" not in client.get("/kiosks").get_data(as_text=True)


@pytest.mark.parametrize("data,field,message", [
    ({"name": "Store 1!", "mode": "storeroom"}, "name", "自助终端编号须为 1 至 32 个"),
    ({"name": "taken", "mode": "gate"}, "name", "自助终端 taken 已登记"),
    ({"name": "k-2", "mode": "lobby"}, "mode", "自助终端模式须为以下之一"),
    ({"name": "k-3", "mode": "gate", "location": "L-NOPE"}, "location", "没有编号为 L-NOPE 的存放地点"),
    ({"name": "", "mode": "gate"}, "name", "此项必填"),
])
def test_enrol_errors_are_chinese_beside_their_field_and_change_nothing(
        client: Any, sessions: Any, data: dict[str, str], field: str, message: str) -> None:
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, "taken", "gate")
    login(client, sessions, "admin")
    response = client.post("/kiosks/enrol", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'<p class="error" id="{field}-err">[^<]*{message}', body), body
    with sessions() as session:
        assert session.scalars(select(Kiosk.name)).all() == ["taken"]


def test_revoke_needs_confirmation(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, "gate-1", "gate")
    login(client, sessions, "admin")
    ask = client.post("/kiosks/gate-1/revoke")
    assert ask.status_code == 200 and "吊销自助终端 gate-1？" in ask.get_data(as_text=True)
    with sessions() as session:
        assert kiosks.active_kiosk(session, "gate-1") is not None
    done = client.post("/kiosks/gate-1/revoke", data={"confirmed": "1"}, follow_redirects=True)
    assert "自助终端 gate-1 已吊销" in done.get_data(as_text=True)
    with sessions() as session:
        assert kiosks.active_kiosk(session, "gate-1") is None
    again = client.post("/kiosks/gate-1/revoke", data={"confirmed": "1"}, follow_redirects=True)
    assert "自助终端 gate-1 已吊销" in again.get_data(as_text=True) and len(audited(sessions, "kiosk.revoke")) == 1


def _connect(address: tuple[str, int], user: str, password: str) -> bool:
    result: queue.Queue[Any] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{user}-{uuid.uuid4().hex[:6]}")
    client.username_pw_set(user, password)
    client.on_connect = lambda _c, _u, _f, rc, _p=None: result.put(rc)
    client.connect(*address)
    client.loop_start()
    try:
        return not result.get(timeout=5).is_failure
    finally:
        client.loop_stop()
        client.disconnect()


@pytest.mark.broker
def test_a_bundle_downloaded_from_the_page_logs_in_to_a_real_broker_until_revoked(
        settings_overrides: dict[str, Any], tmp_path: Path) -> None:
    from kiosk.config import load_config

    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    passwd.write_text("")
    acl.write_text("")
    broker = PrivateBroker(tmp_path / "broker", password_file=passwd, acl_file=acl, persistence=False)
    app = create_app({**settings_overrides, "broker_password_file": passwd, "broker_acl_file": acl,
                      "broker_pid_file": broker.pid_file, "mqtt_username": "assetgate-server",
                      "mqtt_password": "server-secret-1", "broker_public_host": "127.0.0.1",
                      "broker_public_port": broker.port})
    broker.start()
    try:
        client = app.test_client()
        login(client, app.extensions["assetgate.sessions"], "admin")
        taken = client.post("/kiosks/enrol", data={"name": "assetgate-server", "mode": "gate"})
        assert taken.status_code == 422
        page = client.post("/kiosks/enrol", data={"name": "gate-7", "mode": "gate"}).get_data(as_text=True)
        assert "消息服务器" not in page.split("<h1>")[0]  # no warning: the broker's files were written
        _bundle(page).extractall(tmp_path / "pi")
        config = load_config(tmp_path / "pi" / "gate-7" / "kiosk.toml")
        assert (config.broker.host, config.broker.port) == ("127.0.0.1", broker.port)
        time.sleep(0.5)  # enrolment sent SIGHUP; Mosquitto rereads its files
        assert _connect(broker.address, "gate-7", config.password())
        client.post("/kiosks/gate-7/revoke", data={"confirmed": "1"})
        time.sleep(0.5)
        assert not _connect(broker.address, "gate-7", config.password())
    finally:
        broker.stop()
        app.extensions["assetgate.engine"].dispose()


def _rejected(sessions: Any, n: int, kiosk: str = "gate-1", reason: str = "bad_check") -> None:
    with sessions() as session, session.begin():
        for i in range(n):
            session.add(RejectedMessage(received_at=utcnow() - timedelta(minutes=n - i), topic=f"t/{kiosk}",
                                        kiosk=kiosk, event_id=f"ev-{reason}-{i}", reason=reason,
                                        detail=f"detail {i}", size=100 + i, raw="{}"))


def test_rejected_log_names_reasons_in_chinese_filters_and_pages(client: Any, sessions: Any) -> None:
    _rejected(sessions, 55)
    _rejected(sessions, 2, "store-1", "unknown_kiosk")
    login(client, sessions, "auditor")
    first = client.get("/kiosks/rejected").get_data(as_text=True)
    assert "校验位错误" in first and "自助终端未登记" in first and first.count("<tr>") == 50 + 1
    cursor = re.search(r'rel="next" href="[^"]*after=([^"&]+)', first).group(1)  # type: ignore[union-attr]
    second = client.get(f"/kiosks/rejected?after={cursor}").get_data(as_text=True)
    assert second.count("<tr>") == 7 + 1 and 'rel="next"' not in second
    only = client.get("/kiosks/rejected?reason=unknown_kiosk").get_data(as_text=True)
    assert only.count("<tr>") == 2 + 1 and "校验位错误</td>" not in only
    assert client.get("/kiosks/rejected?kiosk=store-1").get_data(as_text=True).count("<tr>") == 3
    bad = client.get("/kiosks/rejected?after=junk!")
    assert bad.status_code == 400 and "翻页参数无效" in bad.get_data(as_text=True)


def test_rest_enrol_revoke_and_rejected(client: Any, tokens: Any, sessions: Any, tmp_path: Path) -> None:
    admin = tokens.headers("admin")
    assert client.post("/api/v1/kiosks", headers=tokens.headers("auditor"),
                       json={"name": "k-1", "mode": "gate"}).status_code == 403
    made = client.post("/api/v1/kiosks", headers=admin, json={"name": "k-1", "mode": "gate"})
    assert made.status_code == 201 and made.mimetype == "application/zip"
    assert made.headers["X-Broker-Files"] == "not-configured"
    assert 'filename="kiosk-k-1.zip"' in made.headers["Content-Disposition"]
    assert "k-1/kiosk.toml" in zipfile.ZipFile(io.BytesIO(made.data)).namelist()
    dup = client.post("/api/v1/kiosks", headers=admin, json={"name": "k-1", "mode": "gate"})
    assert dup.status_code == 409 and dup.get_json()["error"]["message"] == "自助终端 k-1 已登记"
    revoked = client.post("/api/v1/kiosks/k-1/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert client.post("/api/v1/kiosks/k-1/revoke", headers=admin).get_json()["error"]["code"] == "already_revoked"
    assert client.post("/api/v1/kiosks/nope/revoke", headers=admin).status_code == 404

    _rejected(sessions, 3)
    _rejected(sessions, 1, "store-1", "unknown_kiosk")
    auditor = tokens.headers("auditor")
    page = client.get("/api/v1/kiosks/rejected?limit=2&reason=bad_check", headers=auditor).get_json()
    assert [r["event_id"] for r in page["items"]] == ["ev-bad_check-2", "ev-bad_check-1"] and page["next"]
    rest = client.get(f"/api/v1/kiosks/rejected?limit=2&reason=bad_check&after={page['next']}",
                      headers=auditor).get_json()
    assert [r["event_id"] for r in rest["items"]] == ["ev-bad_check-0"] and rest["next"] is None
    assert client.get("/api/v1/kiosks/rejected?offset=2", headers=auditor).status_code == 422
