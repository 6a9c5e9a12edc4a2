/**
 * Writes the bridge configuration of the live Odoo end-to-end test (scripts/odoo-test.sh):
 * the demo's warehouse and carrier partners, played by the standalone simulators
 * (scripts/sim.ts on `--sim`), and write-back to the Odoo under test over JSON-2.
 *
 *   npx tsx scripts/odoo-e2e-config.ts --sim http://127.0.0.1:9100 --odoo http://127.0.0.1:9200 --db lbtest --out DIR
 *
 * DIR/bridge.json is the configuration; DIR/bridge.env the simulators' demo secrets its `{env}`
 * references read (KEY=value lines, demo values only). The API key stays in the caller's
 * ODOO_API_KEY.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PARTNER_ENV, demoPartnersConfig } from '../bridge/src/simulators/demo-partners.ts';
import type { ConfigFile } from '../bridge/src/config/schema.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0 || !args[i + 1]) throw new Error(`--${name} is required`);
  return args[i + 1];
};
const PARTNERS = new Set(['wms-sim', 'easypost-sim', 'shippo-sim']);

const demo = demoPartnersConfig({ simBaseUrl: flag('sim') });
const config: ConfigFile = {
  partners: demo.partners.filter((p) => PARTNERS.has(p.id)),
  routes: demo.routes.filter((r) => r.partners.every((id) => PARTNERS.has(id)) && (r.fallback ?? []).every((id) => PARTNERS.has(id))),
  ownership: { inventory: { WH: 'wms-sim' } },
  odoo: {
    url: flag('odoo'), db: flag('db'), transport: 'json2', login: 'logistics_bridge', api_key: { env: 'ODOO_API_KEY' },
    batch_size: 100, max_in_flight: 2, timeout_ms: 30_000,
  },
};
const out = flag('out');
writeFileSync(join(out, 'bridge.json'), JSON.stringify(config, null, 2));
writeFileSync(join(out, 'bridge.env'), Object.entries(DEMO_PARTNER_ENV).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n');
console.log(`wrote ${join(out, 'bridge.json')} (${config.partners.map((p) => p.id).join(', ')}; ${config.routes!.length} routes)`);
