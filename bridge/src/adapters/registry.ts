/**
 * Adapter keys -> factories. The configuration names a partner's adapter by key; nothing else in
 * the bridge knows a partner's name.
 */
import type { AdapterFactory } from './types.ts';
import { easypostAdapter } from './easypost/index.ts';
import { wmsAdapter } from './wms/index.ts';
import { standardWebhooksAdapter } from './standard-webhooks/index.ts';

export const adapterRegistry: Record<string, AdapterFactory> = {
  easypost: easypostAdapter,
  'rest-wms': wmsAdapter,
  'standard-webhooks': standardWebhooksAdapter,
};
