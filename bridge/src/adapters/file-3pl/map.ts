/**
 * Pure mapping between canonical objects and a 3PL's CSV files, with per-partner column names.
 * Orders out: one row per line (`ORD_`), cancels (`CAN_`), expected returns (`RET_`).
 * Back in: shipment confirmations (`SHP_`, ordered and shipped quantities per line) and stock
 * snapshots (`STK_`). Our `ClientRef` (the aggregate) is echoed by the 3PL on confirmations.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { EventOf, Milestone } from '../../../../shared/src/index.ts';
import { badPayload, milestone, payloadOf, stableUuid, toIso, type PayloadOf } from '../common.ts';

/** Canonical column -> the partner's header. Defaults below; options.columns overrides per file kind. */
export type Columns = Record<string, string>;

export const DEFAULT_COLUMNS = {
  order: {
    order_ref: 'OrderNo', picking_ref: 'PickingNo', client_ref: 'ClientRef', line_id: 'LineNo', sku: 'SKU', description: 'Description',
    quantity: 'Qty', uom: 'UoM', name: 'ShipToName', street1: 'Street1', street2: 'Street2', city: 'City', postal_code: 'Zip',
    state: 'State', country: 'Country', email: 'Email', phone: 'Phone', carrier: 'Carrier', service: 'Service', requested_date: 'RequestedDate',
  },
  cancel: { order_ref: 'OrderNo', picking_ref: 'PickingNo', client_ref: 'ClientRef', reason: 'Reason' },
  return: { return_ref: 'ReturnNo', order_ref: 'OrderNo', client_ref: 'ClientRef', line_id: 'LineNo', sku: 'SKU', quantity: 'Qty', uom: 'UoM', reason: 'Reason' },
  confirmation: {
    picking_ref: 'PickingNo', client_ref: 'ClientRef', line_id: 'LineNo', sku: 'SKU', ordered: 'QtyOrdered', shipped: 'QtyShipped',
    uom: 'UoM', tracking_number: 'TrackingNo', shipped_at: 'ShippedAt',
  },
  stock: { sku: 'SKU', on_hand: 'OnHand', available: 'Available', uom: 'UoM' },
} satisfies Record<string, Columns>;
export type FileKind = keyof typeof DEFAULT_COLUMNS;

export interface FileOptions {
  warehouse: string;
  delimiter?: string;
  columns?: Partial<Record<FileKind, Columns>>;
  sku_map?: Record<string, string>;
}

export function columnsFor(kind: FileKind, o: FileOptions): Columns {
  return { ...DEFAULT_COLUMNS[kind], ...o.columns?.[kind] };
}

function toCsv(kind: FileKind, rows: Record<string, unknown>[], o: FileOptions): string {
  const cols = columnsFor(kind, o);
  const keys = Object.keys(cols);
  return stringify(rows.map((r) => keys.map((k) => (r[k] === undefined || r[k] === null ? '' : String(r[k])))), {
    header: true, columns: keys.map((k) => cols[k]), delimiter: o.delimiter ?? ';', record_delimiter: 'windows',
  });
}

export function orderCsv(e: EventOf<'order.released'>, o: FileOptions): string {
  const p = payloadOf(e);
  return toCsv('order', p.lines.map((l) => ({
    order_ref: p.order_ref, picking_ref: p.picking_ref, client_ref: e.aggregate, line_id: l.line_id, sku: o.sku_map?.[l.sku] ?? l.sku, description: l.description,
    quantity: l.quantity.value, uom: l.quantity.uom, name: p.ship_to.name ?? p.contact.name, street1: p.ship_to.street1, street2: p.ship_to.street2,
    city: p.ship_to.city, postal_code: p.ship_to.postal_code, state: p.ship_to.state, country: p.ship_to.country, email: p.contact.email, phone: p.contact.phone,
    carrier: p.carrier?.carrier, service: p.carrier?.service, requested_date: p.requested_date,
  })), o);
}

export function cancelCsv(e: EventOf<'order.cancelled'>, o: FileOptions): string {
  const p = payloadOf(e);
  return toCsv('cancel', [{ order_ref: p.order_ref, picking_ref: p.picking_ref, client_ref: e.aggregate, reason: p.reason && (p.reason.text ? `${p.reason.code}: ${p.reason.text}` : p.reason.code) }], o);
}

export function returnCsv(e: EventOf<'return.requested'>, o: FileOptions): string {
  const p = payloadOf(e);
  return toCsv('return', p.lines.map((l) => ({
    return_ref: p.return_ref, order_ref: p.order_ref, client_ref: e.aggregate, line_id: l.line_id, sku: o.sku_map?.[l.sku] ?? l.sku, quantity: l.quantity.value, uom: l.quantity.uom, reason: p.reason,
  })), o);
}

/** Parses a partner CSV into canonical-keyed rows; a missing required column throws with its name. */
export function readCsv(kind: FileKind, text: string, o: FileOptions, required: string[]): Record<string, string>[] {
  const cols = columnsFor(kind, o);
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: true, delimiter: o.delimiter ?? ';', skip_empty_lines: true, trim: true, bom: true });
  } catch (e) {
    throw badPayload('$', `not a readable CSV: ${(e as Error).message}`);
  }
  const headers = records[0] ? Object.keys(records[0]) : [];
  for (const k of required) if (records.length && !headers.includes(cols[k])) throw badPayload(`column ${cols[k]}`, 'is missing');
  return records.map((r) => Object.fromEntries(Object.entries(cols).map(([k, h]) => [k, r[h] ?? ''])));
}

function num(v: string, path: string): number {
  const n = Number(v.replace(',', '.'));
  if (v === '' || !Number.isFinite(n) || n < 0) throw badPayload(path, `must be a number >= 0, got "${v}"`);
  return n;
}

/** A shipment confirmation file -> one `shipment.dispatched` per picking, with backorders for short shipments. */
export function confirmationMilestones(text: string, fileId: string, o: FileOptions, partnerId: string, now: Date): Milestone[] {
  const rows = readCsv('confirmation', text, o, ['picking_ref', 'client_ref', 'line_id', 'sku', 'ordered', 'shipped']);
  const reverse = Object.fromEntries(Object.entries(o.sku_map ?? {}).map(([a, b]) => [b, a]));
  const byPicking = new Map<string, Record<string, string>[]>();
  rows.forEach((r) => byPicking.set(r.picking_ref, [...(byPicking.get(r.picking_ref) ?? []), r]));
  return [...byPicking.entries()].map(([picking, lines]) => {
    const first = lines[0];
    if (!picking) throw badPayload('PickingNo', 'must not be empty');
    if (!/^[a-z0-9_.]+:[A-Za-z0-9_./-]+$/.test(first.client_ref)) throw badPayload(`ClientRef of ${picking}`, `"${first.client_ref}" is not one of our references`);
    const canonicalLines: PayloadOf<'order.released'>['lines'] = lines.map((l, i) => {
      const ordered = num(l.ordered, `row ${i + 2} QtyOrdered`);
      const shipped = num(l.shipped, `row ${i + 2} QtyShipped`);
      const uom = l.uom || 'Units';
      return {
        line_id: l.line_id || `${picking}:${i + 1}`, sku: reverse[l.sku] ?? l.sku, quantity: { value: shipped, uom },
        ...(ordered > shipped ? { backorder_quantity: { value: ordered - shipped, uom } } : {}),
      };
    });
    const at = toIso(first.shipped_at || undefined, now);
    return milestone('shipment.dispatched', {
      id: stableUuid(partnerId, fileId, picking), occurred_at: at, partner: partnerId, partner_ref: fileId, aggregate: first.client_ref,
    }, { shipment_ref: picking, ...(first.tracking_number ? { tracking_number: first.tracking_number } : {}), lines: canonicalLines });
  });
}

/** A stock snapshot file -> `inventory.level` per SKU for the partner's warehouse. */
export function stockMilestones(text: string, fileId: string, o: FileOptions, partnerId: string, now: Date): Milestone[] {
  const rows = readCsv('stock', text, o, ['sku', 'on_hand']);
  const reverse = Object.fromEntries(Object.entries(o.sku_map ?? {}).map(([a, b]) => [b, a]));
  const at = toIso(undefined, now);
  return rows.map((r, i) => {
    if (!r.sku) throw badPayload(`row ${i + 2} SKU`, 'must not be empty');
    const onHand = num(r.on_hand, `row ${i + 2} OnHand`);
    const available = r.available === '' ? onHand : num(r.available, `row ${i + 2} Available`);
    const sku = reverse[r.sku] ?? r.sku;
    return milestone('inventory.level', { id: stableUuid(partnerId, fileId, sku), occurred_at: at, partner: partnerId, aggregate: `inventory:${o.warehouse}` }, {
      sku, warehouse: o.warehouse, on_hand: { value: onHand, uom: r.uom || 'Units' }, available: { value: available, uom: r.uom || 'Units' },
    });
  });
}

/** File names: kind prefix + our reference made file-safe + a short key hash (one name per event step). */
export function fileName(prefix: 'ORD' | 'CAN' | 'RET', ref: string, keyHash: string): string {
  return `${prefix}_${ref.replace(/[^A-Za-z0-9_-]+/g, '-')}_${keyHash}.csv`;
}
