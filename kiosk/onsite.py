"""Who is on site, as a gate kiosk knows it: for a roll call when the server cannot be reached.

The base is the server's list from the retained config (``KioskConfig.on_site``, every gate's
sign-ins). On top of it go this kiosk's own sign-ins and sign-outs, from the moment they are
recorded, until a server list that includes them arrives (their ack came before it); a sign-in
the server refused is taken off at once. The snapshot is kept in a file beside the outbox
(mode 600: it names people), so it survives a reboot while the network is down.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("kiosk.onsite")
FIELDS = ("pass", "name", "organisation", "host", "host_name", "plate", "since")


class OnSiteSnapshot:
    def __init__(self, path: Path | None = None, clock: Any = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._base: list[dict[str, Any]] = []
        self._base_at = 0.0
        self._local: list[dict[str, Any]] = []  # {"id", "op": in|out, "row", "acked_at"}
        self._load()

    # -- what changes it ------------------------------------------------------------------

    def server(self, rows: list[dict[str, Any]]) -> None:
        """A server list arrived: it replaces the base, and includes every change acked before now."""
        now = self._clock()
        with self._lock:
            self._base = [{k: row.get(k) for k in FIELDS} for row in rows if isinstance(row, dict)]
            self._base_at = now
            self._local = [c for c in self._local if c["acked_at"] is None or c["acked_at"] >= now]
            self._save()

    def signed_in(self, event_id: str, data: dict[str, Any], at: str) -> None:
        row = {k: data.get(k) for k in FIELDS if k in data} | {"since": at}
        self._change({"id": event_id, "op": "in", "row": row, "acked_at": None})

    def signed_out(self, event_id: str, code: str) -> None:
        self._change({"id": event_id, "op": "out", "row": {"pass": code}, "acked_at": None})

    def acked(self, event_id: str, status: str) -> None:
        with self._lock:
            for change in self._local:
                if change["id"] == event_id:
                    if status == "rejected":
                        self._local.remove(change)  # the server refused it: it never happened
                    else:
                        change["acked_at"] = self._clock()
                    self._save()
                    return

    def _change(self, change: dict[str, Any]) -> None:
        with self._lock:
            self._local.append(change)
            self._save()

    # -- what it shows --------------------------------------------------------------------

    def rows(self) -> list[dict[str, Any]]:
        """Everyone on site, oldest first."""
        with self._lock:
            present = {row["pass"]: row for row in self._base if row.get("pass")}
            for change in self._local:
                code = change["row"].get("pass")
                if change["op"] == "in":
                    present[code] = {**present.get(code, {}), **change["row"]}
                else:
                    present.pop(code, None)
        return sorted(present.values(), key=lambda row: str(row.get("since") or ""))

    # -- the file -------------------------------------------------------------------------

    def _save(self) -> None:
        if self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump({"base": self._base, "base_at": self._base_at, "local": self._local}, handle,
                          ensure_ascii=False)
            os.replace(tmp, self.path)
        except OSError as exc:  # a full disk must not stop the gate: the roll call is then in memory only
            log.error("could not save the on-site snapshot to %s: %s", self.path, exc)

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            saved = json.loads(self.path.read_text())
            self._base, self._base_at, self._local = saved["base"], float(saved["base_at"]), saved["local"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("on-site snapshot %s unreadable (%s); starting empty", self.path, exc)
