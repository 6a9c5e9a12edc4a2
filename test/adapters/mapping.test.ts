/** Pure mappings, canonical <-> partner payloads, against the partner fixtures in each adapter's fixtures/ folder. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkMilestone, type Event, type Milestone } from '../../shared/src/index.ts';
import type { InboundContext, ShipmentLink } from '../../bridge/src/adapters/types.ts';
import { stableUuid } from '../../bridge/src/adapters/common.ts';
import { parseRetryAfter } from '../../bridge/src/adapters/http.ts';
import * as easypost from '../../bridge/src/adapters/easypost/map.ts';
import * as wms from '../../bridge/src/adapters/wms/map.ts';
import * as shippo from '../../bridge/src/adapters/shippo/map.ts';
import * as aftership from '../../bridge/src/adapters/aftership/map.ts';
import { toMessage } from '../../bridge/src/adapters/standard-webhooks/map.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const ADAPTERS = join(import.meta.dirname, '..', '..', 'bridge', 'src', 'adapters');
const fixture = (adapter: string, name: string) => JSON.parse(readFileSync(join(ADAPTERS, adapter, 'fixtures', name), 'utf8'));
const events = Object.fromEntries(loadFixtures<Event>('events', 'valid')) as Record<string, any>;
const milestones = Object.fromEntries(loadFixtures<Milestone>('milestones', 'valid')) as Record<string, any>;
const NOW = new Date('2026-11-26T18:00:00Z');
const ctx = (partnerId: string, links: Record<string, ShipmentLink> = {}): InboundContext => ({
  partnerId, receivedAt: NOW, resolve: (k) => links[k.tracking_number ?? ''] ?? links[k.partner_ref ?? ''],
});
/** As it goes on the wire (undefined keys dropped). */
const wire = (x: unknown) => JSON.parse(JSON.stringify(x));
const valid = (ms: Milestone[]) => ms.forEach((m) => { const r = checkMilestone(m); assert.ok(r.ok, !r.ok ? `${m.type} ${r.problem.path}: ${r.problem.message}` : ''); });

test('stable ids: same parts give the same UUID, different parts another', () => {
  assert.is(stableUuid('a', 'b'), stableUuid('a', 'b'));
  assert.is.not(stableUuid('a', 'b'), stableUuid('ab', ''));
  assert.match(stableUuid('x'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
});

test('Retry-After: seconds and HTTP dates', () => {
  assert.is(parseRetryAfter('2'), 2000);
  assert.is(parseRetryAfter('Thu, 26 Nov 2026 18:00:30 GMT', NOW), 30_000);
  assert.is(parseRetryAfter('soon'), undefined);
  assert.is(parseRetryAfter(null), undefined);
});

test('EasyPost: a shipment request in inches and ounces with our reference', () => {
  const req = easypost.shipmentRequest(events['shipment.requested']);
  assert.equal(wire(req), fixture('easypost', 'shipment-create.request.json'));
  assert.is(req.shipment.parcel.weight, 440.92); // 12.5 kg
  assert.is(req.shipment.parcel.length, 23.62); // 60 cm
  assert.is(req.shipment.reference, 'WH/OUT/00012');
  assert.is(req.shipment.to_address.zip, '94523');
});

test('EasyPost: rate selection follows the service map, else the cheapest', () => {
  const rates = fixture('easypost', 'shipment-bought.json').rates;
  assert.is(easypost.selectRate(rates, 'GROUND', { GROUND: { carrier: 'UPS', service: 'Ground' } })!.carrier, 'UPS');
  assert.is(easypost.selectRate(rates, 'EXPRESS', {})!.service, 'GroundAdvantage');
  assert.is(easypost.selectRate([], 'GROUND', {}), undefined);
});

test('EasyPost: a bought shipment becomes label.created with cost, label and tracking URL', () => {
  const s = fixture('easypost', 'shipment-bought.json');
  const m = easypost.labelMilestone(s, { shipment_ref: 'WH/OUT/00012', aggregate: 'stock.picking:17', event_id: events['shipment.requested'].id, carrier: 'bridge_ground', service: 'GROUND' }, 'easypost-sim', NOW, 'key-1');
  valid([m]);
  const p = m.payload as any;
  assert.is(p.tracking_number, s.tracking_code);
  assert.equal(p.cost, { amount: Number(s.selected_rate.rate), currency: 'USD' });
  assert.equal(p.label, { format: 'PDF', url: s.postage_label.label_url });
  assert.is(m.id, easypost.labelMilestone(s, { shipment_ref: 'WH/OUT/00012', aggregate: 'stock.picking:17', event_id: events['shipment.requested'].id, carrier: 'bridge_ground' }, 'easypost-sim', NOW, 'key-1').id);
});

test('EasyPost: tracker.updated delivered with a signer gives delivered + proof of delivery', () => {
  const e = fixture('easypost', 'event-tracker-delivered.json');
  const ms = easypost.trackerEventToMilestones(e, ctx('easypost-sim', { [e.result.tracking_code]: { aggregate: 'stock.picking:17', shipment_ref: 'WH/OUT/00012' } }));
  valid(ms);
  assert.equal(ms.map((m) => m.type), ['shipment.delivered', 'shipment.proof_of_delivery']);
  assert.is((ms[1].payload as any).signer, 'J. Doe');
  assert.is(ms[0].occurred_at, e.result.tracking_details.at(-1).datetime);
  assert.equal(easypost.trackerEventToMilestones({ ...e, description: 'batch.updated' }, ctx('easypost-sim')), []);
});

test('EasyPost: error codes sort into business reasons', () => {
  assert.is(easypost.errorReason(422, fixture('easypost', 'error-address.json')).reason, 'invalid_address');
  assert.match(easypost.errorReason(422, fixture('easypost', 'error-address.json')).message, /street1 Address not found/);
  assert.is(easypost.errorReason(404, {}).reason, 'not_found');
});

test('WMS: the default field mapping gives the documented order shape', () => {
  const req = wms.orderRequest(events['order.released'], { warehouse: 'WH' });
  assert.equal(wire(req), fixture('wms', 'order-create.request.json'));
  assert.is((req as any).recipient.address.zip_code, '94523');
  assert.equal((req as any).products[1], { external_line_id: 'stock.move:42', reference_id: 'FURN_0269', name: 'Office Chair Black', quantity: 5 });
});

test('WMS: field_map, line_field_map, sku_map and shipping_method_map change the payload without code', () => {
  const req = wms.orderRequest(events['order.released'], {
    warehouse: 'WH',
    field_map: { reference_id: 'order_ref', 'custom.picking': 'picking_ref', type: '=B2B' },
    line_field_map: { sku_code: 'sku', quantity: 'quantity.value' },
    sku_map: { FURN_7800: 'DESK-01' },
    shipping_method_map: { 'bridge_ground/GROUND': 'Ground Saver' },
  }) as any;
  assert.is(req.reference_id, 'S00012');
  assert.is(req.custom.picking, 'WH/OUT/00012');
  assert.is(req.type, 'B2B');
  assert.is(req.products[0].sku_code, 'DESK-01');
  assert.is(req.shipping_method, 'Ground Saver');
});

test('WMS: a partial shipment webhook gives shipment.dispatched with backorder quantities', () => {
  const body = fixture('wms', 'webhook-order-shipped-partial.json');
  const ms = wms.webhookToMilestones(body, ctx('wms-sim'), { warehouse: 'WH' });
  valid(ms);
  assert.is(ms[0].type, 'shipment.dispatched');
  assert.is(ms[0].aggregate, 'stock.picking:17');
  const chair = (ms[0].payload as any).lines.find((l: any) => l.sku === 'FURN_0269');
  assert.equal(chair.quantity, { value: 3, uom: 'Units' });
  assert.equal(chair.backorder_quantity, { value: 2, uom: 'Units' });
  assert.is((ms[0].payload as any).lines.find((l: any) => l.sku === 'FURN_7800').backorder_quantity, undefined);
});

test('WMS: inventory snapshot maps partner SKUs back to Odoo SKUs for the partner warehouse', () => {
  const ms = wms.inventoryMilestones(fixture('wms', 'inventory.json'), { warehouse: 'WH', sku_map: { FURN_7800: 'FURN_7800' } }, 'wms-sim', '2026-11-26T18:00:00Z');
  valid(ms);
  assert.is(ms[0].aggregate, 'inventory:WH');
  assert.ok(ms.every((m) => m.type === 'inventory.level'));
});

test('WMS: errors sort into unknown_sku, duplicates are recognised', () => {
  assert.is(wms.errorReason(422, { products: ['Product with reference_id X not found'] }).reason, 'unknown_sku');
  const dup = wms.errorReason(422, fixture('wms', 'error-duplicate-reference.json'));
  assert.ok(wms.isDuplicateReference(422, dup.message));
});

test('Shippo: transaction -> label.created; ERROR transaction -> address reason; track webhook -> out for delivery via metadata', () => {
  const t = fixture('shippo', 'transaction-success.json');
  const m = shippo.labelMilestone(t, t.rate, { aggregate: 'stock.picking:17', event_id: events['shipment.requested'].id, shipment_ref: 'WH/OUT/00012', carrier: 'bridge_ground' }, 'shippo-sim', NOW);
  valid([m]);
  assert.is((m.payload as any).cost.amount, Number(t.rate.amount));
  assert.is(shippo.transactionFailure(fixture('shippo', 'transaction-error-address.json')).reason, 'invalid_address');
  const ms = shippo.trackToMilestones(fixture('shippo', 'webhook-track-updated.json'), ctx('shippo-sim'));
  valid(ms);
  assert.is(ms[0].type, 'shipment.out_for_delivery');
  assert.is(ms[0].aggregate, 'stock.picking:17');
  assert.equal(shippo.parseMetadata(t.metadata), { aggregate: 'stock.picking:17', shipment_ref: 'WH/OUT/00012' });
  const meta = shippo.metadataFor('stock.picking:17', 'WH/OUT/00012', { carrier: 'bridge_ground', service: 'GROUND' });
  assert.equal(shippo.parseMetadata(meta), { aggregate: 'stock.picking:17', shipment_ref: 'WH/OUT/00012', carrier: 'bridge_ground', service: 'GROUND' });
});

test('AfterShip: tracking request carries our references; Delivered webhook -> delivered + POD; Exception_011 -> returned', () => {
  const req = aftership.trackingRequest(milestones['label.created'], {});
  assert.equal(wire(req), fixture('aftership', 'tracking-create.request.json'));
  const hook = fixture('aftership', 'webhook-tracking-update-delivered.json');
  const ms = aftership.webhookToMilestones(hook, ctx('aftership-sim'));
  valid(ms);
  assert.equal(ms.map((m) => m.type), ['shipment.delivered', 'shipment.proof_of_delivery']);
  const ret = aftership.webhookToMilestones({ ...hook, msg: { ...hook.msg, tag: 'Exception', subtag: 'Exception_011' } }, ctx('aftership-sim'));
  assert.is(ret[0].type, 'shipment.returned');
  const noRefs = { ...hook, msg: { ...hook.msg, custom_fields: {} } };
  const viaIndex = aftership.webhookToMilestones(noRefs, ctx('aftership-sim', { [hook.msg.tracking_number]: { aggregate: 'stock.picking:99', shipment_ref: 'WH/OUT/00099' } }));
  assert.is(viaIndex[0].aggregate, 'stock.picking:99');
  assert.is(aftership.errorReason(400, fixture('aftership', 'error-tracking-exists.json')).message.startsWith('4003'), true);
});

test('Standard Webhooks: the message id is the milestone id (stable over retries), payload type/timestamp/data', () => {
  const m = milestones['label.created'];
  const msg = toMessage(m);
  assert.is(msg.id, `msg_${m.id}`);
  assert.equal(JSON.parse(msg.body), fixture('standard-webhooks', 'message-label-created.json'));
  assert.is(toMessage(m).body, msg.body);
});

test.run();
