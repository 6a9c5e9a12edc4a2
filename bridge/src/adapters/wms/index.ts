/** REST WMS (ShipBob-style): release/cancel orders, announce returns, poll inventory; webhooks for shipments. */
import type { EventOf } from '../../../../shared/src/index.ts';
import { PartnerError, type AdapterFactory, type AdapterIO, type CallContext, type InboundMapper, type PartnerSettings, type SafetyTable, type StepResult, type WarehouseAdapter } from '../types.ts';
import { isoSeconds, payloadOf, requireCredential } from '../common.ts';
import { WmsClient } from './client.ts';
import { acceptedMilestone, inventoryMilestones, isDuplicateReference, orderRequest, returnRequest, shippedOrderAsWebhook, webhookToMilestones, type WmsOptions } from './map.ts';

function options(settings: PartnerSettings): WmsOptions {
  const o = settings.options as Partial<WmsOptions>;
  if (!o.warehouse) throw new Error(`partner "${settings.id}": options.warehouse (the Odoo warehouse code) is required`);
  return o as WmsOptions;
}

/**
 * What the generic REST WMS documents (its contract, written down in bridge/src/simulators/wms/app.ts):
 * our reference is unique and a repeat is refused naming the existing record, a repeated cancel is a
 * success. A real WMS configured behind `rest-wms` must document the same for these rules to hold.
 */
export const WMS_SAFETY = {
  releaseOrder: {
    rule: 'partner-deduplicates',
    doc: 'bridge/src/simulators/wms/app.ts#contract (1, 2: a second POST /order with the same reference_id answers 409 with existing_order_id; the existing order is adopted)',
  },
  cancelOrder: {
    rule: 'partner-deduplicates',
    doc: 'bridge/src/simulators/wms/app.ts#contract (3: cancelling a cancelled order answers success again and acts once)',
  },
  expectReturn: {
    rule: 'partner-deduplicates',
    doc: 'bridge/src/simulators/wms/app.ts#contract (4: a second POST /return with the same reference_id answers 409 with existing_return_id; adopted)',
  },
} as const satisfies SafetyTable<'releaseOrder' | 'cancelOrder' | 'expectReturn'>;

/** Runs a create; the contract's "reference already exists" refusal means an earlier attempt succeeded: adopt it. */
async function createOrFind<T>(create: () => Promise<T>, find: () => Promise<T[]>): Promise<T> {
  try {
    return await create();
  } catch (e) {
    if (e instanceof PartnerError && e.kind === 'permanent' && isDuplicateReference(e.details.status, e.message)) {
      const [found] = await find();
      if (found) return found;
    }
    throw e;
  }
}

function create(settings: PartnerSettings, io: AdapterIO): WarehouseAdapter {
  const o = options(settings);
  /** Where the last shipment poll started (ms); a minute of overlap is re-read, ids make it harmless. */
  let pollCursor: number | undefined;
  const lastLevels = new Map<string, string>();
  const client = new WmsClient(settings.base_url ?? 'https://api.shipbob.com/2.0', requireCredential(settings.credentials, 'api_token', settings.id), settings.credentials.channel_id ?? '1', io);
  return {
    role: 'warehouse',
    safety: WMS_SAFETY,
    async releaseOrder(event: EventOf<'order.released'>, ctx: CallContext): Promise<StepResult> {
      const ref = payloadOf(event).picking_ref;
      const order = await createOrFind(() => client.createOrder(orderRequest(event, o), ctx.correlationId, ctx.signal), () => client.findOrders(ref, ctx.signal));
      return { data: { wms_order_id: String(order.id) }, milestones: [acceptedMilestone(order, event, settings.id, io.now())] };
    },
    async cancelOrder(event: EventOf<'order.cancelled'>, ctx: CallContext): Promise<StepResult> {
      let id = ctx.data.wms_order_id as string | undefined;
      if (!id) id = (await client.findOrders(payloadOf(event).picking_ref, ctx.signal))[0]?.id?.toString();
      if (!id) throw new PartnerError('permanent', `order ${payloadOf(event).picking_ref} is not known to the warehouse`, { reason: 'not_found' });
      const res = await client.cancelOrder(id, ctx.signal);
      const refused = res.canceled_shipment_results?.find((r) => !r.is_success);
      if (refused) throw new PartnerError('permanent', `warehouse refused the cancel: ${refused.reason ?? 'already in fulfilment'}`, { reason: 'allocation_conflict' });
      return { data: { wms_cancelled: true } };
    },
    async expectReturn(event: EventOf<'return.requested'>, ctx: CallContext): Promise<StepResult> {
      const ref = payloadOf(event).return_ref;
      const ret = await createOrFind(() => client.createReturn(returnRequest(event, o), ctx.signal), () => client.findReturns(ref, ctx.signal));
      return { data: { wms_return_id: String(ret.id) } };
    },
    /**
     * Polls inventory, and with options.poll_shipments the orders changed since the last poll
     * (for WMSs without webhooks). Shipment milestones keep their ids across polls and webhooks.
     */
    async collectUpdates(ctx: { signal: AbortSignal }) {
      const startedAt = io.now();
      // A snapshot per poll, but only the SKUs whose levels changed since the last one reach Odoo.
      const out = inventoryMilestones(await client.inventory(ctx.signal), o, settings.id, isoSeconds(startedAt)).filter((m) => {
        const p = m.payload as { sku: string; on_hand: { value: number }; available: { value: number } };
        const level = `${p.on_hand.value}/${p.available.value}`;
        if (lastLevels.get(p.sku) === level) return false;
        lastLevels.set(p.sku, level);
        return true;
      });
      if (settings.options.poll_shipments) {
        const since = new Date((pollCursor ?? startedAt.getTime() - Number(settings.options.poll_lookback_ms ?? 86_400_000)) - 60_000);
        for (const order of await client.ordersUpdatedSince(since, ctx.signal)) {
          const hook = shippedOrderAsWebhook(order);
          if (!hook) continue;
          try {
            out.push(...webhookToMilestones(hook, { partnerId: settings.id, receivedAt: startedAt, resolve: () => undefined }, o));
          } catch (e) {
            // An order we did not send (no odoo tags) or a malformed one is not ours to report.
            if (!(e instanceof PartnerError)) throw e;
          }
        }
        pollCursor = startedAt.getTime();
      }
      return out;
    },
  };
}

function inbound(settings: PartnerSettings): InboundMapper {
  const o = options(settings);
  return {
    scheme: 'standard-webhooks',
    deliveryId: (headers) => headers.get('webhook-id') ?? undefined,
    toMilestones: (body, ctx) => webhookToMilestones(body, { ...ctx, partnerId: settings.id }, o),
  };
}

export const wmsAdapter: AdapterFactory = { role: 'warehouse', create, inbound };
