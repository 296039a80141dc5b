"""Accessibility of the administration pages: every visible input labelled, every header cell scoped."""

from __future__ import annotations

import re
from typing import Any

from server.audit import SYSTEM
from server.services import kiosks, users
from tests.admin_support import login

PAGES = ("/", "/users", "/users/tokens", "/kiosks", "/kiosks/enrol", "/kiosks/rejected", "/audit", "/audit/check")


def test_inputs_are_labelled_and_headers_scoped(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        kiosks.enroll(session, SYSTEM, "gate-1", "gate")
        users.issue_token(session, SYSTEM, "feed", "guard")
    login(client, sessions, "admin")
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        labelled = set(re.findall(r'<label[^>]* for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if 'type="hidden"' in tag or "aria-label=" in tag:
                continue
            ident = re.search(r'id="([^"]+)"', tag)
            assert ident and ident.group(1) in labelled, (path, tag)
        assert all('scope="' in th for th in re.findall(r"<th\b[^>]*>", html)), path
