"""systemd's notify protocol, in the standard library: READY, WATCHDOG, STATUS, STOPPING.

The service manager passes a datagram socket in ``NOTIFY_SOCKET`` (a path, or ``@name`` for
the abstract namespace) and, with ``WatchdogSec=``, the interval in ``WATCHDOG_USEC``. One
datagram per message; no reply. Outside systemd (tests, a terminal) every call is a no-op,
so the agent runs the same everywhere. Written here rather than depending on a package
because it is ten lines of socket code.
"""

from __future__ import annotations

import os
import socket

NOTIFY_SOCKET = "NOTIFY_SOCKET"


def notify(message: str) -> bool:
    """Send ``message`` (e.g. ``"READY=1"``); False when not under systemd or the send failed."""
    address = os.environ.get(NOTIFY_SOCKET)
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # Linux abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError:
        return False  # a vanished socket must not stop the kiosk; systemd will notice the silence
    return True


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings systemd expects (half its timeout), or None when off."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None  # not asked, or meant for another process (a wrapper that exec'd us away)
    try:
        timeout = int(usec) / 1_000_000
    except ValueError:
        return None
    return timeout / 2 if timeout > 0 else None
