/** Reads the shared contract fixtures that both the bridge and the Odoo addon test against. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES_DIR = join(import.meta.dirname, '..', '..', 'shared', 'fixtures');

/** Every JSON file in shared/fixtures/<kind>/<validity>, by file name without extension. */
export function loadFixtures<T = any>(kind: 'events' | 'milestones', validity: 'valid' | 'invalid'): [string, T][] {
  const dir = join(FIXTURES_DIR, kind, validity);
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(dir, f), 'utf8')) as T]);
}

/** A valid event with a fresh id (and optionally another aggregate/sequence), for tests that store many. */
export function sampleEvent(overrides: Record<string, unknown> = {}): any {
  const base = loadFixtures('events', 'valid').find(([n]) => n === 'order.released')![1];
  return { ...structuredClone(base), id: crypto.randomUUID(), ...overrides };
}
