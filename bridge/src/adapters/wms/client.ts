/**
 * ShipBob-style WMS client: Bearer token, `shipbob_channel_id` header, orders identified by our
 * `reference_id` (unique per account: a second create answers 422 and is reconciled by lookup,
 * since the API takes no idempotency key).
 * Docs: https://developer.shipbob.com/guides/build-orders-integration ,
 * https://developer.shipbob.com/api-reference/2.0/orders/cancel-single-order-by-order-id ,
 * https://developer.shipbob.com/guides (inventory GET for polling)
 */
import { callPartner, joinUrl } from '../http.ts';
import type { AdapterIO } from '../types.ts';
import { errorReason, type InventoryItem, type WmsOrder } from './map.ts';

export class WmsClient {
  constructor(private readonly baseUrl: string, private readonly token: string, private readonly channelId: string, private readonly io: AdapterIO) {}

  private async call<T>(method: 'GET' | 'POST', path: string, signal: AbortSignal, body?: unknown, extra: Record<string, string> = {}): Promise<T> {
    const headers = { authorization: `Bearer ${this.token}`, shipbob_channel_id: this.channelId, ...extra };
    return (await callPartner<T>(this.io.fetch, { method, url: joinUrl(this.baseUrl, path), headers, body, signal }, errorReason, this.io.now)).body;
  }

  createOrder(order: unknown, correlationId: string, signal: AbortSignal): Promise<WmsOrder> {
    return this.call('POST', 'order', signal, order, { 'x-correlation-id': correlationId });
  }
  /** Orders changed since `since` (ShipBob's LastUpdateStartDate filter), for polling shipment confirmations. */
  ordersUpdatedSince(since: Date, signal: AbortSignal): Promise<Record<string, unknown>[]> {
    return this.call('GET', `order?LastUpdateStartDate=${encodeURIComponent(since.toISOString())}`, signal);
  }
  findOrders(referenceId: string, signal: AbortSignal): Promise<WmsOrder[]> {
    return this.call('GET', `order?ReferenceIds=${encodeURIComponent(referenceId)}`, signal);
  }
  cancelOrder(id: string, signal: AbortSignal): Promise<{ canceled_shipment_results?: { is_success: boolean; reason?: string }[] }> {
    return this.call('POST', `order/${encodeURIComponent(id)}/cancel`, signal, {});
  }
  createReturn(body: unknown, signal: AbortSignal): Promise<{ id: number | string }> {
    return this.call('POST', 'return', signal, body);
  }
  findReturns(referenceId: string, signal: AbortSignal): Promise<{ id: number | string }[]> {
    return this.call('GET', `return?ReferenceIds=${encodeURIComponent(referenceId)}`, signal);
  }
  inventory(signal: AbortSignal): Promise<InventoryItem[]> {
    return this.call('GET', 'inventory', signal);
  }
}
