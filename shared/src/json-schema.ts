/** Renders the contract as JSON Schema (draft-07) files for the Python side. */
import { toJsonSchema } from '@valibot/to-json-schema';
import { CURRENT_EVENT_VERSIONS, DEPRECATED_EVENT_VERSIONS, EVENT_ENVELOPES } from './events.ts';
import { Milestone, SHIPMENT_STATUS_RANK } from './milestones.ts';

const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** File name -> pretty-printed JSON text, exactly as `npm run contract` writes it. */
export function renderJsonSchemas(): Record<string, string> {
  const files: Record<string, unknown> = {
    'event.schema.json': {
      $schema: DRAFT, $id: 'https://odoo-logistics-bridge.dev/schema/event.schema.json', title: 'Logistics bridge event',
      // Not validation keywords: the version Odoo writes per type, and the versions still accepted but deprecated.
      'x-current-versions': CURRENT_EVENT_VERSIONS,
      'x-deprecated-versions': DEPRECATED_EVENT_VERSIONS,
      // One branch per (type, schema_version), flat, so Python picks the branch of a document directly.
      oneOf: EVENT_ENVELOPES.map((e) => toJsonSchema(e.schema, { errorMode: 'ignore' })),
    },
    'milestone.schema.json': {
      $schema: DRAFT, $id: 'https://odoo-logistics-bridge.dev/schema/milestone.schema.json', title: 'Logistics bridge milestone',
      // Not a validation keyword: the status order both sides apply, so Python reads it instead of copying it.
      'x-shipment-status-rank': SHIPMENT_STATUS_RANK,
      ...toJsonSchema(Milestone, { errorMode: 'ignore' }),
    },
  };
  return Object.fromEntries(Object.entries(files).map(([name, schema]) => [name, JSON.stringify(schema, null, 2) + '\n']));
}
