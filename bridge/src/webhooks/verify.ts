/** Verifies one inbound delivery by its partner's scheme, on the raw body, before anything parses it. */
import type { WebhookScheme } from '../adapters/types.ts';
import { verifyAfterShip, verifyEasyPost, verifySharedToken, verifyStandardWebhook, type VerifyResult } from '../adapters/signatures.ts';

export function verifyInbound(scheme: WebhookScheme, secrets: string[], req: { headers: Headers; url: string }, raw: Buffer, now: Date): VerifyResult {
  if (!secrets.length) return { ok: false, why: 'missing' };
  switch (scheme) {
    case 'standard-webhooks': return verifyStandardWebhook(secrets, req.headers, raw, now);
    case 'easypost': return verifyEasyPost(secrets, req.headers, raw);
    case 'aftership': return verifyAfterShip(secrets, req.headers, raw);
    case 'shared-token': return verifySharedToken(secrets, req.headers, req.url);
  }
}
