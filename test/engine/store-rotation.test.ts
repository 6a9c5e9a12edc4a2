/**
 * Found by the engine volume benchmark (and, separately, by the ingest work, which fixed it: one
 * rotation shared by concurrent writers): concurrent ingests while the current event segment fills
 * could both open the next segment, so events got the offsets of other events' bodies. Kept as a
 * regression test at the engine's volume.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEmbeddedStore } from '../../bridge/src/store/embedded.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

test('16 concurrent ingests across segment rotations keep every event\'s own body', async () => {
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
