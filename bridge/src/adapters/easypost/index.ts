/** EasyPost-style carrier: create + buy (one label per parcel), refund (void), return labels; tracker webhooks. */
import type { EventOf } from '../../../../shared/src/index.ts';
import { PartnerError, type AdapterFactory, type CallContext, type CarrierAdapter, type InboundMapper, type PartnerSettings, type SafetyTable, type StepResult } from '../types.ts';
import { payloadOf, requireCredential, stepEffects } from '../common.ts';
import { EasyPostClient } from './client.ts';
import { labelMilestone, returnRequest, selectRate, shipmentRequest, trackerEventToMilestones, type EasyPostShipment, type ServiceMap } from './map.ts';

/** Why each step stays exactly once at EasyPost, which documents no idempotency key. */
export const EASYPOST_SAFETY = {
  createShipment: {
    rule: 'lookup-before-retry',
    doc: 'https://docs.easypost.com/docs/shipments (Shipment.reference: "An optional field that may be used in place of id in other API endpoints"; in doubt, GET /shipments/<reference> per parcel, adopt what is bought, buy what is not, create what is missing)',
  },
  createReturnLabel: {
    rule: 'lookup-before-retry',
    doc: 'https://docs.easypost.com/docs/shipments (the return shipment carries our return_ref as reference, found the same way)',
  },
  cancelShipment: {
    rule: 'lookup-before-retry',
    doc: 'https://docs.easypost.com/docs/shipments/shipping-refund ("Once the refund has been submitted, refund_status attribute of the Shipment will be populated"; in doubt, a shipment with a refund_status is not refunded again)',
  },
} as const satisfies SafetyTable<'createShipment' | 'cancelShipment' | 'createReturnLabel'>;

function create(settings: PartnerSettings, io: Parameters<AdapterFactory['create']>[1]): CarrierAdapter {
  const client = new EasyPostClient(settings.base_url ?? 'https://api.easypost.com/v2', requireCredential(settings.credentials, 'api_key', settings.id), io);
  const serviceMap = (settings.options.service_map ?? {}) as ServiceMap;

  /**
   * One parcel's label: in doubt, first the shipment under our reference (an earlier attempt may
   * have created or even bought it without us hearing); then create only what is missing and buy
   * only what is unbought.
   */
  async function ensureBought(body: { shipment: { reference: string } }, service: string | undefined, ctx: CallContext, step = stepEffects()): Promise<EasyPostShipment> {
    let shipment = ctx.inDoubt ? await step.run(() => client.findShipment(body.shipment.reference, ctx.signal), false) : undefined;
    shipment ??= await step.run(() => client.createShipment(body, ctx.correlationId, ctx.signal), true);
    if (shipment.postage_label?.label_url) return shipment;
    const rate = selectRate(shipment.rates, service, serviceMap);
    if (!rate) throw new PartnerError('permanent', `no rate offered for service ${service ?? '(any)'}`, { reason: 'refused_by_partner' });
    const id = shipment.id;
    return step.run(() => client.buy(id, rate.id, ctx.signal), true);
  }

  return {
    role: 'carrier',
    safety: EASYPOST_SAFETY,
    async createShipment(event: EventOf<'shipment.requested'>, ctx: CallContext): Promise<StepResult> {
      const p = payloadOf(event);
      const count = p.parcels.length;
      const bought: EasyPostShipment[] = [];
      const step = stepEffects();
      // One shipment per parcel, in order; a retry in doubt walks the same references again.
      for (let i = 0; i < count; i++) {
        try {
          bought.push(await ensureBought(shipmentRequest(event, i), p.carrier.service, ctx, step));
        } catch (e) {
          // A refusal after some parcels were bought: say which labels exist, so a person can refund or complete them.
          if (e instanceof PartnerError && e.kind === 'permanent' && bought.length) {
            throw new PartnerError('permanent', `parcel ${i + 1} of ${count}: ${e.message}; parcels 1-${bought.length} already have labels (${bought.map((s) => s.id).join(', ')}): refund them at EasyPost or fix and replay (a replay in doubt adopts them)`, { ...e.details, cause: e });
          }
          throw e;
        }
      }
      const link = { shipment_ref: p.shipment_ref, aggregate: event.aggregate, event_id: event.id, carrier: p.carrier.carrier, service: p.carrier.service };
      return {
        data: {
          easypost_shipment_id: bought[0].id, tracking_code: bought[0].tracking_code, tracker_id: bought[0].tracker?.id,
          // Every parcel's shipment, so a cancel refunds every label.
          easypost_shipment_ids: bought.map((s) => s.id), tracking_codes: bought.map((s) => s.tracking_code),
        },
        milestones: bought.map((s, i) => labelMilestone(s, link, settings.id, io.now(), ctx.idempotencyKey, { index: i + 1, count })),
      };
    },
    async cancelShipment(event: EventOf<'shipment.cancelled'>, ctx: CallContext): Promise<StepResult> {
      const ids = Array.isArray(ctx.data.easypost_shipment_ids) ? (ctx.data.easypost_shipment_ids as string[]) : typeof ctx.data.easypost_shipment_id === 'string' ? [ctx.data.easypost_shipment_id] : [];
      if (!ids.length) {
        throw new PartnerError('permanent', `no EasyPost shipment recorded for ${payloadOf(event).shipment_ref}; nothing to refund`, { reason: 'not_found' });
      }
      const step = stepEffects();
      for (const id of ids) {
        // In doubt, a refund already submitted shows as refund_status on the shipment: not asked twice.
        if (ctx.inDoubt && (await step.run(() => client.findShipment(id, ctx.signal), false))?.refund_status) continue;
        try {
          await step.run(() => client.refund(id, ctx.signal), true);
        } catch (e) {
          // A refund asked twice is done, not a failure.
          if (!(e instanceof PartnerError && e.kind === 'permanent' && /REFUND\.(ALREADY|EXISTS)/i.test(e.message))) throw e;
        }
      }
      return { data: { refund_status: 'submitted', refunded_shipment_ids: ids } };
    },
    async createReturnLabel(event: EventOf<'return.requested'>, ctx: CallContext): Promise<StepResult> {
      const p = payloadOf(event);
      const s = await ensureBought(returnRequest(event, Number(settings.options.return_parcel_weight_oz ?? 16)), p.carrier?.service, ctx);
      return {
        data: { easypost_return_shipment_id: s.id, return_tracking_code: s.tracking_code },
        milestones: [labelMilestone(s, { shipment_ref: p.return_ref, aggregate: event.aggregate, event_id: event.id, carrier: p.carrier?.carrier ?? settings.id, service: p.carrier?.service }, settings.id, io.now(), ctx.idempotencyKey)],
      };
    },
    // No findShipment: a label.created milestone needs the aggregate, which an EasyPost shipment
    // does not carry; createShipment in doubt does the lookup itself. Void checks after a fallback
    // therefore stay with a person for this carrier.
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
