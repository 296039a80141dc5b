#!/usr/bin/env bash
# One command: install, then run AssetGate on the embedded default (SQLite file in ./instance,
# a local Mosquitto with the project's own loopback-only configuration: scripts/broker.sh), with
# demo data and a printed admin login, on http://127.0.0.1:8000/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/services.sh
export ASSETGATE_INSTANCE_PATH=${ASSETGATE_INSTANCE_PATH:-$PWD/instance}
.venv/bin/assetgate init
.venv/bin/assetgate demo
exec .venv/bin/assetgate serve --host "${ASSETGATE_HOST:-127.0.0.1}" --port "${ASSETGATE_PORT:-8000}"
