"""``assetgate audit``: verify the chain and the ledger, checkpoint it, check a kept summary, keys.

    assetgate audit verify                      # chain, checkpoints and ledger; exit 1 on any finding
    assetgate audit checkpoint                  # daily (assetgate-audit-checkpoint.timer): signed head
    assetgate audit check-summary FILE --public-key auditor.pem
    assetgate audit public-key [--out FILE]     # give this to the auditor, once
    assetgate audit rotate-key                  # new rows use a new HMAC key (docs/audit.md)
    assetgate audit baseline [--yes]            # once, after upgrading a database from before the keyed chain
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from server import audit
from server.audit import baseline, checkpoints
from server.audit import check as checks
from server.audit import keys as audit_keys
from server.audit.report import Report
from server.cli import CLI_ACTOR, Context, main, pass_ctx


@main.group("audit")
def audit_group() -> None:
    """The keyed audit chain, its checkpoints, and the ledger it describes (docs/audit.md)."""


def _checkpoints(ctx: Context) -> checkpoints.Loaded:
    try:
        return checkpoints.load(ctx.settings)
    except (checkpoints.CheckpointProblem, OSError) as exc:
        raise click.ClickException(str(exc)) from None


def _print(report: Report) -> None:
    state = "intact" if report.ok else "PROBLEMS FOUND"
    click.echo(f"audit log {state}: {report.rows} rows checked ({report.legacy_rows} from before the keyed chain), "
               f"newest row {report.head}, {report.checkpoints_checked} checkpoints compared, "
               f"{report.ledger_rows} ledger records compared, in {report.seconds:.1f} s")
    if report.legacy_described:
        click.echo(f"{report.legacy_described} ledger records are described only by rows from before the keyed "
                   "chain and were not compared: run `assetgate audit baseline` once")
    if report.broken_at is not None:
        click.echo(f"audit chain BROKEN at row {report.broken_at}: {report.problem} "
                   f"({report.rows} rows before it are intact)", err=True)
    for f in report.findings:
        where = f"{f.table} {f.row}" + (f" .{f.field}" if f.field else "")
        seen = f": found {f.found!s}, expected {f.expected!s}" if (f.found or f.expected) else ""
        row = f" (audit row {f.audit_row})" if f.audit_row is not None else ""
        click.echo(f"  {where}{seen}{row}: {f.problem}", err=True)
    if report.findings_omitted:
        click.echo(f"  ... and {report.findings_omitted} more findings", err=True)


@audit_group.command("verify")
@click.option("--ledger/--chain-only", default=True, show_default=True,
              help="Also check that the ledger tables hold what the log describes.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="Findings listed (the others are counted).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@pass_ctx
def audit_verify(ctx: Context, ledger: bool, limit: int, as_json: bool) -> None:
    """Check the chain (keys and links), the checkpoints (a deleted tail), and the ledger against the log;
    exit 1 and name every row, record and field that does not fit."""
    loaded = _checkpoints(ctx)  # read before the snapshot: a checkpoint can only be older than it
    engine = ctx.ready_engine()
    try:
        with ctx.factory(engine)() as session:
            report = checks.verify(session, loaded, ledger=ledger, limit=limit)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print(report)
    if not report.ok:
        sys.exit(1)


@audit_group.command("checkpoint")
@click.option("--quiet", is_flag=True, help="Do not print the signed summary.")
@pass_ctx
def audit_checkpoint(ctx: Context, quiet: bool) -> None:
    """Check the rows added since the last checkpoint, append the head (row count, newest hash, key id,
    time) to the checkpoint file, and write and print the signed summary for the auditor."""
    settings = ctx.settings
    loaded = _checkpoints(ctx)
    engine = ctx.ready_engine()
    try:
        key = checkpoints.signing_key(settings)
        with ctx.factory(engine)() as session:
            point, actions = checks.take_checkpoint(session, loaded)
    except checkpoints.CheckpointProblem as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    path = checkpoints.append(settings, key, point)
    signed = checkpoints.summary(settings, key, point, loaded.newest, actions)
    kept = checkpoints.write_summary(settings, signed)
    click.echo(f"checkpoint: {point.rows} rows, newest row {point.head_id} ({point.head_hash[:16]}...), "
               f"appended to {path}; signed summary {kept}", err=True)
    if not quiet:
        click.echo(json.dumps(signed, ensure_ascii=False, indent=2, sort_keys=True))


@audit_group.command("check-summary")
@click.argument("summary", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--public-key", "public_key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The PEM public key the auditor kept (default: this instance's, which proves less).")
@click.option("--offline", is_flag=True, help="Check the signature only, not the database.")
@pass_ctx
def audit_check_summary(ctx: Context, summary: Path, public_key: Path | None, offline: bool) -> None:
    """Check a kept summary: its signature, then that the audit log still holds the head it signed."""
    try:
        if public_key is not None:
            key = checkpoints.load_public(public_key.read_bytes(), str(public_key))
        else:
            found = checkpoints.instance_public(ctx.settings)
            if found is None:
                raise click.ClickException("no --public-key given and this instance has no signing key")
            key = found
            click.echo("(checked with this instance's own public key: give --public-key to check with the one "
                       "you kept)", err=True)
        body = checkpoints.read_summary(summary, key)
    except checkpoints.CheckpointProblem as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"signature valid ({checkpoints.fingerprint(key)}): {body['rows']} rows, newest row "
               f"{body['head_id']}, made {body['made_at']}")
    if offline:
        return
    engine = ctx.ready_engine()
    try:
        with ctx.factory(engine)() as session:
            problems = checks.check_summary(session, body)
    finally:
        engine.dispose()
    for problem in problems:
        click.echo(f"DIFFERS: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo("the audit log still holds this head")


@audit_group.command("public-key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the PEM there too.")
@pass_ctx
def audit_public_key(ctx: Context, out: Path | None) -> None:
    """Print the public key that checks checkpoints and summaries (made with the signing key if new)."""
    try:
        public = checkpoints.signing_key(ctx.settings).public_key()
    except checkpoints.CheckpointProblem as exc:
        raise click.ClickException(str(exc)) from None
    pem = checkpoints.public_pem(public)
    if out is not None:
        out.write_text(pem)
    click.echo(pem.rstrip())
    click.echo(f"fingerprint {checkpoints.fingerprint(public)}", err=True)


@audit_group.command("rotate-key")
@pass_ctx
def audit_rotate_key(ctx: Context) -> None:
    """Put a new HMAC key first: new rows use it, old rows keep theirs. Restart the web, the consumer and
    the scheduler afterwards so that they write with it (docs/audit.md)."""
    try:
        old = audit_keys.load(ctx.settings).current
        key_id, entry = audit_keys.rotate(ctx.settings)
    except audit.KeyProblem as exc:
        raise click.ClickException(str(exc)) from None
    if entry is not None:
        click.echo(f"keys come from ASSETGATE_AUDIT_KEYS: put this entry first there (keep the others), then "
                   f"restart the services:\n{entry}")
        return
    with ctx.session() as session:  # the rotation itself, recorded with the new key
        audit.record(session, CLI_ACTOR, "audit.rotate_key", "audit_key", key_id, {"key_id": old}, {"key_id": key_id})
    click.echo(f"new audit key {key_id} (previous {old}) in {audit_keys.key_file(ctx.settings)}; restart the "
               "web, the consumer and the scheduler so that they use it")


@audit_group.command("baseline")
@click.option("--yes", is_flag=True, help="Record it (without: only say what would be recorded).")
@pass_ctx
def audit_baseline(ctx: Context, yes: bool) -> None:
    """Once, after upgrading a database from before the keyed chain: describe in keyed audit rows the
    ledger rows that only legacy rows (or none) describe. Run `assetgate audit verify` first."""
    engine = ctx.ready_engine()
    try:
        with ctx.factory(engine)() as session:
            intact = checks.verify(session, _checkpoints(ctx), ledger=False)
    finally:
        engine.dispose()
    if intact.problem:
        raise click.ClickException(f"the audit chain is not intact ({intact.problem}): no baseline over it")
    with ctx.session() as session:
        result = baseline.run(session, CLI_ACTOR, dry_run=not yes)
    for line in baseline.describe(result):
        click.echo(line)
    if not yes and result.recorded:
        click.echo("nothing recorded yet: run again with --yes to record it")
