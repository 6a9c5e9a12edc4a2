/**
 * Standard Webhooks 1.0 sender: signs `id.timestamp.body` with every configured secret (two during
 * rotation, space-separated), treats 2xx as delivered, 410 Gone as "disable this endpoint", 429/5xx
 * and timeouts as retryable (the engine retries with backoff, honouring Retry-After).
 * Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 * ("Signature scheme", "Retry schedule", "410 Gone").
 */
import { callPartner } from '../http.ts';
import { PartnerError, type AdapterIO } from '../types.ts';
import { standardWebhookHeaders } from '../../webhooks/signatures.ts';
import type { StandardWebhookMessage } from './map.ts';

export class StandardWebhooksClient {
  constructor(private readonly endpoint: string, private readonly secrets: string[], private readonly io: AdapterIO) {}

  async send(msg: StandardWebhookMessage, signal: AbortSignal): Promise<void> {
    const ts = Math.floor(this.io.now().getTime() / 1000);
    const headers = standardWebhookHeaders(this.secrets, msg.id, ts, msg.body);
    try {
      await callPartner(this.io.fetch, { method: 'POST', url: this.endpoint, headers: { ...headers, 'content-type': 'application/json' }, body: msg.body, signal }, (status, body) => ({
        message: status === 410 ? 'endpoint answered 410 Gone: disabled' : `endpoint refused the message (HTTP ${status})${typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : ''}`,
        reason: 'refused_by_partner',
      }), this.io.now);
    } catch (e) {
      if (e instanceof PartnerError && e.details.status === 410) throw new EndpointGone(e);
      throw e;
    }
  }
}

/** The receiver asked us to stop (410 Gone); the adapter disables the endpoint. */
export class EndpointGone extends PartnerError {
  constructor(cause: PartnerError) {
    super('permanent', 'endpoint answered 410 Gone and is now disabled; re-enable it in the configuration', { status: 410, reason: 'refused_by_partner', cause });
  }
}
