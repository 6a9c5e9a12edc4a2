/**
 * Webhook signature schemes, signing and verifying, in one place: the publisher, the simulators
 * and the inbound gateway all call these, so a recipe is written once.
 * Every comparison is constant-time (crypto.timingSafeEqual on equal-length buffers).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Equal-length constant-time comparison; a length mismatch is a plain `false`. */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const x = Buffer.isBuffer(a) ? a : Buffer.from(a, 'utf8');
  const y = Buffer.isBuffer(b) ? b : Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    // Compare against itself so a wrong length costs the same time as a wrong value.
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

function hmac(key: Buffer | string, body: Buffer | string): Buffer {
  return createHmac('sha256', key).update(body).digest();
}

// ---- Standard Webhooks 1.0 -------------------------------------------------------------------
// Spec: https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
// Signature: "v1," + base64(HMAC-SHA256(secret, `${id}.${timestamp}.${body}`)); the secret is
// "whsec_" + base64 key bytes; several signatures are space-separated (key rotation).

/** Decodes a `whsec_<base64>` secret (a bare base64 key is accepted too) into key bytes. */
export function standardWebhooksKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
}

/** One `v1,<base64>` signature for a message. */
export function signStandardWebhook(secret: string, id: string, timestamp: number, body: string | Buffer): string {
  const msg = Buffer.concat([Buffer.from(`${id}.${timestamp}.`, 'utf8'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]);
  return `v1,${hmac(standardWebhooksKey(secret), msg).toString('base64')}`;
}

/** The three headers for one delivery; several secrets (rotation) give several signatures. */
export function standardWebhookHeaders(secrets: string[], id: string, timestamp: number, body: string | Buffer): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => signStandardWebhook(s, id, timestamp, body)).join(' '),
  };
}

export type VerifyResult = { ok: true } | { ok: false; why: 'missing' | 'mismatch' | 'stale' | 'future' };

/** Accepted clock skew where a scheme carries a timestamp. */
export const TIMESTAMP_TOLERANCE_S = 5 * 60;

/** Verifies Standard Webhooks headers against any of the secrets (rotation), within ±5 minutes. */
export function verifyStandardWebhook(secrets: string[], headers: Headers, body: Buffer, now: Date): VerifyResult {
  const id = headers.get('webhook-id');
  const ts = headers.get('webhook-timestamp');
  const sig = headers.get('webhook-signature');
  if (!id || !ts || !sig || !/^\d{1,12}$/.test(ts)) return { ok: false, why: 'missing' };
  const age = Math.floor(now.getTime() / 1000) - Number(ts);
  if (age > TIMESTAMP_TOLERANCE_S) return { ok: false, why: 'stale' };
  if (age < -TIMESTAMP_TOLERANCE_S) return { ok: false, why: 'future' };
  const offered = sig.split(' ').filter((s) => s.startsWith('v1,'));
  for (const secret of secrets) {
    const expected = signStandardWebhook(secret, id, Number(ts), body);
    // Check every offered signature (no early exit on the first mismatch) so timing does not tell which matched.
    let match = false;
    for (const o of offered) match = safeEqual(o, expected) || match;
    if (match) return { ok: true };
  }
  return { ok: false, why: 'mismatch' };
}

// ---- EasyPost ------------------------------------------------------------------------------------
// Doc: https://docs.easypost.com/guides/webhooks-guide (HMAC validation). The client libraries'
// validate_webhook computes "hmac-sha256-hex=" + hex(HMAC-SHA256(NFKD(secret), raw body)) and
// compares it with the X-Hmac-Signature header. No timestamp in the scheme.

export function signEasyPost(secret: string, body: string | Buffer): string {
  return `hmac-sha256-hex=${hmac(Buffer.from(secret.normalize('NFKD'), 'utf8'), body).toString('hex')}`;
}

export function verifyEasyPost(secrets: string[], headers: Headers, body: Buffer): VerifyResult {
  const sig = headers.get('x-hmac-signature');
  if (!sig) return { ok: false, why: 'missing' };
  let match = false;
  for (const s of secrets) match = safeEqual(sig, signEasyPost(s, body)) || match;
  return match ? { ok: true } : { ok: false, why: 'mismatch' };
}

// ---- AfterShip -----------------------------------------------------------------------------------
// Doc: https://www.aftership.com/docs/tracking/webhook/webhook-signature
// Header `aftership-hmac-sha256`: base64(HMAC-SHA256(webhook secret, raw body)). No timestamp header;
// the body's `ts` is not covered separately, so replay protection rests on the event id dedup.

export function signAfterShip(secret: string, body: string | Buffer): string {
  return hmac(secret, body).toString('base64');
}

export function verifyAfterShip(secrets: string[], headers: Headers, body: Buffer): VerifyResult {
  const sig = headers.get('aftership-hmac-sha256');
  if (!sig) return { ok: false, why: 'missing' };
  let match = false;
  for (const s of secrets) match = safeEqual(sig, signAfterShip(s, body)) || match;
  return match ? { ok: true } : { ok: false, why: 'mismatch' };
}

// ---- Shared token --------------------------------------------------------------------------------
// For partners with nothing better (Shippo documents no signature; a secret token in the URL or a
// header is the usual recipe). Accepts `Authorization: Bearer <token>`, `X-Webhook-Token` or `?token=`.

export function verifySharedToken(secrets: string[], headers: Headers, url: string): VerifyResult {
  const auth = headers.get('authorization');
  const offered = (auth?.toLowerCase().startsWith('bearer ') ? auth.slice(7).trim() : undefined)
    ?? headers.get('x-webhook-token') ?? new URL(url, 'http://localhost').searchParams.get('token') ?? undefined;
  if (!offered) return { ok: false, why: 'missing' };
  let match = false;
  for (const s of secrets) match = safeEqual(offered, s) || match;
  return match ? { ok: true } : { ok: false, why: 'mismatch' };
}
