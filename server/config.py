"""Server configuration: defaults, then an optional TOML file, then ASSETGATE_* environment
variables, then the mapping given to ``create_app``. Validated once, at start-up; every
error names the key it is about.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contract.topics import DEFAULT_PREFIX

ENV_PREFIX = "ASSETGATE_"


_EMAIL = re.compile(r"[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+")


class ConfigError(ValueError):
    """Configuration that the server refuses to start with."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    instance_path: Path = Field(Path("instance"), description="Folder for the SQLite file, secret key and logs.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means a SQLite file in the instance folder.")
    secret_key: str = Field("", description="Flask session key; empty: generated once, kept in the instance folder.")
    org_name: str = Field("AssetGate Office", description="Organisation name printed on labels.")
    label_base_url: str | None = Field(None, description="If set, QR codes hold <url>/c/<code>.")
    label_template: str = Field("a4-l7651", description="Default label template.")
    mqtt_host: str = Field("127.0.0.1", description="Broker host of the event consumer.")
    mqtt_port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    mqtt_username: str | None = Field(None, description="Broker username of the consumer.")
    mqtt_password: str | None = Field(None, description="Broker password (use the environment, never the repo).")
    mqtt_tls_ca: Path | None = Field(None, description="CA file; when set the consumer connects with TLS.")
    mqtt_client_id: str = Field("assetgate-consumer", description="Fixed client id, so the broker keeps the session.")
    mqtt_shared: bool = Field(False, description="Subscribe through a shared subscription (several consumers).")
    topic_prefix: str = Field(DEFAULT_PREFIX, description="MQTT topic prefix.")
    broker_password_file: Path | None = Field(
        None, description="Mosquitto password file of the kiosks' listener, which enrolment rewrites.")
    broker_server_password_file: Path | None = Field(
        None, description="Mosquitto password file of the server's own listener (the server user only), which "
        "enrolment rewrites; unset: the server user goes into broker_password_file (one listener).")
    broker_acl_file: Path | None = Field(None, description="Mosquitto ACL file that enrolment rewrites.")
    broker_pid_file: Path | None = Field(
        None, description="Mosquitto pid file: the broker is told to reload (SIGHUP) after its files are "
        "rewritten, if that pid is Mosquitto.")
    broker_public_host: str | None = Field(None, description="Broker host written into kiosk bundles.")
    broker_public_port: int | None = Field(None, description="Broker port written into kiosk bundles.")
    require_enrolled_kiosks: bool = Field(True, description="Reject events from kiosks that are not enrolled.")
    max_clock_skew_s: float = Field(300.0, ge=0, description="Kiosk clock skew above which events are flagged.")
    max_upload_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest request body accepted.")
    idempotency_retention_hours: float = Field(24.0, gt=0, le=24 * 365, description=(
        "How long the answer to a POST with an Idempotency-Key is kept for replay (hours)."))
    consumer_batch: int = Field(500, ge=1, le=5000, description="Most events the consumer commits in one transaction.")
    principal_approval_above: Decimal = Field(
        Decimal("10000.00"), ge=0, description="Requests above this amount (CNY) also need the principal leader.")
    timezone: str = Field("Asia/Shanghai", description="Time zone in which pages show dates and times.")
    web_workers: int = Field(2, ge=1, le=64, description="Web server (gunicorn) worker processes of `assetgate serve`.")
    db_pool_size: int = Field(2, ge=1, le=100, description="PostgreSQL connections each web worker keeps open (a "
                              "gunicorn sync worker uses one at a time); `assetgate serve` checks that the workers' "
                              "fit the server's max_connections.")
    db_max_overflow: int = Field(8, ge=0, le=100, description="Connections a web worker may open beyond db_pool_size "
                                 "for a moment (closed again after use).")
    behind_proxy: int = Field(0, ge=0, le=5, description="Reverse proxies in front whose X-Forwarded-* headers are "
                              "trusted (0: none; 1: one nginx).")
    heartbeat_interval_s: float = Field(5.0, ge=0.2, le=300, description="How often the consumer records that it "
                                        "is alive; ingestion counts as down after 3 missed beats.")
    rejected_log_per_minute: float = Field(
        10.0, ge=0, description="Refused messages logged per kiosk per minute once its burst is spent; "
        "the others are answered and only counted.")
    rejected_log_burst: int = Field(200, ge=0, description="Refused messages of one kiosk logged at once, "
                                    "before the per-minute rate applies.")
    rejected_log_retention_days: float = Field(30.0, gt=0, description="Days a refused message stays in the "
                                               "rejected log.")
    # --- the audit chain (docs/audit.md) ---
    audit_keys: str = Field(
        "", description="HMAC keys of the audit chain, id:hex entries (32+ bytes each), comma-separated, newest "
                        "first; empty: one generated once and kept in the instance folder (audit.keys).")
    audit_checkpoint_file: Path | None = Field(
        None, description="Where `assetgate audit checkpoint` appends the chain's head; empty: "
                          "<instance>/audit.checkpoints. Best on storage the database's administrators cannot write.")
    # --- the gate (docs/gate.md) ---
    personal_data_keys: str = Field(
        "", description="Fernet keys for visitors' personal fields, comma-separated, newest first; empty: "
                        "one generated once and kept in the instance folder.")
    visitor_personal_days: int = Field(
        90, ge=1, le=3650, description="Days after a visit when the visitor's personal fields are purged.")
    visit_record_days: int = Field(
        730, ge=1, le=36500, description="Days a visit record is kept (without personal fields) before it is deleted.")
    visitor_id_last4: bool = Field(
        False, description="Keep the last 4 characters of a visitor's ID number (never the whole number).")
    visit_approval_purposes: str = Field(
        "", description="Comma-separated visit purposes whose pre-registration needs the leader in charge.")
    auto_signout_hour: int = Field(
        22, ge=-1, le=23, description="Local hour at which visitors still on site are signed out automatically; "
                                      "-1: never.")
    purge_hour: int = Field(3, ge=-1, le=23, description="Local hour of the daily purge by the scheduler; -1: never.")
    smtp_host: str = Field("", description="SMTP server for host notifications; empty: no email.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_username: str | None = Field(None, description="SMTP user name, if the server wants a login.")
    smtp_password: str | None = Field(None, description="SMTP password (use the environment).")
    smtp_starttls: bool = Field(False, description="Switch the SMTP connection to TLS with STARTTLS.")
    smtp_from: str = Field("assetgate@localhost", description="Sender address of notification emails.")
    gate_admin_email: str = Field("", description="Where watchlist alerts are mailed; empty: none.")
    gate_webhook_url: str = Field("", description="URL that gets gate notifications as signed JSON; empty: none.")
    gate_webhook_secret: str | None = Field(None, description="HMAC-SHA256 key that signs each webhook body.")
    notify_max_attempts: int = Field(8, ge=1, le=50, description="Deliveries tried per notification before it "
                                                                 "is marked failed.")
    kiosk_config_refresh_s: float = Field(
        15.0, ge=1, le=3600,
        description="How often the gate scheduler rebuilds the kiosks' configs and republishes those that changed.")
    # --- the storeroom (docs/storeroom.md) ---
    reorder_webhook_url: str = Field(
        "", description="URL that gets each reorder notification (an item crossed its reorder level) as signed JSON; "
                        "empty: none.")
    reorder_webhook_secret: str | None = Field(None, description="HMAC-SHA256 key that signs each reorder webhook "
                                                                 "body.")
    reorder_email: str = Field("", description="Addresses (comma-separated) mailed each reorder notification; "
                                               "empty: none. Needs smtp_host.")
    # --- the archives (docs/archives.md) ---
    archive_loan_terms: str = Field(
        "7,14,30", description="Loan terms (days, comma-separated) an archive class may have; each class has one.")
    archive_reminder_days: float = Field(
        3.0, ge=1, le=365,
        description="Days between two reminders to a borrower whose archive loan is overdue (at least 1: one a day).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    testing: bool = Field(False, description="Flask testing mode.")
    csrf_enabled: bool = Field(True, description="CSRF protection on web forms (tests may switch it off).")

    @field_validator("database_url")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql+psycopg:// URL")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    @field_validator("archive_loan_terms")
    @classmethod
    def _loan_terms(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts or not all(p.isascii() and p.isdigit() and 1 <= int(p) <= 365 for p in parts):
            raise ValueError("must be whole numbers of days from 1 to 365, comma-separated (e.g. 7,14,30)")
        return ",".join(str(int(p)) for p in parts)

    @field_validator("reorder_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        value = value.strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an http:// or https:// URL with a host, or empty")
        return value

    @field_validator("reorder_email")
    @classmethod
    def _addresses(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        bad = [p for p in parts if not _EMAIL.fullmatch(p)]
        if bad:
            raise ValueError(f"not an email address: {bad[0]!r} (comma-separated addresses, or empty)")
        return ",".join(parts)

    @model_validator(mode="after")
    def _mail_needs_a_server(self) -> Settings:
        if self.reorder_email and not self.smtp_host.strip():
            raise ValueError("reorder_email is set but smtp_host is empty: reorder mail could never be sent")
        return self

    @property
    def reorder_emails(self) -> tuple[str, ...]:
        return tuple(p for p in self.reorder_email.split(",") if p)

    @property
    def loan_terms(self) -> tuple[int, ...]:
        return tuple(sorted({int(p) for p in self.archive_loan_terms.split(",")}))

    @property
    def approval_purposes(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.visit_approval_purposes.split(",") if p.strip())

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.instance_path / 'assetgate.db').resolve()}"


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    known = Settings.model_fields
    values: dict[str, Any] = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX) and key != f"{ENV_PREFIX}CONFIG":
            name = key[len(ENV_PREFIX):].lower()
            if name in known:  # other ASSETGATE_* variables belong to the kiosk or the scripts
                values[name] = value
    return values


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Build validated settings or raise ConfigError that lists every wrong key."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_file = environ.get(f"{ENV_PREFIX}CONFIG")
    if config_file:
        try:
            values.update(tomllib.loads(Path(config_file).read_text()))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from None
    values.update(_from_env(environ))
    values.update(overrides or {})
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("invalid AssetGate configuration:\n" + "\n".join(lines)) from None
    return settings


def ensure_instance(settings: Settings) -> Path:
    """The instance folder, made (or narrowed) to 0700: it holds the secret key, kiosk passwords and the
    SQLite database, which no other user on the machine may read."""
    path = settings.instance_path
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o700)
        except PermissionError:  # not ours (a shared mount): say so rather than fail
            import logging

            logging.getLogger(__name__).warning("cannot make %s private (mode 0700): not its owner", path)
    return path


def secret_key_for(settings: Settings) -> str:
    """The configured key, or one generated once and kept (mode 600) in the instance folder."""
    if settings.secret_key:
        return settings.secret_key
    path = ensure_instance(settings) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key
