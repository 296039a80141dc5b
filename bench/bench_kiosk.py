"""Kiosk agent bench: memory with 10,000 queued events, drain rate, scan-to-ack latency.

Runs a private Mosquitto on a free loopback port and a bare acking responder in its own
process (json.loads + a fixed ack, no database), so the figures are the kiosk's own:

    .venv/bin/python bench/bench_kiosk.py [--events 10000]

Steps: the agent starts while the broker is down and records N events one by one (each an
fsynced outbox insert); RSS is read then; the broker and responder start and the time to
an empty outbox is the drain rate; then latency from ``record()`` to the ack at 10 and at
100 events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"broker did not listen on {port}")


def start_broker(conf: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def responder(port: int, prefix: str) -> None:
    """The bare acking peer: subscribe to all events, answer each with an accepted ack."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from contract.topics import QOS, Topics

    topics = Topics(prefix)
    # A persistent session, like the real consumer's: events wait in the broker for it.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-resp-{prefix.split('/')[1]}",
                         clean_session=False)
    client.max_inflight_messages_set(1000)
    client.reconnect_delay_set(1, 1)  # paho's default backoff grows to 2 minutes while the broker is down

    def on_message(c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        event = json.loads(msg.payload)
        ack = {"v": 1, "id": event["id"], "status": "accepted", "reason": None,
               "display": {"level": "ok", "title": "Saved", "detail": ""}}
        c.publish(topics.acks(event["kiosk"]), json.dumps(ack), qos=QOS)

    client.on_connect = lambda c, *_: c.subscribe(topics.all_events(), qos=QOS)
    client.on_socket_open = lambda c, u, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.on_message = on_message
    # "ready" only once subscribed: events published before that would have no receiver.
    client.on_subscribe = lambda *_: print("ready", flush=True)
    client.connect("127.0.0.1", port)
    client.loop_forever()


def latency(agent: object, rate: float, seconds: float) -> tuple[float, float]:
    from contract.codes import Kind, new_code

    samples = []
    interval = 1 / rate
    next_at = time.monotonic()
    for _ in range(int(rate * seconds)):
        next_at += interval
        start = time.perf_counter()
        event = agent.record("asset.checkin", None, {"tag": str(new_code(Kind.ASSET))})  # type: ignore[attr-defined]
        if agent.wait_ack(str(event.id), timeout=10) is None:  # type: ignore[attr-defined]
            raise SystemExit("no ack within 10 s")
        samples.append((time.perf_counter() - start) * 1000)
        time.sleep(max(0.0, next_at - time.monotonic()))
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--responder", nargs=2, metavar=("PORT", "PREFIX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.responder:
        responder(int(args.responder[0]), args.responder[1])
        return

    from contract.codes import Kind, new_code
    from kiosk.agent import Agent
    from kiosk.config import parse_config

    work = Path(tempfile.mkdtemp(prefix="bench-kiosk-"))
    port = free_port()
    prefix = f"bench/{uuid.uuid4().hex}/assetgate/v1"
    conf = work / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                    f"max_inflight_messages 0\nset_tcp_nodelay true\npersistence true\n"
                    f"persistence_location {work}/\n")
    config = parse_config({
        "kiosk": "bench-kiosk", "mode": "storeroom", "prefix": prefix, "outbox": str(work / "outbox.db"),
        "broker": {"port": port, "reconnect_min": 1, "reconnect_max": 1, "session_expiry": 60},
        "screen": {"enabled": False},
    })
    procs: list[subprocess.Popen[bytes]] = []
    # The responder subscribes once (persistent session), then the broker goes down for the
    # recording and comes back with the session: the production order of things.
    broker = start_broker(conf, port)
    peer = subprocess.Popen([sys.executable, __file__, "--responder", str(port), prefix],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    procs.append(peer)
    assert peer.stdout is not None
    peer.stdout.readline()
    broker.terminate()
    broker.wait()
    base = rss_mb()
    agent = Agent(config, screen=False, scanners=False)
    agent.start()
    try:
        started = time.perf_counter()
        for _ in range(args.events):
            agent.record("asset.checkin", None, {"tag": str(new_code(Kind.ASSET))})
        record_s = time.perf_counter() - started
        queued_rss = rss_mb()
        print(f"recorded {args.events} events (one fsynced insert each) in {record_s:.1f} s "
              f"({args.events / record_s:.0f}/s)")
        print(f"RSS: {base:.1f} MB before the agent, {queued_rss:.1f} MB with {agent.depth()} queued events")

        procs.append(start_broker(conf, port))
        started = time.perf_counter()
        while agent.depth() > 0:
            time.sleep(0.05)
            if time.perf_counter() - started > 300:
                raise SystemExit("drain took over 300 s")
        drain_s = time.perf_counter() - started
        print(f"drained {args.events} events after reconnect in {drain_s:.1f} s ({args.events / drain_s:.0f}/s), "
              f"RSS {rss_mb():.1f} MB")
        for rate, seconds in ((10, 5), (100, 5)):
            p50, p99 = latency(agent, rate, seconds)
            print(f"record-to-ack latency at {rate}/s: median {p50:.1f} ms, p99 {p99:.1f} ms")
    finally:
        agent.stop()
        for proc in procs:
            proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: nproc {os.cpu_count()}, python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
