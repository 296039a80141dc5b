#!/usr/bin/env bash
# The broker for a one-machine AssetGate.
#   broker.sh start        start Mosquitto with firmware-config/mosquitto/embedded.conf (loopback
#                          only) in $ASSETGATE_BROKER_DIR (default ./.broker), unless one answers
#   broker.sh risks CONF   say plainly what a Mosquitto config (with its include_dir) risks for
#                          AssetGate; exit 1 when it risks anything
# ASSETGATE_BROKER_PORT (default 1883) is the port.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${ASSETGATE_BROKER_PORT:-1883}
DIR=${ASSETGATE_BROKER_DIR:-$PWD/.broker}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The value of KEY in CONF and the files of its include_dir (last one wins, as in Mosquitto).
setting() {
  local conf=$1 key=$2 files=("$1") dir
  dir=$(awk '$1 == "include_dir" {print $2}' "$conf" | tail -n1)
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$dir" -maxdepth 1 -name '*.conf' | sort)
  fi
  awk -v k="$key" '$1 == k {v = $2} END {print v}' "${files[@]}"
}

risks() {
  local conf=$1 n=0 value
  value=$(setting "$conf" max_queued_messages)
  if [ -z "$value" ] || { [ "$value" -gt 0 ] && [ "$value" -lt 20000 ]; }; then
    echo "  - max_queued_messages ${value:-1000 (the default)}: a consumer that is down, or a kiosk that is offline, gets at most that many messages kept for it; Mosquitto silently drops the rest (events never stored, acks never seen, the kiosk sends them again only after its ack timeout)"
    n=$((n + 1))
  fi
  value=$(setting "$conf" persistence)
  if [ "$value" != true ]; then
    echo "  - persistence off (the default): a broker restart or crash loses every queued event and ack and every persistent session"
    n=$((n + 1))
  else
    value=$(setting "$conf" autosave_interval)
    if [ -z "$value" ] || [ "$value" -gt 60 ]; then
      echo "  - autosave_interval ${value:-1800 (the default)} s: a crash loses up to that much of what was queued"
      n=$((n + 1))
    fi
  fi
  value=$(setting "$conf" max_inflight_messages)
  if [ -z "$value" ] || { [ "$value" -gt 0 ] && [ "$value" -lt 1000 ]; }; then
    echo "  - max_inflight_messages ${value:-20 (the default)}: the consumer waits on the broker between batches (slower ingest, not a loss)"
    n=$((n + 1))
  fi
  [ "$n" = 0 ]
}

start() {
  if [ -f "$DIR/mosquitto.pid" ] && kill -0 "$(cat "$DIR/mosquitto.pid")" 2>/dev/null && answers "$PORT"; then
    echo "broker: AssetGate's own Mosquitto is running on 127.0.0.1:$PORT ($DIR)"
    return 0
  fi
  if answers "$PORT"; then
    echo "broker: a broker that this script did not start already answers on 127.0.0.1:$PORT; AssetGate uses it." >&2
    local conf
    # The config of the process listening on the port, from its command line (-c FILE).
    local pid
    pid=$(ss -Hltnp "sport = :$PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
    conf=$( [ -n "$pid" ] && tr '\0' '\n' <"/proc/$pid/cmdline" | sed -n '/^-c$/{n;p;}' | head -n1)
    if [ -n "$conf" ] && [ -r "$conf" ]; then
      local found
      if found=$(risks "$conf"); then
        echo "broker: its config $conf has what AssetGate needs." >&2
      else
        echo "broker: its config $conf risks, for AssetGate:" >&2
        echo "$found" >&2
        echo "broker: use firmware-config/mosquitto/embedded.conf (one machine) or assetgate.conf (a site)." >&2
      fi
    else
      echo "broker: its config cannot be read here. If it runs Mosquitto's stock settings, it risks:" >&2
      risks /dev/null >&2 || true
      echo "broker: use firmware-config/mosquitto/embedded.conf (one machine) or assetgate.conf (a site)." >&2
    fi
    return 0
  fi
  mkdir -p "$DIR"
  {
    sed "s/^listener 1883 127.0.0.1$/listener $PORT 127.0.0.1/" firmware-config/mosquitto/embedded.conf
    echo "persistence_location $DIR/"
    echo "pid_file $DIR/mosquitto.pid"
    echo "log_dest file $DIR/mosquitto.log"
  } >"$DIR/mosquitto.conf"
  # Started as root, Mosquitto runs as the mosquitto user: let it write its run folder.
  if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then chown mosquitto "$DIR"; fi
  echo "broker: starting AssetGate's Mosquitto (firmware-config/mosquitto/embedded.conf) on 127.0.0.1:$PORT"
  mosquitto -d -c "$DIR/mosquitto.conf"
  for _ in $(seq 1 50); do answers "$PORT" && return 0; sleep 0.2; done
  echo "broker: Mosquitto did not start; see $DIR/mosquitto.log" >&2
  return 1
}

case ${1:-} in
  start) start ;;
  risks) risks "${2:?broker.sh risks CONF}" ;;
  *) echo "usage: broker.sh start | risks CONF" >&2; exit 2 ;;
esac
