"""``assetgate backup`` and ``assetgate restore``: the instance folder and the database, one command each.

    assetgate backup instance  /var/backups/assetgate/instance-$(date +%F).tar.gz
    assetgate backup database  /var/backups/assetgate/db-$(date +%F).dump
    assetgate restore instance ARCHIVE            # into the configured instance_path, absent or empty
    assetgate restore database DUMP [--replace]   # into the configured database
"""

from __future__ import annotations

from pathlib import Path

import click

from server import backup
from server.cli import Context, main, pass_ctx

_path = click.Path(dir_okay=False, path_type=Path)
_out = click.Path(path_type=Path)


def _target(out: Path, kind: str) -> Path:
    """OUT itself, or a dated name inside OUT when it is a folder (what the nightly timer passes)."""
    return backup.default_name(kind, out) if out.is_dir() else out


def _do(action: object, *args: object, **kwargs: object) -> object:
    try:
        return action(*args, **kwargs)  # type: ignore[operator]
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None


@main.group("backup")
def backup_group() -> None:
    """Back up the instance folder (keys, checkpoints) or the database."""


@backup_group.command("instance")
@click.argument("out", type=_out)
@pass_ctx
def backup_instance(ctx: Context, out: Path) -> None:
    """Archive the instance folder (keys, audit checkpoints, kiosk bundles; not the SQLite file) to OUT
    (a file, or a folder for assetgate-instance-<UTC time>.tar.gz in it)."""
    out = _target(out, "instance")
    count = _do(backup.backup_instance, ctx.settings.instance_path, out)
    click.echo(f"instance: {count} files -> {out}")


@backup_group.command("database")
@click.argument("out", type=_out)
@pass_ctx
def backup_database(ctx: Context, out: Path) -> None:
    """A consistent copy of the database to OUT while the service runs (SQLite backup API or pg_dump);
    OUT a folder: assetgate-database-<UTC time>.dump in it."""
    out = _target(out, "database")
    _do(backup.backup_database, ctx.settings.effective_database_url, out)
    click.echo(f"database -> {out} ({out.stat().st_size} bytes)")


@main.group("restore")
def restore_group() -> None:
    """Restore the instance folder or the database from a backup (checked before anything changes)."""


@restore_group.command("instance")
@click.argument("archive", type=_path)
@pass_ctx
def restore_instance(ctx: Context, archive: Path) -> None:
    """Unpack ARCHIVE into the instance folder, which must be absent or empty."""
    count = _do(backup.restore_instance, archive, ctx.settings.instance_path)
    click.echo(f"instance: {count} files restored into {ctx.settings.instance_path}")


@restore_group.command("database")
@click.argument("dump", type=_path)
@click.option("--replace", is_flag=True, help="Overwrite a database that holds data (stop the service first).")
@pass_ctx
def restore_database(ctx: Context, dump: Path, replace: bool) -> None:
    """Load DUMP into the configured database; then run `assetgate init` (migrates an older backup)."""
    _do(backup.restore_database, ctx.settings.effective_database_url, dump, replace=replace)
    click.echo("database restored; run `assetgate init` before starting the service")
