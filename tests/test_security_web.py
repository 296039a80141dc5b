"""Issue 15, web side: sign-in throttling and equal timing, security headers, the Secure cookie."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import server
from server import auth
from server.audit import SYSTEM
from server.services import signin

PASSWORD = "correct horse battery"


def _user(sessions: Any, name: str = "boss", role: str = "admin") -> None:
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, name, PASSWORD, role)


def _try(client: Any, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return client.post("/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_an_account_is_held_after_five_failures_even_with_the_right_password(client: Any, sessions: Any,
                                                                            caplog: Any) -> None:
    _user(sessions)
    for _ in range(signin.ACCOUNT_FREE):
        assert _try(client, "boss", "wrong").status_code == 401
    with caplog.at_level("WARNING", logger="server.services.signin"):
        held = _try(client, "boss", PASSWORD, address="10.0.0.2")  # another address: the account is held
    assert held.status_code == 429
    assert "登录失败次数过多" in held.get_data(as_text=True)  # told to the person
    assert "sign-in refused for 'boss' from 10.0.0.2: held until" in caplog.text  # and logged
    assert _try(client, "someone-else", "wrong", address="10.0.0.2").status_code == 401  # others are not held


def test_the_wait_grows_and_a_success_clears_it(sessions: Any) -> None:
    from server.models import utcnow

    now = utcnow()
    with sessions() as session, session.begin():
        for _ in range(signin.ACCOUNT_FREE):
            signin.record_failure(session, "Boss ", "10.0.0.1")
        first = signin.held_until(session, "boss", "10.9.9.9", now)
        signin.record_failure(session, "boss", "10.0.0.1")
        second = signin.held_until(session, "boss", "10.9.9.9", now)
        assert first is not None and second is not None and second - first > timedelta(seconds=50)
        assert signin.held_until(session, "boss", "10.9.9.9", now + timedelta(hours=2)) is None
        signin.record_success(session, "boss")
        assert signin.held_until(session, "boss", "10.9.9.9", now) is None


def test_an_address_guessing_many_usernames_is_held(client: Any, sessions: Any) -> None:
    _user(sessions)
    for i in range(signin.ADDRESS_FREE):
        _try(client, f"guess-{i}", "wrong", address="10.6.6.6")
    assert _try(client, "boss", PASSWORD, address="10.6.6.6").status_code == 429
    assert _try(client, "boss", PASSWORD, address="10.0.0.7").status_code == 302


def test_unknown_and_known_usernames_take_the_same_time(sessions: Any) -> None:
    _user(sessions)
    with sessions() as session:
        auth.check_login(session, "nobody", "x")

        runs: dict[str, list[float]] = {"boss": [], "nobody": []}
        for _ in range(9):  # interleaved, so a busy moment of the machine hits both alike
            for name, times in runs.items():
                start = time.perf_counter()
                auth.check_login(session, name, "wrong password")
                times.append(time.perf_counter() - start)
    known, unknown = statistics.median(runs["boss"]), statistics.median(runs["nobody"])
    assert 0.7 < unknown / known < 1.4, (known, unknown)  # was 2x: a second hash for unknown names


def test_every_response_has_the_security_headers(client: Any, tokens: Any) -> None:
    for path, headers in (("/login", {}), ("/api/v1/assets", tokens.headers("auditor")), ("/no/such/page", {}),
                          ("/static/app.css", {})):
        response = client.get(path, headers=headers)
        response.close()  # a static file is streamed: close it
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_no_page_loads_anything_from_another_site() -> None:
    """No CDN: every script, style, picture and font is the app's own (the CSP's default-src 'self'
    would block anything else in the browser; this finds it before a browser does)."""
    root = Path(server.__file__).parent
    external = re.compile(r"""(?:src|href|action|srcset)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//"""
                          r"""|@import\s+(?:url\()?["']?(?:https?:)?//""", re.I)
    files = [*root.glob("templates/**/*.html"), *root.glob("static/*.css")]
    assert len(files) > 50
    found = [f"{path.relative_to(root)}: {hit.group(0)}" for path in files
             for hit in external.finditer(path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_session_cookie_is_secure_over_tls_only(client: Any, sessions: Any) -> None:
    _user(sessions)
    plain = client.post("/login", data={"username": "boss", "password": PASSWORD})
    assert "Secure" not in plain.headers["Set-Cookie"]
    tls = client.post("/login", data={"username": "boss", "password": PASSWORD}, base_url="https://localhost")
    assert "Secure" in tls.headers["Set-Cookie"] and "HttpOnly" in tls.headers["Set-Cookie"]


def test_instance_folder_and_sqlite_files_are_private(tmp_path: Any) -> None:
    import stat

    from server import create_app

    instance = tmp_path / "inst"
    instance.mkdir(mode=0o755)
    app = create_app({"instance_path": instance, "secret_key": "", "testing": True})
    from server.migrate import upgrade

    upgrade(app.extensions["assetgate.engine"])
    with app.extensions["assetgate.sessions"]() as session, session.begin():
        auth.create_user(session, SYSTEM, "boss", PASSWORD, "admin")  # a write: the WAL exists now
        files = sorted(p.name for p in instance.iterdir())
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in instance.iterdir()}
    _every_other_secret(app)
    app.extensions["assetgate.engine"].dispose()
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    assert {"assetgate.db", "assetgate.db-wal", "secret_key"} <= set(files)
    assert all(mode == 0o600 for mode in modes.values()), modes
    # Everything the instance folder holds now: private, and each secret named in docs/security.md.
    listed = (Path(__file__).parents[1] / "docs" / "security.md").read_text().split("## Secrets")[1]
    public = {"audit_signing.pub", "kiosk.toml"}  # not secret: the auditor's key, a kiosk's settings
    for path in instance.rglob("*"):
        mode, name = stat.S_IMODE(path.stat().st_mode), path.relative_to(instance).as_posix()
        if path.is_dir():
            assert mode == 0o700, name
        elif path.name not in public:
            assert mode == 0o600, (name, oct(mode))
            shown = "kiosks/<id>/broker-password" if path.name == "broker-password" else \
                "audit-summaries/" if name.startswith("audit-summaries/") else path.name.split("-wal")[0]
            assert shown in listed, f"{name} is not in the secrets list of docs/security.md"


def _every_other_secret(app: Any) -> None:
    """The instance folder's other secrets: a kiosk's bundle (the CLI's enrolment), the audit signing
    key, a checkpoint and a summary."""
    from server import broker, settings_of
    from server.audit import check as checks
    from server.audit import checkpoints
    from server.models import Kiosk

    settings = settings_of(app)
    broker.kiosk_bundle(settings, Kiosk(name="gate-1", mode="gate"), "secret", broker.bundle_folder(settings, "gate-1"))
    key = checkpoints.signing_key(settings)
    loaded = checkpoints.load(settings)
    with app.extensions["assetgate.sessions"]() as session:
        point, actions = checks.take_checkpoint(session, loaded)
    checkpoints.append(settings, key, point)
    checkpoints.write_summary(settings, checkpoints.summary(settings, key, point, loaded.newest, actions))
