#!/usr/bin/env bash
# Starts Mosquitto (and PostgreSQL with `services.sh postgres`) when nothing answers on their
# ports. Uses the commands this machine kind documents; works without systemd.
set -euo pipefail

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

wait_port() {
  for _ in $(seq 1 50); do answers "$1" && return 0; sleep 0.2; done
  echo "services: nothing answers on port $1" >&2; return 1
}

# AssetGate's own broker configuration (loopback only), or a plain word on what the broker
# that already answers risks (scripts/broker.sh).
bash "$(dirname "$0")/broker.sh" start

if [ "${1:-}" = postgres ] && ! answers 5432; then
  echo "services: starting postgresql"
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tail -1)
  sudo_ pg_ctlcluster --skip-systemctl-redirect "$version" main start
  wait_port 5432
fi
if [ "${1:-}" = postgres ] && ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  # A freshly installed cluster asks for passwords on TCP; the test cluster is local-only, so trust loopback.
  version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  sudo_ sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  sudo_ pg_ctlcluster --skip-systemctl-redirect "$version" main reload
  sleep 1
fi
