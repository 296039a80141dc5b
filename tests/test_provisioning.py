"""firmware-config/ as the tools that will read it see it: every systemd unit passes
`systemd-analyze verify`, the cloud-init user-data passes `cloud-init schema`, every shell script
passes shellcheck. Each check is also shown to fail on a broken copy, so none is a check that
cannot fail.

`systemd-analyze verify` insists that each ExecStart program exists. The programs are the Pi's or
the server's (xinit, the release venv's assetgate-kiosk), not this machine's, so the units are
verified inside a scratch root (--root): a copy of this machine's system units, our units, and an
empty executable at each ExecStart path.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FIRMWARE = ROOT / "firmware-config"
PI = FIRMWARE / "pi"
UNITS = sorted(p for p in FIRMWARE.rglob("*") if p.suffix in {".service", ".timer", ".path"} and p.is_file())
SCRIPTS = sorted([*(p for p in FIRMWARE.rglob("*") if p.is_file() and p.read_bytes()[:2] == b"#!"),
                  *(ROOT / "scripts").glob("*.sh")])


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def _exec_paths(text: str) -> set[str]:
    # ExecStart=-/usr/bin/x args: the program is the first word, after systemd's prefixes.
    return {m.group(1) for m in re.finditer(r"^Exec\w+=[-@:+!]*(/\S+)", text, re.MULTILINE)}


def _verify(tmp_path: Path, units: list[Path]) -> subprocess.CompletedProcess[str]:
    scratch = tmp_path / "root"
    if not scratch.exists():
        (scratch / "lib" / "systemd").mkdir(parents=True)
        shutil.copytree("/lib/systemd/system", scratch / "lib" / "systemd" / "system", symlinks=True)
        (scratch / "etc" / "systemd" / "system").mkdir(parents=True)
    for unit in units:
        shutil.copy(unit, scratch / "etc" / "systemd" / "system" / unit.name)
        for program in _exec_paths(unit.read_text()):
            stub = scratch / program.lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\n")
            stub.chmod(0o755)
    return subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={scratch}", *(u.name for u in units)],
                          capture_output=True, text=True)


def test_there_are_units_and_scripts_to_check() -> None:
    names = {u.name for u in UNITS}
    assert {"assetgate-kiosk.service", "assetgate-screen.service"} <= names
    assert {"provision", "update", "stage-sd", "screen-session"} <= {s.name for s in SCRIPTS}


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, unit: Path) -> None:
    # A timer or path unit is verified with the service it starts.
    units = [unit, *([unit.with_suffix(".service")] if unit.suffix in {".timer", ".path"} else [])]
    result = _verify(tmp_path, units)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_verify_reports_a_misspelt_key_and_a_missing_program(tmp_path: Path) -> None:
    broken = tmp_path / "assetgate-kiosk.service"
    broken.write_text((PI / "systemd" / "assetgate-kiosk.service").read_text().replace("WatchdogSec=", "WatchDogSec="))
    result = _verify(tmp_path, [broken])
    assert "Unknown key 'WatchDogSec'" in result.stderr
    (tmp_path / "root" / "var" / "lib" / "assetgate-kiosk" / "current" / "bin" / "assetgate-kiosk").unlink()
    (tmp_path / "root" / "etc" / "systemd" / "system" / broken.name).unlink()
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={tmp_path / 'root'}", str(broken)],
                            capture_output=True, text=True)
    assert result.returncode != 0


def test_the_agent_unit_is_watched_and_always_restarted() -> None:
    service = _unit(PI / "systemd" / "assetgate-kiosk.service")["Service"]
    assert service["Type"] == "notify" and service["Restart"] == "always"
    assert 10 <= int(service["WatchdogSec"]) <= 60
    assert service["ReadWritePaths"] == "/var/lib/assetgate-kiosk" and service["ProtectSystem"] == "strict"
    unit = _unit(PI / "systemd" / "assetgate-kiosk.service")["Unit"]
    assert unit["RequiresMountsFor"] == "/var/lib/assetgate-kiosk"  # the outbox never lands on the overlay


def test_the_screen_is_chromium_in_kiosk_mode_without_a_cursor() -> None:
    session = (PI / "bin" / "screen-session").read_text()
    for flag in ("--kiosk", "--noerrdialogs", "--disable-session-crashed-bubble"):
        assert flag in session
    assert "-nocursor" in _unit(PI / "systemd" / "assetgate-screen.service")["Service"]["ExecStart"]


def test_system_settings_hardware_watchdog_journal_and_time() -> None:
    watchdog = _unit(PI / "etc" / "system.conf.d" / "watchdog.conf")["Manager"]
    assert watchdog["RuntimeWatchdogSec"] == "15s"  # the Pi's watchdog allows at most 15 s
    journal = _unit(PI / "etc" / "journald.conf.d" / "assetgate.conf")["Journal"]
    assert journal["Storage"] == "volatile" and journal["RuntimeMaxUse"].endswith("M")
    assert "NTP" in _unit(PI / "etc" / "timesyncd.conf.d" / "assetgate.conf")["Time"]


def test_logrotate_rotates_the_update_log(tmp_path: Path) -> None:
    # The shipped rules, pointed at a scratch folder, run by logrotate itself (not its dry run,
    # whose exit status ignores errors in the file).
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "update.log").write_bytes(b"x" * 1_100_000)  # over `size 1M`
    rules = (PI / "etc" / "logrotate.d" / "assetgate-kiosk").read_text()
    rules = rules.replace("/var/lib/assetgate-kiosk/log", str(logs))
    if os.geteuid() != 0:  # `su root root` is for root's logrotate on the Pi
        rules = rules.replace("    su root root\n", "")
    (tmp_path / "rules").write_text(rules)
    result = subprocess.run(["logrotate", "-v", "-s", str(tmp_path / "state"), str(tmp_path / "rules")],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "error" not in result.stderr, result.stderr
    assert (logs / "update.log.1.gz").is_file() and (logs / "update.log").stat().st_size == 0  # copytruncate


def test_the_zebra_driver_compiles_and_passes_cupstestppd(tmp_path: Path) -> None:
    # What provision does on the Pi, then CUPS's own PPD checker (the filter, rastertolabel, is
    # the Pi's cups package's: not installed here, so not looked for).
    drv = PI / "etc" / "cups" / "zebra-zpl.drv"
    subprocess.run(["ppdc", "-d", str(tmp_path), str(drv)], check=True, capture_output=True)
    ppd = tmp_path / "zebrazpl.ppd"
    assert ppd.is_file() and "/usr/share/ppd/assetgate/zebrazpl.ppd" in (PI / "README.md").read_text()
    text = ppd.read_text()
    assert '*cupsFilter: "application/vnd.cups-raster 50 rastertolabel"' in text
    assert "*DefaultPageSize: w288h432" in text  # 4 x 6 in
    checked = subprocess.run(["cupstestppd", "-I", "filters", str(ppd)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout
    broken = tmp_path / "broken.drv"
    broken.write_text(drv.read_text().replace('ModelName "Zebra ZPL Label Printer"',
                                              'ModelName "Zebra ZPL Label Printer (AssetGate, many words)"'))
    (tmp_path / "b").mkdir()
    subprocess.run(["ppdc", "-d", str(tmp_path / "b"), str(broken)], check=True, capture_output=True)
    assert subprocess.run(["cupstestppd", "-I", "filters", str(tmp_path / "b" / "zebrazpl.ppd")],
                          capture_output=True).returncode != 0


SERVER = FIRMWARE / "server" / "systemd"


def test_server_units_are_hardened_and_scheduled() -> None:
    services = sorted(SERVER.glob("*.service"))
    assert {"assetgate-web.service", "assetgate-consumer.service", "assetgate-scheduler.service"} <= {
        s.name for s in services}
    for path in services:
        service = _unit(path)["Service"]
        assert service.get("NoNewPrivileges") == "yes" and service.get("PrivateTmp") == "yes", path.name
        assert service.get("ProtectSystem") == "strict", path.name
        if path.name != "assetgate-broker-reload.service":  # systemctl reload needs root
            assert service["User"] == "assetgate", path.name
    timers = {p.stem: _unit(p)["Timer"]["OnCalendar"] for p in SERVER.glob("*.timer")}
    assert set(timers) == {"assetgate-purge", "assetgate-auto-signout", "assetgate-audit-checkpoint",
                           "assetgate-backup"}
    commands = {p.stem: _unit(p)["Service"]["ExecStart"] for p in SERVER.glob("*.service")}
    assert commands["assetgate-audit-checkpoint"].endswith("assetgate audit checkpoint")
    for stem, when in timers.items():  # each calendar expression is one systemd understands
        result = subprocess.run(["systemd-analyze", "calendar", when], capture_output=True, text=True)
        assert result.returncode == 0, (stem, result.stderr)


def test_every_assetgate_command_of_a_unit_exists_with_its_options() -> None:
    # A renamed command or option would otherwise show only on the server, as a failed unit.
    from click.testing import CliRunner

    from server.cli import main

    program = "ExecStart=/srv/assetgate/.venv/bin/assetgate "
    lines = [line.split()[1:] for unit in sorted(SERVER.glob("*.service"))
             for line in unit.read_text().splitlines() if line.startswith(program)]
    assert len(lines) >= 8
    for args in lines:  # --help is handled after parsing: an unknown option still fails (exit 2)
        result = CliRunner().invoke(main, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
    assert CliRunner().invoke(main, ["serve", "--no-such-option", "--help"]).exit_code == 2
    web = _unit(SERVER / "assetgate-web.service")["Service"]["ExecStart"]
    assert "--no-consumer" in web and "--no-scheduler" in web  # each companion is a unit of its own


def test_user_data_passes_cloud_init_schema(tmp_path: Path) -> None:
    good = subprocess.run(["cloud-init", "schema", "--config-file", str(PI / "user-data")],
                          capture_output=True, text=True)
    assert good.returncode == 0, good.stdout + good.stderr
    broken = tmp_path / "user-data"
    broken.write_text((PI / "user-data").read_text().replace("resize_rootfs: false", "resize_rootfs: sometimes"))
    bad = subprocess.run(["cloud-init", "schema", "--config-file", str(broken)], capture_output=True, text=True)
    assert bad.returncode != 0 and "resize_rootfs" in bad.stdout + bad.stderr


def test_user_data_runs_provision_and_installs_the_device_packages() -> None:
    data = yaml.safe_load((PI / "user-data").read_text())
    assert (PI / "user-data").read_text().startswith("#cloud-config\n")
    assert any("assetgate/bin/provision" in " ".join(step) for step in data["runcmd"])
    assert {"python3-evdev", "v4l-utils", "xinit", "cups", "printer-driver-ptouch"} <= set(data["packages"])
    assert any("python3-picamera2" in " ".join(step) for step in data["runcmd"])
    assert data["mounts"][0][:2] == ["LABEL=AGDATA", "/var/lib/assetgate-kiosk"]
    assert data["growpart"]["mode"] == "off" and data["resize_rootfs"] is False


# cloud-init 22.4 (Debian 12) has no `cloud-init schema` for network-config (`--schema-type` came in
# 23.x), so the file goes through what cloud-init itself does with it on the first boot: its v2
# (netplan) parser, run by cloud-init's own interpreter. It refuses an unknown section, for example.
PARSE_NETWORK = """
import sys, yaml
from cloudinit.net import network_state
ns = network_state.parse_net_config_data(yaml.safe_load(sys.stdin)["network"], skip_broken=False)
print(ns.version, *sorted(i["name"] for i in ns.iter_interfaces()))
"""


def _cloud_init_parses(text: str) -> subprocess.CompletedProcess[str]:
    python = Path("/usr/bin/cloud-init").read_text().splitlines()[0].removeprefix("#!").strip()
    return subprocess.run([python, "-c", PARSE_NETWORK], input=text, capture_output=True, text=True)


def test_network_config_passes_cloud_inits_own_parser() -> None:
    text = (PI / "network-config").read_text()
    shipped = _cloud_init_parses(text)
    assert shipped.returncode == 0 and shipped.stdout.split() == ["2", "eth0"], shipped.stderr
    wifi = re.sub(r"^  # ", "  ", text, flags=re.MULTILINE)  # the Wi-Fi block, uncommented as the README says
    assert "wifis:" in wifi and _cloud_init_parses(wifi).returncode == 0
    misspelt = _cloud_init_parses(text.replace("ethernets:", "ethernet:"))
    assert misspelt.returncode != 0 and "ethernet" in misspelt.stderr


def test_provision_installs_only_files_that_exist() -> None:
    text = (PI / "bin" / "provision").read_text()
    sources = set(re.findall(r'"\$SRC/((?:bin|etc|systemd)/[^"]+)"', text))
    assert len(sources) >= 8
    missing = [s for s in sources if not (PI / s).is_file()]
    assert not missing, missing


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_script_passes_shellcheck(script: Path) -> None:
    result = subprocess.run(["shellcheck", "--external-sources", str(script)], capture_output=True, text=True,
                            cwd=script.parent)
    assert result.returncode == 0, result.stdout


def test_shellcheck_finds_an_unquoted_variable(tmp_path: Path) -> None:
    script = tmp_path / "bad.sh"
    script.write_text('#!/bin/sh\nrm -rf $1/releases\n')
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert result.returncode != 0 and "SC2086" in result.stdout
