/**
 * Shadow runs inside a running bridge: over the events it has stored (a time window, optionally some
 * types) against a legacy feed posted by an operator; the reports are kept (the last 20) for the
 * dashboard's Cutover page and the operator API. Nothing is sent to any partner (shadow.ts).
 */
import type { AdapterFactory } from '../adapters/types.ts';
import type { Config } from '../config/load.ts';
import { ApiError } from '../errors.ts';
import type { Store } from '../store/types.ts';
import { eventsOccurredIn } from '../store/event-window.ts';
import { parseLegacyFeed, shadowRun, type LegacyRequest, type ShadowReport } from './shadow.ts';

export const SHADOW_REPORTS = 'shadow_reports';
const KEEP = 20;
const MAX_ITEMS = 500;

export interface StoredShadowReport extends ShadowReport {
  id: string;
  actor: string;
  window: { since: string; until: string; types?: string[] };
  /** Items beyond MAX_ITEMS are counted but not kept. */
  truncated?: boolean;
}

export interface ShadowRequest {
  partner: string;
  since: string;
  until?: string;
  types?: string[];
  /** The legacy requests, as objects or as the JSON Lines text the old integration logged. */
  legacy: LegacyRequest[] | string;
  ignore?: string[];
  actor: string;
}

export function shadowReports(o: { store: Store; config: Config; registry: Record<string, AdapterFactory>; now?: () => Date }) {
  const now = o.now ?? (() => new Date());
  const reports = () => o.store.collection<StoredShadowReport>(SHADOW_REPORTS);

  return {
    async run(r: ShadowRequest): Promise<StoredShadowReport> {
      const since = Date.parse(r.since);
      const until = r.until === undefined ? now().getTime() : Date.parse(r.until);
      if (Number.isNaN(since)) throw new ApiError(400, 'invalid_request', 'since must be an RFC 3339 time', 'since');
      if (Number.isNaN(until) || until <= since) throw new ApiError(400, 'invalid_request', 'until must be an RFC 3339 time after since', 'until');
      let legacy: LegacyRequest[];
      try {
        legacy = typeof r.legacy === 'string' ? parseLegacyFeed(r.legacy) : parseLegacyFeed(r.legacy.map((l) => JSON.stringify(l)).join('\n'));
      } catch (e) {
        throw new ApiError(400, 'invalid_request', (e as Error).message, 'legacy');
      }
      const window = { since: new Date(since).toISOString(), until: new Date(until).toISOString(), ...(r.types?.length && { types: r.types }) };
      const events = await eventsOccurredIn(o.store, { since: window.since, until: window.until, types: r.types?.length ? new Set(r.types) : undefined });
      let report: ShadowReport;
      try {
        report = await shadowRun({ config: o.config, registry: o.registry, partnerId: r.partner, events, legacy, ignore: r.ignore, now });
      } catch (e) {
        throw new ApiError(400, 'invalid_request', (e as Error).message, 'partner');
      }
      const stored: StoredShadowReport = {
        ...report, id: `${report.at.replace(/[^0-9]/g, '').slice(0, 14)}-${crypto.randomUUID().slice(0, 8)}`, actor: r.actor, window,
        items: report.items.slice(0, MAX_ITEMS), ...(report.items.length > MAX_ITEMS && { truncated: true }),
      };
      const all = reports().all();
      await reports().put([stored]);
      const old = all.slice(0, Math.max(0, all.length + 1 - KEEP)).map((x) => x.id);
      if (old.length) await reports().delete(old);
      return stored;
    },
    /** Newest first. */
    list: (): StoredShadowReport[] => [...reports().all()].reverse(),
    get: (id: string) => reports().get(id),
  };
}
export type ShadowReports = ReturnType<typeof shadowReports>;
