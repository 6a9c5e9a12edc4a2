/**
 * Group commit for a database: one write in flight at a time; everything pushed meanwhile goes out
 * in the next single write (one round trip per batch, however many callers). The file logs do the
 * same with known offsets in batch-writer.ts.
 */
export interface GroupCommit<I> {
  /** Resolves once the write holding these items has committed; rejects if it failed. */
  push(items: I[]): Promise<void>;
  /** Resolves once everything pushed so far is written (or failed). */
  idle(): Promise<void>;
}

/** `write` gets every item pushed since the last write started, in push order. */
export function groupCommit<I>(write: (items: I[]) => Promise<void>): GroupCommit<I> {
  let queue: { items: I[]; resolve: () => void; reject: (e: unknown) => void }[] = [];
  let running: Promise<void> | undefined;

  async function flush() {
    while (queue.length) {
      const batch = queue;
      queue = [];
      try {
        await write(batch.flatMap((b) => b.items));
        for (const b of batch) b.resolve();
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    running = undefined;
  }

  return {
    push(items) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ items, resolve, reject });
        running ??= new Promise<void>((r) => setImmediate(r)).then(flush);
      });
    },
    async idle() {
      while (running) await running;
    },
  };
}
