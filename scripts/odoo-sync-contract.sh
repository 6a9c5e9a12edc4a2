#!/usr/bin/env bash
# odoo-sync-contract.sh - copy the canonical JSON Schemas (shared/json-schema/) into the Odoo
# module (odoo_addon/logistics_bridge/data/contract/), so the module works when copied alone.
# Also writes MANIFEST.json with each file's sha256; the module's test_contract_copy fails when
# the copy differs from shared/json-schema/ (when reachable) or from that manifest.
# usage: scripts/odoo-sync-contract.sh [--check]   (--check: exit 1 if the copy is stale, change nothing)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=$ROOT/shared/json-schema
DST=$ROOT/odoo_addon/logistics_bridge/data/contract
[ -d "$SRC" ] || { echo "odoo-sync-contract: no $SRC (run npm run contract first)" >&2; exit 1; }
if [ "${1:-}" = --check ]; then
  stale=0
  for f in "$SRC"/*.schema.json; do
    cmp -s "$f" "$DST/$(basename "$f")" || { echo "stale: $(basename "$f")"; stale=1; }
  done
  for f in "$DST"/*.schema.json; do [ -f "$SRC/$(basename "$f")" ] || { echo "extra: $(basename "$f")"; stale=1; }; done
  [ $stale = 0 ] && echo "odoo-sync-contract: copy is up to date"
  exit $stale
fi
mkdir -p "$DST"
rm -f "$DST"/*.schema.json
cp "$SRC"/*.schema.json "$DST"/
python3 - "$DST" <<'PY'
import hashlib, json, os, sys
dst = sys.argv[1]
files = sorted(f for f in os.listdir(dst) if f.endswith('.schema.json'))
manifest = {
    'source': 'shared/json-schema',
    'generated_by': 'scripts/odoo-sync-contract.sh',
    'files': {f: hashlib.sha256(open(os.path.join(dst, f), 'rb').read()).hexdigest() for f in files},
}
with open(os.path.join(dst, 'MANIFEST.json'), 'w') as fh:
    json.dump(manifest, fh, indent=2, sort_keys=True)
    fh.write('\n')
PY
echo "odoo-sync-contract: copied $(ls "$SRC"/*.schema.json | wc -l) schema(s) to ${DST#$ROOT/}"
