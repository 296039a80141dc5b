"""Kiosk configuration: one TOML file, validated at start-up with errors that name the key.

Secrets never sit in the TOML that is kept in the repo or a config bundle: the broker
password comes from ``ASSETGATE_KIOSK_PASSWORD`` or from ``password_file`` (readable by the
kiosk user only). A literal ``password`` is accepted for tests and bench runs on loopback.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contract import codes
from contract.topics import DEFAULT_PREFIX, KIOSK_ID
from kiosk.i18n import DEFAULT_LANGUAGE, Language

PASSWORD_ENV = "ASSETGATE_KIOSK_PASSWORD"


class ConfigError(ValueError):
    """The config file cannot be used; the message names the file and the key."""


class _Section(BaseModel):
    # A misspelt key must fail loudly, not fall back to a default silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSConfig(_Section):
    ca_file: Path = Field(description="CA certificate (PEM) that signed the broker's certificate.")
    cert_file: Path | None = Field(None, description="Client certificate (PEM), when the broker wants one.")
    key_file: Path | None = Field(None, description="Private key of cert_file (PEM).")
    insecure: bool = Field(False, description="Skip the host name check (lab use only; never in production).")

    @model_validator(mode="after")
    def _pair(self) -> TLSConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class BrokerConfig(_Section):
    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(1883, description="Broker port (8883 is usual with TLS).")
    tls: TLSConfig | None = Field(None, description="TLS settings; absent means plain TCP.")
    username: str | None = Field(None, description="Broker user name; defaults to the kiosk id, as enrolment makes it.")
    password: str | None = Field(
        None, description="Literal password (tests only); prefer the env var or password_file."
    )
    password_file: Path | None = Field(None, description="File holding the broker password (first line).")
    keepalive: Annotated[int, Field(ge=5, le=600)] = Field(30, description="MQTT keepalive in seconds.")
    session_expiry: Annotated[int, Field(ge=0)] = Field(
        7 * 24 * 3600, description="Seconds the broker keeps the kiosk's session (queued acks) while it is away."
    )
    max_inflight: Annotated[int, Field(ge=1, le=65535)] = Field(
        100, description="Events published and not yet acked by the server, at most."
    )
    ack_timeout: Annotated[float, Field(gt=0)] = Field(
        60.0, description="Seconds without a server ack before the unacked events are sent again."
    )
    reconnect_min: Annotated[float, Field(gt=0)] = Field(1.0, description="First reconnect delay in seconds.")
    reconnect_max: Annotated[float, Field(gt=0)] = Field(30.0, description="Longest reconnect delay in seconds.")


class ScannerSource(_Section):
    kind: Literal["camera", "usb", "stdin"] = Field(description="camera: video device; usb: HID/serial scanner.")
    device: str = Field("", description="Device path or index, e.g. /dev/video0 or /dev/input/by-id/...")


class ScreenConfig(_Section):
    enabled: bool = Field(True, description="Serve the local screen page.")
    host: str = Field("127.0.0.1", description="Address the screen binds to; keep it on loopback.")
    port: Annotated[int, Field(ge=0, le=65535)] = Field(8080, description="Screen port; 0 picks a free one.")


class AgentConfig(_Section):
    kiosk: Annotated[str, Field(pattern=KIOSK_ID.pattern)] = Field(
        description="Kiosk id, [a-z0-9-]{1,32}; also the MQTT client id and broker user name."
    )
    mode: Literal["gate", "storeroom"] = Field(description="Which workflows this kiosk runs.")
    location: str | None = Field(None, description="L- code of the place the kiosk stands (check-ins go there).")
    prefix: str = Field(DEFAULT_PREFIX, description="MQTT topic prefix.")
    outbox: Path = Field(Path("/var/lib/assetgate-kiosk/outbox.db"), description="SQLite outbox file.")
    workflow_timeout: Annotated[float, Field(gt=0)] = Field(
        60.0, description="Seconds of no input before a half-done workflow goes back to idle."
    )
    language: Language = Field(
        DEFAULT_LANGUAGE, description="Language of the screen: zh (Simplified Chinese) or en (English)."
    )
    broker: BrokerConfig = Field(default_factory=BrokerConfig, description="[broker] section.")  # type: ignore[arg-type]
    screen: ScreenConfig = Field(default_factory=ScreenConfig, description="[screen] section.")  # type: ignore[arg-type]
    scanners: list[ScannerSource] = Field(default_factory=list, description="[[scanners]] entries.")

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        return None if value is None else codes.normalize(value, codes.Kind.LOCATION)

    def username(self) -> str:
        return self.broker.username or self.kiosk

    def password(self) -> str | None:
        """The broker password: environment first, then password_file, then the literal."""
        if os.environ.get(PASSWORD_ENV):
            return os.environ[PASSWORD_ENV]
        if self.broker.password_file is not None:
            try:
                lines = self.broker.password_file.read_text().splitlines()
            except OSError as exc:
                raise ConfigError(f"broker.password_file: cannot read {self.broker.password_file}: {exc}") from None
            return lines[0] if lines else ""
        return self.broker.password


def _explain(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  {key}: {item['msg']}")
    return "\n".join(lines)


def parse_config(data: dict, source: str = "<config>") -> AgentConfig:
    """Validate a config mapping; a ConfigError lists every bad key."""
    try:
        config = AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid config\n{_explain(exc)}") from None
    base = Path(source).parent if source != "<config>" else Path.cwd()

    # Relative paths are taken from the config file's folder, not the working directory.
    def rebase(path: Path | None) -> Path | None:
        return path if path is None or path.is_absolute() else base / path

    broker = config.broker
    tls = broker.tls
    if tls is not None:
        tls = tls.model_copy(
            update={
                "ca_file": rebase(tls.ca_file),
                "cert_file": rebase(tls.cert_file),
                "key_file": rebase(tls.key_file),
            }
        )
    broker = broker.model_copy(update={"tls": tls, "password_file": rebase(broker.password_file)})
    return config.model_copy(update={"outbox": rebase(config.outbox), "broker": broker})


def load_config(path: str | os.PathLike[str]) -> AgentConfig:
    """Read and validate a TOML config file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))


# Every key with its description, for `check-config --keys` and the docs test.
_SECTIONS: dict[str, type[BaseModel]] = {
    "broker": BrokerConfig,
    "broker.tls": TLSConfig,
    "screen": ScreenConfig,
    "scanners": ScannerSource,
}


def describe_keys(model: type[BaseModel] = AgentConfig, prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        rows.append((key, field.description or ""))
        if key in _SECTIONS:
            rows.extend(describe_keys(_SECTIONS[key], key + "."))
    return rows
