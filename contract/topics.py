"""MQTT topics of the kiosk <-> server contract (PROTOCOL.md section 2).

This is the only module that spells a topic. Everything else asks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_PREFIX = "assetgate/v1"
SHARE_GROUP = "assetgate"
KIOSK_ID = re.compile(r"^[a-z0-9-]{1,32}$")
QOS = 1  # every topic of the contract is QoS 1


def valid_kiosk_id(kiosk: str) -> bool:
    return bool(KIOSK_ID.match(kiosk))


@dataclass(frozen=True)
class KioskTopic:
    kiosk: str
    channel: str  # events | acks | status | config


@dataclass(frozen=True)
class Topics:
    prefix: str = DEFAULT_PREFIX

    def _kiosk(self, kiosk: str, channel: str) -> str:
        if not valid_kiosk_id(kiosk):
            raise ValueError(f"invalid kiosk id {kiosk!r}: must match [a-z0-9-]{{1,32}}")
        return f"{self.prefix}/kiosks/{kiosk}/{channel}"

    def events(self, kiosk: str) -> str:
        return self._kiosk(kiosk, "events")

    def acks(self, kiosk: str) -> str:
        return self._kiosk(kiosk, "acks")

    def status(self, kiosk: str) -> str:
        return self._kiosk(kiosk, "status")

    def config(self, kiosk: str) -> str:
        return self._kiosk(kiosk, "config")

    @property
    def server_status(self) -> str:
        return f"{self.prefix}/server/status"

    def all_events(self, shared: bool = False) -> str:
        """The consumer's subscription; a shared one lets several consumers split the load."""
        topic = f"{self.prefix}/kiosks/+/events"
        return f"$share/{SHARE_GROUP}/{topic}" if shared else topic

    @property
    def all_status(self) -> str:
        return f"{self.prefix}/kiosks/+/status"

    def parse(self, topic: str) -> KioskTopic | None:
        """Split a kiosk topic into kiosk id and channel; None when it is not one of ours."""
        head = f"{self.prefix}/kiosks/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head):].split("/")
        if len(parts) != 2 or parts[1] not in {"events", "acks", "status", "config"}:
            return None
        kiosk, channel = parts
        # A topic may name any string; only well-formed kiosk ids are answered.
        if not valid_kiosk_id(kiosk):
            return None
        return KioskTopic(kiosk, channel)

    def acl_lines(self, kiosk: str) -> list[str]:
        """Mosquitto ACL lines for one kiosk: its own events/status out, its own acks/config in."""
        return [
            f"user {kiosk}",
            f"topic write {self.events(kiosk)}",
            f"topic readwrite {self.status(kiosk)}",
            f"topic read {self.acks(kiosk)}",
            f"topic read {self.config(kiosk)}",
            f"topic read {self.server_status}",
        ]
