#!/usr/bin/env bash
# One command: install, start the services, and run the whole test suite on SQLite and the
# database-backed tests again on PostgreSQL. Left out on PostgreSQL, because what they test does
# not depend on the database and SQLite covers them: the kiosk, labels and browser tests, process
# supervision (test_serve), the API fuzzers (schemathesis), the broker script, TLS, provisioning
# and deployment files. That keeps CI under 20 minutes on 2 cores.
#
# The two runs go side by side when the machine has two cores or more (CI's 2 cores: about
# half the wall time of one after the other); every test has its own database and its own
# MQTT topic prefix, so they do not see each other. ASSETGATE_TEST_SERIAL=1 runs them one
# after the other with the output as it comes. Extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETGATE_WITH_POSTGRES=1 bash scripts/setup.sh
bash scripts/services.sh postgres
export PYTHONDONTWRITEBYTECODE=1

sqlite_run() { ASSETGATE_TEST_DB=sqlite .venv/bin/pytest "$@"; }
postgres_run() {
  ASSETGATE_TEST_DB=postgresql .venv/bin/pytest --ignore=tests/kiosk --ignore=tests/labels \
    --ignore=tests/browser --ignore=tests/test_serve.py --ignore=tests/test_api_schemathesis.py \
    --ignore=tests/test_broker_script.py --ignore=tests/test_tls.py --ignore=tests/test_provisioning.py \
    --ignore=tests/test_deployment.py "$@"
}

if [ "${ASSETGATE_TEST_SERIAL:-0}" = 1 ] || [ "$(nproc)" -lt 2 ]; then
  echo "== test suite on SQLite"
  sqlite_run "$@"
  echo "== database tests on PostgreSQL"
  postgres_run "$@"
  exit 0
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/assetgate-tests.XXXXXX")
echo "== SQLite and PostgreSQL side by side (logs: $logs)"
start=$SECONDS
sqlite_run "$@" >"$logs/sqlite.log" 2>&1 &
sqlite_pid=$!
postgres_run "$@" >"$logs/postgresql.log" 2>&1 &
postgres_pid=$!
# Both are waited for and both logs printed, so one run's failure never hides the other's.
sqlite_rc=0; wait "$sqlite_pid" || sqlite_rc=$?
postgres_rc=0; wait "$postgres_pid" || postgres_rc=$?
echo "== test suite on SQLite (exit $sqlite_rc)"
cat "$logs/sqlite.log"
echo "== database tests on PostgreSQL (exit $postgres_rc)"
cat "$logs/postgresql.log"
echo "== SQLite: exit $sqlite_rc; PostgreSQL: exit $postgres_rc; $((SECONDS - start)) s"
[ "$sqlite_rc" = 0 ] && [ "$postgres_rc" = 0 ]
