/** AfterShip-style tracking platform: pushes trackings for bought labels; its signed webhooks bring milestones back. */
import { type AdapterFactory, type AdapterIO, type InboundMapper, type PartnerSettings, type SafetyTable, type VisibilityAdapter } from '../types.ts';
import { requireCredential } from '../common.ts';
import { AfterShipClient } from './client.ts';
import { trackingRequest, webhookToMilestones } from './map.ts';

/** AfterShip refuses a second tracking for the same number with a documented error, which we adopt. */
export const AFTERSHIP_SAFETY = {
  publishMilestone: {
    rule: 'partner-deduplicates',
    doc: 'https://www.aftership.com/docs/tracking/quickstart/request-errors (HTTP 400, meta.code 4003, BadRequest: "Tracking already exists."; a repeat is adopted as created)',
  },
} as const satisfies SafetyTable<'publishMilestone'>;

function create(settings: PartnerSettings, io: AdapterIO): VisibilityAdapter {
  const client = new AfterShipClient(settings.base_url ?? 'https://api.aftership.com/tracking/2024-10', requireCredential(settings.credentials, 'api_key', settings.id), io);
  const slugMap = (settings.options.slug_map ?? {}) as Record<string, string>;
  return {
    role: 'visibility',
    safety: AFTERSHIP_SAFETY,
    async publishMilestone(m, ctx) {
      // Only a new label is news to a tracking platform; it learns the rest from the carrier itself.
      if (m.type !== 'label.created') return {};
      const r = await client.createTracking(trackingRequest(m, slugMap), ctx.correlationId, ctx.signal);
      return { data: { aftership_tracking_id: r.id, aftership_tracking_existed: r.existed } };
    },
  };
}

function inbound(settings: PartnerSettings): InboundMapper {
  return {
    scheme: 'aftership',
    deliveryId: (_h, body) => {
      const id = (body as { event_id?: unknown })?.event_id;
      return typeof id === 'string' && id ? id : undefined;
    },
    toMilestones: (body, ctx) => webhookToMilestones(body, { ...ctx, partnerId: settings.id }),
  };
}

export const aftershipAdapter: AdapterFactory = { role: 'visibility', create, inbound };
