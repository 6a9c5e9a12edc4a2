/** The Standard Webhooks publisher adapter as a receiver using the reference `standardwebhooks` package sees it. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { Webhook } from 'standardwebhooks';
import { standardWebhooksAdapter } from '../../bridge/src/adapters/standard-webhooks/index.ts';
import { PartnerError, type VisibilityAdapter } from '../../bridge/src/adapters/types.ts';
import type { Milestone } from '../../shared/src/index.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const CURRENT = 'whsec_' + Buffer.from('current publisher secret 32 byte').toString('base64');
const NEXT = 'whsec_' + Buffer.from('next publisher secret, 32 bytes!').toString('base64');
const m = Object.fromEntries(loadFixtures<Milestone>('milestones', 'valid'))['shipment.delivered'];
const ctx = () => ({ idempotencyKey: 'k', correlationId: 'c', signal: AbortSignal.timeout(2000), data: {}, inDoubt: false });

function receiver(answer: (c: any) => Response | Promise<Response>) {
  const got: { headers: Record<string, string>; body: string }[] = [];
  const app = new Hono();
  app.post('/hook', async (c) => {
    got.push({ headers: Object.fromEntries(c.req.raw.headers), body: await c.req.text() });
    return answer(c);
  });
  app.get('/elsewhere', (c) => c.text('followed'));
  const fetchFn = ((u: string, i?: RequestInit) => app.request(new URL(u).pathname, i)) as typeof fetch;
  return { got, fetchFn };
}
function publisher(fetchFn: typeof fetch, credentials: Record<string, string>, dataDir = '/tmp') {
  return standardWebhooksAdapter.create({ id: 'notify', adapter: 'standard-webhooks', base_url: 'http://receiver/hook', credentials, options: {} }, { fetch: fetchFn, now: () => new Date(), dataDir }) as VisibilityAdapter;
}

test('what we publish verifies with the standardwebhooks package, with the current and with the next secret during rotation', async () => {
  const r = receiver((c) => c.body(null, 204));
  await publisher(r.fetchFn, { webhook_secret: CURRENT, webhook_secret_next: NEXT }).publishMilestone(m, ctx());
  const { headers, body } = r.got[0];
  for (const secret of [CURRENT, NEXT]) {
    const payload = new Webhook(secret).verify(body, headers) as { type: string; data: Milestone };
    assert.is(payload.type, 'shipment.delivered');
    assert.equal(payload.data, m);
  }
  assert.is(headers['webhook-id'], `msg_${m.id}`);
  assert.is(headers['webhook-signature'].split(' ').length, 2);
});

test('a retry carries the same webhook-id (receivers dedup on it) and a fresh timestamp', async () => {
  const r = receiver((c) => c.body(null, 204));
  const p = publisher(r.fetchFn, { webhook_secret: CURRENT });
  await p.publishMilestone(m, ctx());
  await p.publishMilestone(m, ctx());
  assert.is(r.got[0].headers['webhook-id'], r.got[1].headers['webhook-id']);
});

test('a redirect is not followed and is a retryable failure; 502 and 404 are retryable too', async () => {
  for (const answer of [(c: any) => c.redirect('/elsewhere', 301), (c: any) => c.text('bad gateway', 502), (c: any) => c.text('no such route', 404)]) {
    const r = receiver(answer);
    try {
      await publisher(r.fetchFn, { webhook_secret: CURRENT }).publishMilestone(m, ctx());
      assert.unreachable('should fail');
    } catch (e) {
      assert.instance(e, PartnerError);
      assert.is((e as PartnerError).kind, 'retryable');
    }
    assert.is(r.got.length, 1);
  }
});

test('410 Gone disables the endpoint, also for a new adapter instance (a restart), until the mark is removed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-'));
  try {
    const r = receiver((c) => c.text('gone', 410));
    const e1 = await publisher(r.fetchFn, { webhook_secret: CURRENT }, dir).publishMilestone(m, ctx()).catch((e) => e);
    assert.is(e1.kind, 'permanent');
    const e2 = await publisher(r.fetchFn, { webhook_secret: CURRENT }, dir).publishMilestone(m, ctx()).catch((e) => e);
    assert.is(e2.kind, 'permanent');
    assert.match(e2.message, /disabled/);
    assert.is(r.got.length, 1);
    rmSync(join(dir, 'notify'), { recursive: true, force: true });
    const ok = receiver((c) => c.body(null, 204));
    await publisher(ok.fetchFn, { webhook_secret: CURRENT }, dir).publishMilestone(m, ctx());
    assert.is(ok.got.length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
