"""The web labels page: a storekeeper's form that returns a decodable PDF, audited."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import cv2
import zxingcpp
from sqlalchemy import select

from server import auth
from server.audit import SYSTEM
from server.models import AuditEntry
from server.services import assets, directory


def _login(client: Any, sessions: Any, role: str) -> None:
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, f"web-{role}", "correct horse battery", role)
    client.post("/login", data={"username": f"web-{role}", "password": "correct horse battery"})


def test_labels_form_gives_a_pdf_that_scans(client: Any, sessions: Any, tmp_path: Path) -> None:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Printer")
        made = [assets.create_asset(session, SYSTEM, f"HP {i}", "Printer").code for i in range(3)]
    _login(client, sessions, "storekeeper")
    page = client.get(f"/assets/{made[0]}").get_data(as_text=True)
    assert "打印二维码标签" in page  # Chinese by default
    response = client.post("/labels", data={"codes": "\n".join(made), "template": "thermal-50x30", "skip": "0"})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    (tmp_path / "l.pdf").write_bytes(response.data)
    subprocess.run(["pdftoppm", "-r", "203", "-png", str(tmp_path / "l.pdf"), str(tmp_path / "p")], check=True)
    found = sorted(r.text for png in tmp_path.glob("p*.png") for r in zxingcpp.read_barcodes(cv2.imread(str(png))))
    assert found == sorted(made)
    with sessions() as session:
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "labels.print")).all()


def test_labels_form_errors_and_roles(client: Any, sessions: Any) -> None:
    _login(client, sessions, "storekeeper")
    bad = client.post("/labels", data={"codes": "A-000010A", "template": "a4-l7651", "skip": "0"})
    assert bad.status_code == 422 and "A-000010A 的校验位不对" in bad.get_data(as_text=True)
    unknown = client.post("/labels", data={"codes": "A-000010*", "template": "a4-l7651", "skip": "0"})
    assert unknown.status_code == 422 and "以下编号不是本系统发放的：A-000010*" in unknown.get_data(as_text=True)
    client.post("/logout")
    _login(client, sessions, "guard")
    assert client.get("/labels").status_code == 403
