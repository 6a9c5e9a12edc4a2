/** EasyPost-style carrier: create + buy (label), refund (void), return labels; tracker webhooks. */
import type { EventOf } from '../../../../shared/src/index.ts';
import { PartnerError, type AdapterFactory, type CallContext, type CarrierAdapter, type InboundMapper, type PartnerSettings, type StepResult } from '../types.ts';
import { payloadOf, requireCredential } from '../common.ts';
import { EasyPostClient } from './client.ts';
import { labelMilestone, returnRequest, selectRate, shipmentRequest, trackerEventToMilestones, type EasyPostShipment, type ServiceMap } from './map.ts';

function create(settings: PartnerSettings, io: Parameters<AdapterFactory['create']>[1]): CarrierAdapter {
  const client = new EasyPostClient(settings.base_url ?? 'https://api.easypost.com/v2', requireCredential(settings.credentials, 'api_key', settings.id), io);
  const serviceMap = (settings.options.service_map ?? {}) as ServiceMap;

  /** Create (idempotent by key) then buy (idempotent by key, skipped when already bought). */
  async function createAndBuy(body: unknown, service: string | undefined, ctx: CallContext): Promise<EasyPostShipment> {
    let shipment = await client.createShipment(body, ctx.idempotencyKey, ctx.correlationId, ctx.signal);
    if (shipment.postage_label?.label_url) return shipment;
    const rate = selectRate(shipment.rates, service, serviceMap);
    if (!rate) throw new PartnerError('permanent', `no rate offered for service ${service ?? '(any)'}`, { reason: 'refused_by_partner' });
    shipment = await client.buy(shipment.id, rate.id, `${ctx.idempotencyKey}:buy`, ctx.signal);
    return shipment;
  }

  return {
    role: 'carrier',
    safety: { createShipment: { rule: 'unsafe', doc: 'not yet reviewed against https://docs.easypost.com/docs/shipments' }, cancelShipment: { rule: 'unsafe', doc: 'not yet reviewed' }, createReturnLabel: { rule: 'unsafe', doc: 'not yet reviewed' } },
    async createShipment(event: EventOf<'shipment.requested'>, ctx: CallContext): Promise<StepResult> {
      const p = payloadOf(event);
      // An EasyPost Shipment has one parcel (several need the Orders API, not implemented): refuse rather than drop parcels.
      if (p.parcels.length > 1) {
        throw new PartnerError('permanent', `${p.parcels.length} parcels: this EasyPost adapter buys one label per shipment; split the picking into one package per shipment or route multi-parcel shipments to another carrier`, { reason: 'invalid_request' });
      }
      const s = await createAndBuy(shipmentRequest(event), p.carrier.service, ctx);
      return {
        data: { easypost_shipment_id: s.id, tracking_code: s.tracking_code, tracker_id: s.tracker?.id },
        milestones: [labelMilestone(s, { shipment_ref: p.shipment_ref, aggregate: event.aggregate, event_id: event.id, carrier: p.carrier.carrier, service: p.carrier.service }, settings.id, io.now(), ctx.idempotencyKey)],
      };
    },
    async cancelShipment(event: EventOf<'shipment.cancelled'>, ctx: CallContext): Promise<StepResult> {
      const id = ctx.data.easypost_shipment_id;
      if (typeof id !== 'string') {
        throw new PartnerError('permanent', `no EasyPost shipment recorded for ${payloadOf(event).shipment_ref}; nothing to refund`, { reason: 'not_found' });
      }
      try {
        const s = await client.refund(id, ctx.signal);
        return { data: { refund_status: s.refund_status ?? 'submitted' } };
      } catch (e) {
        // A refund asked twice (retry after a lost answer) is done, not a failure.
        if (e instanceof PartnerError && e.kind === 'permanent' && /REFUND\.(ALREADY|EXISTS)/i.test(e.message)) return { data: { refund_status: 'submitted' } };
        throw e;
      }
    },
    async createReturnLabel(event: EventOf<'return.requested'>, ctx: CallContext): Promise<StepResult> {
      const p = payloadOf(event);
      const s = await createAndBuy(returnRequest(event, Number(settings.options.return_parcel_weight_oz ?? 16)), p.carrier?.service, ctx);
      return {
        data: { easypost_return_shipment_id: s.id, return_tracking_code: s.tracking_code },
        milestones: [labelMilestone(s, { shipment_ref: p.return_ref, aggregate: event.aggregate, event_id: event.id, carrier: p.carrier?.carrier ?? settings.id, service: p.carrier?.service }, settings.id, io.now(), ctx.idempotencyKey)],
      };
    },
  };
}

function inbound(settings: PartnerSettings): InboundMapper {
  return {
    scheme: 'easypost',
    deliveryId: (_h, body) => (typeof (body as { id?: unknown })?.id === 'string' ? (body as { id: string }).id : undefined),
    toMilestones: (body, ctx) => trackerEventToMilestones(body, { ...ctx, partnerId: settings.id }),
  };
}

export const easypostAdapter: AdapterFactory = { role: 'carrier', create, inbound };
