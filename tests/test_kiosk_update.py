"""firmware-config/pi/bin/update (``assetgate-kiosk-update``): install, switch, watch, roll back.

The script itself runs, unchanged, with three programs in front of it on PATH: ``python3`` (its
``-m venv`` makes a fake release whose ``pip`` and ``assetgate-kiosk`` behave as the wheel's name
says), and ``systemctl``, which "restarts" the agent by running the release that ``current`` points
at, so a broken release fails its start (no READY) and a flaky one gets restarted by the watchdog
during the watch. What is not here: a real systemd as PID 1 (the stubs answer as it does).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "firmware-config" / "pi" / "bin" / "update"

# The fake release: the wheel's name decides how its pip, its check-config and its start behave.
PYTHON3 = r"""#!/bin/sh
[ "$1 $2" = "-m venv" ] || exit 2
release=$(eval echo "\${$#}")
mkdir -p "$release/bin"
cat >"$release/bin/pip" <<'EOF'
#!/bin/sh
wheel=$(eval echo "\${$#}")
case $wheel in *uninstallable*) echo "pip: no matching distribution" >&2; exit 1 ;; esac
echo "$*" >"$(dirname "$0")/../installed"
EOF
cat >"$release/bin/assetgate-kiosk" <<'EOF'
#!/bin/sh
installed=$(cat "$(dirname "$0")/../installed")
case "$1 $installed" in
  "check-config "*badconfig*) echo "kiosk.toml: unknown key" >&2; exit 1 ;;
  "start "*crash*) exit 1 ;;
  "start "*flaky*) echo 2 ;;
  start*) echo 0 ;;
esac
EOF
chmod +x "$release/bin/pip" "$release/bin/assetgate-kiosk"
"""

# systemd's answers for one unit: restart runs the current release's start (READY or not); the
# restarts the watchdog makes afterwards show in NRestarts from the second look on.
SYSTEMCTL = r"""#!/bin/sh
state=$STUB_STATE
echo "$*" >>"$state/calls"
case $1 in
  restart)
    if watchdog_restarts=$("$ASSETGATE_KIOSK_BASE/current/bin/assetgate-kiosk" start); then
      echo active >"$state/active"; echo "$watchdog_restarts" >"$state/pending"
    else
      echo failed >"$state/active"; exit 1
    fi ;;
  is-active) cat "$state/active" ;;
  show)
    n=$(cat "$state/nrestarts" 2>/dev/null || echo 0)
    echo "$n"
    echo $((n + $(cat "$state/pending" 2>/dev/null || echo 0))) >"$state/nrestarts"; echo 0 >"$state/pending" ;;
  stop) echo inactive >"$state/active" ;;
  *) exit 2 ;;
esac
"""


class Kiosk:
    def __init__(self, root: Path) -> None:
        self.base = root / "data"
        self.state = root / "state"
        self.dist = root / "dist"
        stubs = root / "stubs"
        for folder in (self.state, self.dist, stubs):
            folder.mkdir()
        for name, text in (("python3", PYTHON3), ("systemctl", SYSTEMCTL)):
            (stubs / name).write_text(text)
            (stubs / name).chmod(0o755)
        config = root / "kiosk.toml"
        config.write_text('kiosk = "gate-1"\n')
        self.env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "STUB_STATE": str(self.state),
                    "ASSETGATE_KIOSK_BASE": str(self.base), "ASSETGATE_KIOSK_SETTLE": "0",
                    "ASSETGATE_KIOSK_CONFIG": str(config)}

    def update(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", str(SCRIPT), *args], env=self.env, capture_output=True, text=True, timeout=30)

    def install(self, version: str) -> subprocess.CompletedProcess[str]:
        wheel = self.dist / f"assetgate_kiosk-{version}-py3-none-any.whl"
        wheel.write_bytes(b"PK")
        return self.update(str(wheel))

    def running(self) -> str:
        """The version `current` points at."""
        return os.readlink(self.base / "current").rsplit("-", 1)[1]

    def releases(self) -> list[str]:
        return sorted(p.name.rsplit("-", 1)[1] for p in (self.base / "releases").iterdir())

    def restarts(self) -> int:
        return sum(line.startswith("restart ") for line in (self.state / "calls").read_text().splitlines())


@pytest.fixture
def kiosk(tmp_path: Path) -> Kiosk:
    return Kiosk(tmp_path)


def test_first_install_then_an_update_switches_and_records_the_one_before(kiosk: Kiosk) -> None:
    first = kiosk.install("0.1.0")
    assert first.returncode == 0, first.stderr
    assert kiosk.running() == "0.1.0" and not (kiosk.base / "previous").exists()
    assert "[kiosk]" in next((kiosk.base / "releases").iterdir()).joinpath("installed").read_text()
    assert kiosk.install("0.2.0").returncode == 0
    assert kiosk.running() == "0.2.0"
    assert (kiosk.base / "previous").read_text().strip().endswith("-0.1.0")
    assert "running" in (kiosk.base / "log" / "update.log").read_text()


@pytest.mark.parametrize("broken", ["0.3.0crash", "0.3.0flaky"])
def test_a_release_that_does_not_come_up_healthy_is_rolled_back(kiosk: Kiosk, broken: str) -> None:
    kiosk.install("0.1.0")
    kiosk.install("0.2.0")
    failed = kiosk.install(broken)  # crash: no READY; flaky: READY, then restarted by the watchdog
    assert failed.returncode == 1
    assert "did not come up healthy; rolling back" in failed.stderr
    assert kiosk.running() == "0.2.0" and kiosk.restarts() == 4  # 0.1, 0.2, the broken one, 0.2 again
    assert kiosk.releases() == ["0.1.0", "0.2.0"]  # the broken release is gone, the last good ones kept
    back = kiosk.update("--rollback")  # still to the release before the running one
    assert back.returncode == 0, back.stderr
    assert kiosk.running() == "0.1.0"


def test_rollback_and_rollback_again_swaps_the_two(kiosk: Kiosk) -> None:
    assert "no previous release" in kiosk.update("--rollback").stderr
    kiosk.install("0.1.0")
    kiosk.install("0.2.0")
    assert kiosk.update("--rollback").returncode == 0 and kiosk.running() == "0.1.0"
    assert kiosk.update("--rollback").returncode == 0 and kiosk.running() == "0.2.0"


@pytest.mark.parametrize("bad", ["0.3.0badconfig", "0.3.0uninstallable"])
def test_a_wheel_that_cannot_install_or_read_the_config_changes_nothing(kiosk: Kiosk, bad: str) -> None:
    kiosk.install("0.2.0")
    refused = kiosk.install(bad)
    assert refused.returncode == 1 and "nothing changed" in refused.stderr
    assert kiosk.running() == "0.2.0" and kiosk.restarts() == 1  # never switched, never restarted
    assert kiosk.releases() == ["0.2.0"]


def test_a_wheelhouse_beside_the_wheel_makes_the_install_offline(kiosk: Kiosk) -> None:
    (kiosk.dist / "wheelhouse").mkdir()
    assert kiosk.install("0.1.0").returncode == 0
    installed = next((kiosk.base / "releases").iterdir()).joinpath("installed").read_text()
    assert f"--no-index --find-links {kiosk.dist / 'wheelhouse'}" in installed


def test_a_first_install_that_fails_leaves_no_current(kiosk: Kiosk) -> None:
    failed = kiosk.install("0.1.0crash")
    assert failed.returncode == 1 and "rolling back to nothing" in failed.stderr
    assert not (kiosk.base / "current").exists() and not (kiosk.base / "current").is_symlink()


def test_old_releases_are_pruned_but_never_the_one_to_roll_back_to(kiosk: Kiosk) -> None:
    for version in ("0.1.0", "0.2.0", "0.3.0", "0.4.0"):
        assert kiosk.install(version).returncode == 0
    assert kiosk.releases() == ["0.2.0", "0.3.0", "0.4.0"]  # ASSETGATE_KIOSK_KEEP=3
    kiosk.update("--rollback")  # running 0.3.0, previous 0.4.0
    kiosk.env["ASSETGATE_KIOSK_KEEP"] = "1"
    assert kiosk.install("0.5.0").returncode == 0
    assert kiosk.releases() == ["0.3.0", "0.5.0"]  # the newest, and the one --rollback goes to
    assert kiosk.update("--rollback").returncode == 0 and kiosk.running() == "0.3.0"


def test_a_missing_wheel_is_a_clear_error(kiosk: Kiosk) -> None:
    out = kiosk.update(str(kiosk.dist / "nothing.whl"))
    assert out.returncode == 1 and "no such wheel" in out.stderr
