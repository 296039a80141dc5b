"""The kiosk wheel as a Pi installs it: a fresh virtual environment, ``assetgate-kiosk[kiosk]`` only.

No server dependency may come along (Flask, SQLAlchemy, psycopg, ...), and the installed agent
runs against the test broker with a video file as its camera: the label in the video becomes
one event that the (real MQTT) responder acks. pip's cache is the shared one, so the install
takes ~30 s on this machine rather than a download of OpenCV each time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from kiosk_support import Responder, config_dict, toml_text, wait_for
from test_scanner_capture import scanner_qr_image

from contract import codes

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {"flask", "sqlalchemy", "alembic", "psycopg", "gunicorn", "reportlab", "openpyxl", "flask-wtf"}


def _video_of(code: str, path: Path) -> Path:
    label = cv2.cvtColor(scanner_qr_image(code), cv2.COLOR_GRAY2BGR)
    frame = np.full((480, 640, 3), 200, np.uint8)
    h, w = label.shape[:2]
    frame[(480 - h) // 2:(480 - h) // 2 + h, (640 - w) // 2:(640 - w) // 2 + w] = label
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for _ in range(30):
        writer.write(frame)
    writer.release()
    return path


def _clean_env() -> dict[str, str]:
    # Nothing from this checkout or the project's venv may leak into the fresh one.
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}


def test_the_kiosk_wheel_installs_alone_and_scans_from_a_video(tmp_path: Path, kiosk_id: str, prefix: str,
                                                                responder: Responder) -> None:
    built = subprocess.run([sys.executable, str(ROOT / "scripts" / "kiosk_wheel.py"), "--out", str(tmp_path / "dist")],
                           capture_output=True, text=True, check=True)
    wheel = Path(built.stdout.strip().splitlines()[-1])
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[kiosk]"], env=_clean_env(),
                   capture_output=True, text=True, check=True)

    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], env=_clean_env(),
                            capture_output=True, text=True, check=True).stdout
    installed = {line.split("==")[0].lower() for line in listed.splitlines()}
    assert {"assetgate-kiosk", "paho-mqtt", "pydantic", "opencv-python-headless", "zxing-cpp"} <= installed
    assert not installed & SERVER_ONLY, installed & SERVER_ONLY
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import server"], cwd=tmp_path, env=_clean_env(),
                           capture_output=True, text=True)
    assert "No module named 'server'" in probe.stderr

    tag = str(codes.new_code(codes.Kind.ASSET))
    config = tmp_path / "kiosk.toml"
    video = _video_of(tag, tmp_path / "cam.avi")
    config.write_text(toml_text(config_dict(tmp_path, kiosk_id, prefix))
                      + f'\n[[scanners]]\nkind = "camera"\ndevice = "{video}"\n')
    agent = subprocess.Popen([str(venv / "bin" / "assetgate-kiosk"), "run", "--config", str(config), "--no-screen"],
                             cwd=tmp_path, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: responder.received, timeout=20)
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=10)
    assert agent.returncode == 0, err
    assert [(e.type, e.data["tag"]) for e in responder.received] == [("asset.checkin", tag)]
