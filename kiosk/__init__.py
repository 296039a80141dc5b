"""AssetGate kiosk agent: scans in, durable outbox, MQTT link to the server, local screen.

Nothing here imports the server: the kiosk and the server share only ``contract``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def agent_version() -> str:
    """The installed package version, reported in the kiosk's status."""
    try:
        return version("assetgate")
    except PackageNotFoundError:  # running from a bare checkout
        return "0+unknown"
