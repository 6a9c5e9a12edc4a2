#!/usr/bin/env bash
# odoo-bench-live.sh - the confirmation bench (scripts/odoo-bench-confirm.py) with a LIVE bridge:
# the partner simulators (warehouse progressing orders by itself, carriers), the bridge delivering to
# them and writing milestones and event states back into the SAME lab Odoo over JSON-2, as users
# run it. All modes in one run, interleaved order by order (see the bench's header).
#
#   LAB=/work/odoo-lab ODOO_SRC=/work/odoo-19 scripts/odoo-bench-live.sh      (BENCH_N=40 by default)
#
# Needs the lab running with logistics_bridge (../shared/odoo/odoo-up.sh) and node_modules (npm ci).
# env: BENCH_N, BENCH_PAUSE, BENCH_WEBHOOK_DELAY (passed to the bench), SIM_AUTO_MS (1500: the warehouse
# simulator's order.accepted / shipment.dispatched cadence), PY, ODOO_USER.
# Prints the bench's table, commit -> partner latencies and the module's WARNING/ERROR lines in
# Odoo's log during the run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB=${LAB:-/work/odoo-lab}
SRC=${ODOO_SRC:-/work/odoo-19}
PY=${PY:-/usr/bin/python3}
WORK=$(mktemp -d /tmp/odoo-bench-live.XXXXXX)
chmod 755 "$WORK"
if [ "$(id -u)" = 0 ]; then run() { runuser -u "${ODOO_USER:-odoo}" -- "$@"; }; else run() { "$@"; }; fi
shell() { run env "$@" "$PY" "$SRC/odoo-bin" shell -c "$LAB/odoo.conf" -d "${ODOO_DB:-lab}" --no-http --log-level=warn; }
freeport() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

KEY=$(shell <<'PY' 2>/dev/null | grep '^KEY ' | cut -c5-
user = env.ref('logistics_bridge.user_logistics_bridge')
print('KEY ' + env['res.users.apikeys'].with_user(user).sudo()._generate(None, 'bench live', None))
env.cr.commit()
PY
)
[ -n "$KEY" ] || { echo "odoo-bench-live: no API key from the Odoo shell" >&2; exit 1; }
SPORT=$(freeport); BPORT=$(freeport)
BTOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
BADMIN=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
( cd "$ROOT" && exec node --import tsx scripts/sim.ts wms-sim easypost-sim shippo-sim --port "$SPORT" --auto "${SIM_AUTO_MS:-1500}" \
    --bridge "http://127.0.0.1:$BPORT" >"$WORK/sim.out" 2>&1 ) &
PIDS+=($!)
( cd "$ROOT" && node --import tsx scripts/odoo-e2e-config.ts --sim "http://127.0.0.1:$SPORT" --odoo "http://127.0.0.1:8069" --db "${ODOO_DB:-lab}" --out "$WORK" >/dev/null )
( cd "$ROOT" && set -a && . "$WORK/bridge.env" && set +a && PORT=$BPORT BRIDGE_ANNOUNCE_PORT=1 BRIDGE_DATA_DIR="$WORK/bridge" \
    BRIDGE_CONFIG="$WORK/bridge.json" BRIDGE_TOKEN=$BTOKEN BRIDGE_ADMIN_TOKEN=$BADMIN ODOO_API_KEY=$KEY LOG_LEVEL=warn \
    exec node --import tsx bridge/src/server.ts >"$WORK/bridge.out" 2>&1 ) &
PIDS+=($!)
for _ in $(seq 1 150); do grep -q 'BRIDGE_PORT=' "$WORK/bridge.out" 2>/dev/null && grep -q simulators "$WORK/sim.out" 2>/dev/null && break; sleep 0.2; done
grep -q 'BRIDGE_PORT=' "$WORK/bridge.out" || { echo "odoo-bench-live: the bridge did not start"; tail -20 "$WORK/bridge.out"; exit 1; }
LOG_START=$(stat -c %s "$LAB/odoo.log")
echo "odoo-bench-live: bridge on $BPORT, simulators on $SPORT; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
cp "$ROOT/scripts/odoo-bench-confirm.py" "$WORK/bench.py"
[ "$(id -u)" = 0 ] && chown -R "${ODOO_USER:-odoo}:" "$WORK"
shell BENCH_BRIDGE_URL="ws://127.0.0.1:$BPORT/v1/odoo" BENCH_BRIDGE_TOKEN="$BTOKEN" BENCH_N="${BENCH_N:-40}" \
  BENCH_PAUSE="${BENCH_PAUSE:-0.3}" BENCH_WEBHOOK_DELAY="${BENCH_WEBHOOK_DELAY:-0.3}" < "$WORK/bench.py" 2>&1 | grep -v '^$' | grep -Ev '^(Python|Type|>>>|\.\.\.)' || true
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bridge write-back: $(curl -s -H "Authorization: Bearer $BADMIN" "http://127.0.0.1:$BPORT/v1/engine" | "$PY" -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("writeback")))' 2>/dev/null || true)"
echo "simulator effects: $(curl -s "http://127.0.0.1:$SPORT/_sim/effects" | head -c 400 || true)"
LINES=$(tail -c +"$((LOG_START + 1))" "$LAB/odoo.log" | grep -E ' (WARNING|ERROR|CRITICAL) ' | grep -c 'odoo.addons.logistics_bridge' || true)
echo "module WARNING/ERROR lines in Odoo's log during the run: $LINES"
tail -c +"$((LOG_START + 1))" "$LAB/odoo.log" | grep -E ' (WARNING|ERROR|CRITICAL) ' | grep 'logistics_bridge' | cut -c1-300 | head -10 || true
echo "all WARNING/ERROR lines during the run (any logger): $(tail -c +"$((LOG_START + 1))" "$LAB/odoo.log" | grep -cE ' (WARNING|ERROR|CRITICAL) ' || true)"
tail -c +"$((LOG_START + 1))" "$LAB/odoo.log" | grep -E ' (WARNING|ERROR|CRITICAL) ' | cut -c1-250 | sort | uniq -c | sort -rn | head -8 || true
