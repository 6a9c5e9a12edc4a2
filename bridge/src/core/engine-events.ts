/**
 * What the engine announces as work moves: typed events that the metrics (and the log) subscribe
 * to, so the delivery code says what happened once and does not call each observer itself.
 */
import type { Logger } from '../log.ts';
import type { EngineMetrics } from './engine-parts.ts';
import type { FailureOutcome } from './failure-rule.ts';
import type { Job } from './jobs.ts';
import { partnerOf } from './transitions.ts';

export type EngineEvent =
  /** A partner call ended (circuit_open: refused before it left). */
  | { type: 'call_ended'; partner: string; outcome: 'success' | FailureOutcome; seconds: number; status?: number }
  /** A job went to the dead-letter queue or manual handling. */
  | { type: 'gave_up'; job: Job }
  /** A job's answer was applied. */
  | { type: 'step_done'; job: Job; partner: string }
  /** A job left its carrier for the next one. */
  | { type: 'fell_back'; job: Job; from: string; to: string; why: string };

export type EngineListener = (e: EngineEvent) => void;

const LABEL_ACTIONS = new Set(['createShipment', 'createReturnLabel']);

/** Records engine events in the metrics registry. */
export function metricsListener(metrics: EngineMetrics): EngineListener {
  return (e) => {
    switch (e.type) {
      case 'call_ended':
        metrics.partnerCall(e.partner, e.outcome, e.seconds, e.outcome === 'success' ? 'none' : undefined);
        if (e.status === 429) metrics.rateLimited(e.partner);
        return;
      case 'gave_up': {
        const j = e.job;
        metrics.deadLettered(j.error_class ?? 'technical', j.reason);
        if (j.action === 'releaseOrder') metrics.orderRelease(partnerOf(j), false);
        if (LABEL_ACTIONS.has(j.action)) metrics.labelRequest(partnerOf(j), false);
        return;
      }
      case 'step_done':
        if (e.job.action === 'releaseOrder') metrics.orderRelease(e.partner, true);
        if (LABEL_ACTIONS.has(e.job.action)) metrics.labelRequest(e.partner, true);
        return;
      case 'fell_back':
        return;
    }
  };
}

/** Writes engine events that people act on to the log. */
export function logListener(logger: Logger): EngineListener {
  return (e) => {
    if (e.type === 'gave_up') {
      const j = e.job;
      const log = j.error_class === 'business' ? 'business exception: a person must act' : j.state === 'manual' ? 'manual handling needed' : 'dead letter';
      logger.warn({ event_id: j.event_id, subject: j.subject, partner: partnerOf(j), reason: j.reason, error: j.last_error }, log);
    } else if (e.type === 'fell_back') {
      logger.warn({ event_id: e.job.event_id, from: e.from, to: e.to, why: e.why }, 'falling back to the next carrier');
    } else if (e.type === 'step_done') {
      logger.info({ event_id: e.job.event_id, subject: e.job.subject, partner: e.partner, action: e.job.action, calls: e.job.calls }, 'delivered');
    }
  };
}

/** One announce function over several listeners. */
export function announcer(listeners: EngineListener[]): (e: EngineEvent) => void {
  return (e) => {
    for (const l of listeners) l(e);
  };
}
