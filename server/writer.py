"""The consumer's writer: stores batches of kiosk messages, one transaction per batch.

It runs in a process of its own (``run``), fed by the consumer's network side over a
pipe, so that parsing, the domain rules and the database work do not share one
interpreter lock with the MQTT network loop. It knows nothing of MQTT beyond the
``Delivery`` it is given and the ``Reply`` it returns: the network side sends the acks
and the broker acknowledgements, and only after the writer has committed.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from contract import messages as m
from contract.topics import Topics
from server.config import Settings
from server.models import Kiosk, RejectedMessage, utcnow
from server.services import bulk, health, ingest, kiosks, rejected

log = logging.getLogger("assetgate.writer")
RAW_KEPT = 2048  # bytes of a refused message kept for the admin
PURGE_EVERY = 300.0  # seconds between runs of the rejected log's retention (sooner while there is more)


class Delivery(NamedTuple):
    """One message as the broker delivered it."""

    mid: int
    qos: int
    topic: str
    payload: bytes


class Reply(NamedTuple):
    """What to send once the batch is committed: the ack (if any) to the kiosk, then the broker ack."""

    mid: int
    qos: int
    kiosk: str | None
    ack: bytes | None


@dataclass
class Incoming:
    delivery: Delivery
    kiosk: str | None
    status: bool = False
    event: m.Event | None = None
    data: Any = None
    error: m.ContractError | None = None


class Writer:
    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.topics = Topics(settings.topic_prefix)
        self.counts: Counter[str] = Counter()
        self.log_limit = rejected.RateLimit(settings.rejected_log_per_minute, settings.rejected_log_burst)
        self._drops: rejected.Drops = Counter()  # of the batch being processed

    def configs(self) -> list[tuple[str, bytes]]:
        """Each active kiosk's retained config: (kiosk name, payload). A gate's follows its passes, who is
        on site and the watchlist: the gate's scheduler republishes it when it changes (server.scheduler)."""
        with self.sessions() as session:
            return [(kiosk.name, kiosks.config_for(kiosk, session).model_dump_json().encode())
                    for kiosk in session.scalars(select(Kiosk).where(Kiosk.revoked_at.is_(None)))]

    def beat(self, name: str, host: str, pid: int, started_at: Any, interval_s: float) -> None:
        """Record the consumer's heartbeat; a database that is away means no beat (ingestion shows down)."""
        try:
            with self.sessions() as session, session.begin():
                health.beat(session, name, host=host, pid=pid, started_at=started_at, interval_s=interval_s)
        except SQLAlchemyError as exc:
            log.warning("could not record the consumer's heartbeat (%s)", type(exc).__name__)

    def store(self, batch: list[Delivery], wait: Callable[[float], bool] | None = None) -> list[Reply] | None:
        """Store a batch, waiting out a database that is away. ``wait(seconds)`` returns True
        when the caller wants to stop instead: then None, and nothing is acked."""
        delay = 0.5
        while True:
            try:
                return self._process_or_split(batch)
            except OperationalError as exc:  # database away: keep the batch, unacked, and retry
                log.error("database unavailable (%s); retrying in %.1fs", exc.orig, delay)
                if wait is None:
                    time.sleep(delay)
                elif wait(delay):
                    return None  # the broker will deliver these again to the next consumer
                delay = min(delay * 2, 30)

    def _process_or_split(self, batch: list[Delivery]) -> list[Reply]:
        """Fast path first (one flush per batch); on any surprise redo the batch on the safe
        path (a savepoint per message); if even that fails, message by message, so that one
        poisonous message spoils only itself. The same handlers run on every path."""
        try:
            done = self.process(batch, fast=True)
            self.counts["batches:fast"] += 1
            return done
        except OperationalError:
            raise
        except Exception as exc:
            log.info("fast path refused a batch of %d (%s); redoing it safely", len(batch), type(exc).__name__)
            self.counts["batches:safe"] += 1
        try:
            return self.process(batch, fast=False)
        except OperationalError:
            raise
        except Exception:
            log.exception("batch of %d failed; retrying message by message", len(batch))
        replies: list[Reply] = []
        for delivery in batch:
            try:
                replies += self.process([delivery], fast=False)
            except OperationalError:
                raise
            except Exception:  # unstorable even alone: refuse it loudly rather than loop on it
                log.exception("message on %s could not be stored; refused", delivery.topic[:100])
                self.counts[f"rejected:{m.Reason.INTERNAL}"] += 1
                replies.append(self._internal_error(delivery))
        return replies

    def _internal_error(self, delivery: Delivery) -> Reply:
        """The answer to a message that could not be stored even alone. It names the event when
        its id can be read: internal_error is not final, so the kiosk keeps that event."""
        parsed = self.topics.parse(delivery.topic)
        try:
            event_id = _event_id(self._decode(delivery))
        except Exception:  # the decoder itself failed on it: answer without an id
            event_id = None
        ack = m.Ack(id=event_id, status="rejected", reason=m.Reason.INTERNAL,
                    display=m.display_for("rejected", m.Reason.INTERNAL))
        return Reply(delivery.mid, delivery.qos, parsed.kiosk if parsed else None, ack.to_bytes())

    def process(self, batch: list[Delivery], fast: bool = False) -> list[Reply]:
        """Store a batch in one transaction; returns the replies to send after the commit."""
        received = utcnow()
        items = [self._decode(delivery) for delivery in batch]
        replies: list[Reply] = []
        limit = self.log_limit.snapshot()  # a batch that is rolled back must not spend the log's budget
        self._drops = Counter()
        try:
            with self.sessions() as session, session.begin():
                events = [item.event for item in items if item.event is not None]
                if events:
                    ingest.lock_rows(session, events)
                prefetched = ingest.prefetch(session, events) if fast and events else None
                with bulk.rows(session) if fast else nullcontext():
                    for item in items:
                        replies.append(self._apply(session, item, received, prefetched, fast))
                if self._drops:
                    rejected.record_drops(session, self._drops, received)
        except BaseException:
            self.log_limit.restore(limit)
            raise
        self.counts["rejected:unlogged"] += sum(self._drops.values())
        return replies

    def purge(self) -> int:
        """Delete one chunk of the rejected log's rows that are past the retention."""
        with self.sessions() as session, session.begin():
            gone = rejected.purge(session, utcnow(), self.settings.rejected_log_retention_days)
        if gone:
            log.info("deleted %d rows of the rejected log older than %s days", gone,
                     self.settings.rejected_log_retention_days)
        return gone

    def _decode(self, delivery: Delivery) -> Incoming:
        parsed = self.topics.parse(delivery.topic)
        kiosk = parsed.kiosk if parsed is not None else None
        if parsed is not None and parsed.channel == "status":
            return Incoming(delivery, kiosk, status=True)
        try:
            if kiosk is None or parsed is None or parsed.channel != "events":
                raise m.ContractError(m.Reason.BAD_SCHEMA, f"not a kiosk events topic: {delivery.topic[:100]}")
            event, data = m.decode_event(delivery.payload, kiosk)
            return Incoming(delivery, kiosk, event=event, data=data)
        except m.ContractError as exc:
            return Incoming(delivery, kiosk, error=exc)

    def _apply(self, session: Session, item: Incoming, received: Any, prefetched: ingest.Prefetched | None,
               fast: bool) -> Reply:
        delivery = item.delivery
        if item.status:
            self._store_status(session, item.kiosk or "", delivery.payload)
            return Reply(delivery.mid, delivery.qos, None, None)
        return Reply(delivery.mid, delivery.qos, item.kiosk,
                     self._ack(session, item, received, prefetched, fast).to_bytes())

    def _ack(self, session: Session, item: Incoming, received: Any, prefetched: ingest.Prefetched | None,
             fast: bool) -> m.Ack:
        delivery, kiosk = item.delivery, item.kiosk
        try:
            if item.error is not None:
                raise item.error
            assert item.event is not None and item.data is not None
            result = ingest.ingest(session, item.event, item.data, received_at=received, batch=prefetched,
                                   require_enrolled=self.settings.require_enrolled_kiosks,
                                   max_skew_s=self.settings.max_clock_skew_s)
            self.counts[result.status] += 1
            return m.Ack(id=str(item.event.id), status=result.status, reason=result.reason,  # type: ignore[arg-type]
                         display=result.display)
        except m.ContractError as exc:
            return self._reject(session, delivery, kiosk, str(exc.reason), str(exc), exc.event_id, received, fast)
        except ValidationError as exc:  # a reply we could not build is our bug, not the kiosk's
            if fast:
                raise
            log.exception("bad ack for %s", delivery.topic)
            return self._reject(session, delivery, kiosk, m.Reason.INTERNAL, str(exc)[:300], _event_id(item),
                                received, fast)
        except Exception as exc:  # never let one message stop the loop
            if fast:
                raise  # the safe path will isolate it
            log.exception("internal error on %s", delivery.topic)
            return self._reject(session, delivery, kiosk, m.Reason.INTERNAL, repr(exc)[:300], _event_id(item),
                                received, fast)

    def _reject(self, session: Session, delivery: Delivery, kiosk: str | None, reason: str, detail: str,
                event_id: str | None, received: Any, fast: bool = False) -> m.Ack:
        self.counts[f"rejected:{reason}"] += 1
        ack = m.Ack(id=event_id, status="rejected", reason=reason, display=m.display_for("rejected", reason, detail))
        if not self.log_limit.take(kiosk or ""):  # over this kiosk's rate: answered and counted, not logged
            self._drops[(kiosk or "", reason)] += 1
            return ack
        log.warning("rejected %s from %s: %s (%s)", event_id or "message", kiosk or delivery.topic[:80], reason, detail)
        raw = ingest.redacted(delivery.payload)[:RAW_KEPT].decode("utf-8", errors="backslashreplace")
        row = RejectedMessage(received_at=received, topic=_text(delivery.topic, 255), kiosk=kiosk,
                              event_id=_text(event_id, 64) if event_id else None, reason=reason,
                              detail=_text(detail, 1000), size=len(delivery.payload), raw=_text(raw, None))
        if fast:
            session.add(row)
        else:
            with session.begin_nested():
                session.add(row)
        return ack

    def _store_status(self, session: Session, kiosk_name: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            status = m.KioskStatus.model_validate_json(payload[: m.MAX_EVENT_BYTES])
        except ValidationError:
            log.warning("unreadable status from kiosk %s", kiosk_name)
            return
        kiosk = kiosks.active_kiosk(session, kiosk_name)
        if kiosk is not None:
            kiosk.status = status.model_dump(mode="json")
            kiosk.last_seen_at = utcnow()


def _event_id(item: Incoming) -> str | None:
    if item.event is not None:
        return str(item.event.id)
    return item.error.event_id if item.error is not None else None


def _text(value: str, limit: int | None) -> str:
    """Text safe for every backend: PostgreSQL refuses NUL characters in text columns."""
    return value.replace("\x00", "\\x00")[:limit]


# --- the writer process ---
# Requests on the pipe: ("batch", id, [Delivery]), ("configs",), ("beat", name, host, pid, started_at,
# interval_s), ("stop",).
# Answers: ("ready",), ("done", id, [Reply] | None, counts since the last answer), ("configs", [(kiosk, payload)]),
# ("beat",).


def run(conn: Connection, settings: Settings) -> None:
    """The writer process: answer the network side's requests until it says stop or goes away."""
    from server import audit, personal
    from server.db import make_engine, make_session_factory

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the network side, which stops us in order
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    engine = make_engine(settings.effective_database_url)
    factory = make_session_factory(engine)
    personal.install(factory, settings)
    audit.install(factory, settings)  # the audit keys, read and checked once (``assetgate consume`` did too)
    writer = Writer(settings, factory)
    conn.send(("ready",))
    next_purge = 0.0  # at once: what expired while no writer ran goes first
    try:
        while True:
            if time.monotonic() >= next_purge:
                next_purge = time.monotonic() + _purge_or_log(writer)
            try:
                if not conn.poll(max(0.0, next_purge - time.monotonic())):
                    continue
                request = conn.recv()
            except (EOFError, OSError):
                break  # the network side is gone: whatever it held is unacked and comes back
            if request[0] == "batch":
                started = time.perf_counter()
                replies = writer.store(request[2], _parent_gone(os.getppid()))
                log.debug("stored a batch of %d in %.1f ms", len(request[2]), (time.perf_counter() - started) * 1000)
                conn.send(("done", request[1], replies, dict(writer.counts)))
                writer.counts.clear()  # the network side adds up what each answer counted
            elif request[0] == "configs":
                conn.send(("configs", _configs_or_none(writer)))
            elif request[0] == "beat":
                writer.beat(*request[1:])
                conn.send(("beat",))
            elif request[0] == "stop":
                break
    except (BrokenPipeError, EOFError):
        pass
    finally:
        engine.dispose()


def _purge_or_log(writer: Writer) -> float:
    """Run the rejected log's retention once; returns the seconds until the next run."""
    try:
        more = writer.purge() >= rejected.PURGE_CHUNK
    except SQLAlchemyError as exc:  # the database is away: the batches wait for it, this can too
        log.error("could not purge the rejected log (%s)", exc)
        return PURGE_EVERY
    return 1.0 if more else PURGE_EVERY


def _configs_or_none(writer: Writer) -> list[tuple[str, bytes]]:
    try:
        return writer.configs()
    except SQLAlchemyError as exc:  # retained configs are sent again on the next connect
        log.error("could not read the kiosks' configs (%s); not publishing them now", exc)
        return []


def _parent_gone(parent: int) -> Callable[[float], bool]:
    def wait(seconds: float) -> bool:
        # While the database is away only a dead network side stops us (its batches are
        # unacked and will be delivered again); a live one waits for this answer.
        time.sleep(seconds)
        return os.getppid() != parent
    return wait
