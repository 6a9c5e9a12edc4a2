/** Renders the contract as JSON Schema (draft-07) files for the Python side. */
import { toJsonSchema } from '@valibot/to-json-schema';
import { Event } from './events.ts';
import { Milestone, SHIPMENT_STATUS_RANK } from './milestones.ts';

const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** File name -> pretty-printed JSON text, exactly as `npm run contract` writes it. */
export function renderJsonSchemas(): Record<string, string> {
  const files: Record<string, unknown> = {
    'event.schema.json': { $schema: DRAFT, $id: 'https://odoo-logistics-bridge.dev/schema/event.schema.json', title: 'Logistics bridge event', ...toJsonSchema(Event, { errorMode: 'ignore' }) },
    'milestone.schema.json': {
      $schema: DRAFT, $id: 'https://odoo-logistics-bridge.dev/schema/milestone.schema.json', title: 'Logistics bridge milestone',
      // Not a validation keyword: the status order both sides apply, so Python reads it instead of copying it.
      'x-shipment-status-rank': SHIPMENT_STATUS_RANK,
      ...toJsonSchema(Milestone, { errorMode: 'ignore' }),
    },
  };
  return Object.fromEntries(Object.entries(files).map(([name, schema]) => [name, JSON.stringify(schema, null, 2) + '\n']));
}
