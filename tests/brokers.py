"""A private Mosquitto for tests that need their own broker: ACLs, restarts, persistence.

A real broker process (the same binary as production), on a free loopback port, with a
config written by the test; queue limits raised as firmware-config/ does for a site.
``ShippedBroker`` runs the site configuration of firmware-config/ itself, as shipped.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "firmware-config" / "mosquitto" / "assetgate.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateBroker:
    def __init__(self, folder: Path, *, password_file: Path | None = None, acl_file: Path | None = None,
                 persistence: bool = True) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.pid_file = folder / "mosquitto.pid"
        self.config = folder / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"pid_file {self.pid_file}",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {folder}/",
            "autosave_interval 1",
            "set_tcp_nodelay true",
            "max_queued_messages 100000",
            "max_inflight_messages 0",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # keep access to the test's files instead of dropping to 'mosquitto'
        if password_file:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        if acl_file:
            lines.append(f"acl_file {acl_file}")
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateBroker:
        with open(self.folder / "mosquitto.log", "ab") as log:  # the child keeps its own copy of the fd
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {(self.folder / 'mosquitto.log').read_text()}") from None
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def reload(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)

    def stop(self) -> None:
        """A clean stop (SIGTERM): Mosquitto saves its persistence file."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """A power cut: SIGKILL, nothing saved since the last autosave."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certs(folder: Path) -> Path:
    """A CA and a broker certificate for 127.0.0.1 (ca.crt, server.crt, server.key in ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=AssetGate test CA",
             "-keyout", "ca.key", "-out", "ca.crt", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
             "-out", "server.csr", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "san.ext", "-out", "server.crt", cwd=folder)
    return folder


class ShippedBroker(PrivateBroker):
    """firmware-config/mosquitto/assetgate.conf as shipped, with only what belongs to the machine
    replaced: its ports (the kiosks' TLS listener and the server's loopback one), its file paths
    (certificates made here, password, ACL and persistence files in the test's folder), and the
    test's own pid file and log. A line to replace that is missing fails at once, so the test
    notices when the shipped file changes shape."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.kiosk_port, self.port = free_port(), free_port()  # ``port``: the plain one, for start()
        self.pid_file = folder / "mosquitto.pid"
        self.config = folder / "mosquitto.conf"
        self.kiosk_passwords, self.server_passwords = folder / "kiosks.passwd", folder / "server.passwd"
        self.acl = folder / "assetgate.acl"
        for path in (self.kiosk_passwords, self.server_passwords, self.acl):
            path.write_text("")
        self.certs = make_certs(folder / "certs")
        text = SHIPPED_CONFIG.read_text()
        for old, new in {
            "\nlistener 8883\n": f"\nlistener {self.kiosk_port} 127.0.0.1\n",
            "\nlistener 1883 127.0.0.1\n": f"\nlistener {self.port} 127.0.0.1\n",
            "/etc/mosquitto/certs/": f"{self.certs}/",
            "/etc/mosquitto/assetgate-kiosks.passwd": str(self.kiosk_passwords),
            "/etc/mosquitto/assetgate-server.passwd": str(self.server_passwords),
            "/etc/mosquitto/assetgate.acl": str(self.acl),
            "persistence_location /var/lib/mosquitto/": f"persistence_location {folder}/",
        }.items():
            assert old in text, f"{SHIPPED_CONFIG} no longer has {old.strip()!r}"
            text = text.replace(old, new)
        head = [f"pid_file {self.pid_file}", "log_dest stderr", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            head.append("user root")  # keep access to the test's files instead of dropping to 'mosquitto'
        self.config.write_text("\n".join(head) + "\n" + text)
        self.process = None

    @property
    def ca(self) -> Path:
        return self.certs / "ca.crt"
