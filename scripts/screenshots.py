"""Take the README's screenshots: a demo office on a temporary SQLite database, served on loopback,
photographed page by page in Debian's headless Chromium (the same set-up as the browser tests).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from server import create_app
from server.demo import seed
from server.migrate import upgrade

PASSWORD = "demo-password-1"
PAGES = [  # file name, path, language
    ("dashboard", "/", "zh"),
    ("assets", "/assets", "zh"),
    ("requests", "/requests/", "zh"),
    ("plans", "/procurement/plans", "zh"),
    ("report-spend", "/reports/spend?period=month", "zh"),
    ("gate", "/gate/", "zh"),
    ("supplies", "/supplies/", "zh"),
    ("kiosks", "/kiosks", "zh"),
    ("dashboard-en", "/", "en"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"instance_path": Path(folder), "secret_key": "screenshots", "csrf_enabled": False})
        upgrade(app.extensions["assetgate.engine"])
        with app.extensions["assetgate.sessions"]() as session, session.begin():
            seed(session, PASSWORD)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            for name, path, language in PAGES:
                page = browser.new_page(locale="zh-CN" if language == "zh" else "en-GB",
                                        viewport={"width": 1280, "height": 800},
                                        extra_http_headers={"Accept-Language": language})
                page.goto(f"{base}/login")
                page.fill("#username", "admin")
                page.fill("#password", PASSWORD)
                page.click("button.primary")
                response = page.goto(f"{base}{path}")
                if response is None or response.status != 200:
                    print(f"skipped {path}: {response.status if response else 'no answer'}")
                    continue
                page.screenshot(path=str(out / f"{name}.png"), full_page=False)
                print(f"{out / name}.png")
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
