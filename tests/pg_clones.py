"""Fresh PostgreSQL databases for tests, cloned from the migrated template ahead of need.

``CREATE DATABASE ... TEMPLATE`` takes 0.3 to 0.6 s (it writes the whole template through the
WAL), and a test used to wait for it, then for the ``DROP``: some ten minutes of a CI run on
PostgreSQL. Here one thread keeps a few clones ready and another drops used ones, so a test
takes a clone that already exists. Each clone is still made fresh from the template and used by
one test only.
"""

from __future__ import annotations

import queue
import threading
import uuid

from sqlalchemy import create_engine, text

_STOP = ""
DROP_BATCH = 25  # used clones kept until dropped together: about 10 MB each on disk


class ClonePool:
    def __init__(self, admin_url: str, template: str, ahead: int = 2) -> None:
        self._admin_url = admin_url
        self._template = template
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        self._to_make: queue.Queue[str] = queue.Queue()
        self._to_drop: queue.Queue[str] = queue.Queue()
        self._threads = [threading.Thread(target=self._make_loop, daemon=True, name="pg-clone-maker"),
                         threading.Thread(target=self._drop_loop, daemon=True, name="pg-clone-dropper")]
        for thread in self._threads:
            thread.start()
        for _ in range(ahead):
            self._to_make.put("make")

    def take(self) -> str:
        """The name of a fresh clone, for one test; a new one is started in its place."""
        found = self._ready.get(timeout=300)
        if isinstance(found, BaseException):
            raise RuntimeError("could not clone the template database") from found
        self._to_make.put("make")
        return found

    def give_back(self, name: str) -> None:
        self._to_drop.put(name)

    def close(self) -> None:
        self._to_make.put(_STOP)
        self._threads[0].join(timeout=300)
        while not self._ready.empty():
            leftover = self._ready.get()
            if isinstance(leftover, str):
                self._to_drop.put(leftover)
        self._to_drop.put(_STOP)
        self._threads[1].join(timeout=300)

    def _make_loop(self) -> None:
        admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        try:
            while self._to_make.get() != _STOP:
                name = f"ag_t_{uuid.uuid4().hex[:12]}"
                try:
                    with admin.connect() as conn:
                        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
                except Exception as exc:  # handed to the test that waits, which fails with it
                    self._ready.put(exc)
                else:
                    self._ready.put(name)
        finally:
            admin.dispose()

    def _drop_loop(self) -> None:
        # DROP DATABASE forces a checkpoint, which writes every dirty page of the server, the
        # freshly cloned spares included: 2 to 3 s each under load. Dropped in batches, only the
        # first of a batch pays for that; the next ones find little to write.
        admin = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        batch: list[str] = []
        try:
            while True:
                name = self._to_drop.get()
                if name != _STOP:
                    batch.append(name)
                    if len(batch) < DROP_BATCH:
                        continue
                with admin.connect() as conn:
                    for used in batch:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{used}" WITH (FORCE)'))
                batch.clear()
                if name == _STOP:
                    return
        finally:
            admin.dispose()
