/**
 * Found by the engine volume benchmark: concurrent ingests while the current event segment fills
 * can both open the next segment (embedded.ts `rotateIfFull` is not serialised), so events get the
 * offsets of other events' bodies: `get` returns another event or fails to parse, and the engine
 * then routes the wrong bodies. Owned by the store work (embedded.ts); kept here, skipped, until
 * that fix lands: remove `.skip` to check it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

test.skip('SKIPPED (store race, embedded.ts owner to fix): 16 concurrent ingests across segment rotations keep every event\'s own body', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rotation-'));
  try {
    const store = createEmbeddedStore({ dir, pruneEveryMs: 0, segmentBytes: 256 << 10 });
    await store.open();
    const batches = Array.from({ length: 200 }, () => Array.from({ length: 50 }, () => sampleEvent()));
    for (let i = 0; i < batches.length; i += 16) await Promise.all(batches.slice(i, i + 16).map((b) => store.ingest(b)));
    for (const e of batches.flat()) assert.is((await store.get(e.id).catch(() => undefined))?.event.id, e.id);
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
