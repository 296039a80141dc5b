#!/usr/bin/env bash
# One command: install, start the services, and run the whole test suite on SQLite, then the
# database-backed tests again on PostgreSQL (the kiosk and labels tests use no database).
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETGATE_WITH_POSTGRES=1 bash scripts/setup.sh
bash scripts/services.sh postgres
export PYTHONDONTWRITEBYTECODE=1
echo "== test suite on SQLite"
ASSETGATE_TEST_DB=sqlite .venv/bin/pytest "$@"
echo "== database tests on PostgreSQL (the browser tests drive the same pages: SQLite is enough for them)"
ASSETGATE_TEST_DB=postgresql .venv/bin/pytest --ignore=tests/kiosk --ignore=tests/labels --ignore=tests/browser "$@"
