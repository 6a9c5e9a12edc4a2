/**
 * Standard Webhooks 1.0 sender: signs `id.timestamp.body` with every configured secret (two during
 * rotation, space-separated) and follows the spec's status etiquette ("Delivery success and
 * failure"): 2xx delivered; 3xx a failure, redirects not followed; 410 Gone disables the endpoint;
 * every other answer, timeouts and resets are failures retried on the engine's backoff schedule
 * (Retry-After honoured), until max_attempts sends them to the dead-letter queue.
 * Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import { callPartner } from '../http.ts';
import { PartnerError, type AdapterIO } from '../types.ts';
import { standardWebhookHeaders } from '../signatures.ts';
import type { StandardWebhookMessage } from './map.ts';

export class StandardWebhooksClient {
  constructor(private readonly endpoint: string, private readonly secrets: string[], private readonly io: AdapterIO) {}

  async send(msg: StandardWebhookMessage, signal: AbortSignal): Promise<void> {
    const ts = Math.floor(this.io.now().getTime() / 1000);
    const headers = standardWebhookHeaders(this.secrets, msg.id, ts, msg.body);
    try {
      await callPartner(this.io.fetch, { method: 'POST', url: this.endpoint, headers: { ...headers, 'content-type': 'application/json' }, body: msg.body, signal, redirect: 'manual' }, (status, body) => {
        if (status === 410) return { message: 'endpoint answered 410 Gone: disabled', reason: 'refused_by_partner', kind: 'permanent' };
        const detail = typeof body === 'string' && body ? `: ${body.slice(0, 200)}` : '';
        if (status >= 300 && status < 400) return { message: `endpoint redirected (HTTP ${status}); senders do not follow redirects: update the endpoint URL`, kind: 'retryable' };
        return { message: `endpoint did not accept the message (HTTP ${status})${detail}`, kind: 'retryable' };
      }, this.io.now);
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
