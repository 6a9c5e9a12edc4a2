/**
 * What the ingest keeps of a frame once its events are stored: the index holds ids and aggregates
 * as JSON.parse made them, so if a V8 ever returned those strings as slices of the frame text,
 * every received frame would stay in memory. This measures it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { publishEvents } from '../../bridge/src/ingest/publish.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapAfterGc = () => { gc(); gc(); return process.memoryUsage().heapUsed; };

test('stored events keep no received frame alive', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'olb-mem-'));
  const store = createEmbeddedStore({ dir, pruneEveryMs: 0 });
  await store.open();
  const frames = 40, perFrame = 50, notes = 'n'.repeat(20_000);
  const before = heapAfterGc();
  for (let f = 0; f < frames; f++) {
    const events = Array.from({ length: perFrame }, () => ({ ...sampleEvent({ aggregate: `stock.picking:${crypto.randomUUID()}` }), payload: { ...sampleEvent().payload, notes } }));
    const frame = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: f, method: 'events.publish', params: { events } }));
    const parsed = JSON.parse(frame.toString('utf8'));
    const r = await publishEvents(store, parsed.params.events, frame);
    assert.is(r.accepted.length, perFrame);
  }
  const kept = heapAfterGc() - before;
  const received = frames * perFrame * notes.length;
  // Ids, aggregates and index columns are a few hundred bytes per event; a kept frame would be ~1 MB each.
  assert.ok(kept < received / 10, `kept ${(kept / 1e6).toFixed(1)} MB after receiving ${(received / 1e6).toFixed(0)} MB`);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
