/**
 * Adapter keys -> factories. The configuration names a partner's adapter by key; nothing else in
 * the bridge knows a partner's name.
 */
import type { AdapterFactory } from './types.ts';
import { easypostAdapter } from './easypost/index.ts';
import { shippoAdapter } from './shippo/index.ts';
import { wmsAdapter } from './wms/index.ts';
import { file3plAdapter } from './file-3pl/index.ts';
import { standardWebhooksAdapter } from './standard-webhooks/index.ts';
import { aftershipAdapter } from './aftership/index.ts';

export const adapterRegistry: Record<string, AdapterFactory> = {
  /** Carrier, EasyPost REST (no idempotency key: our shipments found again by reference; X-Hmac-Signature webhooks). */
  easypost: easypostAdapter,
  /** Carrier, Shippo-style REST (no idempotency key: lookup by metadata; shared-token webhooks). */
  shippo: shippoAdapter,
  /** Warehouse, ShipBob-style REST WMS with configurable field mapping (Standard Webhooks). */
  'rest-wms': wmsAdapter,
  /** Warehouse, 3PL on CSV file exchange (polled through collectUpdates). */
  'file-3pl': file3plAdapter,
  /** Visibility / notifications, Standard Webhooks 1.0 publisher. */
  'standard-webhooks': standardWebhooksAdapter,
  /** Visibility, AfterShip-style tracking platform (aftership-hmac-sha256 webhooks). */
  aftership: aftershipAdapter,
};
