"""The local screen: a small web server on 127.0.0.1 for Chromium in kiosk mode.

Standard library only (no Flask on the Pi). The page polls ``/state.json``; buttons and
forms POST JSON to ``/input``. Any web page the kiosk browser opens could try to POST to
localhost, so a POST must carry the per-process token that is embedded in our page (a
foreign page cannot read it), be ``application/json`` (a plain HTML form cannot send
that), and come with an Origin, if any, of this server. Every request must name this
server in Host, which defeats DNS-rebinding pages that would otherwise read the state.
The page is rendered once, in the kiosk's language (``kiosk.page.render``).
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from kiosk import page
from kiosk.i18n import DEFAULT_LANGUAGE

log = logging.getLogger("kiosk.screen")

MAX_BODY = 16 * 1024
TOKEN_HEADER = "X-Kiosk-Token"


class Backend(Protocol):
    kiosk: str

    def screen_state(self) -> dict[str, Any]: ...
    def screen_input(self, action: str, data: dict[str, Any]) -> dict[str, Any]: ...


class Screen:
    def __init__(self, backend: Backend, host: str = "127.0.0.1", port: int = 8080,
                 language: str = DEFAULT_LANGUAGE) -> None:
        self.backend = backend
        self.token = secrets.token_urlsafe(32)
        # Rendered once: token, kiosk and language do not change while the agent runs.
        self.html = page.render(self.token, backend.kiosk, language).encode()
        self._server = ThreadingHTTPServer((host, port), _handler_class(self))
        self._server.daemon_threads = True
        address = self._server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def allowed_hosts(self) -> set[str]:
        return {f"{name}:{self.port}" for name in (self.host, "127.0.0.1", "localhost", "[::1]")}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="kiosk-screen", daemon=True)
        self._thread.start()
        log.info("screen on %s", self.url)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


def _handler_class(screen: Screen) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "assetgate-kiosk"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            log.debug("%s " + format, self.address_string(), *args)

        # -- routing ------------------------------------------------------------------

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            if not self._host_ok():
                return
            route = GET_ROUTES.get(self.path.split("?", 1)[0])
            if route is None:
                self._send(404, b"not found", "text/plain")
                return
            route(self)

        def do_POST(self) -> None:  # noqa: N802
            if not self._host_ok() or not self._post_ok():
                return
            if self.path != "/input":
                self._send(404, b"not found", "text/plain")
                return
            body = self._read_json()
            if body is None:
                return
            action, data = body.get("action"), body.get("data") or {}
            if not isinstance(action, str) or not isinstance(data, dict):
                self._json(400, {"error": "want {action: str, data: object}"})
                return
            self._json(200, screen.backend.screen_input(action, data))

        # -- checks -------------------------------------------------------------------

        def _host_ok(self) -> bool:
            if self.headers.get("Host", "") not in screen.allowed_hosts():
                self._json(403, {"error": "bad host"})
                return False
            return True

        def _post_ok(self) -> bool:
            origin = self.headers.get("Origin")
            if origin is not None and origin.removeprefix("http://") not in screen.allowed_hosts():
                self._json(403, {"error": "cross-site request refused"})
                return False
            token = self.headers.get(TOKEN_HEADER, "")
            if not hmac.compare_digest(token.encode(), screen.token.encode()):
                self._json(403, {"error": "missing or wrong token"})
                return False
            if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
                self._json(415, {"error": "want application/json"})
                return False
            return True

        def _read_json(self) -> dict[str, Any] | None:
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 < length <= MAX_BODY:
                self._json(413 if length > MAX_BODY else 400, {"error": "bad body length"})
                return None
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                self._json(400, {"error": "not JSON"})
                return None
            if not isinstance(body, dict):
                self._json(400, {"error": "want a JSON object"})
                return None
            return body

        # -- responses ----------------------------------------------------------------

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj, default=str).encode(), "application/json")

        def page(self) -> None:
            self._send(200, screen.html, "text/html; charset=utf-8")

        def state(self) -> None:
            self._json(200, screen.backend.screen_state())

        def script(self) -> None:
            self._send(200, page.JS.encode(), "text/javascript; charset=utf-8")

        def style(self) -> None:
            self._send(200, page.CSS.encode(), "text/css; charset=utf-8")

    GET_ROUTES: dict[str, Callable[[Handler], None]] = {
        "/": Handler.page,
        "/state.json": Handler.state,
        "/app.js": Handler.script,
        "/app.css": Handler.style,
    }
    return Handler

