/**
 * Which shipment a partner's tracking number or own id belongs to. Some partners' webhooks (EasyPost
 * trackers) do not echo our reference, so the gateway looks it up here. It learns from the
 * `label.created` and `order.accepted` milestones adapters return: whoever enqueues those (the
 * engine) calls `remember`, and the gateway remembers what it sees too.
 */
import type { Milestone } from '../../../shared/src/index.ts';
import type { ShipmentLink } from '../adapters/types.ts';
import type { Collection, Store } from '../store/types.ts';

interface RefRow extends ShipmentLink {
  /** `<partner>:t:<tracking number>` or `<partner>:p:<partner's id>`. */
  id: string;
  at: string;
}

export interface ShipmentRefs {
  /** Indexes the tracking numbers and partner ids found in these milestones. */
  remember(milestones: Milestone[]): Promise<void>;
  resolve(partnerId: string, key: { tracking_number?: string; partner_ref?: string }): ShipmentLink | undefined;
}

export const SHIPMENT_REFS_COLLECTION = 'shipment_refs';

export function shipmentRefs(store: Pick<Store, 'collection'>): ShipmentRefs {
  const rows: Collection<RefRow> = store.collection<RefRow>(SHIPMENT_REFS_COLLECTION);
  return {
    async remember(milestones) {
      const put: RefRow[] = [];
      for (const m of milestones) {
        const p = m.payload as { shipment_ref?: string; picking_ref?: string; tracking_number?: string };
        const shipmentRef = p.shipment_ref ?? p.picking_ref;
        if (!shipmentRef || m.aggregate.startsWith('inventory:')) continue;
        const link = { aggregate: m.aggregate, shipment_ref: shipmentRef, ...(m.event_id ? { event_id: m.event_id } : {}), at: m.occurred_at };
        if (p.tracking_number) put.push({ id: `${m.source.partner}:t:${p.tracking_number}`, ...link });
        if (m.source.partner_ref) put.push({ id: `${m.source.partner}:p:${m.source.partner_ref}`, ...link });
      }
      if (put.length) await rows.put(put);
    },
    resolve(partnerId, key) {
      const row = (key.tracking_number && rows.get(`${partnerId}:t:${key.tracking_number}`))
        || (key.partner_ref && rows.get(`${partnerId}:p:${key.partner_ref}`))
        || undefined;
      return row ? { aggregate: row.aggregate, shipment_ref: row.shipment_ref, ...(row.event_id ? { event_id: row.event_id } : {}) } : undefined;
    },
  };
}
