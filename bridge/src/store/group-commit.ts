/**
 * Group commit: one write in flight at a time; everything pushed meanwhile goes out in the next
 * single write (one round trip or one append per batch of callers, however many). The PostgreSQL
 * logs use it as it is; the file logs (batch-writer.ts) add known offsets on top.
 */
export interface GroupCommit<I, R = void> {
  /** Resolves once the write holding these items has committed, with its result for them; rejects if it failed. */
  push(items: I[]): Promise<R>;
  /** Resolves once everything pushed so far is written (or failed). */
  idle(): Promise<void>;
}

/** `write` gets each caller's items pushed since the last write started, in push order, and answers one result per caller. */
export function groupCommitBatches<I, R>(write: (batches: I[][]) => Promise<R[]>): GroupCommit<I, R> {
  let queue: { items: I[]; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  let running: Promise<void> | undefined;

  async function flush() {
    while (queue.length) {
      const batch = queue;
      queue = [];
      try {
        const results = await write(batch.map((b) => b.items));
        batch.forEach((b, i) => b.resolve(results[i]));
      } catch (e) {
        for (const b of batch) b.reject(e);
      }
    }
    running = undefined;
  }

  return {
    push(items) {
      return new Promise<R>((resolve, reject) => {
        queue.push({ items, resolve, reject });
        running ??= new Promise<void>((r) => setImmediate(r)).then(flush);
      });
    },
    async idle() {
      while (running) await running;
    },
  };
}

/** `write` gets every item pushed since the last write started, in push order. */
export function groupCommit<I>(write: (items: I[]) => Promise<void>): GroupCommit<I> {
  return groupCommitBatches<I, void>(async (batches) => {
    await write(batches.flat());
    return batches.map(() => undefined);
  });
}
