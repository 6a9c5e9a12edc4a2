/** `events.publish`: validates each event, stores the valid ones durably, answers per event. */
import * as v from 'valibot';
import { JSONRPCErrorException, JSONRPCServer } from 'json-rpc-2.0';
import { checkEvent, type Event } from '../../../shared/src/index.ts';
import type { Store } from '../store/types.ts';
import { JSONRPCErrorCode } from '../rpc/router.ts';

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

/** Hears every answered batch (metrics): the events as received and what became of them. */
export type PublishObserver = (events: unknown[], result: PublishResult) => void;

/** Validates and stores a batch; never throws for a bad event, only for a store failure. */
export async function publishEvents(store: Store, events: unknown[]): Promise<PublishResult> {
  const valid: Event[] = [];
  const rejected: Rejection[] = [];
  for (const raw of events) {
    const checked = checkEvent(raw);
    if (checked.ok) valid.push(checked.value);
    else {
      const id = raw && typeof raw === 'object' && typeof (raw as any).id === 'string' ? (raw as any).id : null;
      rejected.push({ id, code: 'invalid_event', message: `${checked.problem.path || 'event'}: ${checked.problem.message}`, path: checked.problem.path });
    }
  }
  const { accepted, duplicates } = valid.length ? await store.ingest(valid) : { accepted: [], duplicates: [] };
  return { accepted, duplicates, rejected };
}

/** The JSON-RPC methods Odoo calls on the socket. */
export function createOdooRpcServer(store: Store, observe?: PublishObserver): JSONRPCServer {
  // Errors are answered to the caller; the library's console listener would only add noise.
  const server = new JSONRPCServer({ errorListener: () => {} });
  server.addMethod('events.publish', async (params) => {
    const parsed = v.safeParse(PublishParams, params);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      throw new JSONRPCErrorException(`Invalid params: ${issue.message}`, JSONRPCErrorCode.InvalidParams, { path: v.getDotPath(issue) ?? '' });
    }
    try {
      const result = await publishEvents(store, parsed.output.events);
      observe?.(parsed.output.events, result);
      return result;
    } catch (e) {
      // Nothing in this batch was acknowledged: Odoo keeps the events pending and resends them.
      throw new JSONRPCErrorException(`events not stored, resend the batch: ${(e as Error).message}`, JSONRPCErrorCode.InternalError);
    }
  });
  server.addMethod('bridge.ping', () => ({ ok: true }));
  return server;
}
