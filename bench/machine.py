"""What every benchmark prints about the machine it ran on."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def audited(factory: Any, folder: str | Path) -> Any:
    """A bench's session factory with the audit keys of its instance folder (server.audit.install): every
    write to the ledger is audited with a key, so a factory without them cannot write."""
    from server import audit
    from server.config import load_settings

    audit.install(factory, load_settings({"instance_path": Path(folder)}, environ={}))
    return factory


def describe() -> str:
    return f"python {platform.python_version()}, nproc {os.cpu_count()}, cpu {cpu_model()!r}"
