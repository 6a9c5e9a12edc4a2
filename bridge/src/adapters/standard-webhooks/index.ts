/** Visibility / customer notifications over Standard Webhooks 1.0; 410 Gone disables the endpoint (persisted). */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PartnerError, type AdapterFactory, type AdapterIO, type PartnerSettings, type VisibilityAdapter } from '../types.ts';
import { EndpointGone, StandardWebhooksClient } from './client.ts';
import { toMessage } from './map.ts';

function create(settings: PartnerSettings, io: AdapterIO): VisibilityAdapter {
  if (!settings.base_url) throw new Error(`partner "${settings.id}": base_url (the subscriber's endpoint) is required`);
  const secrets = [settings.credentials.webhook_secret, settings.credentials.webhook_secret_next].filter((s): s is string => !!s);
  if (!secrets.length) throw new Error(`partner "${settings.id}": credential "webhook_secret" (whsec_...) is missing`);
  const client = new StandardWebhooksClient(settings.base_url, secrets, io);
  const types = settings.options.milestone_types as string[] | undefined;
  // The disabled mark survives restarts: an endpoint that said 410 is not called again until an operator removes it.
  const marker = join(io.dataDir, settings.id, 'endpoint-disabled');
  return {
    role: 'visibility',
    safety: {
      publishMilestone: {
        rule: 'partner-deduplicates',
        doc: 'https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md (Webhook metadata: the unique identifier "remains the same no matter how many times a webhook that has failed is retried. The ID is often used as an idempotency key"; ours is the milestone id)',
      },
    },
    async publishMilestone(m, ctx) {
      if (types && !types.includes(m.type)) return {};
      if (existsSync(marker)) throw new PartnerError('permanent', `endpoint ${settings.base_url} is disabled (it answered 410 Gone); delete ${marker} to re-enable`, { reason: 'refused_by_partner' });
      try {
        await client.send(toMessage(m, String(settings.options.event_type_prefix ?? '')), ctx.signal);
      } catch (e) {
        if (e instanceof EndpointGone) {
          mkdirSync(join(io.dataDir, settings.id), { recursive: true });
          writeFileSync(marker, `${io.now().toISOString()} 410 Gone from ${settings.base_url}\n`);
        }
        throw e;
      }
      return { data: { last_published_id: m.id } };
    },
  };
}

export const standardWebhooksAdapter: AdapterFactory = { role: 'visibility', create };
