"""Service heartbeats and long jobs."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, created, intpk


class ServiceHeartbeat(Base):
    """A long-running service's sign of life, overwritten in place (operational state, not ledger).

    The consumer's writer updates its row every ``interval_s`` while the consumer is connected to
    the broker; ``services.health`` calls the service down when the last beat is too old.
    """

    __tablename__ = "service_heartbeats"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)  # e.g. "consumer/<mqtt client id>"
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    last_beat: Mapped[datetime]
    interval_s: Mapped[float] = mapped_column(Float)


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(Base):
    """A long piece of work (a big label PDF, a big plan import) run by a process of its own.

    The process writes its progress here; pages and the API read it. The result file lives in the
    instance folder (``jobs/``), named in ``result_file``. Not part of the ledger: what a job changes
    is audited by the services it calls.
    """

    __tablename__ = "jobs"
    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(30))  # labels, plan_check, plan_import
    state: Mapped[str] = mapped_column(String(10), default=JobState.QUEUED.value, index=True)
    owner: Mapped[str] = mapped_column(String(100))  # the actor who started it (only they and admins see it)
    source: Mapped[str] = mapped_column(String(60))
    role: Mapped[str] = mapped_column(String(20))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a summary: counts, rows refused
    result_file: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # code, template, params, message
    pid: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[created]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
