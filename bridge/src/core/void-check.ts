/**
 * After a fallback: a carrier given up on after a call that may have bought a label (a timeout, a
 * 5xx) may still hold that label. Once the fallback carrier bought one, a void check asks the first
 * carrier for the shipment by our reference and voids what it finds; a carrier that cannot be
 * searched is left to a person (the engine's `voidable_label` manual entry).
 */
import type { Event, EventOf, Milestone } from '../../../shared/src/index.ts';
import type { CallContext, CarrierAdapter, StepResult } from '../adapters/types.ts';
import type { Job } from './jobs.ts';

/** Steps that buy a label (a fallback after one of them may leave a label to void). */
export const LABELS = new Set<string>(['createShipment', 'createReturnLabel']);

/** Our reference for the shipment (or return) an event is about. */
export const refOf = (e: Event | Milestone | undefined): string => {
  const p = e?.payload as { shipment_ref?: string; return_ref?: string } | undefined;
  return String(p?.shipment_ref ?? p?.return_ref ?? '?');
};

/** The dead-letter id of the check of `partner` for this job's event. */
export const voidSubject = (job: Job, partner: string) => `${job.event_id}~void:${partner}`;

/** The check of one carrier left behind, in a group of its own: it never holds back the shipment's later events. */
export function voidCheckJob(job: Job, partner: string, maxAttempts: number, now: string): Job {
  const subject = voidSubject(job, partner);
  return {
    id: `${subject}/${partner}`, kind: 'void', subject, event_id: job.event_id, type: job.type, aggregate: job.aggregate, group: `void|${partner}|${job.aggregate}`, seq: 0,
    step: partner, action: 'voidCheck', candidates: [partner], candidate: 0, key: `${job.key}:void`, attempts: 0, max_attempts: maxAttempts, calls: 0,
    run_at: now, state: 'pending', in_doubt: false, replays: 0, rekeys: 0, created_at: now, updated_at: now,
  };
}

/** Finds the label a carrier may have bought before the fallback, by our reference, and voids it. */
export async function voidLeftover(adapter: CarrierAdapter, job: Job, event: Event, ctx: CallContext): Promise<StepResult> {
  const ref = refOf(event);
  const found = await adapter.findShipment!(ref, ctx);
  if (!found) return { data: { voided: false } };
  const p = event.payload as { carrier?: { carrier: string; service?: string } };
  const cancel = {
    ...event, type: 'shipment.cancelled', payload: { shipment_ref: ref, carrier: p.carrier ?? { carrier: job.step }, reason: 'voided: another carrier took the shipment after a fallback' },
  } as EventOf<'shipment.cancelled'>;
  await adapter.cancelShipment(cancel, { ...ctx, data: { ...ctx.data, ...found.data } });
  return { data: { voided: true } };
}
