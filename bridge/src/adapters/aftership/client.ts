/**
 * AfterShip-style tracking API client: `as-api-key` header, JSON envelope `{ meta, data }`.
 * Docs: https://www.aftership.com/docs/tracking/quickstart/api-quick-start (POST /trackings),
 * https://www.aftership.com/docs/tracking/webhook/webhook-signature (inbound signature).
 */
import { callPartner, joinUrl } from '../http.ts';
import { PartnerError, type AdapterIO } from '../types.ts';
import { ALREADY_EXISTS, errorReason } from './map.ts';

export class AfterShipClient {
  constructor(private readonly baseUrl: string, private readonly apiKey: string, private readonly io: AdapterIO) {}

  /** Creates a tracking; one that already exists (a retry, or a replay) counts as created. */
  async createTracking(body: unknown, correlationId: string, signal: AbortSignal): Promise<{ id?: string; existed: boolean }> {
    try {
      const res = await callPartner<{ data?: { id?: string; tracking?: { id?: string } } }>(this.io.fetch, {
        method: 'POST', url: joinUrl(this.baseUrl, 'trackings'), headers: { 'as-api-key': this.apiKey, 'x-correlation-id': correlationId }, body, signal,
      }, errorReason, this.io.now);
      return { id: res.body?.data?.id ?? res.body?.data?.tracking?.id, existed: false };
    } catch (e) {
      if (e instanceof PartnerError && e.kind === 'permanent' && e.message.startsWith(String(ALREADY_EXISTS))) return { existed: true };
      throw e;
    }
  }
}
