"""Each kind of long job: the request's side (do it now, or start a job when it is big) and what the
job's own process does (see services/jobs.py).

A request checks what it can at once, so bad input is refused on the spot, then either does the work
itself or starts a job; the job calls the same service functions. Tasks keep their transactions short:
a read, then the slow part with no transaction open (on SQLite an open transaction holds the write
lock, and every page would wait for it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server import audit
from server.audit import Actor, Report, checkpoints
from server.config import Settings
from server.errors import Invalid
from server.i18n import N_
from server.models import AuditEntry, Job
from server.services import jobs, plans, printing, uploads
from server.services.jobs import Context, Outcome, Task

SHOWN_ERRORS = 1000  # bad rows a job keeps for its page; the count says how many there were


# --- the request's side ---

def _started(session: Session, settings: Settings, actor: Actor, kind: str, params: dict[str, Any],
             total: int) -> Job:
    jobs.prune(session, settings.instance_path)
    job = jobs.create(session, actor, kind, params, total)
    session.commit()  # the job's process reads the row
    jobs.start(settings, session, job)
    return job


def labels_now_or_later(session: Session, settings: Settings, actor: Actor, codes: list[str], template: str,
                        skip: int = 0) -> bytes | Job:
    """A small batch's PDF (audited in the caller's transaction: commit it), or a big batch's job, started."""
    batch = printing.prepare(session, codes, org=settings.org_name, template_name=template, skip=skip)
    if len(batch.items) > jobs.LABELS_INLINE_MAX:
        return _started(session, settings, actor, "labels", {
            "codes": [label.code for label in batch.items], "template": batch.template.name, "skip": skip},
            len(batch.items))
    return printing.pdf_of(session, actor, batch, settings.label_base_url)


def plan_check_now_or_later(session: Session, settings: Settings, actor: Actor,
                            token: str) -> tuple[list[plans.LineIn], list[plans.RowError]] | Job:
    """The preview of a kept upload: its rows checked now, or for a big file the checking job, started."""
    source = uploads.path(settings.instance_path, token)
    data = source.read_bytes()
    estimate = plans.estimate_rows(data, source.name)
    if estimate > jobs.PLAN_ROWS_INLINE_MAX:
        return _started(session, settings, actor, "plan_check", {"upload": token}, 2 * estimate)
    return plans.check_rows(session, plans.read_table(data, source.name))


def plan_import_now_or_later(session: Session, settings: Settings, actor: Actor, data: bytes, filename: str,
                             skip_bad: bool, token: str | None = None) -> plans.ImportReport | Job:
    """A plan imported now (in the caller's transaction: commit it when the report is ok), or for a big
    file the importing job, started (``token``: the file is kept already as that upload)."""
    estimate = plans.estimate_rows(data, filename)
    if estimate > jobs.PLAN_ROWS_INLINE_MAX:
        token = token or uploads.save(settings.instance_path, data, filename)
        return _started(session, settings, actor, "plan_import", {"upload": token, "skip_bad": skip_bad},
                        3 * estimate)
    report = plans.import_rows(session, actor, plans.read_table(data, filename), skip_bad)
    if token and report.ok:
        uploads.remove(settings.instance_path, token)
    return report


def audit_check_now_or_later(session: Session, settings: Settings, actor: Actor) -> Report | Job:
    """The tamper check (``server.audit.verify``) of a small log, now; of a big one, a job, started: a check
    of millions of rows takes minutes, longer than a web request may."""
    rows = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    if rows > jobs.AUDIT_ROWS_INLINE_MAX:
        return _started(session, settings, actor, "audit_verify", {}, rows)
    return audit.verify(session, _checkpoints(settings))


def _checkpoints(settings: Settings) -> checkpoints.Loaded:
    try:  # read before the check's snapshot begins: a checkpoint is then never newer than what is checked
        return checkpoints.load(settings)
    except (checkpoints.CheckpointProblem, OSError):  # unreadable: a finding, never a crash
        return checkpoints.Loaded(forged=[0], path=checkpoints.checkpoint_file(settings))


# --- the job's process ---


def audit_verify(ctx: Context) -> Outcome:
    """The tamper check of a big audit log (no params): its report, as the check page shows it."""
    loaded = _checkpoints(ctx.settings)
    with ctx.sessions() as session:
        report = audit.verify(session, loaded, progress=ctx.progress)
    return Outcome(report.as_dict())


def labels(ctx: Context) -> Outcome:
    """A label PDF: params codes, template, skip. Audited as a print when it is written."""
    p = ctx.params
    with ctx.sessions() as session:  # read and let go: the render below takes minutes
        batch = printing.prepare(session, p["codes"], org=ctx.settings.org_name, template_name=p["template"],
                                 skip=int(p.get("skip", 0)))
    name = f"{ctx.job_id}-labels.pdf"
    made = printing.render_batch(batch, str(ctx.folder / name), base_url=ctx.settings.label_base_url,
                                 progress=ctx.progress)
    with ctx.sessions() as session, session.begin():
        printing.record_print(session, ctx.actor, batch)
    return Outcome({"labels": made.labels, "pages": made.pages}, name)


def _rows(ctx: Context, phases: int) -> list[dict[str, Any]]:
    """The upload's rows; progress counts rows read, then ``phases - 1`` more passes over them."""
    source = uploads.path(ctx.settings.instance_path, ctx.params["upload"])
    rows = plans.read_table(source.read_bytes(), source.name, ctx.progress)
    ctx.set_total(phases * max(len(rows), 1), done=len(rows))
    return rows


def _errors(errors: list[plans.RowError]) -> dict[str, Any]:
    return {"bad": len(errors), "errors": [e.as_dict() for e in errors[:SHOWN_ERRORS]]}


def plan_check(ctx: Context) -> Outcome:
    """The preview of a plan upload: every row checked, nothing stored. Params: upload."""
    rows = _rows(ctx, 2)
    with ctx.sessions() as session:
        good, errors = plans.check_rows(session, rows, lambda n: ctx.progress(len(rows) + n))
    return Outcome({"rows": len(rows), "good": len(good), **_errors(errors)})


def plan_import(ctx: Context) -> Outcome:
    """A plan upload imported, all or nothing (or its good rows with skip_bad). Params: upload, skip_bad."""
    rows = _rows(ctx, 3)
    skip_bad = bool(ctx.params.get("skip_bad"))
    with ctx.sessions() as session:
        report = plans.import_rows(session, ctx.actor, rows, skip_bad, lambda n: ctx.progress(len(rows) + n))
        summary = {"rows": len(rows), "imported": len(report.imported), "good": report.good, **_errors(report.errors)}
        if not report.ok:
            session.rollback()
            return Outcome(summary, error=Invalid(N_("%(bad)s rows are bad; nothing was imported"), code="bad_rows",
                                                  bad=len(report.errors)))
        session.commit()
    uploads.remove(ctx.settings.instance_path, ctx.params["upload"])
    return Outcome(summary)


TASKS: dict[str, Task] = {"labels": labels, "plan_check": plan_check, "plan_import": plan_import,
                          "audit_verify": audit_verify}
