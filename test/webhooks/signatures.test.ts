/** Signature recipes: Standard Webhooks interop both ways with the reference `standardwebhooks` package, EasyPost and AfterShip vectors from their documented recipes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import {
  safeEqual, signAfterShip, signEasyPost, signStandardWebhook, standardWebhookHeaders, verifyAfterShip, verifyEasyPost, verifySharedToken, verifyStandardWebhook,
} from '../../bridge/src/adapters/signatures.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const OLD = 'whsec_' + Buffer.from('an older secret, 32 bytes long!!').toString('base64');
const body = '{"type":"shipment.delivered","timestamp":"2026-11-26T17:00:00Z","data":{"x":1}}';
const now = new Date('2026-11-26T17:00:00Z');
const ts = Math.floor(now.getTime() / 1000);
const H = (h: Record<string, string>) => new Headers(h);

test('our Standard Webhooks signature is verified by the standardwebhooks package', () => {
  const headers = standardWebhookHeaders([SECRET], 'msg_1', Math.floor(Date.now() / 1000), body);
  const wh = new Webhook(SECRET);
  assert.equal(wh.verify(body, headers), JSON.parse(body));
});

test('the package verifies our rotated signatures (two, space-separated) with either secret', () => {
  const headers = standardWebhookHeaders([OLD, SECRET], 'msg_2', Math.floor(Date.now() / 1000), body);
  assert.is(headers['webhook-signature'].split(' ').length, 2);
  assert.ok(new Webhook(SECRET).verify(body, headers));
  assert.ok(new Webhook(OLD).verify(body, headers));
});

test("the package's signatures are verified by us", () => {
  const wh = new Webhook(SECRET);
  const sig = wh.sign('msg_3', now, body);
  const r = verifyStandardWebhook([SECRET], H({ 'webhook-id': 'msg_3', 'webhook-timestamp': String(ts), 'webhook-signature': sig }), Buffer.from(body), now);
  assert.equal(r, { ok: true });
  assert.is(sig, signStandardWebhook(SECRET, 'msg_3', ts, body));
});

test('we accept during rotation: an old-secret signature verifies against [new, old]', () => {
  const sig = new Webhook(OLD).sign('msg_4', now, body);
  const h = H({ 'webhook-id': 'msg_4', 'webhook-timestamp': String(ts), 'webhook-signature': `v1,AAAA ${sig}` });
  assert.equal(verifyStandardWebhook([SECRET, OLD], h, Buffer.from(body), now), { ok: true });
  assert.equal(verifyStandardWebhook([SECRET], h, Buffer.from(body), now), { ok: false, why: 'mismatch' });
});

test('tampered body, stale and future timestamps, missing headers are refused', () => {
  const sig = new Webhook(SECRET).sign('msg_5', now, body);
  const h = H({ 'webhook-id': 'msg_5', 'webhook-timestamp': String(ts), 'webhook-signature': sig });
  assert.equal(verifyStandardWebhook([SECRET], h, Buffer.from(body.replace('17:00', '18:00')), now), { ok: false, why: 'mismatch' });
  assert.equal(verifyStandardWebhook([SECRET], h, Buffer.from(body), new Date(now.getTime() + 301_000)), { ok: false, why: 'stale' });
  assert.equal(verifyStandardWebhook([SECRET], h, Buffer.from(body), new Date(now.getTime() - 301_000)), { ok: false, why: 'future' });
  assert.equal(verifyStandardWebhook([SECRET], h, Buffer.from(body), new Date(now.getTime() + 299_000)), { ok: true });
  assert.equal(verifyStandardWebhook([SECRET], H({ 'webhook-id': 'msg_5' }), Buffer.from(body), now), { ok: false, why: 'missing' });
});

test('the package refuses a tampered body we signed (both sides agree on the recipe)', () => {
  const headers = standardWebhookHeaders([SECRET], 'msg_6', Math.floor(Date.now() / 1000), body);
  assert.throws(() => new Webhook(SECRET).verify(body + ' ', headers));
});

test('EasyPost vector: hmac-sha256-hex= + hex HMAC-SHA256 of the raw body with the NFKD-normalised secret', () => {
  // Recipe from EasyPost's client libraries' validate_webhook (docs.easypost.com/guides/webhooks-guide).
  const secret = 'sécret'; // NFC "é" is normalised to "e" + combining accent before use
  const expected = 'hmac-sha256-hex=' + createHmac('sha256', Buffer.from(secret.normalize('NFKD'), 'utf8')).update(body).digest('hex');
  assert.is(signEasyPost(secret, body), expected);
  assert.equal(verifyEasyPost([secret], H({ 'X-Hmac-Signature': expected }), Buffer.from(body)), { ok: true });
  assert.equal(verifyEasyPost([secret], H({ 'X-Hmac-Signature': expected }), Buffer.from(body + 'x')), { ok: false, why: 'mismatch' });
  assert.equal(verifyEasyPost([secret], H({}), Buffer.from(body)), { ok: false, why: 'missing' });
});

test('AfterShip vector: base64 HMAC-SHA256 of the body in aftership-hmac-sha256', () => {
  // Recipe from https://www.aftership.com/docs/tracking/webhook/webhook-signature
  const expected = createHmac('sha256', 'as-secret').update(body, 'utf8').digest('base64');
  assert.is(signAfterShip('as-secret', body), expected);
  assert.equal(verifyAfterShip(['as-secret'], H({ 'aftership-hmac-sha256': expected }), Buffer.from(body)), { ok: true });
  assert.equal(verifyAfterShip(['other'], H({ 'aftership-hmac-sha256': expected }), Buffer.from(body)), { ok: false, why: 'mismatch' });
});

test('shared token: bearer, header or query; wrong or absent refused', () => {
  const url = 'http://x/v1/webhooks/p';
  assert.equal(verifySharedToken(['tok'], H({ authorization: 'Bearer tok' }), url), { ok: true });
  assert.equal(verifySharedToken(['tok'], H({ 'x-webhook-token': 'tok' }), url), { ok: true });
  assert.equal(verifySharedToken(['tok'], H({}), `${url}?token=tok`), { ok: true });
  assert.equal(verifySharedToken(['tok'], H({ authorization: 'Bearer tok2' }), url), { ok: false, why: 'mismatch' });
  assert.equal(verifySharedToken(['tok'], H({}), url), { ok: false, why: 'missing' });
});

test('safeEqual is false for different lengths without throwing', () => {
  assert.not.ok(safeEqual('abc', 'abcd'));
  assert.ok(safeEqual('abc', 'abc'));
});

test.run();
