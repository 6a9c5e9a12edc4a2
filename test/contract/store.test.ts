/** One suite every Store implementation passes. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PENDING_STATES, type CountsQuery, type EventCounts, type Store } from '../../bridge/src/store/types.ts';
import { addCount, ageBucket, emptyCounts } from '../../bridge/src/store/event-counts.ts';
import { createEmbeddedStore, type EmbeddedStoreOptions } from '../../bridge/src/store/embedded.ts';
import { createMemoryStore } from '../../bridge/src/store/memory.ts';
import { createPostgresStore } from '../../bridge/src/store/postgres.ts';
import { postgresForTests, type TestPostgres } from '../helpers/postgres.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

type Maker = { name: string; prepare?: () => Promise<boolean>; cleanUp?: () => Promise<void>; make: (o?: Omit<EmbeddedStoreOptions, 'dir'>) => { store: Store; reopen?: () => Store; dir?: string } };

const makers: Maker[] = [
  { name: 'memory', make: (o) => ({ store: createMemoryStore(o) }) },
  {
    name: 'embedded (lowdb + segments)',
    make: (o) => {
      const dir = mkdtempSync(join(tmpdir(), 'olb-store-'));
      return { store: createEmbeddedStore({ ...o, dir, pruneEveryMs: 0 }), reopen: () => createEmbeddedStore({ ...o, dir, pruneEveryMs: 0 }), dir };
    },
  },
];

let pg: TestPostgres | undefined;
makers.push({
  name: 'postgres',
  prepare: async () => { pg = await postgresForTests('store contract suite'); return pg !== undefined; },
  make: (o) => {
    const schema = pg!.freshSchema();
    const open = () => createPostgresStore({ url: pg!.url, schema, retentionMs: o?.retentionMs, now: o?.now, pruneEveryMs: 0 });
    return { store: open(), reopen: open };
  },
  cleanUp: async () => { await pg?.dropSchemas(); },
});

/** What `counts` must answer, worked out from the full bodies `unfinished()` reads. */
async function countsFromUnfinished(store: Store, q: Required<CountsQuery>): Promise<EventCounts> {
  const out = emptyCounts(q.ageBoundsSeconds);
  const list = await store.unfinished();
  for (const e of list) addCount(out, e.state, e.error_class, ageBucket(Math.max(0, (q.now.getTime() - Date.parse(e.received_at)) / 1000), q.ageBoundsSeconds));
  const oldest = list.filter((e) => PENDING_STATES.has(e.state)).sort((a, b) => Date.parse(a.received_at) - Date.parse(b.received_at))[0];
  if (oldest) out.oldestPending = { id: oldest.event.id, type: oldest.event.type, aggregate: oldest.event.aggregate, state: oldest.state, received_at: oldest.received_at };
  return out;
}

for (const { name, make, prepare, cleanUp } of makers) {
  const s = suite(`store: ${name}`);
  let available = true;
  s.before(async () => { if (prepare) available = await prepare(); });
  s.after(async () => { await cleanUp?.(); });
  /** A test of this suite; a store whose server is unavailable skips it (postgresForTests printed why). */
  const test = (title: string, body: () => Promise<void>) => s(title, async () => { if (available) await body(); });

  test('accepts new events and reports the same ids as duplicates later', async () => {
    const { store } = make(); await store.open();
    const a = sampleEvent(), b = sampleEvent();
    assert.equal(await store.ingest([a, b]), { accepted: [a.id, b.id], duplicates: [] });
    assert.equal(await store.ingest([a]), { accepted: [], duplicates: [a.id] });
    const got = await store.get(a.id);
    assert.equal(got?.event, a);
    assert.is(got?.state, 'received');
    assert.is(got?.attempts, 0);
    await store.close();
  });

  test('stores an id once when it is sent twice in one batch or in concurrent calls', async () => {
    const { store } = make(); await store.open();
    const a = sampleEvent();
    const inBatch = await store.ingest([a, a]);
    assert.equal(inBatch, { accepted: [a.id], duplicates: [a.id] });
    const b = sampleEvent();
    const results = await Promise.all(Array.from({ length: 5 }, () => store.ingest([b])));
    assert.is(results.filter((r) => r.accepted.includes(b.id)).length, 1);
    assert.is(results.filter((r) => r.duplicates.includes(b.id)).length, 4);
    const page = await store.list({ limit: 100 });
    assert.is(page.items.filter((i) => i.event.id === b.id).length, 1);
    await store.close();
  });

  test('answers undefined for an unknown id', async () => {
    const { store } = make(); await store.open();
    assert.is(await store.get(crypto.randomUUID()), undefined);
    await store.close();
  });

  test('lists by state, type and aggregate with a cursor', async () => {
    const { store } = make(); await store.open();
    const evs = Array.from({ length: 7 }, (_, i) => sampleEvent({ aggregate: `stock.picking:${i % 2}`, sequence: i + 1 }));
    await store.ingest(evs);
    await store.setStatus(evs[3].id, { state: 'dead', last_error: 'address refused' });
    const p1 = await store.list({ limit: 3 });
    assert.equal(p1.items.map((i) => i.event.id), evs.slice(0, 3).map((e) => e.id));
    const p2 = await store.list({ limit: 3, cursor: p1.next_cursor });
    assert.equal(p2.items.map((i) => i.event.id), evs.slice(3, 6).map((e) => e.id));
    const p3 = await store.list({ limit: 3, cursor: p2.next_cursor });
    assert.equal(p3.items.map((i) => i.event.id), [evs[6].id]);
    assert.is(p3.next_cursor, undefined);
    assert.equal((await store.list({ limit: 10, state: 'dead' })).items.map((i) => i.event.id), [evs[3].id]);
    assert.is((await store.list({ limit: 10, aggregate: 'stock.picking:1' })).items.length, 3);
    assert.is((await store.list({ limit: 10, type: 'order.cancelled' })).items.length, 0);
    await store.close();
  });

  test('records status changes and lists unfinished events in arrival order', async () => {
    const { store } = make(); await store.open();
    const evs = [sampleEvent(), sampleEvent(), sampleEvent()];
    await store.ingest(evs);
    const updated = await store.setStatus(evs[0].id, { state: 'delivered', attempts: 1 });
    assert.is(updated.state, 'delivered');
    await store.setStatus(evs[2].id, { state: 'retrying', attempts: 2, last_error: 'HTTP 503' });
    const open = await store.unfinished();
    assert.equal(open.map((o) => o.event.id), [evs[1].id, evs[2].id]);
    assert.is(open[1].last_error, 'HTTP 503');
    try { await store.setStatus(crypto.randomUUID(), { state: 'dead' }); assert.unreachable(); } catch (e: any) { assert.match(e.message, /unknown event/); }
    await store.close();
  });

  test('patchStatus records a change as setStatus does (fields cleared with undefined, last change of a burst wins), without reading the event back', async () => {
    const { store } = make(); await store.open();
    const evs = [sampleEvent(), sampleEvent()];
    await store.ingest(evs);
    assert.is(await store.patchStatus(evs[0].id, { state: 'retrying', attempts: 1, last_error: 'HTTP 503', error_class: 'technical' }), undefined);
    // Concurrent changes of one event (the engine does not wait between them): applied in call order.
    await Promise.all([
      store.patchStatus(evs[0].id, { state: 'delivering', attempts: 2 }),
      store.patchStatus(evs[0].id, { state: 'delivered', last_error: undefined, error_class: undefined }),
      store.patchStatus(evs[1].id, { state: 'blocked', blocked_by: evs[0].id }),
    ]);
    const a = (await store.get(evs[0].id))!;
    assert.equal([a.state, a.attempts, a.last_error ?? undefined, a.error_class ?? undefined], ['delivered', 2, undefined, undefined]);
    assert.is((await store.get(evs[1].id))!.blocked_by, evs[0].id);
    assert.equal((await store.unfinished()).map((o) => o.event.id), [evs[1].id]);
    try { await store.patchStatus(crypto.randomUUID(), { state: 'dead' }); assert.unreachable(); } catch (e: any) { assert.match(e.message, /unknown event/); }
    await store.close();
  });

  test('counts unfinished events by state, age and error class as unfinished() lists them, through status changes and a reopen', async () => {
    let clock = Date.parse('2026-03-01T08:00:00.000Z');
    const m = make({ now: () => new Date(clock) });
    await m.store.open();
    const evs: ReturnType<typeof sampleEvent>[] = [];
    // Four batches received an hour apart, so the age buckets differ.
    for (let i = 0; i < 4; i++) {
      const batch = Array.from({ length: 5 }, () => sampleEvent());
      await m.store.ingest(batch);
      evs.push(...batch);
      clock += 3_600_000;
    }
    const q = { now: new Date(clock), ageBoundsSeconds: [60, 5_000, 9_000] };
    assert.equal(await m.store.counts(q), await countsFromUnfinished(m.store, q));
    assert.is((await m.store.counts(q)).byState.received.count, 20);
    assert.is((await m.store.counts(q)).oldestPending?.id, evs[0].id);
    await m.store.setStatus(evs[0].id, { state: 'delivered' });
    await m.store.setStatus(evs[1].id, { state: 'dead', error_class: 'business', last_error: 'bad address' });
    await m.store.setStatus(evs[2].id, { state: 'manual' });
    await m.store.setStatus(evs[3].id, { state: 'retrying', attempts: 2 });
    await m.store.setStatus(evs[6].id, { state: 'discarded' });
    await m.store.setStatus(evs[7].id, { state: 'dead', error_class: 'technical' });
    await m.store.setStatus(evs[7].id, { state: 'queued', error_class: undefined }); // replayed
    await m.store.setStatus(evs[8].id, { state: 'blocked', blocked_by: evs[7].id });
    const counts = await m.store.counts(q);
    assert.equal(counts, await countsFromUnfinished(m.store, q));
    assert.equal(counts.deadLetters, { dead: { business: 1, technical: 0 }, manual: { business: 0, technical: 1 } });
    assert.equal(counts.byState.retrying, { count: 1, ages: [0, 0, 0, 1] });
    assert.is(counts.oldestPending?.id, evs[3].id, 'the oldest still on its way, not the dead or delivered ones');
    assert.equal((await m.store.counts()).byState.received.ages.length, 1, 'no bounds asked: one bucket');
    if (m.reopen) {
      await m.store.close();
      const again = m.reopen(); await again.open();
      assert.equal(await again.counts(q), counts, 'the same counts after a reopen');
      await again.setStatus(evs[3].id, { state: 'delivered' });
      assert.equal(await again.counts(q), await countsFromUnfinished(again, q));
      await again.close();
    } else await m.store.close();
    if (m.dir) rmSync(m.dir, { recursive: true, force: true });
  });

  test('tells listeners about accepted events only', async () => {
    const { store } = make(); await store.open();
    const heard: string[] = [];
    store.onAccepted((evs) => heard.push(...evs.map((e) => e.id)));
    const a = sampleEvent();
    await store.ingest([a]);
    await store.ingest([a]);
    assert.equal(heard, [a.id]);
    await store.close();
  });

  test('keeps collections and logs', async () => {
    const { store } = make(); await store.open();
    const jobs = store.collection<{ id: string; n: number }>('jobs');
    await jobs.put([{ id: 'a', n: 1 }, { id: 'b', n: 2 }]);
    await jobs.put([{ id: 'a', n: 3 }]);
    await jobs.delete(['b']);
    assert.equal(jobs.all(), [{ id: 'a', n: 3 }]);
    assert.is(store.collection('jobs'), jobs);
    const audit = store.log<{ event_id: string; what: string }>('audit');
    await audit.append([{ event_id: 'x', what: 'replay' }, { event_id: 'y', what: 'discard' }]);
    assert.equal(await audit.query((e) => e.event_id === 'y'), [{ event_id: 'y', what: 'discard' }]);
    await store.close();
  });

  test('prune forgets finished events past retention and keeps unfinished ones', async () => {
    let clock = new Date('2026-01-01T00:00:00Z');
    const { store } = make({ retentionMs: 1000, now: () => clock, segmentBytes: 2048 }); await store.open();
    const evs = Array.from({ length: 6 }, () => sampleEvent());
    await store.ingest(evs);
    await store.setStatus(evs[0].id, { state: 'delivered' });
    await store.setStatus(evs[1].id, { state: 'dead' });
    clock = new Date('2026-01-01T00:00:05Z');
    await store.ingest([sampleEvent()]); // a later segment, so the old ones are sealed
    assert.is(await store.prune(clock), 1);
    assert.is(await store.get(evs[0].id), undefined);
    assert.is((await store.get(evs[1].id))?.state, 'dead');
    assert.is((await store.get(evs[1].id))?.event.id, evs[1].id);
    // past retention the id may come back (Odoo would only resend within it)
    assert.equal((await store.ingest([evs[0]])).accepted, [evs[0].id]);
    await store.close();
  });

  test('reads back every event of concurrent batches written across segment rotations, before and after a reopen', async () => {
    const m = make({ segmentBytes: 4096 });
    await m.store.open();
    const batches = Array.from({ length: 12 }, () => Array.from({ length: 4 }, () => sampleEvent()));
    for (let round = 0; round < 3; round++) await Promise.all(batches.slice(round * 4, round * 4 + 4).map((b) => m.store.ingest(b)));
    const check = async (store: Store) => {
      for (const e of batches.flat()) assert.equal((await store.get(e.id))?.event, e, `${e.id} reads back as stored`);
    };
    await check(m.store);
    await m.store.close();
    if (!m.reopen) return;
    const again = m.reopen(); await again.open();
    await check(again);
    assert.is((await again.list({ limit: 500 })).items.length, 48);
    await again.close();
    if (m.dir) rmSync(m.dir, { recursive: true, force: true });
  });

  test('keeps events given as received text byte for byte (serialising them when the text has a line break)', async () => {
    const m = make();
    await m.store.open();
    const spaced = [sampleEvent(), sampleEvent()];
    const pretty = sampleEvent();
    const texts = (es: unknown[], write: (e: unknown) => string) => {
      const parts = es.map(write);
      const bytes = Buffer.from(`[${parts.join(',')}]`);
      const starts: number[] = [], ends: number[] = [];
      let at = 1;
      for (const p of parts) { starts.push(at); at += Buffer.byteLength(p); ends.push(at); at += 1; }
      return { bytes, starts, ends };
    };
    const python = (e: unknown) => JSON.stringify(e).replace(/","|":"/g, (x) => x.replace(',', ', ').replace(':', ': '));
    assert.equal((await m.store.ingest(spaced, texts(spaced, python))).accepted, spaced.map((e) => e.id));
    assert.equal((await m.store.ingest([pretty], texts([pretty], (e) => JSON.stringify(e, null, 2)))).accepted, [pretty.id]);
    for (const e of [...spaced, pretty]) assert.equal((await m.store.get(e.id))?.event, e);
    if (m.dir) {
      const onDisk = readdirSync(join(m.dir, 'events')).map((f) => readFileSync(join(m.dir!, 'events', f), 'utf8')).join('');
      assert.ok(onDisk.includes(python(spaced[1])), 'the received text is on disk as it came');
      assert.is(onDisk.split('\n').filter(Boolean).length, 3, 'one line per event');
    }
    await m.store.close();
    if (!m.reopen) return;
    const again = m.reopen(); await again.open();
    for (const e of [...spaced, pretty]) assert.equal((await again.get(e.id))?.event, e);
    await again.close();
    if (m.dir) rmSync(m.dir, { recursive: true, force: true });
  });

  test('a collection changed by concurrent callers ends as if the changes were made one by one, also after a reopen', async () => {
    const m = make();
    await m.store.open();
    const c = m.store.collection<{ id: string; n: number }>('outbox');
    await c.put([{ id: 'a', n: 0 }, { id: 'b', n: 0 }]);
    await Promise.all([
      c.put([{ id: 'a', n: 1 }]), c.delete(['b']), c.put([{ id: 'c', n: 1 }]), c.put([{ id: 'a', n: 2 }]),
      c.put([{ id: 'b', n: 3 }]), c.delete(['c']), c.put([{ id: 'd', n: 4 }, { id: 'd', n: 5 }]),
    ]);
    const expected = [{ id: 'a', n: 2 }, { id: 'b', n: 3 }, { id: 'd', n: 5 }];
    const byId = (rs: { id: string }[]) => [...rs].sort((x, y) => x.id.localeCompare(y.id));
    assert.equal(byId(c.all()), expected);
    await m.store.close();
    if (m.reopen) {
      const again = m.reopen(); await again.open();
      assert.equal(byId(again.collection<{ id: string; n: number }>('outbox').all()), expected);
      await again.close();
    }
    if (m.dir) rmSync(m.dir, { recursive: true, force: true });
  });

  test('survives a reopen with events, statuses and collections intact', async () => {
    const m = make();
    if (!m.reopen) { console.log('  skipped for memory store: nothing outlives the process'); return; }
    await m.store.open();
    const evs = Array.from({ length: 3 }, () => sampleEvent());
    await m.store.ingest(evs);
    await m.store.setStatus(evs[1].id, { state: 'retrying', attempts: 1, last_error: 'timeout' });
    await m.store.setStatus(evs[0].id, { state: 'blocked', blocked_by: evs[1].id, last_error: 'waiting' });
    await m.store.setStatus(evs[0].id, { state: 'queued', blocked_by: undefined, last_error: undefined });
    await m.store.collection<{ id: string }>('outbox').put([{ id: 'm1' }]);
    await m.store.close();
    const again = m.reopen(); await again.open();
    assert.is((await again.get(evs[1].id))?.state, 'retrying');
    const cleared = await again.get(evs[0].id);
    assert.is(cleared?.state, 'queued');
    assert.is(cleared?.blocked_by, undefined, 'a field cleared with undefined stays cleared after a restart');
    assert.is(cleared?.last_error, undefined);
    assert.equal((await again.ingest(evs)).duplicates, evs.map((e) => e.id));
    assert.equal(again.collection('outbox').all(), [{ id: 'm1' }]);
    await again.close();
    if (m.dir) rmSync(m.dir, { recursive: true, force: true });
  });

  test('cuts a torn last line left by a crash mid-write and loses nothing acknowledged', async () => {
    const m = make();
    if (!m.dir) { console.log(`  skipped for ${name} store: no file to tear`); return; }
    await m.store.open();
    const a = sampleEvent();
    await m.store.ingest([a]);
    await m.store.close();
    const dir = join(m.dir!, 'events');
    appendFileSync(join(dir, readdirSync(dir)[0]), '{"t":"e","n":99,"event":{"id":"half');
    const again = m.reopen!(); await again.open();
    assert.ok(await again.get(a.id));
    const b = sampleEvent();
    await again.ingest([b]);
    await again.close();
    const third = m.reopen!(); await third.open();
    assert.ok(await third.get(b.id), 'event written after the torn tail is readable');
    await third.close();
    rmSync(m.dir!, { recursive: true, force: true });
  });

  s.run();
}
