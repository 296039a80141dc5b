"""The app's own CSS and vendored JavaScript, served by the app itself (no CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, send_from_directory

from server.auth import public

STATIC = Path(__file__).resolve().parents[1] / "static"


def register(app: Flask) -> None:
    @public
    def static_file(filename: str) -> Any:
        return send_from_directory(STATIC, filename, max_age=3600)

    app.add_url_rule("/static/<path:filename>", "static", static_file)
