/**
 * The inbound webhook gateway: size cap, verification on the raw body, dedup by the sender's
 * delivery id over its retry span, mapping to canonical milestones, forward-only shipment
 * status, and hand-over to the write-back queue. Plain functions; routes/webhooks.ts is the HTTP skin.
 *
 * A partner may send the same fact again under a new delivery id (a re-sent tracker event, a
 * second subscription): facts are also remembered by their content key (aggregate, shipment,
 * status, time), so a repeat is answered as a duplicate and neither applied nor notified again.
 *
 * Order matters for "nothing accepted is lost": a delivery is marked as received only after
 * `enqueueMilestones` resolved; if it throws, the sender gets 503 and retries.
 */
import { createHash } from 'node:crypto';
import { checkMilestone, SHIPMENT_STATUS_RANK, type Milestone } from '../../../shared/src/index.ts';
import { webhookSecrets } from '../adapters/common.ts';
import { PartnerError, type AdapterFactory, type InboundMapper, type PartnerSettings } from '../adapters/types.ts';
import type { Collection, Store } from '../store/types.ts';
import type { KeyedCollectionSpec } from '../store/keyed-collection.ts';
import type { Logger } from '../log.ts';
import { SHIPMENT_REFS_COLLECTION, shipmentRefs, type ShipmentRefs } from './refs.ts';
import { verifyInbound } from './verify.ts';

export interface GatewayDeps {
  /** The configured partner by id (secrets resolved), or undefined. */
  partner(id: string): PartnerSettings | undefined;
  /** Adapter factories by adapter key (the adapter registry). */
  registry: Record<string, AdapterFactory>;
  store: Pick<Store, 'collection' | 'log'>;
  /**
   * The engine's intake (engine.acceptMilestones): resolves once the milestones are durably queued
   * for write-back. It may answer which ones it refused (ownership); they are reported, not retried.
   */
  enqueueMilestones(milestones: Milestone[], from: { partner: string }): Promise<void | { refused?: { id?: string; reason: string }[] }>;
  now?: () => Date;
  /** Largest body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** How long a delivery id is remembered (default 7 days, beyond EasyPost/AfterShip/Standard Webhooks retry spans). */
  dedupRetentionMs?: number;
  /** Shared with the engine so label.created milestones it enqueues are known here. */
  refs?: ShipmentRefs;
  /** The bridge's pino logger (verification failures, parked and refused webhooks). */
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Shipment statuses and references are forgotten after this long without news (default 180 days). */
  shipmentRetentionMs?: number;
  /**
   * The store's receipts, statuses and references forget old rows themselves (keyed collections
   * with a retention, see gatewayCollections): the gateway then skips its hourly scan of them.
   */
  retainedByStore?: boolean;
}

export interface GatewayAnswer {
  status: number;
  body: Record<string, unknown> | null;
}

interface Receipt { id: string; at: string }
interface StatusRow { id: string; type: string; rank: number; occurred_at: string; milestone_id: string }
/** A verified webhook about a shipment not known yet; retried as references arrive, kept for an operator meanwhile. */
interface Parked { id: string; partner: string; delivery_id: string; received_at: string; reason: string; body: string; attempts: number }

export const DEFAULT_MAX_BODY = 1024 * 1024;
/** Store collection of parked webhooks (verified, about shipments not known yet). */
export const PARKED_COLLECTION = 'webhook_parked';
/** Store collection of delivery ids seen (dedup), a row per webhook. */
export const RECEIPTS_COLLECTION = 'webhook_receipts';
/** Store collection of the forward-only status per shipment. */
export const SHIPMENT_STATUS_COLLECTION = 'shipment_status';
const DAY = 24 * 3600_000;
const DEFAULT_DEDUP_RETENTION_MS = 7 * DAY;
const DEFAULT_SHIPMENT_RETENTION_MS = 180 * DAY;

/**
 * The gateway's collections that grow with traffic, with the time each row is stamped with and how
 * long it is kept: for a store view that keeps them in keyed logs (withKeyedCollections), together
 * with `retainedByStore: true`. Parked webhooks are not among them: they are few, and read whole
 * on every delivery, which a keyed log would answer from disk.
 */
export function gatewayCollections(o: Pick<GatewayDeps, 'dedupRetentionMs' | 'shipmentRetentionMs'> = {}): Record<string, KeyedCollectionSpec<any>> {
  return {
    [RECEIPTS_COLLECTION]: { stamp: (r: Receipt) => Date.parse(r.at) || 0, retentionMs: o.dedupRetentionMs ?? DEFAULT_DEDUP_RETENTION_MS },
    [SHIPMENT_STATUS_COLLECTION]: { stamp: (r: StatusRow) => Date.parse(r.occurred_at) || 0, retentionMs: o.shipmentRetentionMs ?? DEFAULT_SHIPMENT_RETENTION_MS },
  };
}

/** Reads a request body up to `max` bytes; `undefined` when it is larger (the rest is not read). */
export async function readCapped(req: Request, max: number): Promise<Buffer | undefined> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > max) return undefined;
  if (!req.body) return Buffer.alloc(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * The content key of a fact: who said it, about which shipment (or SKU), what, and when it
 * happened. Not the milestone id (mappers may derive it from the delivery id) nor free text.
 */
export function factKey(partnerId: string, m: Milestone): string {
  const p = m.payload as { shipment_ref?: string; picking_ref?: string; tracking_number?: string; sku?: string; warehouse?: string; invoice_ref?: string };
  const subject = p.shipment_ref ?? p.picking_ref ?? p.tracking_number ?? (p.sku !== undefined ? `${p.warehouse}/${p.sku}` : undefined);
  // Without a subject the whole payload is the fact.
  const what = subject ?? JSON.stringify(m.payload);
  const parcel = (m.payload as { parcel?: { index: number } }).parcel?.index ?? '';
  const digest = createHash('sha256').update([m.aggregate, m.type, what, p.invoice_ref ?? '', parcel, Date.parse(m.occurred_at)].join('|')).digest('base64url').slice(0, 32);
  return `${partnerId}:fact:${digest}`;
}

export function createGateway(deps: GatewayDeps) {
  const now = deps.now ?? (() => new Date());
  const max = deps.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const retention = deps.dedupRetentionMs ?? DEFAULT_DEDUP_RETENTION_MS;
  const receipts: Collection<Receipt> = deps.store.collection<Receipt>(RECEIPTS_COLLECTION);
  const statuses: Collection<StatusRow> = deps.store.collection<StatusRow>(SHIPMENT_STATUS_COLLECTION);
  const parked: Collection<Parked> = deps.store.collection<Parked>(PARKED_COLLECTION);
  let lastUnpark = 0;
  const refs = deps.refs ?? shipmentRefs(deps.store);
  const log = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => deps.logger?.[level](fields, msg);
  const shipmentRetention = deps.shipmentRetentionMs ?? DEFAULT_SHIPMENT_RETENTION_MS;
  const inFlight = new Set<string>();
  const mappers = new WeakMap<PartnerSettings, InboundMapper>();
  let lastPrune = 0;

  function mapperFor(settings: PartnerSettings): InboundMapper | undefined {
    let m = mappers.get(settings);
    if (!m) {
      m = deps.registry[settings.adapter]?.inbound?.(settings);
      if (m) mappers.set(settings, m);
    }
    return m;
  }

  async function prune(at: Date): Promise<void> {
    // Reading every row of a keyed log is a disk read each: such collections prune by their stamps.
    if (deps.retainedByStore || at.getTime() - lastPrune < 3600_000) return;
    lastPrune = at.getTime();
    const cutoff = at.getTime() - retention;
    const old = receipts.all().filter((r) => Date.parse(r.at) < cutoff).map((r) => r.id);
    if (old.length) await receipts.delete(old);
    const shipmentCutoff = at.getTime() - shipmentRetention;
    const oldStatus = statuses.all().filter((r) => Date.parse(r.occurred_at) < shipmentCutoff).map((r) => r.id);
    if (oldStatus.length) await statuses.delete(oldStatus);
    const refRows = deps.store.collection<{ id: string; at: string }>(SHIPMENT_REFS_COLLECTION);
    const oldRefs = refRows.all().filter((r) => Date.parse(r.at) < shipmentCutoff).map((r) => r.id);
    if (oldRefs.length) await refRows.delete(oldRefs);
  }

  /** The milestones whose facts were not received before (nor earlier in the same list), with their keys. */
  function freshFacts(partnerId: string, milestones: Milestone[]): { fresh: Milestone[]; keys: string[] } {
    const keys = new Set<string>();
    const fresh: Milestone[] = [];
    for (const m of milestones) {
      const k = factKey(partnerId, m);
      if (keys.has(k) || receipts.get(k)) continue;
      keys.add(k);
      fresh.push(m);
    }
    return { fresh, keys: [...keys] };
  }

  /** Forward-only status per shipment; answers the ids of milestones that arrived too late to move it. */
  async function advance(milestones: Milestone[]): Promise<string[]> {
    const stale: string[] = [];
    const put = new Map<string, StatusRow>();
    for (const m of milestones) {
      const rank = SHIPMENT_STATUS_RANK[m.type];
      const ref = (m.payload as { shipment_ref?: string; picking_ref?: string }).shipment_ref ?? (m.payload as { picking_ref?: string }).picking_ref;
      if (rank === undefined || !ref) continue;
      const id = `${m.aggregate}|${ref}`;
      const cur = put.get(id) ?? statuses.get(id);
      const forward = !cur || rank > cur.rank || (rank === cur.rank && Date.parse(m.occurred_at) >= Date.parse(cur.occurred_at));
      if (forward) put.set(id, { id, type: m.type, rank, occurred_at: m.occurred_at, milestone_id: m.id });
      else stale.push(m.id);
    }
    if (put.size) await statuses.put([...put.values()]);
    return stale;
  }

  /**
   * Maps parked webhooks again now that more shipments may be known; those that map are queued
   * and leave the parking. Runs at most once a minute on its own (on incoming traffic), or when called.
   */
  async function unpark(force = false): Promise<{ released: number; still: number }> {
    const at = now();
    if (!force && at.getTime() - lastUnpark < 60_000) return { released: 0, still: parked.all().length };
    lastUnpark = at.getTime();
    let released = 0;
    for (const row of parked.all()) {
      const settings = deps.partner(row.partner);
      const mapper = settings && mapperFor(settings);
      if (!mapper) continue;
      let milestones: Milestone[];
      try {
        milestones = mapper.toMilestones(JSON.parse(row.body), { partnerId: row.partner, receivedAt: new Date(row.received_at), resolve: (k) => refs.resolve(row.partner, k) });
      } catch {
        await parked.put([{ ...row, attempts: row.attempts + 1 }]);
        continue;
      }
      if (milestones.some((m) => !checkMilestone(m).ok)) continue;
      const { fresh, keys } = freshFacts(row.partner, milestones);
      await advance(fresh);
      if (fresh.length) await deps.enqueueMilestones(fresh, { partner: row.partner });
      if (keys.length) await receipts.put(keys.map((id) => ({ id, at: at.toISOString() })));
      await parked.delete([row.id]);
      released++;
      log('info', 'parked webhook released', { partner: row.partner, delivery_id: row.delivery_id, milestones: milestones.length });
    }
    return { released, still: parked.all().length };
  }

  /** Handles one delivery for partner `partnerId`. Never throws. */
  async function receive(partnerId: string, req: Request): Promise<GatewayAnswer> {
    try {
      const settings = deps.partner(partnerId);
      const mapper = settings && mapperFor(settings);
      const declared = req.headers.get('content-length');
      if (declared !== null && Number(declared) > max) return { status: 413, body: { error: 'payload too large', max_bytes: max } };
      const raw = await readCapped(req, max);
      if (!raw) return { status: 413, body: { error: 'payload too large', max_bytes: max } };
      // An unknown partner gets the same answer as a bad signature: nothing to learn by probing.
      if (!settings || !mapper) return { status: 401, body: null };
      const at = now();
      const secrets = mapper.scheme === 'shared-token' && settings.credentials.webhook_token ? [settings.credentials.webhook_token] : webhookSecrets(settings.credentials);
      const verdict = verifyInbound(mapper.scheme, secrets, { headers: req.headers, url: req.url }, raw, at);
      if (!verdict.ok) {
        log('warn', 'webhook rejected', { partner: partnerId, why: verdict.why });
        return { status: 401, body: null };
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return { status: 400, body: { error: 'body is not valid JSON', path: '$' } };
      }
      const deliveryId = mapper.deliveryId(req.headers, body) ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`;
      const key = `${partnerId}:${deliveryId}`;
      if (receipts.get(key)) return { status: 200, body: { duplicate: true, delivery_id: deliveryId } };
      // Not yet a duplicate: the first copy may still fail, and a 2xx here would make the sender stop retrying.
      if (inFlight.has(key)) return { status: 409, body: { error: 'this delivery is being processed; retry later', delivery_id: deliveryId } };
      inFlight.add(key);
      try {
        let milestones: Milestone[];
        try {
          milestones = mapper.toMilestones(body, { partnerId, receivedAt: at, resolve: (k) => refs.resolve(partnerId, k) });
        } catch (e) {
          if (e instanceof PartnerError && e.details.reason === 'not_found') {
            // Verified but about a shipment we cannot place yet: kept for an operator, not refused.
            await parked.put([{ id: key, partner: partnerId, delivery_id: deliveryId, received_at: at.toISOString(), reason: e.message, body: raw.toString('utf8'), attempts: 0 }]);
            await receipts.put([{ id: key, at: at.toISOString() }]);
            log('warn', 'webhook parked: unknown shipment', { partner: partnerId, delivery_id: deliveryId, reason: e.message });
            return { status: 202, body: { parked: true, delivery_id: deliveryId } };
          }
          if (e instanceof PartnerError) {
            const path = (e.details.cause as { path?: string } | undefined)?.path ?? '$';
            return { status: 400, body: { error: e.message, path } };
          }
          throw e;
        }
        for (const [i, m] of milestones.entries()) {
          const r = checkMilestone(m);
          if (!r.ok) return { status: 400, body: { error: r.problem.message, path: `milestones[${i}].${r.problem.path}` } };
        }
        const { fresh, keys } = freshFacts(partnerId, milestones);
        if (milestones.length && !fresh.length) {
          await receipts.put([{ id: key, at: at.toISOString() }]);
          log('info', 'webhook repeats facts already received under another delivery id', { partner: partnerId, delivery_id: deliveryId });
          return { status: 200, body: { duplicate: true, delivery_id: deliveryId, reason: 'the same facts were already received' } };
        }
        const stale = await advance(fresh);
        let refused: { id?: string; reason: string }[] = [];
        if (fresh.length) {
          const r = await deps.enqueueMilestones(fresh, { partner: partnerId });
          refused = (r && Array.isArray(r.refused)) ? r.refused : [];
          if (refused.length) log('warn', 'webhook milestones refused by the engine', { partner: partnerId, refused });
          await refs.remember(fresh);
        }
        await receipts.put([{ id: key, at: at.toISOString() }, ...keys.map((id) => ({ id, at: at.toISOString() }))]);
        void prune(at).catch(() => undefined);
        if (parked.all().length) void unpark().catch((e) => log('warn', 'releasing parked webhooks failed', { error: (e as Error)?.message }));
        return {
          status: 200,
          body: { accepted: fresh.length - refused.length, delivery_id: deliveryId, ...(fresh.length < milestones.length ? { repeated: milestones.length - fresh.length } : {}), ...(stale.length ? { stale } : {}), ...(refused.length ? { refused: refused.length } : {}) },
        };
      } finally {
        inFlight.delete(key);
      }
    } catch (e) {
      log('error', 'webhook handling failed', { partner: partnerId, error: (e as Error)?.message });
      // The sender retries on 5xx; nothing was marked received.
      return { status: 503, body: { error: 'temporarily unable to accept; retry later' } };
    }
  }

  return {
    receive,
    refs,
    unpark,
    /** Parked webhooks, oldest first (for operators). */
    parked: () => parked.all(),
    /** The recorded status of one shipment (forward-only). */
    status: (aggregate: string, shipmentRef: string) => statuses.get(`${aggregate}|${shipmentRef}`),
  };
}
export type Gateway = ReturnType<typeof createGateway>;
