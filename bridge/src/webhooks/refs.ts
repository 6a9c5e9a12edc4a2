/**
 * Which shipment a partner's tracking number or own id belongs to. Some partners' webhooks (EasyPost
 * trackers) do not echo our reference, so the gateway looks it up here. It learns from the
 * `label.created` and `order.accepted` milestones adapters return: `withShipmentRefs` wraps the
 * adapter registry the engine uses so every such result is remembered before the engine sees it,
 * and the gateway remembers what it accepts too.
 */
import type { Milestone } from '../../../shared/src/index.ts';
import type { AdapterFactory, PartnerAdapter, ShipmentLink, StepResult } from '../adapters/types.ts';
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
        if (p.tracking_number) {
          put.push({ id: `${m.source.partner}:t:${p.tracking_number}`, ...link });
          // Tracking numbers are unique across carriers in practice: a tracking platform's webhook finds it too.
          put.push({ id: `*:t:${p.tracking_number}`, ...link });
        }
        if (m.source.partner_ref) put.push({ id: `${m.source.partner}:p:${m.source.partner_ref}`, ...link });
      }
      if (put.length) await rows.put(put);
    },
    resolve(partnerId, key) {
      const row = (key.tracking_number && rows.get(`${partnerId}:t:${key.tracking_number}`))
        || (key.partner_ref && rows.get(`${partnerId}:p:${key.partner_ref}`))
        || (key.tracking_number && rows.get(`*:t:${key.tracking_number}`))
        || undefined;
      return row ? { aggregate: row.aggregate, shipment_ref: row.shipment_ref, ...(row.event_id ? { event_id: row.event_id } : {}) } : undefined;
    },
  };
}

/**
 * The adapter registry with every adapter's results remembered in `refs` (label.created,
 * order.accepted), so later webhooks that only name a tracking number or the partner's id find
 * their shipment. Hand this to the engine instead of the bare registry.
 */
export function withShipmentRefs(registry: Record<string, AdapterFactory>, refs: ShipmentRefs): Record<string, AdapterFactory> {
  const remembering = <A extends unknown[]>(fn: (...a: A) => Promise<StepResult>) => async (...a: A): Promise<StepResult> => {
    const r = await fn(...a);
    if (r.milestones?.length) await refs.remember(r.milestones);
    return r;
  };
  return Object.fromEntries(Object.entries(registry).map(([key, f]) => [key, {
    ...f,
    create(settings, io) {
      const a = f.create(settings, io);
      switch (a.role) {
        case 'carrier':
          return { ...a, createShipment: remembering(a.createShipment.bind(a)), createReturnLabel: remembering(a.createReturnLabel.bind(a)) } satisfies PartnerAdapter;
        case 'warehouse':
          return { ...a, releaseOrder: remembering(a.releaseOrder.bind(a)) } satisfies PartnerAdapter;
        default:
          return a;
      }
    },
  } satisfies AdapterFactory]));
}
