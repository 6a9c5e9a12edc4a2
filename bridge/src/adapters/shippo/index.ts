/** Shippo-style carrier: shipment -> rate -> transactions (a label per parcel); refunds; lookup by metadata instead of idempotency keys. */
import type { EventOf } from '../../../../shared/src/index.ts';
import { PartnerError, type AdapterFactory, type AdapterIO, type CallContext, type CarrierAdapter, type InboundMapper, type PartnerSettings, type SafetyTable, type StepResult } from '../types.ts';
import { payloadOf, requireCredential, stepEffects } from '../common.ts';
import { ShippoClient } from './client.ts';
import { labelMilestone, parseMetadata, returnShipmentRequest, selectRate, shipmentRequest, trackToMilestones, transactionFailure, type ShippoRate, type ShippoTransaction } from './map.ts';

/** Why each step stays exactly once at Shippo, which documents no idempotency key. */
export const SHIPPO_SAFETY = {
  createShipment: {
    rule: 'lookup-before-retry',
    doc: 'https://docs.goshippo.com/api-reference/transactions/list-all-shipping-labels (transactions are listed with the `metadata` we gave the purchase, https://docs.goshippo.com/docs/tracking/webhookmetadata); in doubt, our successful transactions carrying this shipment\'s metadata are adopted instead of buying again. No filter by metadata is documented: the first 100 transactions are searched',
  },
  createReturnLabel: {
    rule: 'lookup-before-retry',
    doc: 'https://docs.goshippo.com/api-reference/transactions/list-all-shipping-labels (the return label\'s metadata carries our return_ref, found the same way)',
  },
  cancelShipment: {
    rule: 'lookup-before-retry',
    doc: 'https://docs.goshippo.com/api-reference/transactions/retrieve-a-shipping-label (Transaction.status REFUNDPENDING/REFUNDED after https://docs.goshippo.com/api-reference/refunds/create-a-refund); in doubt, a transaction already refunding is not refunded again',
  },
} as const satisfies SafetyTable<'createShipment' | 'cancelShipment' | 'createReturnLabel'>;

const REFUNDING = new Set(['REFUNDED', 'REFUNDPENDING']);

function create(settings: PartnerSettings, io: AdapterIO): CarrierAdapter {
  const client = new ShippoClient(settings.base_url ?? 'https://api.goshippo.com', requireCredential(settings.credentials, 'api_token', settings.id), io);
  const serviceMap = (settings.options.service_map ?? {}) as Record<string, string>;
  const rateOf = (t: ShippoTransaction) => (typeof t.rate === 'object' ? t.rate : undefined);
  const rateId = (t: ShippoTransaction) => (typeof t.rate === 'object' ? t.rate.object_id : t.rate);

  /**
   * The labels of the latest successful purchase carrying `match` metadata: every parcel's
   * transaction of that purchase (same rate), oldest first, i.e. in parcel order.
   */
  async function labelsOf(match: (metadata: string | undefined) => boolean, signal: AbortSignal): Promise<ShippoTransaction[]> {
    const { results } = await client.listTransactions(signal);
    const ours = results.filter((t) => t.status === 'SUCCESS' && match(t.metadata));
    if (!ours.length) return [];
    const purchase = rateId(ours[0]);
    return ours.filter((t) => rateId(t) === purchase).reverse();
  }

  /**
   * Buys the labels of one shipment: in doubt, first what an earlier attempt may have bought
   * (adopted when every parcel has its label); otherwise, or when nothing is there, a new shipment
   * (rates only, no effect) and one purchase, which buys a label per parcel.
   */
  async function buyLabels(body: { metadata: string; parcels: unknown[] }, service: string | undefined, ctx: CallContext): Promise<{ labels: ShippoTransaction[]; rate?: ShippoRate }> {
    if (ctx.inDoubt) {
      const existing = await labelsOf((m) => m === body.metadata, ctx.signal);
      if (existing.length >= body.parcels.length) return { labels: existing.slice(0, body.parcels.length), rate: rateOf(existing[0]) };
      if (existing.length) throw new PartnerError('permanent', `Shippo holds ${existing.length} of ${body.parcels.length} labels for ${body.metadata}: check the account, refund or complete them, then replay`, { reason: 'refused_by_partner' });
    }
    const shipment = await client.createShipment(body, ctx.signal);
    const rate = selectRate(shipment.rates, service, serviceMap);
    if (!rate) throw new PartnerError('permanent', `no rate offered for service ${service ?? '(any)'}`, { reason: 'refused_by_partner' });
    const step = stepEffects();
    const t = await step.run(() => client.buy(rate.object_id, body.metadata, ctx.signal), true);
    if (t.status === 'ERROR') {
      const f = transactionFailure(t);
      throw new PartnerError('permanent', f.message, { reason: f.reason });
    }
    if (t.status !== 'SUCCESS') throw new PartnerError('retryable', `label purchase is ${t.status}; checking again later`);
    if (body.parcels.length === 1) return { labels: [t], rate };
    // The other parcels' labels of this purchase are listed with the same rate.
    const labels = (await step.run(() => labelsOf((m) => m === body.metadata, ctx.signal), false)).filter((x) => rateId(x) === rate.object_id);
    if (labels.length < body.parcels.length) throw new PartnerError('retryable', `Shippo lists ${labels.length} of ${body.parcels.length} labels for ${body.metadata} so far; checking again`);
    return { labels: labels.slice(0, body.parcels.length), rate };
  }

  /** The step's result: every parcel's ids in the bag, one label.created per parcel (the rate's cost, for the whole shipment, on the first). */
  function result(labels: ShippoTransaction[], rate: ShippoRate | undefined, link: Parameters<typeof labelMilestone>[2], prefix: 'shippo' | 'shippo_return'): StepResult {
    const count = labels.length;
    return {
      data: prefix === 'shippo'
        ? { shippo_transaction_id: labels[0].object_id, tracking_number: labels[0].tracking_number, shippo_transaction_ids: labels.map((t) => t.object_id), tracking_numbers: labels.map((t) => t.tracking_number) }
        : { shippo_return_transaction_id: labels[0].object_id },
      milestones: labels.map((t, i) => labelMilestone(t, i === 0 ? rate : undefined, link, settings.id, io.now(), { index: i + 1, count })),
    };
  }

  return {
    role: 'carrier',
    safety: SHIPPO_SAFETY,
    async createShipment(event: EventOf<'shipment.requested'>, ctx) {
      const p = payloadOf(event);
      const { labels, rate } = await buyLabels(shipmentRequest(event), p.carrier.service, ctx);
      return result(labels, rate, { aggregate: event.aggregate, event_id: event.id, shipment_ref: p.shipment_ref, carrier: p.carrier.carrier, service: p.carrier.service }, 'shippo');
    },
    async cancelShipment(event: EventOf<'shipment.cancelled'>, ctx): Promise<StepResult> {
      const ref = payloadOf(event).shipment_ref;
      let ids = Array.isArray(ctx.data.shippo_transaction_ids) ? (ctx.data.shippo_transaction_ids as string[]) : typeof ctx.data.shippo_transaction_id === 'string' ? [ctx.data.shippo_transaction_id] : [];
      if (!ids.length) ids = (await labelsOf((m) => parseMetadata(m)?.aggregate === event.aggregate && parseMetadata(m)?.shipment_ref === ref, ctx.signal)).map((t) => t.object_id);
      if (!ids.length) throw new PartnerError('permanent', `no Shippo transaction recorded for ${ref}; nothing to refund`, { reason: 'not_found' });
      let status = 'SUCCESS';
      const step = stepEffects();
      for (const id of ids) {
        if (ctx.inDoubt && REFUNDING.has((await step.run(() => client.getTransaction(id, ctx.signal), false)).status)) continue;
        try {
          status = (await step.run(() => client.refund(id, ctx.signal), true)).status;
        } catch (e) {
          if (!(e instanceof PartnerError && e.kind === 'permanent' && /already.*refund/i.test(e.message))) throw e;
        }
      }
      return { data: { shippo_refund_status: status } };
    },
    async createReturnLabel(event: EventOf<'return.requested'>, ctx) {
      const p = payloadOf(event);
      const { labels, rate } = await buyLabels(returnShipmentRequest(event), p.carrier?.service, ctx);
      return result(labels, rate, { aggregate: event.aggregate, event_id: event.id, shipment_ref: p.return_ref, carrier: p.carrier?.carrier ?? settings.id, service: p.carrier?.service }, 'shippo_return');
    },
    /**
     * The labels bought under our reference (void checks after a fallback; the engine's
     * reconciliation): the same result createShipment gives, rebuilt from the transactions' metadata.
     */
    async findShipment(shipmentRef: string, ctx: CallContext) {
      const labels = await labelsOf((m) => parseMetadata(m)?.shipment_ref === shipmentRef, ctx.signal);
      const meta = parseMetadata(labels[0]?.metadata);
      if (!labels.length || !meta) return undefined;
      const t = labels[0];
      const rate = rateOf(t) ?? (t.rate ? await client.getRate(t.rate as string, ctx.signal) : undefined);
      const eventId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ctx.correlationId) ? ctx.correlationId : undefined;
      return result(labels, rate, { aggregate: meta.aggregate, event_id: eventId, shipment_ref: meta.shipment_ref, carrier: meta.carrier ?? settings.id, service: meta.service }, 'shippo');
    },
  };
}

function inbound(settings: PartnerSettings): InboundMapper {
  return {
    scheme: 'shared-token',
    // Shippo's webhook body has no delivery id; the gateway falls back to a hash of the body.
    deliveryId: () => undefined,
    toMilestones: (body, ctx) => trackToMilestones(body, { ...ctx, partnerId: settings.id }),
  };
}

export const shippoAdapter: AdapterFactory = { role: 'carrier', create, inbound };
