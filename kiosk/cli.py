"""``assetgate-kiosk``: run the kiosk agent, publish one event, inspect the outbox, check a config."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from typing import Any

import click
from pydantic import ValidationError

from kiosk.config import AgentConfig, ConfigError, describe_keys, load_config

EXIT_OK, EXIT_REJECTED, EXIT_TIMEOUT = 0, 1, 2

log = logging.getLogger("kiosk.cli")


def _load(path: str) -> AgentConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """AssetGate kiosk agent: scans to events, a durable outbox, MQTT to the server."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Kiosk TOML file.")
@click.option("--no-screen", is_flag=True, help="Do not serve the local screen page.")
def run(config_path: str, no_screen: bool) -> None:
    """Run the agent until SIGTERM or SIGINT: screen, scanners, outbox and MQTT link."""
    from kiosk.agent import Agent, AgentBusy

    config = _load(config_path)
    agent = Agent(config, screen=False if no_screen else None)
    try:
        agent.start()
    except AgentBusy as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    # One line on stdout that a supervisor or test can wait for.
    screen = agent.screen.url if agent.screen else "off"
    click.echo(f"kiosk {config.kiosk} running; screen {screen}; outbox {agent.depth()}", err=False)
    sys.stdout.flush()
    _supervised(agent, stop)
    agent.stop()


def _supervised(agent: Any, stop: threading.Event) -> None:
    """Tell systemd we are up, then ping its watchdog only while every loop of the agent turns.

    A hung loop stops the pings, so systemd (WatchdogSec=, Restart=always) kills and restarts
    the agent; events in the outbox are safe on disk and go out after the restart.
    """
    from kiosk import sdnotify

    sdnotify.notify(f"READY=1\nSTATUS=kiosk {agent.kiosk}: running\nMAINPID={os.getpid()}")
    interval = sdnotify.watchdog_interval()
    # Without a watchdog, still check every 5 s so the log says what hung.
    limit = 2 * interval if interval else 10.0
    pinged_ok = True
    while not stop.wait(interval or 5.0):
        problems = agent.health(limit)
        if not problems:
            if interval:
                sdnotify.notify("WATCHDOG=1")
            if not pinged_ok:
                log.info("agent healthy again")
            pinged_ok = True
            continue
        log.error("agent hung, not pinging the watchdog: %s", "; ".join(problems))
        sdnotify.notify("STATUS=hung: " + "; ".join(problems))
        pinged_ok = False
    sdnotify.notify("STOPPING=1")


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Kiosk TOML file.")
@click.argument("event_type")
@click.option("--data", "data_json", required=True, help="Event data as a JSON object.")
@click.option("--actor", default=None, help="P- code of the operator.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for the server's ack.")
def publish(config_path: str, event_type: str, data_json: str, actor: str | None, timeout: float) -> None:
    """Record one event in the outbox and wait for the server's ack.

    Exit code 0 when accepted or duplicate, 1 when rejected (or refused locally, not sent),
    2 on timeout or a rejection that is not final (unknown_kiosk, internal_error): the event
    then stays in the outbox and goes out with the next run.
    When an agent is already running on this outbox, that agent sends the event.
    """
    from kiosk.agent import Agent, OutboxLock
    from kiosk.outbox import Outbox

    config = _load(config_path)
    try:
        data = json.loads(data_json)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        click.echo(f"--data: {exc}", err=True)
        sys.exit(EXIT_REJECTED)

    if OutboxLock(config.outbox).held_elsewhere():
        outbox = Outbox(config.outbox, config.kiosk)
        event = _record(lambda: outbox.add(event_type, actor, data))
        agent_ack = _poll_ack(outbox, str(event.id), timeout)
        outbox.close()
    else:
        agent = Agent(config, screen=False, scanners=False)
        agent.start()
        try:
            event = _record(lambda: agent.record(event_type, actor, data))
            agent_ack = agent.wait_ack(str(event.id), timeout)
        finally:
            agent.stop()
    if agent_ack is None:
        click.echo(json.dumps({"id": str(event.id), "seq": event.seq, "status": "timeout"}))
        sys.exit(EXIT_TIMEOUT)
    click.echo(json.dumps(agent_ack.as_dict()))
    if not agent_ack.final:
        sys.exit(EXIT_TIMEOUT)  # kept in the outbox, like a timeout
    sys.exit(EXIT_REJECTED if agent_ack.status == "rejected" else EXIT_OK)


def _record(add: Any) -> Any:
    try:
        return add()
    except KeyError as exc:
        click.echo(f"unknown event type {exc}", err=True)
    except ValidationError as exc:
        click.echo(f"refused locally, not sent: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}", err=True)
    sys.exit(EXIT_REJECTED)


def _poll_ack(outbox: Any, event_id: str, timeout: float) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = outbox.ack_for(event_id)
        if record is not None:
            return record
        time.sleep(0.1)
    return outbox.ack_for(event_id)


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="Kiosk TOML file.")
def outbox(config_path: str) -> None:
    """Show the outbox: events waiting for an ack, the oldest one's age, and the last acks."""
    from kiosk.outbox import Outbox

    config = _load(config_path)
    box = Outbox(config.outbox, config.kiosk)
    try:
        summary = box.summary()
    finally:
        box.close()
    click.echo(json.dumps(summary, indent=2, default=str))


@main.command("check-config")
@click.argument("config_file", type=click.Path(dir_okay=False))
@click.option("--keys", is_flag=True, help="Also list every config key with its meaning.")
def check_config(config_file: str, keys: bool) -> None:
    """Validate a kiosk config file; errors name each bad key."""
    config = _load(config_file)
    click.echo(f"ok: kiosk {config.kiosk}, mode {config.mode}, broker {config.broker.host}:{config.broker.port}")
    if keys:
        for key, description in describe_keys():
            click.echo(f"{key}: {description}")
