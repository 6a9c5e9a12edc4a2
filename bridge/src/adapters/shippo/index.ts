/** Shippo-style carrier: shipment -> rate -> transaction (label); refunds; lookup by metadata instead of idempotency keys. */
import type { EventOf } from '../../../../shared/src/index.ts';
import { PartnerError, type AdapterFactory, type AdapterIO, type CallContext, type CarrierAdapter, type InboundMapper, type PartnerSettings, type StepResult } from '../types.ts';
import { payloadOf, requireCredential } from '../common.ts';
import { ShippoClient } from './client.ts';
import { labelMilestone, parseMetadata, returnShipmentRequest, selectRate, shipmentRequest, trackToMilestones, transactionFailure, type ShippoRate, type ShippoTransaction } from './map.ts';

function create(settings: PartnerSettings, io: AdapterIO): CarrierAdapter {
  const client = new ShippoClient(settings.base_url ?? 'https://api.goshippo.com', requireCredential(settings.credentials, 'api_token', settings.id), io);
  const serviceMap = (settings.options.service_map ?? {}) as Record<string, string>;

  async function find(metadata: string, signal: AbortSignal): Promise<ShippoTransaction | undefined> {
    const { results } = await client.listTransactions(signal);
    return results.find((t) => t.metadata === metadata && t.status === 'SUCCESS');
  }

  async function buyOnce(body: { metadata: string }, service: string | undefined, ctx: CallContext): Promise<{ t: ShippoTransaction; rate?: ShippoRate }> {
    // No idempotency key at Shippo: an earlier attempt that bought but lost its answer is found by metadata.
    const existing = await find(body.metadata, ctx.signal);
    if (existing) return { t: existing, rate: typeof existing.rate === 'object' ? existing.rate : undefined };
    const shipment = await client.createShipment(body, ctx.signal);
    const rate = selectRate(shipment.rates, service, serviceMap);
    if (!rate) throw new PartnerError('permanent', `no rate offered for service ${service ?? '(any)'}`, { reason: 'refused_by_partner' });
    const t = await client.buy(rate.object_id, body.metadata, ctx.signal);
    if (t.status === 'ERROR') {
      const f = transactionFailure(t);
      throw new PartnerError('permanent', f.message, { reason: f.reason });
    }
    if (t.status !== 'SUCCESS') throw new PartnerError('retryable', `label purchase is ${t.status}; checking again later`);
    return { t, rate };
  }

  return {
    role: 'carrier',
    safety: { createShipment: { rule: 'unsafe', doc: 'not yet reviewed against https://docs.goshippo.com/docs/' }, cancelShipment: { rule: 'unsafe', doc: 'not yet reviewed' }, createReturnLabel: { rule: 'unsafe', doc: 'not yet reviewed' } },
    async createShipment(event: EventOf<'shipment.requested'>, ctx) {
      const p = payloadOf(event);
      const { t, rate } = await buyOnce(shipmentRequest(event), p.carrier.service, ctx);
      return {
        data: { shippo_transaction_id: t.object_id, tracking_number: t.tracking_number },
        milestones: [labelMilestone(t, rate, { aggregate: event.aggregate, event_id: event.id, shipment_ref: p.shipment_ref, carrier: p.carrier.carrier, service: p.carrier.service }, settings.id, io.now())],
      };
    },
    async cancelShipment(event: EventOf<'shipment.cancelled'>, ctx): Promise<StepResult> {
      let id = ctx.data.shippo_transaction_id as string | undefined;
      id ??= (await client.listTransactions(ctx.signal)).results.find((t) => t.status === 'SUCCESS' && parseMetadata(t.metadata)?.aggregate === event.aggregate && parseMetadata(t.metadata)?.shipment_ref === payloadOf(event).shipment_ref)?.object_id;
      if (!id) throw new PartnerError('permanent', `no Shippo transaction recorded for ${payloadOf(event).shipment_ref}; nothing to refund`, { reason: 'not_found' });
      try {
        const r = await client.refund(id, ctx.signal);
        return { data: { shippo_refund_status: r.status } };
      } catch (e) {
        if (e instanceof PartnerError && e.kind === 'permanent' && /already.*refund/i.test(e.message)) return { data: { shippo_refund_status: 'SUCCESS' } };
        throw e;
      }
    },
    async createReturnLabel(event: EventOf<'return.requested'>, ctx) {
      const p = payloadOf(event);
      const { t, rate } = await buyOnce(returnShipmentRequest(event), p.carrier?.service, ctx);
      return {
        data: { shippo_return_transaction_id: t.object_id },
        milestones: [labelMilestone(t, rate, { aggregate: event.aggregate, event_id: event.id, shipment_ref: p.return_ref, carrier: p.carrier?.carrier ?? settings.id, service: p.carrier?.service }, settings.id, io.now())],
      };
    },
    /**
     * The engine's reconciliation after a call that may have bought without us hearing: the same
     * result createShipment gives, rebuilt from the transaction's metadata.
     */
    async findShipment(shipmentRef: string, ctx: CallContext) {
      const t = (await client.listTransactions(ctx.signal)).results.find((x) => x.status === 'SUCCESS' && parseMetadata(x.metadata)?.shipment_ref === shipmentRef);
      const meta = parseMetadata(t?.metadata);
      if (!t || !meta) return undefined;
      const rate = typeof t.rate === 'object' ? t.rate : t.rate ? await client.getRate(t.rate, ctx.signal) : undefined;
      const eventId = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ctx.correlationId) ? ctx.correlationId : undefined;
      return {
        data: { shippo_transaction_id: t.object_id, tracking_number: t.tracking_number },
        milestones: [labelMilestone(t, rate, { aggregate: meta.aggregate, event_id: eventId, shipment_ref: meta.shipment_ref, carrier: meta.carrier ?? settings.id, service: meta.service }, settings.id, io.now())],
      };
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
