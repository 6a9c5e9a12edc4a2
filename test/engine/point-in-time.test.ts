/** Point-in-time replay: delivered events sent again to one partner only, once per run, in order, with a dry run. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ApiError } from '../../bridge/src/errors.ts';
import { createEngine } from '../../bridge/src/core/engine.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { event, fakeClock, fakeRegistry, harness, quietLogger, testConfig } from './helpers.ts';

async function delivered() {
  const h = await harness();
  const early = event('order.released', 'stock.picking:1', 1, { occurred_at: '2026-11-20T08:00:00Z' });
  const a1 = event('order.released', 'stock.picking:2', 1, { occurred_at: '2026-11-25T08:00:00Z' });
  const a2 = event('order.released', 'stock.picking:2', 2, { occurred_at: '2026-11-25T09:00:00Z' });
  const ship = event('shipment.requested', 'stock.picking:2', 3, { occurred_at: '2026-11-25T10:00:00Z' });
  await h.publish(early, a1, a2, ship);
  for (const e of [early, a1, a2, ship]) assert.is(await h.state(e.id), 'delivered');
  return { h, early, a1, a2, ship };
}

test('a dry run lists what would be sent and sends nothing', async () => {
  const { h, a1, a2 } = await delivered();
  const before = h.partner('wms').calls.length;
  const r = await h.engine.replayFrom({ partner: 'wms', since: '2026-11-24T00:00:00Z', dry_run: true, actor: 'ops' });
  assert.equal(r.steps.map((s) => s.event_id), [a1.id, a2.id], 'only events in the window, only the partner\'s steps');
  assert.is(r.dry_run, true);
  await h.engine.runDue();
  assert.is(h.partner('wms').calls.length, before);
});

test('a run sends each event once to that partner only, in order, with its own keys; the same run again sends nothing', async () => {
  const { h, a1, a2 } = await delivered();
  const wms = h.partner('wms');
  const ups = h.partner('ups');
  const [wmsBefore, upsBefore] = [wms.calls.length, ups.calls.length];
  const r = await h.engine.replayFrom({ partner: 'wms', since: '2026-11-24T00:00:00Z', run_id: 'onboard-1', actor: 'ops' });
  assert.is(r.steps.length, 2);
  await h.engine.runDue();
  const sent = wms.calls.slice(wmsBefore);
  assert.equal(sent.map((c) => [c.subject, c.key]), [[a1.id, `${a1.id}:wms:pit-onboard-1`], [a2.id, `${a2.id}:wms:pit-onboard-1`]]);
  assert.is(ups.calls.length, upsBefore, 'nothing to the other partners');
  for (const e of [a1, a2]) assert.is(await h.state(e.id), 'delivered');
  const again = await h.engine.replayFrom({ partner: 'wms', since: '2026-11-24T00:00:00Z', run_id: 'onboard-1', actor: 'ops' });
  assert.equal([again.steps.length, again.already_sent], [0, 2]);
  await h.engine.runDue();
  assert.is(wms.calls.length, wmsBefore + 2, 'the same run never sends twice');
  const audit = await h.engine.audit({ target: 'pit:onboard-1' });
  assert.match(audit.find((a) => a.action === 'replay')?.note ?? '', /point-in-time replay to wms: 2 steps/);
});

test('a point-in-time replay that fails goes to the dead-letter queue like any step', async () => {
  const { h, a1 } = await delivered();
  h.partner('wms').script = ['refuse'];
  await h.engine.replayFrom({ partner: 'wms', since: '2026-11-25T08:00:00Z', until: '2026-11-25T08:30:00Z', run_id: 'r2', actor: 'ops' });
  await h.engine.runDue();
  const dead = h.engine.deadLetters.get(a1.id);
  assert.is(dead?.state, 'dead');
  assert.equal(dead?.keys, [`${a1.id}:wms:pit-r2`]);
});

test('bad requests say what to fix', async () => {
  const { h } = await delivered();
  for (const [req, re] of [
    [{ partner: 'nope', since: '2026-11-24T00:00:00Z' }, /no partner "nope"/],
    [{ partner: 'wms', since: 'yesterday' }, /since must be an RFC 3339 time/],
    [{ partner: 'wms', since: '2026-11-24T00:00:00Z', until: '2026-11-23T00:00:00Z' }, /until must be .* after since/],
    [{ partner: 'wms', since: '2026-11-24T00:00:00Z', run_id: 'has spaces' }, /run_id/],
  ] as const) {
    try {
      await h.engine.replayFrom({ ...req, actor: 'ops' });
      assert.unreachable('should refuse');
    } catch (e) {
      assert.instance(e, ApiError);
      assert.is((e as ApiError).status, 400);
      assert.match((e as Error).message, re);
    }
  }
});

test('a replay interrupted by a crash resumes on its partner only: recovery does not plan the delivered event again', async () => {
  const config = testConfig({
    partners: [{ id: 'wms', adapter: 'fake-wms', role: 'warehouse', limits: { timeout_ms: 50 } }, { id: 'ups', adapter: 'fake-carrier', role: 'carrier', limits: { timeout_ms: 50 } }],
    routes: [{ events: ['return.requested'], partners: ['wms', 'ups'] }],
  });
  const clock1 = fakeClock();
  const store = createMemoryStore({ now: clock1.now });
  const h = await harness({ config, store, clock: clock1 });
  const ret = event('return.requested', 'stock.picking:9', 1, { occurred_at: '2026-11-25T08:00:00Z' });
  await h.publish(ret);
  assert.is(await h.state(ret.id), 'delivered');
  h.partner('ups').script = ['hang'];
  await h.engine.replayFrom({ partner: 'ups', since: '2026-11-25T00:00:00Z', run_id: 'r3', actor: 'ops' });
  for (let i = 0; i < 100 && h.partner('ups').calls.length < 2; i++) await new Promise((r) => setImmediate(r));
  assert.is(h.partner('ups').calls.length, 2, 'the replay call left (and hangs: the process dies here)');
  // A new process on the same data, with its own partners and clock.
  const clock2 = fakeClock(clock1.ms());
  const fakes = fakeRegistry(clock2);
  const second = createEngine({ store, config, registry: fakes.registry, logger: quietLogger(), io: { now: clock2.now, random: () => 0.5, setTimeout: clock2.setTimeout, clearTimeout: clock2.clearTimeout } });
  await second.start();
  clock2.advance(60_000);
  await second.runDue();
  assert.equal(fakes.partner('ups').calls.map((c) => c.key), [`${ret.id}:ups:pit-r3`], 'the interrupted replay call resumes with its key');
  assert.is(fakes.partner('wms').calls.length, 0, 'the delivered event is not planned again for the other partner');
  assert.is((await store.get(ret.id))?.state, 'delivered');
  await second.stop();
});

test.run();
