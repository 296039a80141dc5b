#!/usr/bin/env bash
# Installs what AssetGate needs on a Debian machine (as root or with sudo), idempotently:
# system packages when missing, a virtual environment in .venv, the package with its extras.
# Sourced by run.sh and test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# chromium: Debian's browser, driven headless by the Playwright tests (Playwright's own download is not used).
# systemd, cloud-init, shellcheck, logrotate, cups-ppdc, cups-client (cupstestppd): tests/test_provisioning.py
# checks firmware-config/ with them.
APT_PACKAGES=(mosquitto mosquitto-clients libzbar0 poppler-utils fonts-wqy-microhei openssl chromium
              systemd cloud-init shellcheck logrotate cups-ppdc cups-client)
[ "${ASSETGATE_WITH_POSTGRES:-0}" = 1 ] && APT_PACKAGES+=(postgresql)

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.assetgate-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing the Python package and its dependencies into .venv (log: .venv/pip.log)"
  { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[dev]"; } \
    > .venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }
  touch "$stamp"
fi
