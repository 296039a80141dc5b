"""PostgreSQL connections: how many AssetGate keeps open, against what the server allows.

Every process has a pool of its own. A gunicorn sync worker serves one request at a time, so it
uses one connection (a second only for a moment, when a request opens a session beside its own);
its pool keeps up to ``db_pool_size`` open and opens up to ``db_max_overflow`` more at a peak,
closing those again when they come back. The other processes are single-threaded: the consumer's
writer, the scheduler, and each running job (its work and its progress reporter).

``assetgate serve`` refuses to start when what the pools keep open cannot fit the server's
``max_connections`` (less the superusers' reserve): better one clear line at start than "sorry, too
many clients already" in the middle of a morning rush. A peak beyond it is only a warning, since
the overflow is rarely all used at once. Other programs using the same PostgreSQL server, and
consumers beyond the first, are not counted: leave room for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from server.config import Settings

CONNECTIONS_PER_JOB = 2  # the job's own engine and its progress reporter's


def pool_options(settings: Settings) -> dict[str, Any]:
    """The web workers' pool on PostgreSQL; SQLite keeps SQLAlchemy's own (one file, no server)."""
    if settings.effective_database_url.startswith("sqlite"):
        return {}
    return {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}


@dataclass(frozen=True)
class Budget:
    kept: int  # what the pools keep open once every worker has served a request
    peak: int  # with every worker's overflow open at once
    allowed: int  # max_connections less superuser_reserved_connections
    max_connections: int
    reserved: int
    parts: str  # how `kept` adds up, for the message

    def problem(self) -> str | None:
        if self.kept <= self.allowed:
            return None
        return (f"PostgreSQL allows {self.allowed} connections (max_connections {self.max_connections} less "
                f"{self.reserved} reserved for superusers), but AssetGate keeps up to {self.kept} open: "
                f"{self.parts}. Lower --workers (web_workers) or db_pool_size, or raise max_connections.")

    def warning(self) -> str | None:
        if self.peak <= self.allowed:
            return None
        return (f"at a peak the web workers may open up to {self.peak} connections (db_max_overflow), more than "
                f"the {self.allowed} PostgreSQL allows; the one that finds none gets an error page")


def budget(settings: Settings, workers: int, engine: Engine) -> Budget | None:
    """The connections `workers` web workers and their companions keep open; None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    from server.services.jobs import MAX_ACTIVE  # here: create_app imports this module early

    with engine.connect() as conn:
        max_connections = int(conn.exec_driver_sql("SHOW max_connections").scalar_one())
        reserved = int(conn.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
    others = 1 + 1 + MAX_ACTIVE * CONNECTIONS_PER_JOB  # consumer's writer, scheduler, jobs
    kept = workers * settings.db_pool_size + others
    parts = (f"{workers} web workers × db_pool_size {settings.db_pool_size}, the consumer's writer 1, the "
             f"scheduler 1, at most {MAX_ACTIVE} jobs × {CONNECTIONS_PER_JOB}")
    return Budget(kept=kept, peak=kept + workers * settings.db_max_overflow, allowed=max_connections - reserved,
                  max_connections=max_connections, reserved=reserved, parts=parts)
