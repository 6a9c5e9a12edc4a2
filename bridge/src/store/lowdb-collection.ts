/**
 * Small mutable collections on lowdb. lowdb rewrites its whole file on each write, so writes are
 * coalesced (all changes made while a write is in flight go out in the next one) and owners keep
 * these files small by deleting finished rows.
 */
import { Low, type Adapter } from 'lowdb';
import { Memory } from 'lowdb';
import { open, rename, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Collection } from './types.ts';

type Data<T> = { records: Record<string, T> };

/** A lowdb adapter that writes a temp file, optionally fdatasyncs it, then renames it into place. */
export class DurableJsonFile<T> implements Adapter<T> {
  /** The folder exists (made once: a mkdir per write was a syscall per outbox change). */
  private made = false;
  constructor(private readonly path: string, private readonly fsync: boolean) {}
  async read(): Promise<T | null> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as T;
    } catch (e: any) {
      if (e?.code === 'ENOENT') return null;
      throw new Error(`cannot read ${this.path}: ${e?.message ?? e}`, { cause: e });
    }
  }
  async write(data: T): Promise<void> {
    if (!this.made) {
      await mkdir(dirname(this.path), { recursive: true });
      this.made = true;
    }
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(data));
      if (this.fsync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
  }
}

/** Serialises `write` calls and folds every request made during a write into the next one. */
export function coalesce(write: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;
  const run = (): Promise<void> => {
    running = write().finally(() => { running = null; });
    return running;
  };
  return () => {
    if (!running) return run();
    if (!next) next = running.catch(() => {}).then(() => { next = null; return run(); });
    return next;
  };
}

/** Opens a lowdb-backed collection; `path` undefined keeps it in memory. */
export async function openLowdbCollection<T extends { id: string }>(path: string | undefined, fsync: boolean): Promise<Collection<T>> {
  const adapter: Adapter<Data<T>> = path ? new DurableJsonFile<Data<T>>(path, fsync) : new Memory<Data<T>>();
  const db = new Low<Data<T>>(adapter, { records: {} });
  await db.read();
  db.data ??= { records: {} };
  const flush = coalesce(() => db.write());
  return {
    get: (id) => db.data.records[id],
    all: () => Object.values(db.data.records),
    async put(records) {
      for (const r of records) db.data.records[r.id] = r;
      await flush();
    },
    async delete(ids) {
      for (const id of ids) delete db.data.records[id];
      await flush();
    },
  };
}
