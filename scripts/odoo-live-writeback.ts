/**
 * Live write-back run against a real Odoo 19 (the lab of ../shared/odoo/): several bridges write the
 * same event states and milestones for the same pickings at once, so a share of the calls conflict
 * (row locks, the follower race), and the run checks that everything ends in Odoo exactly once.
 *
 *   ODOO_SRC=/work/odoo-19 LAB=/work/odoo-lab npx tsx scripts/odoo-live-writeback.ts [--events 240] [--bridges 4]
 *
 * env: ODOO_URL (http://127.0.0.1:8069), ODOO_DB (lab), PY (/usr/bin/python3), ODOO_USER (odoo, when
 * run as root), LOG_LEVEL (the writers' log, default silent). Needs the lab running with logistics_bridge installed; it adds pickings and outbox
 * events (already acknowledged by the bridge, so the dispatch cron leaves them alone) to that database.
 *
 * 1. Through `odoo-bin shell`: an API key for the integration user, `--events / 2` new outgoing
 *    pickings (responsible: the administrator, not following them yet), two acknowledged outbox
 *    events on each.
 * 2. `--bridges` write-back writers (bridge/src/odoo/outbox.ts, each with its own store, JSON-2 with
 *    the integration user's key) push every event's trajectory of delivery states (queued,
 *    delivering, retrying, then dead, manual, delivered, or dead then delivered after a replay), the
 *    same states at the same bridge times, each bridge in its own order, plus one shipment.in_transit
 *    milestone per picking and a shipment.exception on every fifth, all at once.
 * 3. Checks, reading Odoo as the administrator: each event shows its final state at its time; each
 *    dead or manual event has exactly one open to-do on its picking, the one it points to; no other
 *    bridge to-do is open; one warning activity per exception; each follower once; nothing left
 *    queued or dead-lettered in any bridge; no ERROR line in Odoo's log since the run started.
 * Prints the figures; exits 1 when a check fails.
 */
import { execFileSync } from 'node:child_process';
import { openSync, readFileSync, readSync, statSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { Milestone } from '../shared/src/index.ts';
import { createOdooClient } from '../bridge/src/odoo/client.ts';
import { createWriteback, type Writeback } from '../bridge/src/odoo/outbox.ts';
import { createMemoryStore } from '../bridge/src/store/memory.ts';
import { createLogger } from '../bridge/src/log.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const EVENTS = Math.max(2, opt('events', 240));
const BRIDGES = Math.max(2, opt('bridges', 4));
const env = process.env;
const LAB = env.LAB ?? '/work/odoo-lab';
const SRC = env.ODOO_SRC ?? '/work/odoo-19';
const URL_ = env.ODOO_URL ?? 'http://127.0.0.1:8069';
const DB = env.ODOO_DB ?? 'lab';
const LOG = join(LAB, 'odoo.log');
const RUN = `live-${Date.now().toString(36)}`;

// ---- 1. data and the integration user's key, through odoo-bin shell --------------------------
const logStart = statSync(LOG).size;
const setup = `
import json, uuid
from odoo import fields
user = env.ref('logistics_bridge.user_logistics_bridge')
key = env['res.users.apikeys'].with_user(user).sudo()._generate(None, ${JSON.stringify(`live write-back ${RUN}`)}, None)
admin = env.ref('base.user_admin')
warehouse = env['stock.warehouse'].search([('company_id', '=', env.company.id)], limit=1)
partner = env.ref('base.res_partner_2')
pickings = env['stock.picking'].create([{'picking_type_id': warehouse.out_type_id.id, 'partner_id': partner.id,
    'user_id': admin.id, 'origin': ${JSON.stringify(RUN)}} for _ in range(${Math.ceil(EVENTS / 2)})])
# The responsible follows a new picking; the to-do subscribes them again, as for a picking whose
# responsible was set later (the follower the concurrent calls of issue 12 both added).
pickings.message_unsubscribe(partner_ids=admin.partner_id.ids)
Event = env['logistics.bridge.event'].sudo()
events = []
for picking in pickings:
    for event_type in ('order.released', 'shipment.requested'):
        event = Event._insert_outbox_row({'event_type': event_type, 'aggregate': f'stock.picking:{picking.id}', 'payload': {},
            'occurred_at': fields.Datetime.now(), 'company_id': picking.company_id.id, 'res_model': 'stock.picking',
            'res_id': picking.id, 'picking_id': picking.id})
        events.append(event)
Event.browse([e.id for e in events]).write({'state': 'acknowledged', 'done_at': fields.Datetime.now()})
env.cr.commit()
print('LIVE ' + json.dumps({'key': key, 'admin_partner': admin.partner_id.id,
    'pickings': [{'id': p.id, 'name': p.name} for p in pickings],
    'events': [{'uuid': e.uuid, 'picking_id': e.picking_id.id, 'type': e.event_type} for e in events][:${EVENTS}]}))
`;
const shellCmd = [join(SRC, 'odoo-bin'), 'shell', '-c', join(LAB, 'odoo.conf'), '-d', DB, '--no-http', '--logfile', join(LAB, 'log', 'live-writeback-shell.log')];
const asOdoo = process.getuid?.() === 0 ? ['runuser', '-u', env.ODOO_USER ?? 'odoo', '--', env.PY ?? '/usr/bin/python3'] : [env.PY ?? '/usr/bin/python3'];
const out = execFileSync(asOdoo[0], [...asOdoo.slice(1), ...shellCmd], { input: setup, cwd: LAB, encoding: 'utf8', maxBuffer: 64 << 20 });
const line = out.split('\n').find((l) => l.startsWith('LIVE '));
if (!line) throw new Error(`odoo-bin shell printed no LIVE line; see ${join(LAB, 'log', 'live-writeback-shell.log')}`);
const data = JSON.parse(line.slice(5)) as { key: string; admin_partner: number; pickings: { id: number; name: string }[]; events: { uuid: string; picking_id: number; type: string }[] };
const adminKey = readFileSync(join(LAB, 'run', 'apikey.txt'), 'utf8').trim();

// ---- 2. the plan: every event's trajectory, the same for every bridge ---------------------------
type Final = 'dead' | 'manual' | 'delivered' | 'replayed';
const finals: Final[] = ['dead', 'manual', 'delivered', 'dead', 'replayed', 'manual', 'delivered', 'dead'];
const t0 = Math.floor(Date.now() / 1000) * 1000 + 3_600_000;
const at = (step: number, i: number) => new Date(t0 + step * 60_000 + i * 10).toISOString();
const plan = data.events.map((e, i) => {
  const final = finals[i % finals.length];
  const tail = final === 'replayed' ? ['dead', 'retrying', 'delivered'] : [final];
  const steps = ['queued', 'delivering', 'retrying', ...tail].map((state, s) => ({
    id: e.uuid, state, attempts: s, at: at(s, i),
    ...(state === 'dead' && { error_class: 'business', last_error: `400 address_invalid (${RUN})` }),
    ...(state === 'manual' && { last_error: 'no partner could take it' }),
    ...(state === 'retrying' && { error_class: 'technical', last_error: '503 from the partner' }),
  }));
  return { ...e, final: (final === 'replayed' ? 'delivered' : final) as 'dead' | 'manual' | 'delivered', steps };
});
const exceptionPickings = new Set(data.pickings.filter((_, i) => i % 5 === 0).map((p) => p.id));
const milestones: Milestone[] = data.pickings.flatMap((p, i) => {
  const base = { schema_version: 1, source: { partner: 'live-sim', partner_ref: `${RUN}-${p.id}` }, aggregate: `stock.picking:${p.id}` };
  const list: Milestone[] = [{ ...base, id: crypto.randomUUID(), type: 'shipment.in_transit', occurred_at: at(1, i).replace(/\.\d{3}Z$/, 'Z'),
    payload: { shipment_ref: p.name, tracking_number: `TRK-${p.id}` } } as Milestone];
  if (exceptionPickings.has(p.id)) {
    list.push({ ...base, id: crypto.randomUUID(), type: 'shipment.exception', occurred_at: at(2, i).replace(/\.\d{3}Z$/, 'Z'),
      payload: { shipment_ref: p.name, tracking_number: `TRK-${p.id}`, reason_class: 'address_invalid', reason: 'Street number does not exist' } } as Milestone);
  }
  return list;
});

// ---- 3. the bridges, all at once ---------------------------------------------------------------
const refusals: Record<string, number> = {};
let calls = 0;
const counting: typeof fetch = async (input, init) => {
  calls += 1;
  return fetch(input, init);
};
const bridges: Writeback[] = [];
for (let b = 0; b < BRIDGES; b++) {
  const store = createMemoryStore();
  await store.open();
  const client = createOdooClient({ url: URL_, db: DB, transport: 'json2', api_key: data.key, timeout_ms: 120_000, fetch: counting });
  const wb = createWriteback({
    store, client, logger: createLogger({ level: env.LOG_LEVEL ?? 'silent' }),
    io: { now: () => new Date(), random: Math.random, setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h) },
    settings: { batch_size: 50, max_in_flight: 2, target_latency_ms: 2_000 }, downCapMs: 5_000,
    onRefused: (r, q) => { refusals[`${q}:${r}`] = (refusals[`${q}:${r}`] ?? 0) + 1; },
  });
  wb.start();
  bridges.push(wb);
}
const started = performance.now();
await Promise.all(bridges.map((wb) => wb.enqueue(milestones)));
const maxSteps = Math.max(...plan.map((p) => p.steps.length));
// Every bridge pushes every state, each in its own order (shifted by one event, every other one
// reversed), so concurrent calls carry different events of the same picking: the follower race.
const orders = bridges.map((_, b) => {
  const shifted = [...plan.slice(b), ...plan.slice(0, b)];
  return b % 2 ? shifted.reverse() : shifted;
});
for (let s = 0; s < maxSteps; s++) {
  for (const [b, wb] of bridges.entries()) for (const p of orders[b]) if (p.steps[s]) await wb.enqueueState(p.steps[s]);
  await Promise.all(bridges.map((wb) => wb.runDue()));
}
const waiting = () => bridges.reduce((n, wb) => n + wb.status().pending + (wb.status().states_pending ?? 0), 0);
const deadline = Date.now() + 15 * 60_000;
while (waiting() && Date.now() < deadline) {
  await Promise.all(bridges.map((wb) => wb.runDue()));
  if (waiting()) await new Promise((r) => setTimeout(r, 500));
}
const seconds = (performance.now() - started) / 1000;
const left = bridges.map((wb) => wb.status());
await Promise.all(bridges.map((wb) => wb.stop()));

// ---- 4. what Odoo shows -------------------------------------------------------------------------
const admin = (model: string) => createOdooClient({ url: URL_, db: DB, transport: 'json2', api_key: adminKey, model, timeout_ms: 120_000 });
const read = <T>(model: string, domain: unknown[], fields: string[]) => admin(model).call<T[]>('search_read', { domain, fields }, []);
const pickingIds = data.pickings.map((p) => p.id);
const events = await read<{ uuid: string; bridge_state: string; bridge_state_at: string; bridge_activity_id: [number, string] | false; picking_id: [number, string] }>(
  'logistics.bridge.event', [['uuid', 'in', plan.map((p) => p.uuid)]], ['uuid', 'bridge_state', 'bridge_state_at', 'bridge_activity_id', 'picking_id']);
const activities = await read<{ id: number; res_id: number; summary: string; activity_type_id: [number, string] }>(
  'mail.activity', [['res_model', '=', 'stock.picking'], ['res_id', 'in', pickingIds]], ['res_id', 'summary', 'activity_type_id']);
const followers = await read<{ res_id: number; partner_id: [number, string] }>('mail.followers', [['res_model', '=', 'stock.picking'], ['res_id', 'in', pickingIds]], ['res_id', 'partner_id']);

const problems: string[] = [];
const byUuid = new Map(events.map((e) => [e.uuid, e]));
const odooTime = (iso: string) => iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '');
const bridgeTodos = activities.filter((a) => /^Logistics: /.test(a.summary ?? ''));
const warnings = activities.filter((a) => /^Delivery exception: /.test(a.summary ?? ''));
const todoOf = new Map<number, number>();
for (const a of bridgeTodos) todoOf.set(a.id, a.res_id);
let statesEqual = 0;
for (const p of plan) {
  const e = byUuid.get(p.uuid);
  const last = p.steps[p.steps.length - 1];
  if (!e) { problems.push(`${p.uuid}: not found in Odoo`); continue; }
  if (e.bridge_state !== p.final || !String(e.bridge_state_at).startsWith(odooTime(last.at).slice(0, 19))) {
    problems.push(`${p.uuid}: Odoo shows ${e.bridge_state} at ${e.bridge_state_at}, the bridge ${p.final} at ${last.at}`);
  } else statesEqual += 1;
  const activity = e.bridge_activity_id ? e.bridge_activity_id[0] : undefined;
  if (p.final === 'delivered' && activity) problems.push(`${p.uuid}: delivered but still points to to-do ${activity}`);
  if (p.final !== 'delivered' && (!activity || todoOf.get(activity) !== p.picking_id)) problems.push(`${p.uuid}: ${p.final} without its open to-do on picking ${p.picking_id}`);
}
const expectedTodos = plan.filter((p) => p.final !== 'delivered').length;
if (bridgeTodos.length !== expectedTodos) problems.push(`${bridgeTodos.length} open bridge to-dos, expected ${expectedTodos} (one per dead or manual event)`);
const perSummary = new Map<string, number>();
for (const a of [...bridgeTodos, ...warnings]) perSummary.set(`${a.res_id} ${a.summary}`, (perSummary.get(`${a.res_id} ${a.summary}`) ?? 0) + 1);
for (const [k, n] of perSummary) if (n > 1) problems.push(`${n} open activities "${k}"`);
if (warnings.length !== exceptionPickings.size) problems.push(`${warnings.length} exception activities, expected ${exceptionPickings.size}`);
const followerKeys = new Map<string, number>();
for (const f of followers) followerKeys.set(`${f.res_id}/${f.partner_id[0]}`, (followerKeys.get(`${f.res_id}/${f.partner_id[0]}`) ?? 0) + 1);
for (const [k, n] of followerKeys) if (n > 1) problems.push(`follower ${k} ${n} times`);
for (const [b, s] of left.entries()) {
  if (s.pending || s.states_pending || s.rejected || s.states_rejected) problems.push(`bridge ${b}: ${JSON.stringify({ pending: s.pending, states_pending: s.states_pending, rejected: s.rejected, states_rejected: s.states_rejected, last_error: s.last_error })}`);
}

// ---- 5. Odoo's log since the run started ----------------------------------------------------------
const size = statSync(LOG).size;
const fd = openSync(LOG, 'r');
const buf = Buffer.alloc(Math.max(0, size - logStart));
readSync(fd, buf, 0, buf.length, logStart);
closeSync(fd);
// "<date> <time> <pid> <LEVEL> <db> <logger>: ...": this database's lines only (the lab's server also
// runs the crons of other databases on its PostgreSQL, e.g. test databases of scripts/odoo-test.sh).
const logLines = buf.toString('utf8').split('\n').filter((l) => l.split(' ')[4] === DB && /^\d{4}-\d\d-\d\d /.test(l));
const errors = logLines.filter((l) => l.split(' ')[3] === 'ERROR');
const retried = logLines.filter((l) => /tries left, try again/.test(l)).length;
const exhausted = logLines.filter((l) => / WARNING .*(could not obtain lock|could not serialize)/.test(l)).length;
if (errors.length) problems.push(`${errors.length} ERROR line(s) in ${LOG} since the run started, first: ${errors[0].slice(0, 300)}`);

const sum = (k: string) => Object.entries(refusals).filter(([key]) => key.endsWith(`:${k}`)).reduce((n, [, v]) => n + v, 0);
console.log(`odoo live write-back (${RUN}): ${plan.length} events on ${data.pickings.length} pickings, ${milestones.length} milestones, ${BRIDGES} bridges at once, ${seconds.toFixed(1)} s, ${calls} Odoo calls`);
console.log(`  refusals seen by the bridges: conflict ${sum('conflict')}, transient ${sum('transient')}, permanent ${sum('permanent')}, auth ${sum('auth')} ${JSON.stringify(refusals)}`);
console.log(`  Odoo: states equal to the bridge ${statesEqual}/${plan.length}; open bridge to-dos ${bridgeTodos.length} (expected ${expectedTodos}); exception activities ${warnings.length} (expected ${exceptionPickings.size}); followers ${followers.length}, duplicates ${[...followerKeys.values()].filter((n) => n > 1).length}`);
console.log(`  Odoo log since start: ${errors.length} ERROR, ${retried} conflicting calls replayed by Odoo (INFO "tries left" lines), ${exhausted} calls that lost all 5 tries (WARNING, retried by the bridge)`);
console.log(`  bridges left: ${left.map((s) => `${s.pending}/${s.states_pending} pending, ${s.rejected}/${s.states_rejected} dead`).join('; ')}`);
if (problems.length) {
  console.log(`FAILED: ${problems.length} problem(s):\n  - ${problems.slice(0, 25).join('\n  - ')}`);
  for (const l of errors.slice(0, 5)) console.log(`  log: ${l.slice(0, 400)}`);
  process.exit(1);
}
console.log('OK: every bridge state and to-do is in Odoo exactly once, and Odoo logged no ERROR');
