/** `events.publish`: validates each event, stores the valid ones durably, answers per event. */
import * as v from 'valibot';
import { JSONRPCErrorException } from 'json-rpc-2.0';
import { checkEvent, isEvent, type Event } from '../../../shared/src/index.ts';
import type { EventTexts, Store } from '../store/types.ts';
import { findEventSpans } from './event-spans.ts';
import { JSONRPCErrorCode, RpcServer } from '../rpc/router.ts';

/** Most events one `events.publish` call may carry. */
export const MAX_EVENTS_PER_CALL = 500;

const PublishParams = v.strictObject({
  events: v.pipe(
    v.array(v.unknown(), 'params.events must be an array of events'),
    v.minLength(1, 'params.events must hold at least 1 event'),
    v.maxLength(MAX_EVENTS_PER_CALL, `params.events holds at most ${MAX_EVENTS_PER_CALL} events; split the batch`),
  ),
});

export interface Rejection {
  id: string | null;
  code: 'invalid_event';
  message: string;
  path: string;
}
export interface PublishResult {
  accepted: string[];
  duplicates: string[];
  rejected: Rejection[];
}

/**
 * Hears every answered batch (metrics): each event's id and type as received (not the whole
 * event, so a batch waiting for its write keeps nothing else alive) and what became of them.
 */
export type PublishObserver = (events: { id: unknown; type: unknown }[], result: PublishResult) => void;

/**
 * Validates and stores a batch; rejects only for a store failure, never for a bad event. With the
 * request's frame, valid events are stored as the text they came in (see event-spans.ts).
 * Validation and serialisation happen before this returns, so the events themselves can be
 * collected while the write is in flight (it is not async for that reason).
 */
export function publishEvents(store: Store, events: unknown[], frame?: Buffer): Promise<PublishResult> {
  try {
    return publishNow(store, events, frame);
  } catch (e) {
    return Promise.reject(e);
  }
}

function publishNow(store: Store, events: unknown[], frame: Buffer | undefined): Promise<PublishResult> {
  const valid: Event[] = [];
  const validAt: number[] = [];
  const rejected: Rejection[] = [];
  events.forEach((raw, i) => {
    if (isEvent(raw)) { valid.push(raw); validAt.push(i); return; }
    // valibot, the contract, says why (and has the last word).
    const checked = checkEvent(raw);
    if (checked.ok) { valid.push(checked.value); validAt.push(i); return; }
    const id = raw && typeof raw === 'object' && typeof (raw as any).id === 'string' ? (raw as any).id : null;
    rejected.push({ id, code: 'invalid_event', message: `${checked.problem.path || 'event'}: ${checked.problem.message}`, path: checked.problem.path });
  });
  if (!valid.length) return Promise.resolve({ accepted: [], duplicates: [], rejected });
  return store.ingest(valid, frame && textsOf(frame, validAt, events.length))
    .then(({ accepted, duplicates }) => ({ accepted, duplicates, rejected }));
}

/** The received text of the events at `at`, when the frame's spans account for all `count` events. */
function textsOf(frame: Buffer, at: number[], count: number): EventTexts | undefined {
  const spans = findEventSpans(frame);
  if (!spans || spans.starts.length !== count) return undefined;
  return { bytes: frame, starts: at.map((i) => spans.starts[i]), ends: at.map((i) => spans.ends[i]) };
}

/** The JSON-RPC methods Odoo calls on the socket; `events.publish` is a hot method (see RpcServer). */
export function createOdooRpcServer(store: Store, observe?: PublishObserver): RpcServer {
  // Errors are answered to the caller; the library's console listener would only add noise.
  const server = new RpcServer({ errorListener: () => {} });
  server.addHotMethod('events.publish', (params, frame) => {
    const parsed = v.safeParse(PublishParams, params);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      throw new JSONRPCErrorException(`Invalid params: ${issue.message}`, JSONRPCErrorCode.InvalidParams, { path: v.getDotPath(issue) ?? '' });
    }
    const events = parsed.output.events;
    const seen = observe && events.map((e: any) => ({ id: e?.id, type: e?.type }));
    const stored = publishEvents(store, events, frame).catch((e: Error) => {
      // Nothing in this batch was acknowledged: Odoo keeps the events pending and resends them.
      throw new JSONRPCErrorException(`events not stored, resend the batch: ${e.message}`, JSONRPCErrorCode.InternalError);
    });
    return seen ? stored.then((result) => { observe!(seen, result); return result; }) : stored;
  });
  server.addMethod('bridge.ping', () => ({ ok: true }));
  return server;
}
