/** The canonical contract: every shape that crosses between Odoo, the bridge and adapters. */
export * from './values.ts';
export * from './events.ts';
export * from './milestones.ts';
export * from './validate.ts';
/** Contract release; bump when a schema version is added. */
export const CONTRACT_VERSION = '1.1.0';
