/**
 * Shippo-style REST client: `Authorization: ShippoToken <token>`, `SHIPPO-API-VERSION`, synchronous
 * label purchase (`async: false`). No idempotency key exists (none is sent), so a call in doubt looks
 * up our transactions by metadata first.
 * Docs: https://docs.goshippo.com/api-reference/transactions/create-a-shipping-label ,
 * https://docs.goshippo.com/docs/Guides_general/generate_shipping_label , refunds:
 * https://docs.goshippo.com/api-reference/refunds/create-a-refund
 */
import { callPartner, joinUrl } from '../http.ts';
import type { AdapterIO } from '../types.ts';
import { errorReason, type ShippoRate, type ShippoTransaction } from './map.ts';

export class ShippoClient {
  constructor(private readonly baseUrl: string, private readonly token: string, private readonly io: AdapterIO) {}

  private async call<T>(method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown): Promise<T> {
    const headers = { authorization: `ShippoToken ${this.token}`, 'shippo-api-version': '2018-02-08' };
    return (await callPartner<T>(this.io.fetch, { method, url: joinUrl(this.baseUrl, path), headers, body, signal }, errorReason, this.io.now)).body;
  }

  createShipment(body: unknown, signal: AbortSignal): Promise<{ object_id: string; rates: ShippoRate[] }> {
    return this.call('POST', 'shipments/', signal, body);
  }
  buy(rateId: string, metadata: string, signal: AbortSignal): Promise<ShippoTransaction> {
    return this.call('POST', 'transactions/', signal, { rate: rateId, label_file_type: 'PDF', async: false, metadata });
  }
  /** Recent transactions (first page is enough: a retry follows its first attempt closely). */
  listTransactions(signal: AbortSignal): Promise<{ results: ShippoTransaction[] }> {
    return this.call('GET', 'transactions/?results=100', signal);
  }
  /** https://docs.goshippo.com/api-reference/transactions/retrieve-a-shipping-label */
  getTransaction(id: string, signal: AbortSignal): Promise<ShippoTransaction> {
    return this.call('GET', `transactions/${encodeURIComponent(id)}`, signal);
  }
  getRate(id: string, signal: AbortSignal): Promise<ShippoRate> {
    return this.call('GET', `rates/${encodeURIComponent(id)}`, signal);
  }
  refund(transactionId: string, signal: AbortSignal): Promise<{ object_id: string; status: string }> {
    return this.call('POST', 'refunds/', signal, { transaction: transactionId, async: false });
  }
}
