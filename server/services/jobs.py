"""Long jobs: work too long for a web request (a label PDF of thousands, a big plan import) runs in a
process of its own, ``python -m server job run ID``, started detached by the request that asked for it.

The request checks what it can at once (so bad input is refused on the spot), stores a ``jobs`` row
and starts the process, then answers with the job's page (web) or 202 and the job's URL (API). The
process claims the row, runs the task (server/services/job_tasks.py), writes its progress to the row
and its result file into the instance folder (``jobs/``), and ends with the row ``done`` or ``failed``.

Robust on purpose rather than clever: a process that dies is seen by its pid, or by its silence for
``SILENT_TIMEOUT`` (the row is then marked failed when next read); a job whose process never started
is failed after ``START_TIMEOUT``; at most ``MAX_ACTIVE`` jobs run at once, so two cores are not
buried under label batches. Progress writes never
wait for the database: on SQLite, while a job's own transaction holds the write lock (the storing
phase of a plan import) they are skipped, and the page shows the job's progress again when it commits.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from server import audit, params
from server.audit import Actor
from server.config import ENV_PREFIX, Settings
from server.db import make_engine, make_session_factory
from server.errors import DomainError, NotFound
from server.i18n import N_
from server.models import Job, JobState, utcnow

log = logging.getLogger(__name__)

LABELS_INLINE_MAX = 500  # labels made inside the request; more go to a job (about 150 labels a second)
PLAN_ROWS_INLINE_MAX = 2000  # plan rows checked or imported inside the request
AUDIT_ROWS_INLINE_MAX = 100_000  # audit rows the tamper check reads inside the request (a few seconds)
MAX_ACTIVE = 4  # jobs queued or running at once
START_TIMEOUT = timedelta(seconds=60)  # a queued job whose process has not claimed it by then has failed
SILENT_TIMEOUT = timedelta(minutes=10)  # a running job with no progress for this long has failed (pid reused?)
KEEP_RESULTS = timedelta(days=7)
PROGRESS_EVERY_S = 0.5
ACTIVE = (JobState.QUEUED.value, JobState.RUNNING.value)
DEAD = N_("the job's process ended before the job finished")
NOT_STARTED = N_("the job's process did not start")
UNEXPECTED = N_("the job stopped on an unexpected error; it has been logged")


class Busy(DomainError):
    code = "busy"
    status = 429


def folder(instance: Path) -> Path:
    path = Path(instance) / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- in the request ---

def create(session: Session, actor: Actor, kind: str, params: dict[str, Any], total: int) -> Job:
    """A queued job (commit it, then ``start`` it); refused while MAX_ACTIVE jobs are running."""
    active = session.scalar(select(func.count()).select_from(Job).where(Job.state.in_(ACTIVE))) or 0
    if active >= MAX_ACTIVE:
        raise Busy(N_("%(active)s long jobs are running already; try again when one has finished"), active=active)
    job = Job(kind=kind, state=JobState.QUEUED.value, owner=actor.name, source=actor.source,
              role=actor.role or "", params=params, done=0, total=max(total, 1))
    session.add(job)
    session.flush()
    return job


def start(settings: Settings, session: Session, job: Job) -> None:
    """Start the job's process, detached (its own session: a signal to the server does not reach it).

    A thread waits for it, so that it never lingers as a zombie of the web server (which would also
    look alive to ``refresh``). If it cannot be started at all, the job is marked failed at once.
    """
    jobs = folder(settings.instance_path)
    try:
        with (jobs / f"{job.id}.log").open("ab") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "server", "job", "run", str(job.id)], stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT, env=child_environment(settings), start_new_session=True)
    except OSError as exc:
        log.error("job %s: cannot start its process: %s", job.id, exc)
        _finish(job, JobState.FAILED, error=_error_of(DomainError(NOT_STARTED, code="not_started")))
        session.commit()
        return
    threading.Thread(target=process.wait, name=f"job-{job.id}-reaper", daemon=True).start()


def child_environment(settings: Settings) -> dict[str, str]:
    """The environment of a job's process: this app's settings exactly, as ASSETGATE_* variables."""
    import server

    env = dict(os.environ)
    env.pop(f"{ENV_PREFIX}CONFIG", None)  # every value is given below; a config file must not override one
    values = settings.model_dump(mode="json")
    values["instance_path"] = str(settings.instance_path.resolve())
    values["database_url"] = settings.effective_database_url
    for name, value in values.items():
        key = f"{ENV_PREFIX}{name.upper()}"
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value if isinstance(value, str) else json.dumps(value)
    # The child imports the same code as this process, installed or run from a source tree.
    root = str(Path(server.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def get(session: Session, actor: Actor, job_id: int | str) -> Job:
    """A job its owner (or an admin) may see, its state brought up to date; anyone else: not found."""
    number = params.row_id(job_id)
    job = session.get(Job, number) if number is not None else None
    if job is None or (job.owner != actor.name and actor.role != "admin"):
        raise NotFound(N_("unknown job %(id)s"), code="unknown_job", id=str(job_id)[:20])
    refresh(job)
    return job


def refresh(job: Job) -> None:
    """Mark a job failed whose process is gone or never came (the caller commits)."""
    if job.state == JobState.RUNNING.value and (
            (job.pid and not _alive(job.pid))
            or (job.heartbeat_at is not None and utcnow() - job.heartbeat_at > SILENT_TIMEOUT)):
        _finish(job, JobState.FAILED, error=_error_of(DomainError(DEAD, code="process_died")))
    elif job.state == JobState.QUEUED.value and utcnow() - job.created_at > START_TIMEOUT:
        _finish(job, JobState.FAILED, error=_error_of(DomainError(NOT_STARTED, code="not_started")))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process has that pid now: ours is gone
        return False
    return True


def result_path(instance: Path, job: Job) -> Path | None:
    """The job's result file, if it is done and the file is still kept."""
    if job.state != JobState.DONE.value or not job.result_file:
        return None
    path = folder(instance) / job.result_file
    return path if path.is_file() else None


def percent(job: Job) -> float:
    if job.state == JobState.DONE.value:
        return 100.0
    return round(min(job.done, job.total) * 100 / job.total, 1) if job.total else 0.0


def error_text(job: Job) -> str | None:
    """The job's failure in the reader's language."""
    if not job.error:
        return None
    from flask_babel import gettext

    template, params = job.error.get("template") or job.error.get("message", ""), job.error.get("params") or {}
    return gettext(template) % params if params else gettext(template)


def prune(session: Session, instance: Path) -> None:
    """Remove result files (and logs) of jobs finished more than KEEP_RESULTS ago."""
    old = session.scalars(select(Job).where(Job.finished_at < utcnow() - KEEP_RESULTS, Job.result_file.is_not(None)))
    jobs = folder(instance)
    for job in old:
        for name in (job.result_file, f"{job.id}.log"):
            (jobs / str(name)).unlink(missing_ok=True)
        job.result_file = None


# --- in the job's process ---

@dataclass
class Outcome:
    """What a task hands back: a summary, the result file's name (in jobs/), or the refusal it ended in."""

    result: dict[str, Any] = field(default_factory=dict)
    result_file: str | None = None
    error: DomainError | None = None


@dataclass
class Context:
    job_id: int
    kind: str
    params: dict[str, Any]
    actor: Actor
    settings: Settings
    sessions: sessionmaker[Session]
    reporter: Reporter

    @property
    def folder(self) -> Path:
        return folder(self.settings.instance_path)

    def progress(self, done: int) -> None:
        self.reporter.report(done)

    def set_total(self, total: int, done: int | None = None) -> None:
        self.reporter.set_total(total, done)


class Reporter:
    """Writes a job's progress to its row, at most every PROGRESS_EVERY_S, never waiting for a lock."""

    def __init__(self, url: str, job_id: int) -> None:
        self._engine = make_engine(url)
        if url.startswith("sqlite"):
            # Taking the write lock must not wait: a busy database skips this update, the next one comes.
            event.listen(self._engine, "connect", lambda conn, _rec: conn.execute("PRAGMA busy_timeout=50"))
        self._sessions = make_session_factory(self._engine)
        self._job_id = job_id
        self._last = 0.0
        self._total: int | None = None

    def set_total(self, total: int, done: int | None = None) -> None:
        self._total = max(total, 1)
        self._write({"total": self._total, **({"done": done} if done is not None else {})})

    def report(self, done: int) -> None:
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            self._write({"done": done})

    def _write(self, values: dict[str, Any]) -> None:
        try:
            with self._sessions() as session, session.begin():
                session.execute(update(Job).where(Job.id == self._job_id).values(heartbeat_at=utcnow(), **values))
        except OperationalError as exc:
            log.debug("job %s: progress not written (%s)", self._job_id, exc.orig)

    def close(self) -> None:
        self._engine.dispose()


Task = Callable[[Context], Outcome]


def run(settings: Settings, job_id: int, tasks: dict[str, Task] | None = None) -> bool:
    """Claim a queued job and run it to the end; True when it is done. Called in the job's own process."""
    if tasks is None:
        from server.services.job_tasks import TASKS

        tasks = TASKS
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    audit.install(sessions, settings)  # a job's changes are audited like any other (plan imports, prints)
    try:
        context = _claim(sessions, settings, job_id)
        if context is None:
            log.warning("job %s: not found or not queued; nothing to do", job_id)
            return False
        try:
            outcome = tasks[context.kind](context)
        except DomainError as exc:
            outcome = Outcome(error=exc)
        except Exception:  # the job must end failed, never stay "running": log it for the administrator
            log.exception("job %s (%s) failed", job_id, context.kind)
            outcome = Outcome(error=DomainError(UNEXPECTED, code="unexpected"))
        finally:
            context.reporter.close()
        with sessions() as session, session.begin():
            job = session.get(Job, job_id)
            assert job is not None
            _finish(job, JobState.FAILED if outcome.error else JobState.DONE, outcome.result,
                    outcome.result_file, _error_of(outcome.error) if outcome.error else None)
        return outcome.error is None
    finally:
        engine.dispose()


def _claim(sessions: sessionmaker[Session], settings: Settings, job_id: int) -> Context | None:
    with sessions() as session, session.begin():
        now = utcnow()
        claimed = session.execute(update(Job).where(Job.id == job_id, Job.state == JobState.QUEUED.value).values(
            state=JobState.RUNNING.value, pid=os.getpid(), started_at=now, heartbeat_at=now))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        job = session.get(Job, job_id)
        assert job is not None
        return Context(job.id, job.kind, dict(job.params), Actor(job.owner, job.source, job.role or None), settings,
                       sessions, Reporter(settings.effective_database_url, job.id))


def _finish(job: Job, state: JobState, result: dict[str, Any] | None = None, result_file: str | None = None,
            error: dict[str, Any] | None = None) -> None:
    job.state = state.value
    job.finished_at = utcnow()
    if result is not None:
        job.result = result
    job.result_file = result_file
    job.error = error
    if state is JobState.DONE:
        job.done = job.total


def _error_of(exc: DomainError) -> dict[str, Any]:
    """A refusal as the row keeps it: English for logs, template and values for the reader's language."""
    params = {k: v if isinstance(v, int | float | str) else str(v) for k, v in exc.params.items()}
    return {"code": exc.code, "message": exc.message, "template": exc.template, "params": params}
