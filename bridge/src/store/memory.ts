/** An in-memory store with the embedded store's exact behaviour, for tests. */
import { createEmbeddedStore, type EmbeddedStoreOptions } from './embedded.ts';
import type { Store } from './types.ts';

/** Same logic as the embedded store, nothing on disk. Call `open()` before use. */
export function createMemoryStore(options: Omit<EmbeddedStoreOptions, 'dir'> = {}): Store {
  return createEmbeddedStore({ ...options, dir: undefined, pruneEveryMs: options.pruneEveryMs ?? 0 });
}
