"""Ask a daemon named by its pid file to reload (SIGHUP), without ever signalling another process.

A pid file outlives its process: after a crash or a reboot it can name a pid that no longer
exists, or one that the kernel has given to an unrelated process since, which SIGHUP would
kill. So the pid is opened as a pidfd (a handle on that one process, which a reused number
cannot redirect), the process behind it must be the expected program, and the signal goes
through the pidfd. Anything else is refused with a reason for the admin.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Reload:
    done: bool
    detail: str  # what happened, or why not, in words for the admin


def reload(pid_file: Path, program: str = "mosquitto") -> Reload:
    """SIGHUP the ``program`` process that ``pid_file`` names, if and only if it is that program."""
    try:
        text = pid_file.read_text().strip()
    except OSError as exc:
        return Reload(False, f"cannot read the pid file {pid_file}: {exc.strerror or exc}")
    if not (text.isascii() and text.isdigit()) or int(text) <= 1:
        return Reload(False, f"the pid file {pid_file} does not hold a process id ({text[:20]!r})")
    pid = int(text)
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return Reload(False, f"the pid file {pid_file} is stale: no process {pid} is running")
    except OSError as exc:  # no pidfd on this system: no safe way to signal it
        return Reload(False, f"cannot open process {pid} safely: {exc.strerror or exc}")
    try:
        return _signal_if(handle, pid, program, pid_file)
    finally:
        os.close(handle)


def _signal_if(handle: int, pid: int, program: str, pid_file: Path) -> Reload:
    try:
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        name = "?"
    try:
        # Alive now means alive when its name was read: the name was this process's, not a successor's.
        signal.pidfd_send_signal(handle, 0)
    except ProcessLookupError:
        return Reload(False, f"the pid file {pid_file} is stale: process {pid} has just ended")
    if name != program:
        return Reload(False, f"the pid file {pid_file} is stale: process {pid} is {name!r}, not {program}; "
                             "it was not signalled")
    try:
        signal.pidfd_send_signal(handle, signal.SIGHUP)
    except PermissionError:
        return Reload(False, f"not allowed to signal {program} (process {pid}); run this as its user or root")
    except ProcessLookupError:
        return Reload(False, f"{program} (process {pid}) ended before it could be told to reload")
    return Reload(True, f"{program} (process {pid}) told to reload its files")
