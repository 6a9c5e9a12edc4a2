/**
 * Routing (who hears an event) and ownership (who may speak for what), both decided by the
 * configuration alone: onboarding a warehouse or carrier is a configuration change.
 */
import type { Event, EventType, Milestone } from '../../../shared/src/index.ts';
import type { Config, ResolvedPartner } from '../config/load.ts';

/** The adapter method a step calls; chosen by event type and the partner's role. */
export type Action = 'releaseOrder' | 'cancelOrder' | 'expectReturn' | 'createShipment' | 'cancelShipment' | 'createReturnLabel';

const ACTIONS: Record<EventType, { warehouse?: Action; carrier?: Action }> = {
  'order.released': { warehouse: 'releaseOrder' },
  'order.cancelled': { warehouse: 'cancelOrder' },
  'shipment.requested': { carrier: 'createShipment' },
  'shipment.cancelled': { carrier: 'cancelShipment' },
  'return.requested': { warehouse: 'expectReturn', carrier: 'createReturnLabel' },
};

/** Cancels go to whoever performed the action they undo, even if that was a fallback partner. */
export const UNDOES: Partial<Record<Action, Action>> = { cancelOrder: 'releaseOrder', cancelShipment: 'createShipment' };

/** One partner step of an event. */
export interface PlannedStep {
  /** Stable name of the step within the event: the routed partner id. Part of the idempotency key. */
  step: string;
  action: Action;
  /** Partners to try in order: the routed one, then its fallbacks (carriers only). */
  candidates: string[];
}

/** The attributes routing rules match on. */
export function routingAttributes(event: Event): { warehouse?: string; carrier?: string; service?: string; country?: string } {
  const p = event.payload as Record<string, any>;
  const country = p.ship_to?.country ?? p.return_from?.country;
  return { warehouse: p.warehouse, carrier: p.carrier?.carrier, service: p.carrier?.service, country };
}

/** Which workflow an event or milestone belongs to (for realtime/batch). */
export { workflowOfEvent, workflowOfMilestone } from '../config/schema.ts';

/**
 * The steps for an event. Rules are read in order and, per partner role, the first rule that
 * matches (event type and every condition) decides: put specific rules before catch-alls. A return
 * can so reach both its warehouse (expect the goods) and a carrier (buy the return label).
 * No matching rule: no steps (the event is delivered with nothing to do, and logged).
 */
export function planSteps(config: Config, event: Event): { route?: string; steps: PlannedStep[] } {
  const attrs = routingAttributes(event);
  const partners = new Map(config.partners.map((p) => [p.id, p]));
  const claimed = new Set<string>();
  const steps: PlannedStep[] = [];
  const names: string[] = [];
  const ok = (list: string[] | undefined, value: string | undefined) => !list || (value !== undefined && list.includes(value));
  for (const [i, rule] of config.routes.entries()) {
    if (!rule.events.includes(event.type)) continue;
    const w = rule.when;
    if (!ok(w.warehouse, attrs.warehouse) || !ok(w.carrier, attrs.carrier) || !ok(w.service, attrs.service) || !ok(w.country, attrs.country)) continue;
    const roles = new Set<string>();
    for (const id of rule.partners) {
      const partner = partners.get(id)!;
      if (partner.role === 'visibility' || claimed.has(partner.role)) continue;
      const action = ACTIONS[event.type][partner.role];
      if (!action) continue;
      const fallbacks = partner.role === 'carrier' ? [...rule.fallback, ...partner.fallback] : [];
      steps.push({ step: id, action, candidates: [...new Set([id, ...fallbacks])] });
      roles.add(partner.role);
    }
    if (roles.size) names.push(rule.name ?? `routes[${i}]`);
    for (const r of roles) claimed.add(r);
  }
  return { route: names.join(' + ') || undefined, steps };
}

/** Visibility partners that hear a milestone type (default: everything but inventory levels). */
export function visibilityPartners(config: Config, type: Milestone['type']): ResolvedPartner[] {
  return config.partners.filter((p) => p.role === 'visibility' && (p.milestones ? p.milestones.includes(type) : type !== 'inventory.level'));
}

/** Why a partner may not speak for a milestone, or undefined when it may. */
export function ownershipRefusal(
  config: Config,
  milestone: Milestone,
  partner: string,
  /** Partners the bridge delivered a step of this aggregate to. */
  delivered: ReadonlySet<string>,
): string | undefined {
  if (milestone.type === 'inventory.level') {
    const owner = config.ownership.inventory[milestone.payload.warehouse];
    if (owner === undefined) return `no partner owns the inventory of warehouse ${milestone.payload.warehouse} (ownership.inventory)`;
    return owner === partner ? undefined : `inventory of warehouse ${milestone.payload.warehouse} is owned by ${owner}, not ${partner}`;
  }
  if (config.ownership.shipments.trusted.includes(partner) || delivered.has(partner)) return undefined;
  return `${partner} does not own ${milestone.aggregate}: the bridge sent it nothing for this aggregate and it is not in ownership.shipments.trusted`;
}
