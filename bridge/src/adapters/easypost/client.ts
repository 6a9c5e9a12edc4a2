/**
 * EasyPost REST client: Basic auth with the API key as user name, `Idempotency-Key` on every
 * create and buy, errors sorted by callPartner with EasyPost's `error.code`.
 * Docs: https://docs.easypost.com/docs/shipments (create, buy, refund, return shipments),
 * https://docs.easypost.com/docs/trackers , https://docs.easypost.com/guides/webhooks-guide
 */
import { callPartner, joinUrl } from '../http.ts';
import type { AdapterIO } from '../types.ts';
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

  createShipment(body: unknown, key: string, correlationId: string, signal: AbortSignal): Promise<EasyPostShipment> {
    return this.call('POST', 'shipments', signal, body, { 'idempotency-key': key, 'x-correlation-id': correlationId });
  }
  buy(shipmentId: string, rateId: string, key: string, signal: AbortSignal): Promise<EasyPostShipment> {
    return this.call('POST', `shipments/${encodeURIComponent(shipmentId)}/buy`, signal, { rate: { id: rateId } }, { 'idempotency-key': key });
  }
  getShipment(shipmentId: string, signal: AbortSignal): Promise<EasyPostShipment> {
    return this.call('GET', `shipments/${encodeURIComponent(shipmentId)}`, signal);
  }
  refund(shipmentId: string, signal: AbortSignal): Promise<EasyPostShipment> {
    return this.call('POST', `shipments/${encodeURIComponent(shipmentId)}/refund`, signal, {});
  }
}
