/**
 * Write-back of shipment status milestones into a real Odoo (not a test): one call per milestone vs
 * batches of 100, for a status type without a chatter note (shipment.in_transit) and one with a
 * note (shipment.dispatched), one milestone per picking. `npm run bench` measures inventory levels;
 * this measures the picking path (status writes, notes).
 *
 *   ODOO_URL=http://127.0.0.1:8069 ODOO_DB=lab ODOO_API_KEY=<integration user key> [ODOO_TRANSPORT=json2|jsonrpc]
 *   [ODOO_LOGIN=logistics_bridge] [BENCH_N=200] npx tsx scripts/odoo-bench-writeback.ts
 *
 * It needs 2 x BENCH_N outgoing pickings the integration user can write; their status moves to the
 * milestones' occurred_at, set in the future (and later on every run) so every milestone applies.
 */
import { createOdooClient } from '../bridge/src/odoo/client.ts';
import type { Milestone } from '../shared/src/index.ts';

const env = process.env;
if (!env.ODOO_URL || !env.ODOO_API_KEY) {
  console.log('odoo write-back (pickings): SKIPPED (set ODOO_URL, ODOO_DB, ODOO_API_KEY)');
  process.exit(0);
}
const N = Number(env.BENCH_N ?? 200);
const common = { url: env.ODOO_URL, db: env.ODOO_DB ?? 'odoo', api_key: env.ODOO_API_KEY, login: env.ODOO_LOGIN ?? 'logistics_bridge',
  transport: (env.ODOO_TRANSPORT ?? 'json2') as 'json2' | 'jsonrpc', timeout_ms: 120_000 };
const api = createOdooClient(common);
const pickingsModel = createOdooClient({ ...common, model: 'stock.picking' });
const domain = [['picking_type_code', '=', 'outgoing']];
const pickings = await pickingsModel.call<{ id: number; name: string }[]>('search_read', { domain, fields: ['id', 'name'], limit: 2 * N, order: 'id desc' },
  [domain, ['id', 'name'], 0, 2 * N, 'id desc']);
if (pickings.length < 2 * N) throw new Error(`needs ${2 * N} outgoing pickings, found ${pickings.length}`);
let at = Date.now() + 365 * 86_400_000 + (Date.now() % 86_400_000) * 100;
const make = (type: string, list: typeof pickings): Milestone[] => list.map((p) => ({
  id: crypto.randomUUID(), type, schema_version: 1, occurred_at: new Date((at += 1000)).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  source: { partner: 'bench' }, aggregate: `stock.picking:${p.id}`, payload: { shipment_ref: p.name, tracking_number: 'TRK-BENCH' },
}) as Milestone);
for (const type of ['shipment.in_transit', 'shipment.dispatched']) {
  const statuses: Record<string, number> = {};
  const count = (rs: { status: string }[]) => rs.forEach((r) => { statuses[r.status] = (statuses[r.status] ?? 0) + 1; });
  let t0 = performance.now();
  for (const m of make(type, pickings.slice(0, N))) count(await api.applyMilestones([m]));
  const single = N / ((performance.now() - t0) / 1000);
  const batch = make(type, pickings.slice(N, 2 * N));
  t0 = performance.now();
  for (let i = 0; i < batch.length; i += 100) count(await api.applyMilestones(batch.slice(i, i + 100)));
  const batched = N / ((performance.now() - t0) / 1000);
  console.log(`odoo write-back (${api.transport()}, ${type}, ${N} pickings each way): one per call ${single.toFixed(0)}/s, `
    + `batches of 100 ${batched.toFixed(0)}/s, ratio ${(batched / single).toFixed(1)}x ${JSON.stringify(statuses)}`);
}
