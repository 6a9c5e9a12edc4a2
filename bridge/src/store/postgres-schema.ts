/**
 * The condition of the partial index on unfinished events; a query must repeat it word for word
 * for the planner to use that index (FINISHED_STATES in types.ts).
 */
export const UNFINISHED_SQL = `state NOT IN ('delivered', 'discarded')`;

import { stateLogsSchemaSql } from './postgres-state-logs.ts';

/** The PostgreSQL store's tables; idempotent, run at every open. */
export function schemaSql(schema: string): string {
  const t = (name: string) => `"${schema}"."${name}"`;
  // The advisory lock keeps two bridges opening the same schema at once from racing on CREATE.
  return `
SELECT pg_advisory_xact_lock(hashtext('logistics_bridge:${schema}'));
CREATE SCHEMA IF NOT EXISTS "${schema}";
CREATE TABLE IF NOT EXISTS ${t('events')} (
  n           bigserial PRIMARY KEY,
  id          text NOT NULL UNIQUE,
  type        text NOT NULL,
  aggregate   text NOT NULL,
  event       json NOT NULL,
  state       text NOT NULL,
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  error_class text,
  blocked_by  text,
  received_at timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS events_state_n ON ${t('events')} (state, n);
CREATE INDEX IF NOT EXISTS events_aggregate_n ON ${t('events')} (aggregate, n);
CREATE INDEX IF NOT EXISTS events_type_n ON ${t('events')} (type, n);
-- Counts for metrics walk only the backlog, never the retained finished events.
CREATE INDEX IF NOT EXISTS events_unfinished ON ${t('events')} (state, received_at, n) INCLUDE (error_class) WHERE ${UNFINISHED_SQL};
CREATE TABLE IF NOT EXISTS ${t('collection_rows')} (
  seq  bigserial,
  name text NOT NULL,
  id   text NOT NULL,
  doc  json NOT NULL,
  PRIMARY KEY (name, id)
);
CREATE TABLE IF NOT EXISTS ${t('log_entries')} (
  seq   bigserial PRIMARY KEY,
  name  text NOT NULL,
  entry json NOT NULL
);
CREATE INDEX IF NOT EXISTS log_entries_name_seq ON ${t('log_entries')} (name, seq);
${stateLogsSchemaSql(t)}`;
}
