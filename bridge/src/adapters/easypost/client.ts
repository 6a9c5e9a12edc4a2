/**
 * EasyPost REST client: Basic auth with the API key as user name, errors sorted by callPartner with
 * EasyPost's `error.code`. No `Idempotency-Key` is sent: EasyPost documents none, and an
 * undocumented header is not a key. A retry finds its shipment again by our `reference` instead
 * ("An optional field that may be used in place of id in other API endpoints").
 * Docs: https://docs.easypost.com/docs/shipments (create, retrieve, buy, return shipments),
 * https://docs.easypost.com/docs/shipments/shipping-refund , https://docs.easypost.com/docs/trackers ,
 * https://docs.easypost.com/guides/webhooks-guide
 */
import { callPartner, joinUrl } from '../http.ts';
import { PartnerError, type AdapterIO } from '../types.ts';
import { errorReason, type EasyPostShipment } from './map.ts';

export class EasyPostClient {
  constructor(private readonly baseUrl: string, private readonly apiKey: string, private readonly io: AdapterIO) {}

  private headers(extra: Record<string, string>): Record<string, string> {
    return { authorization: `Basic ${Buffer.from(`${this.apiKey}:`).toString('base64')}`, ...extra };
  }

  private async call<T>(method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await callPartner<T>(this.io.fetch, { method, url: joinUrl(this.baseUrl, path), headers: this.headers(headers), body, signal }, errorReason, this.io.now);
    return res.body;
  }

  createShipment(body: unknown, correlationId: string, signal: AbortSignal): Promise<EasyPostShipment> {
    return this.call('POST', 'shipments', signal, body, { 'x-correlation-id': correlationId });
  }
  buy(shipmentId: string, rateId: string, signal: AbortSignal): Promise<EasyPostShipment> {
    return this.call('POST', `shipments/${encodeURIComponent(shipmentId)}/buy`, signal, { rate: { id: rateId } });
  }
  /** By EasyPost id or by our reference (usable "in place of id"); undefined when EasyPost answers 404. */
  async findShipment(idOrReference: string, signal: AbortSignal): Promise<EasyPostShipment | undefined> {
    try {
      return await this.call<EasyPostShipment>('GET', `shipments/${encodeURIComponent(idOrReference)}`, signal);
    } catch (e) {
      if (e instanceof PartnerError && e.kind === 'permanent' && e.details.status === 404) return undefined;
      throw e;
    }
  }
  refund(shipmentId: string, signal: AbortSignal): Promise<EasyPostShipment> {
    return this.call('POST', `shipments/${encodeURIComponent(shipmentId)}/refund`, signal, {});
  }
}
