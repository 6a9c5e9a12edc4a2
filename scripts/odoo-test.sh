#!/usr/bin/env bash
# odoo-test.sh - install odoo_addon/logistics_bridge in a FRESH database of a real Odoo 19 and run
# its tests inside Odoo (--test-tags /logistics_bridge), printing ran/failed/errors.
#
#   ODOO_SRC=/path/to/odoo-19 scripts/odoo-test.sh          (npm run test:odoo)
#
# env: ODOO_SRC      Odoo 19 source tree (git layout with odoo-bin, or nightly layout with odoo/addons)
#      PGHOST PGPORT PGUSER PGPASSWORD   PostgreSQL (default: the lab's 127.0.0.1:5433 odoo/odoo)
#      PY            python with Odoo's dependencies (default /usr/bin/python3)
#      ODOO_USER     user to run Odoo as when this runs as root (default odoo; Odoo refuses root)
#      KEEP_DB=1     keep the test database; TEST_TAGS overrides /logistics_bridge
#      MODULES       modules to install (default logistics_bridge,base_automation: the automation test uses it)
# Without ODOO_SRC it prints "SKIPPED: no Odoo source (set ODOO_SRC)" and exits 0 (CI replays
# test/fixtures/odoo/ instead).
set -euo pipefail

if [ -z "${ODOO_SRC:-}" ]; then
  echo "SKIPPED: no Odoo source (set ODOO_SRC)"
  exit 0
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ODOO_SRC=$(cd "$ODOO_SRC" && pwd)
[ -d "$ODOO_SRC/odoo/addons/base" ] || { echo "odoo-test: $ODOO_SRC is not an Odoo source tree" >&2; exit 2; }
PY=${PY:-/usr/bin/python3}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5433} PGUSER=${PGUSER:-odoo} PGPASSWORD=${PGPASSWORD:-odoo}
TEST_TAGS=${TEST_TAGS:-/logistics_bridge}
DB=lbtest_$(date +%Y%m%d%H%M%S)_$$

# the contract copy inside the module must match shared/json-schema (the Odoo test checks it too)
if [ -d "$ROOT/shared/json-schema" ]; then
  "$ROOT/scripts/odoo-sync-contract.sh" --check >/dev/null || echo "odoo-test: WARNING: contract copy is stale (run scripts/odoo-sync-contract.sh)"
fi

WORK=$(mktemp -d /tmp/odoo-test.XXXXXX)
ADDONS="$ODOO_SRC/odoo/addons"
[ -d "$ODOO_SRC/addons" ] && ADDONS="$ODOO_SRC/addons,$ADDONS"
ADDONS="$ADDONS,$ROOT/odoo_addon"
HTTP_PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$WORK/odoo.conf" <<CONF
[options]
db_host = $PGHOST
db_port = $PGPORT
db_user = $PGUSER
db_password = $PGPASSWORD
addons_path = $ADDONS
data_dir = $WORK/data
http_interface = 127.0.0.1
http_port = $HTTP_PORT
gevent_port = $((HTTP_PORT + 1))
workers = 0
max_cron_threads = 0
CONF
mkdir -p "$WORK/data"

if [ -f "$ODOO_SRC/odoo-bin" ]; then CMD=("$PY" "$ODOO_SRC/odoo-bin")
else CMD=(env "PYTHONPATH=$ODOO_SRC" "$PY" -m odoo); fi
DEMO=()
grep -q -- '--with-demo' "$ODOO_SRC/odoo/tools/config.py" && DEMO=(--with-demo)

if [ "$(id -u)" = 0 ]; then
  RUNAS=${ODOO_USER:-odoo}
  chown -R "$RUNAS:" "$WORK"
  run() { runuser -u "$RUNAS" -- "$@"; }
else
  run() { "$@"; }
fi

cleanup() {
  if [ "${KEEP_DB:-0}" != 1 ]; then
    run env PGPASSWORD="$PGPASSWORD" dropdb --if-exists -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" "$DB" >/dev/null 2>&1 || true
  else
    echo "odoo-test: kept database $DB"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "odoo-test: installing logistics_bridge in fresh database $DB and running $TEST_TAGS ..."
LOG=$WORK/test.log
set +e
run "${CMD[@]}" -c "$WORK/odoo.conf" -d "$DB" -i "${MODULES:-logistics_bridge,base_automation}" "${DEMO[@]}" \
  --test-tags "$TEST_TAGS" --stop-after-init --log-level=test --logfile="$LOG" </dev/null
RC=$?
set -e
cp "$LOG" "${ODOO_TEST_LOG:-/tmp/odoo-test-last.log}" 2>/dev/null || true

# Odoo's summary line: "<f> failed, <e> error(s) of <n> tests when loading database '<db>'"
SUMMARY=$(grep -Eo '[0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests' "$LOG" | tail -1 || true)
grep -E ' (ERROR|CRITICAL) ' "$LOG" | grep -v 'odoo.tests.result' | head -40 || true
if [ -z "$SUMMARY" ]; then
  RAN=$(grep -Eo 'Ran [0-9]+ tests?' "$LOG" | tail -1 | grep -Eo '[0-9]+' || echo 0)
  echo "odoo-test: no summary line from Odoo (exit $RC); see ${ODOO_TEST_LOG:-/tmp/odoo-test-last.log}"
  [ "$RC" = 0 ] && [ "$RAN" = 0 ] && { echo "odoo-test: ran 0 tests"; exit 1; }
  exit 1
fi
FAILED=$(echo "$SUMMARY" | awk '{print $1}')
ERRORS=$(echo "$SUMMARY" | awk '{print $3}' | grep -Eo '^[0-9]+' || true)
ERRORS=$(echo "$SUMMARY" | sed -E 's/.*failed, ([0-9]+) error.*/\1/')
RAN=$(echo "$SUMMARY" | sed -E 's/.* of ([0-9]+) tests/\1/')
echo "odoo-test: ran=$RAN failed=$FAILED errors=$ERRORS (odoo exit $RC; log ${ODOO_TEST_LOG:-/tmp/odoo-test-last.log})"
[ "$FAILED" = 0 ] && [ "$ERRORS" = 0 ] && [ "$RC" = 0 ] || exit 1

# ---- live end-to-end: the real bridge + the database just tested ---------------------------------
# Odoo confirms and ships an order (committed), the dispatch cron sends over the websocket to the
# real bridge (bridge/src/server.ts), every event must come back acknowledged and be readable in
# the bridge's operator API. SKIP_E2E=1 skips it.
if [ "${SKIP_E2E:-0}" = 1 ]; then echo "odoo-test: e2e skipped (SKIP_E2E=1)"; exit 0; fi
if ! command -v node >/dev/null || [ ! -f "$ROOT/bridge/src/server.ts" ] || [ ! -d "$ROOT/node_modules/tsx" ]; then
  echo "odoo-test: e2e SKIPPED: needs node, bridge/src/server.ts and node_modules (npm ci)"; exit 0
fi
BTOKEN=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
BADMIN=$("$PY" -c 'import secrets; print(secrets.token_hex(16))')
mkdir -p "$WORK/bridge"
( cd "$ROOT" && PORT=0 BRIDGE_ANNOUNCE_PORT=1 BRIDGE_DATA_DIR="$WORK/bridge" BRIDGE_TOKEN=$BTOKEN BRIDGE_ADMIN_TOKEN=$BADMIN LOG_LEVEL=warn \
  exec node --import tsx bridge/src/server.ts >"$WORK/bridge.out" 2>&1 ) &
BRIDGE_PID=$!
stop_bridge() { kill "$BRIDGE_PID" 2>/dev/null || true; wait "$BRIDGE_PID" 2>/dev/null || true; }
BPORT=
for _ in $(seq 1 100); do
  BPORT=$(grep -Eo 'BRIDGE_PORT=[0-9]+' "$WORK/bridge.out" 2>/dev/null | cut -d= -f2 || true)
  [ -n "$BPORT" ] && break
  kill -0 "$BRIDGE_PID" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$BPORT" ]; then echo "odoo-test: e2e FAILED: the bridge did not start:"; cat "$WORK/bridge.out"; stop_bridge; exit 1; fi
cat > "$WORK/e2e.py" <<PYE2E
import json
icp = env['ir.config_parameter'].sudo()
icp.set_param('logistics_bridge.url', 'ws://127.0.0.1:$BPORT/v1/odoo')
icp.set_param('logistics_bridge.token', '$BTOKEN')
carrier = env.ref('logistics_bridge.delivery_carrier_bridge_ground')
warehouse = env['stock.warehouse'].search([('company_id', '=', env.company.id)], limit=1)
products = env['product.product'].search([('is_storable', '=', True), ('default_code', '!=', False)], limit=2)
for p in products:
    env['stock.quant']._update_available_quantity(p, warehouse.lot_stock_id, 5)
    p.weight = p.weight or 1.0
order = env['sale.order'].create({'partner_id': env.ref('base.res_partner_2').id, 'warehouse_id': warehouse.id, 'carrier_id': carrier.id,
    'order_line': [(0, 0, {'product_id': p.id, 'product_uom_qty': 2}) for p in products]})
order.action_confirm()
picking = order.picking_ids.filtered(lambda p: p.picking_type_code == 'outgoing')[:1]
picking.carrier_id = carrier
for move in picking.move_ids:
    move.quantity = 1
    move.picked = True
picking.with_context(cancel_backorder=False)._action_done()
env.cr.commit()
env['logistics.bridge.event']._cron_dispatch()
env.cr.commit()
events = env['logistics.bridge.event'].search([], order='id')
print('E2E ' + json.dumps([{'id': e.uuid, 'type': e.event_type, 'state': e.state, 'error': e.last_error or ''} for e in events]))
PYE2E
[ "$(id -u)" = 0 ] && chown "${ODOO_USER:-odoo}:" "$WORK/e2e.py"
E2E_JSON=$(run "${CMD[@]}" shell -c "$WORK/odoo.conf" -d "$DB" --no-http --logfile="$WORK/e2e.log" < "$WORK/e2e.py" 2>/dev/null | grep '^E2E ' | cut -c5- || true)
RESULT=$("$PY" - "$E2E_JSON" "http://127.0.0.1:$BPORT" "$BADMIN" <<'PYCHECK'
import json, sys, urllib.request
raw, base, admin = sys.argv[1], sys.argv[2], sys.argv[3]
if not raw:
    print('FAIL no answer from the Odoo shell'); sys.exit(0)
events = json.loads(raw)
types = sorted({e['type'] for e in events})
bad = [e for e in events if e['state'] not in ('acknowledged', 'duplicate')]
if not events or bad:
    print('FAIL ' + json.dumps(bad or 'no events')); sys.exit(0)
for e in events:
    req = urllib.request.Request(f"{base}/v1/events/{e['id']}", headers={'Authorization': f'Bearer {admin}'})
    with urllib.request.urlopen(req, timeout=10) as r:
        body = json.load(r)
    if body.get('id', body.get('event', {}).get('id')) != e['id']:
        print('FAIL bridge does not know ' + e['id']); sys.exit(0)
print(f"OK {len(events)} events ({', '.join(types)}) acknowledged by the bridge and readable at GET /v1/events/:id")
PYCHECK
)
stop_bridge
echo "odoo-test: e2e: $RESULT"
case "$RESULT" in OK*) exit 0 ;; *) tail -30 "$WORK/e2e.log" 2>/dev/null; tail -20 "$WORK/bridge.out"; exit 1 ;; esac
