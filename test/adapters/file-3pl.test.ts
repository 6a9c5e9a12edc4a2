/** The 3PL file exchange on a temp folder: atomic writes, written once, processed/error folders, no file processed twice. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkMilestone, type Event } from '../../shared/src/index.ts';
import { file3plAdapter } from '../../bridge/src/adapters/file-3pl/index.ts';
import { orderCsv } from '../../bridge/src/adapters/file-3pl/map.ts';
import type { CallContext, WarehouseAdapter } from '../../bridge/src/adapters/types.ts';
import { createFile3plSim } from '../../bridge/src/simulators/file-3pl/app.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'bridge', 'src', 'adapters', 'file-3pl', 'fixtures');
const events = Object.fromEntries(loadFixtures<Event>('events', 'valid')) as Record<string, any>;
const NOW = new Date('2026-11-26T18:00:00Z');
const ctx = (key: string): CallContext => ({ idempotencyKey: key, correlationId: 'c', signal: AbortSignal.timeout(2000), data: {}, inDoubt: false });

function setup(options: Record<string, unknown> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'file-3pl-'));
  const adapter = file3plAdapter.create({ id: 'tpl', adapter: 'file-3pl', credentials: {}, options: { warehouse: 'EU', ...options } }, { fetch, now: () => NOW, dataDir }) as WarehouseAdapter;
  const root = join(dataDir, 'tpl');
  return { dataDir, root, adapter, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}
const collect = (a: WarehouseAdapter) => a.collectUpdates!({ signal: AbortSignal.timeout(2000) });

test('an order file is written atomically (no temporary left, complete content) and once per key', async () => {
  const { root, adapter, cleanup } = setup();
  try {
    const r1 = await adapter.releaseOrder(events['order.released'], ctx('k1'));
    const r2 = await adapter.releaseOrder(events['order.released'], ctx('k1'));
    assert.is(r1.data!.order_file_written, true);
    assert.is(r2.data!.order_file_written, false);
    const out = readdirSync(join(root, 'outbound'));
    assert.equal(out, [r1.data!.order_file as string]);
    assert.ok(!out.some((n) => n.startsWith('.tmp')));
    assert.is(readFileSync(join(root, 'outbound', out[0]), 'utf8'), orderCsv(events['order.released'], { warehouse: 'EU' }));
    // Taken by the 3PL (moved away), a retry with the same key still does not write again.
    rmSync(join(root, 'outbound', out[0]));
    assert.is((await adapter.releaseOrder(events['order.released'], ctx('k1'))).data!.order_file_written, false);
    assert.equal(readdirSync(join(root, 'outbound')), []);
  } finally { cleanup(); }
});

test('column names and delimiter are per partner', async () => {
  const { root, adapter, cleanup } = setup({ delimiter: ',', columns: { order: { sku: 'ArticleCode', quantity: 'Quantity' } } });
  try {
    const r = await adapter.releaseOrder(events['order.released'], ctx('k2'));
    const header = readFileSync(join(root, 'outbound', r.data!.order_file as string), 'utf8').split('\r\n')[0];
    assert.ok(header.includes(',ArticleCode,'), header);
    assert.ok(header.includes(',Quantity,'), header);
  } finally { cleanup(); }
});

test('a confirmation file becomes shipment.dispatched with backorders; the file moves to processed/ and is never read twice', async () => {
  const { root, adapter, cleanup } = setup();
  try {
    mkdirSync(join(root, 'inbound'), { recursive: true });
    copyFileSync(join(FIXTURES, 'SHP_20261126151000001.csv'), join(root, 'inbound', 'SHP_20261126151000001.csv'));
    const ms = await collect(adapter);
    assert.is(ms.length, 1);
    assert.ok(checkMilestone(ms[0]).ok);
    assert.is(ms[0].aggregate, 'stock.picking:31');
    assert.equal((ms[0].payload as any).lines[1].backorder_quantity, { value: 2, uom: 'Units' });
    // Moved on the next collection (after the engine queued the first batch).
    assert.equal(await collect(adapter), []);
    assert.ok(existsSync(join(root, 'processed', 'SHP_20261126151000001.csv')));
    assert.equal(readdirSync(join(root, 'inbound')), []);
    // The same content dropped again under another name: recognised, moved, nothing emitted.
    copyFileSync(join(FIXTURES, 'SHP_20261126151000001.csv'), join(root, 'inbound', 'SHP_resent.csv'));
    assert.equal(await collect(adapter), []);
    assert.ok(existsSync(join(root, 'processed', 'SHP_resent.csv')));
  } finally { cleanup(); }
});

test('files read but not yet moved are read again after a restart (same milestone ids), not lost', async () => {
  const { dataDir, root, adapter, cleanup } = setup();
  try {
    mkdirSync(join(root, 'inbound'), { recursive: true });
    copyFileSync(join(FIXTURES, 'STK_20261126160000002.csv'), join(root, 'inbound', 'STK_1.csv'));
    const first = await collect(adapter);
    const restarted = file3plAdapter.create({ id: 'tpl', adapter: 'file-3pl', credentials: {}, options: { warehouse: 'EU' } }, { fetch, now: () => NOW, dataDir }) as WarehouseAdapter;
    const again = await collect(restarted);
    assert.equal(again.map((m) => m.id), first.map((m) => m.id));
    assert.is(first[0].type, 'inventory.level');
    assert.equal((first[0].payload as any).available, { value: 15, uom: 'Units' });
  } finally { cleanup(); }
});

test('an unreadable file goes to error/ with the reason; temporaries and dot-files are left alone', async () => {
  const { root, adapter, cleanup } = setup();
  try {
    mkdirSync(join(root, 'inbound'), { recursive: true });
    copyFileSync(join(FIXTURES, 'SHP_bad-quantity.csv'), join(root, 'inbound', 'SHP_bad-quantity.csv'));
    writeFileSync(join(root, 'inbound', 'XYZ_unknown.csv'), 'a;b\n1;2\n');
    writeFileSync(join(root, 'inbound', '.SHP_partial.csv.part'), 'PickingNo;Cli');
    assert.equal(await collect(adapter), []);
    assert.ok(existsSync(join(root, 'error', 'SHP_bad-quantity.csv')));
    assert.match(readFileSync(join(root, 'error', 'SHP_bad-quantity.csv.error.txt'), 'utf8'), /QtyShipped/);
    assert.ok(existsSync(join(root, 'error', 'XYZ_unknown.csv')));
    assert.equal(readdirSync(join(root, 'inbound')), ['.SHP_partial.csv.part']);
  } finally { cleanup(); }
});

test('round trip with the 3PL simulator: it takes the order once, its partial confirmation comes back', async () => {
  const { root, adapter, cleanup } = setup();
  try {
    const sim = createFile3plSim({ root, now: () => NOW });
    await adapter.releaseOrder(events['order.released'], ctx('k3'));
    await adapter.releaseOrder(events['order.released'], ctx('k3'));
    await sim.tick();
    await sim.tick();
    assert.is(sim.effects.get('order_released'), 1);
    await adapter.cancelOrder(events['order.cancelled'], ctx('k4'));
    await sim.tick();
    assert.is(sim.effects.get('order_cancelled'), 1);
    const sim2 = createFile3plSim({ root, now: () => NOW });
    await adapter.releaseOrder(events['order.released.backorder'], ctx('k5'));
    await sim2.tick();
    await sim2.ship('WH/OUT/00013', { shipped: { FURN_0269: 1 }, duplicate: true });
    const ms = await collect(adapter);
    assert.is(ms.length, 1);
    assert.equal((ms[0].payload as any).lines[0].backorder_quantity, { value: 1, uom: 'Units' });
  } finally { cleanup(); }
});

test.run();
