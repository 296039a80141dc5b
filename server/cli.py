"""The `assetgate` command: one click group, each command's docstring is its help."""

from __future__ import annotations

import logging
import secrets
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from server import audit, auth, broker, connections, personal
from server.audit import Actor
from server.audit import keys as audit_keys
from server.config import ConfigError, Settings, ensure_instance, load_settings
from server.db import make_engine, make_session_factory
from server.errors import DomainError
from server.migrate import missing_sqlite_file, not_ready_reason, upgrade
from server.models import utcnow

CLI_ACTOR = Actor("cli", "cli", "admin")


class Context:
    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    def ready_engine(self) -> Engine:
        """An engine on the configured database, or one clear error line if it cannot be used yet."""
        url = self.settings.effective_database_url
        if url.startswith("sqlite") and not self.settings.database_url and not self.settings.instance_path.is_dir():
            raise click.ClickException(
                f"no instance folder at {self.settings.instance_path.resolve()}: run `assetgate init` there, "
                "or set ASSETGATE_INSTANCE_PATH (or ASSETGATE_DATABASE_URL)")
        missing = missing_sqlite_file(url)
        if missing:
            raise click.ClickException(missing)
        engine = make_engine(url)
        reason = not_ready_reason(url, engine)
        if reason:
            engine.dispose()
            raise click.ClickException(reason)
        return engine

    def factory(self, engine: Engine) -> sessionmaker[Session]:
        """Sessions with the gate's policy and the audit keys (read and checked once, here)."""
        factory = make_session_factory(engine)
        try:
            personal.install(factory, self.settings)
            audit.install(factory, self.settings)
        except (personal.KeyProblem, audit.KeyProblem) as exc:
            engine.dispose()
            raise click.ClickException(str(exc)) from None
        return factory

    def check_keys(self) -> None:
        """Refuse to start a server process whose audit keys cannot be used: one clear line, at once."""
        try:
            audit_keys.load(self.settings)
        except audit.KeyProblem as exc:
            raise click.ClickException(str(exc)) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction on the configured database; domain errors become clean CLI errors."""
        engine = self.ready_engine()
        try:
            factory = self.factory(engine)
            with factory() as session, session.begin():
                yield session
        except DomainError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from None
        finally:
            engine.dispose()


pass_ctx = click.make_pass_decorator(Context, ensure=True)


@click.group()
@click.version_option(package_name="assetgate")
def main() -> None:
    """AssetGate: asset, visitor and supply tracking. Settings come from ASSETGATE_* variables
    and the TOML file named by ASSETGATE_CONFIG (see docs/configuration.md)."""


@main.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create the database or migrate it to the latest schema."""
    settings = ctx.settings
    ensure_instance(settings)
    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    engine.dispose()
    click.echo(f"database ready: {engine.url.render_as_string(hide_password=True)}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="gunicorn worker processes  [default: the web_workers setting, 2]")
@click.option("--dev", is_flag=True, help="Werkzeug's development server instead of gunicorn (never in production).")
@click.option("--consumer/--no-consumer", default=True, show_default=True,
              help="Also run the MQTT event consumer, as its own process, restarted when it dies.")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Also run the gate's scheduler (notifications, automatic sign-out, daily purge), restarted "
                   "when it dies.")
@pass_ctx
def serve(ctx: Context, host: str, port: int, workers: int | None, dev: bool, consumer: bool,
          scheduler: bool) -> None:
    """Run the web UI and REST API (gunicorn), with the MQTT consumer and the gate's scheduler beside it
    (see docs/deployment.md)."""
    settings = ctx.settings  # validated here, before any process is started
    workers = workers or settings.web_workers
    engine = ctx.ready_engine()  # a missing or old database: one clear line, before anything starts
    try:
        budget = connections.budget(settings, workers, engine)
    finally:
        engine.dispose()
    problem, warning = (budget.problem(), budget.warning()) if budget else (None, None)
    if problem:  # the pools would not fit PostgreSQL's max_connections
        raise click.ClickException(problem)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    ctx.check_keys()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if consumer or scheduler:
        from server.serving import Supervisor

        web = [sys.executable, "-m", "server", "serve", "--no-consumer", "--no-scheduler", "--host", host,
               "--port", str(port), "--workers", str(workers)] + (["--dev"] if dev else [])
        companions = {name: [sys.executable, "-m", "server", *command] for name, command, wanted in
                      (("consumer", ["consume"], consumer), ("scheduler", ["gate", "run"], scheduler)) if wanted}
        click.echo(f"AssetGate on http://{host}:{port}/ ({'development server' if dev else f'{workers} workers'}"
                   f", {' and '.join(companions)} supervised)")
        sys.exit(Supervisor(web, companions=companions).run())
    if dev:
        from werkzeug.serving import run_simple

        from server import create_app

        # SIGTERM (systemd, a timeout) ends the development server like Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        run_simple(host, port, create_app(settings), threaded=True, use_reloader=False)
        return
    from server.serving import WebServer

    WebServer(settings, host, port, workers).run()


@main.command()
@pass_ctx
def consume(ctx: Context) -> None:
    """Run the MQTT event consumer until stopped (SIGTERM or Ctrl-C)."""
    from server.consumer import Consumer

    settings = ctx.settings
    ctx.ready_engine().dispose()
    ctx.check_keys()  # the writer process reads them again when it starts; a bad key stops us here
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    worker = Consumer(settings)
    signal.signal(signal.SIGTERM, lambda *_: worker.request_stop())
    with suppress(KeyboardInterrupt):
        worker.run_forever()


@main.group()
def user() -> None:
    """Web users."""


@user.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(sorted(auth.ALL_ROLES)))
@click.option("--password", help="Leave out to have a strong one generated and printed once.")
@pass_ctx
def user_create(ctx: Context, username: str, role: str, password: str | None) -> None:
    """Create a web user with a role."""
    password = password or secrets.token_urlsafe(12)
    with ctx.session() as session:
        auth.create_user(session, CLI_ACTOR, username, password, role)
    click.echo(f"user {username} ({role}) created; password: {password}")


@user.command("disable")
@click.argument("username")
@pass_ctx
def user_disable(ctx: Context, username: str) -> None:
    """Disable a user: they cannot sign in, and their open sessions end at once."""
    from server.services import users

    with ctx.session() as session:
        users.disable(session, CLI_ACTOR, username)
    click.echo(f"user {username} disabled; their sessions are ended")


@user.command("enable")
@click.argument("username")
@pass_ctx
def user_enable(ctx: Context, username: str) -> None:
    """Let a disabled user sign in again."""
    from server.services import users

    with ctx.session() as session:
        users.enable(session, CLI_ACTOR, username)
    click.echo(f"user {username} enabled")


@user.command("set-role")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(sorted(auth.ALL_ROLES)))
@pass_ctx
def user_set_role(ctx: Context, username: str, role: str) -> None:
    """Give a user another role; their open sessions end (they sign in again with the new role)."""
    from server.services import users

    with ctx.session() as session:
        users.set_role(session, CLI_ACTOR, username, role)
    click.echo(f"user {username} is now {role}; their sessions are ended")


@user.command("reset-password")
@click.argument("username")
@pass_ctx
def user_reset_password(ctx: Context, username: str) -> None:
    """Give a user a new generated password, printed once; their open sessions end."""
    from server.services import users

    with ctx.session() as session:
        _user, password = users.reset_password(session, CLI_ACTOR, username)
    click.echo(f"new password for {username}: {password}")


@main.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(sorted(auth.ALL_ROLES)))
@click.option("--expires", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Last day the token works (YYYY-MM-DD, the office's time zone); default: until revoked.")
@pass_ctx
def token_create(ctx: Context, name: str, role: str, expires: datetime | None) -> None:
    """Create an API token; it is printed once and only its hash is kept."""
    from server.services import users

    until = users.end_of_day(expires.date(), ctx.settings.timezone) if expires else None
    with ctx.session() as session:
        secret = users.create_token(session, CLI_ACTOR, name, role, until)
    click.echo(secret)


@token.command("revoke")
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Context, name: str) -> None:
    """Revoke the API token of that name: it is refused from the next request on."""
    from server.services import users

    with ctx.session() as session:
        revoked = users.revoke_tokens_named(session, CLI_ACTOR, name)
    click.echo(f"token {name} revoked" + (f" ({len(revoked)} tokens of that name)" if len(revoked) > 1 else ""))


@main.group()
def kiosk() -> None:
    """Kiosk enrolment."""


@kiosk.command("enroll")
@click.argument("name")
@click.option("--mode", required=True, type=click.Choice(["gate", "storeroom"]))
@click.option("--location", help="L- code of where the kiosk stands.")
@click.option("--bundle", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the Pi's config bundle (default: INSTANCE/kiosks/NAME).")
@pass_ctx
def kiosk_enroll(ctx: Context, name: str, mode: str, location: str | None, bundle: Path | None) -> None:
    """Enrol a kiosk: its record, broker password and ACL, and a config bundle for the Pi."""
    from server.services import kiosks

    settings = ctx.settings
    with ctx.session() as session:
        record, password = kiosks.enroll(session, CLI_ACTOR, name, mode, location, kiosks.reserved_names(settings))
        path = broker.kiosk_bundle(settings, record, password, bundle or broker.bundle_folder(settings, name))
    with ctx.session() as session:
        written = broker.write_files(session, settings)
    click.echo(f"kiosk {name} enrolled ({mode}); bundle for the Pi: {path.parent}")
    problem = _broker_problem(written, f"{name} cannot log in until it is")
    if problem:
        click.echo(f"WARNING: {problem}", err=True)


@kiosk.command("revoke")
@click.argument("name")
@pass_ctx
def kiosk_revoke(ctx: Context, name: str) -> None:
    """Revoke a kiosk: its broker login and ACL go, its plain-text password file in the instance
    folder is deleted, and its events are refused from now on. Exits 1 when the broker's pid file
    is set but the broker could not be told to reload (the revocation stands; the message says
    what to do)."""
    from server.services import kiosks

    with ctx.session() as session:
        kiosks.revoke(session, CLI_ACTOR, name, utcnow())
    with ctx.session() as session:
        written = broker.write_files(session, ctx.settings)
    forgotten = broker.forget_password(ctx.settings, name)
    click.echo(f"kiosk {name} revoked: its events are refused" +
               (", its broker login is gone from the broker's files" if written else ""))
    if forgotten:
        click.echo(f"deleted its password file {forgotten}")
    problem = _broker_problem(written, f"{name} can still log in until it is")
    if problem and written is not None and written.reload is not None:
        raise click.ClickException(problem)  # the site relies on the reload, and it failed
    if problem:
        click.echo(f"WARNING: {problem}", err=True)


@kiosk.command("broker-files")
@pass_ctx
def kiosk_broker_files(ctx: Context) -> None:
    """Rewrite the broker's password and ACL files from the database, and tell the broker to reload."""
    with ctx.session() as session:
        written = broker.write_files(session, ctx.settings)
    if written is None:
        raise click.ClickException("set broker_password_file and broker_acl_file first")
    click.echo("broker files written")
    for name in written.skipped:
        click.echo(f"WARNING: kiosk {name} has a reserved name and was left out; revoke it and enrol it "
                   "under another name", err=True)
    problem = _broker_problem(written, "the broker keeps its old logins until it is")
    if problem:
        raise click.ClickException(problem)


def _broker_problem(written: broker.Written | None, consequence: str) -> str | None:
    """What the admin must still do for the broker, in plain words; None when nothing."""
    if written is None:
        return ("broker_password_file/broker_acl_file are not set: change the kiosk's login in the broker by hand "
                "(see docs/kiosk-enrolment.md)")
    if written.reload is None:
        return (f"the broker's files are written but broker_pid_file is not set, so the broker was not told to "
                f"reload them; {consequence} reloaded: run `systemctl reload mosquitto`")
    if not written.reload.done:
        return (f"the broker's files are written but the broker was NOT reloaded: {written.reload.detail}; "
                f"{consequence} reloaded: run `systemctl reload mosquitto` (or send SIGHUP to the mosquitto "
                f"process yourself) and fix broker_pid_file")
    return None


@main.command()
@click.option("--admin-password", help="Password for the demo admin (generated when left out).")
@pass_ctx
def demo(ctx: Context, admin_password: str | None) -> None:
    """Seed a small realistic office (categories, rooms, staff, assets, kiosks) and an admin login."""
    from server.demo import seed

    password = admin_password or secrets.token_urlsafe(12)
    with ctx.session() as session:
        summary = seed(session, password)
    if summary is None:  # seeded before: its admin password is the one that works; print no new one
        click.echo("demo data is there already; nothing added "
                   "(a new admin password: assetgate user reset-password admin)")
        return
    click.echo(summary)
    click.echo(f"sign in at the web UI as: admin / {password}")


class _LabelsCommand(click.Command):
    """The labels command, whose help ends with the built-in templates (imported only when help is shown)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from labels import templates

        with formatter.section("Built-in templates"):
            formatter.write_dl([(name, templates.get(name).description) for name in templates.names()])
        super().format_epilog(ctx, formatter)


@main.command("labels", cls=_LabelsCommand)
@click.option("--template", default=None,
              help="Label template: a built-in name (listed below); default from the label_template setting.")
@click.option("--codes", "code_list", multiple=True, help="Codes to print (repeat or comma-separate).")
@click.option("--blank", type=int, default=0, help="Issue N new asset codes and print them unbound.")
@click.option("--skip", type=int, default=0, help="Labels already used on the first sheet.")
@click.option("--intake", "intake_id", type=int, help="Print the labels of every asset this intake made.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_ctx
def labels_cmd(ctx: Context, template: str | None, code_list: tuple[str, ...], blank: int, skip: int,
               intake_id: int | None, output: Path) -> None:
    """Print labels to a PDF: given codes, N blank asset codes, or the assets of an intake."""
    from contract.codes import Kind
    from server.services import codes as code_service
    from server.services import printing

    wanted = [c.strip() for chunk in code_list for c in chunk.split(",") if c.strip()]
    settings = ctx.settings
    with ctx.session() as session:
        if blank:
            wanted += code_service.issue(session, Kind.ASSET, blank)
        if intake_id is not None:
            from server.services import intake

            wanted += intake.codes_of(session, intake.get(session, intake_id).id)
        if not wanted:
            raise click.UsageError("give --codes, --blank or --intake")
        pdf = printing.render(session, CLI_ACTOR, wanted, org=settings.org_name,
                              template=template or settings.label_template, base_url=settings.label_base_url,
                              skip=skip)
    output.write_bytes(pdf)
    click.echo(f"{len(wanted)} labels written to {output}")


@main.group()
def plans() -> None:
    """Approved procurement plans."""


@plans.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True, help="Import the good rows even when some rows are bad.")
@pass_ctx
def plans_import(ctx: Context, path: Path, skip_bad: bool) -> None:
    """Import a plan from CSV (UTF-8 or GBK) or XLSX (columns: ref, budget_year, department, category,
    approved_qty, unit_price_cap, approved_amount, method, approval_ref, or their Chinese headers 计划编号,
    预算年度, 部门, 品目, 数量, 单价上限, 金额, 采购方式, 批复文号). Any bad row: nothing is imported (exit 1)."""
    from server.services import plans as plan_service

    with ctx.session() as session:
        report = plan_service.import_rows(session, CLI_ACTOR, plan_service.read_table(path.read_bytes(), path.name),
                                          skip_bad)
    for err in report.errors:
        click.echo(f"row {err.row} ({err.ref or '-'}): {err.code}: {err.message}", err=True)
    if not report.ok:
        click.echo(f"{len(report.errors)} bad rows; nothing imported", err=True)
        sys.exit(1)
    click.echo(f"{len(report.imported)} plan lines imported" + (f", {len(report.errors)} bad rows skipped"
                                                                if report.errors else ""))


@main.group()
def job() -> None:
    """Long jobs (big label PDFs, big plan imports) that the web UI and the API start."""


@job.command("run")
@click.argument("job_id", type=int)
@pass_ctx
def job_run(ctx: Context, job_id: int) -> None:
    """Run one queued job to its end (the server starts this as a process of its own; exit 1 when the
    job failed)."""
    from server.services import jobs

    settings = ctx.settings
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not jobs.run(settings, job_id):
        sys.exit(1)
@main.command()
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
@pass_ctx
def purge(ctx: Context, dry_run: bool) -> None:
    """Apply the retention settings: visitors' personal fields after visitor_personal_days, visit records
    after visit_record_days (docs/gate.md). A real run is recorded in the audit log."""
    from server.services import retention

    with ctx.session() as session:
        report = retention.purge(session, CLI_ACTOR, dry_run=dry_run)
    verb = "would be" if dry_run else "were"
    click.echo(f"personal fields before {report.personal_cutoff:%Y-%m-%d}: {report.visits_anonymised} visits and "
               f"{report.passes_anonymised} passes {verb} emptied, {report.notifications_deleted} notifications "
               f"deleted; records before {report.record_cutoff:%Y-%m-%d}: {report.visits_deleted} visits, "
               f"{report.passes_deleted} passes and {report.alerts_deleted} alerts {verb} deleted")


@main.group()
def gate() -> None:
    """The gate: visitors, exit permits, the scheduler."""


@gate.command("run")
@click.option("--once", is_flag=True, help="One round, then exit.")
@pass_ctx
def gate_run(ctx: Context, once: bool) -> None:
    """Run the gate's scheduler until stopped: notifications, automatic sign-out, daily purge."""
    import threading

    from server import scheduler

    settings = ctx.settings
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = ctx.ready_engine()
    factory = ctx.factory(engine)
    try:
        if once:
            done = scheduler.tick(factory, settings)
            click.echo(f"notifications sent {done.sent}, failed {done.failed}; signed out automatically "
                       f"{done.signed_out}; purged {'yes' if done.purged else 'no'}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with suppress(KeyboardInterrupt):
            scheduler.run(factory, settings, stop)
    finally:
        engine.dispose()


@gate.command("auto-signout")
@click.option("--hour", type=click.IntRange(0, 23), help="Cut-off hour (default: auto_signout_hour).")
@pass_ctx
def gate_auto_signout(ctx: Context, hour: int | None) -> None:
    """Sign out, as automatic, every visitor still on site since before the last cut-off hour."""
    from server.services import visits

    with ctx.session() as session:
        closed = visits.auto_signout(session, CLI_ACTOR, hour=hour)
    click.echo(f"{closed} visits signed out automatically")


@gate.command("rotate-key")
@pass_ctx
def gate_rotate_key(ctx: Context) -> None:
    """Re-encrypt every visitor personal field with the first key of personal_data_keys (docs/gate.md)."""
    from server.services import retention

    try:
        with ctx.session() as session:
            report = retention.rotate(session, CLI_ACTOR)
    except personal.KeyProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"re-encrypted: {report.passes} passes, {report.visits} visits, {report.watchlist} watchlist "
               f"entries, {report.notifications} notifications")


# Commands kept in modules of their own register themselves on `main` when imported.
from server import cli_audit, cli_backup  # noqa: E402,F401
