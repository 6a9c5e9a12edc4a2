/**
 * Pure mapping of a canonical milestone to a Standard Webhooks message: the payload follows the
 * spec's recommended `{ type, timestamp, data }` shape and the message id is the milestone id, so
 * every retry of one milestone carries the same `webhook-id` (receivers dedup on it).
 * Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
 */
import type { Milestone } from '../../../../shared/src/index.ts';

export interface StandardWebhookMessage {
  id: string;
  body: string;
}

export function toMessage(m: Milestone, eventTypePrefix = ''): StandardWebhookMessage {
  return {
    id: `msg_${m.id}`,
    body: JSON.stringify({ type: `${eventTypePrefix}${m.type}`, timestamp: m.occurred_at, data: m }),
  };
}
