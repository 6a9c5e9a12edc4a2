/** Process settings from environment variables; a bad value stops the start naming the variable. */
import * as v from 'valibot';

export interface Settings {
  host: string;
  port: number;
  dataDir: string;
  configPath?: string;
  /** Bearer token Odoo presents on the websocket; undefined = generate one into the data dir. */
  token?: string;
  /** Bearer token for the operator API; undefined = generate one into the data dir. */
  adminToken?: string;
  fsync: boolean;
  retentionDays: number;
  maxFrameBytes: number;
  /** false: events are stored and acknowledged but not delivered until a start without BRIDGE_DELIVERY=paused. */
  deliver: boolean;
  /** Set: events, queues and logs live in this PostgreSQL instead of the data dir. */
  databaseUrl?: string;
  databaseSchema: string;
}

/** Documented in README.md ("Configuration"); keep both in step. */
export const ENV_VARS = {
  HOST: 'interface to listen on (default 127.0.0.1)',
  PORT: 'port for HTTP and the websocket (default 8787)',
  BRIDGE_DATA_DIR: 'where events, queues and generated tokens are kept (default ./data)',
  BRIDGE_CONFIG: 'partner and routing configuration file (JSON); unset = demo mode with simulators',
  BRIDGE_TOKEN: 'bearer token Odoo must present on /v1/odoo (>= 24 characters); unset = generated into $BRIDGE_DATA_DIR/secrets.json',
  BRIDGE_ADMIN_TOKEN: 'bearer token for the operator API /v1/* (>= 24 characters, distinct from BRIDGE_TOKEN); unset = generated likewise',
  BRIDGE_FSYNC: '"1" to fdatasync every group commit (survives power loss; slower). Default "0" (survives process crashes)',
  BRIDGE_RETENTION_DAYS: 'how long ids are remembered for duplicate detection and finished events kept (default 30)',
  BRIDGE_MAX_FRAME_BYTES: 'largest websocket frame accepted; larger ones close the socket with 1009 (default 1048576)',
  BRIDGE_DATABASE_URL: 'postgres://user[:password]@host:port/db: keep events, queues and logs in PostgreSQL instead of $BRIDGE_DATA_DIR (tokens stay there); unset = embedded store',
  BRIDGE_DATABASE_SCHEMA: 'PostgreSQL schema for the tables, created when missing (default logistics_bridge)',
  BRIDGE_DELIVERY: '"paused" stores and acknowledges events but delivers nothing (maintenance, ingest benchmark); default "on"',
} as const;

const intIn = (name: string, min: number, max: number) =>
  v.pipe(v.string(), v.regex(/^\d+$/, `${name} must be a whole number`), v.transform(Number), v.minValue(min, `${name} must be >= ${min}`), v.maxValue(max, `${name} must be <= ${max}`));
const secret = (name: string) => v.pipe(v.string(), v.minLength(24, `${name} must be at least 24 characters (e.g. openssl rand -hex 24)`));

const EnvSchema = v.object({
  HOST: v.optional(v.pipe(v.string(), v.minLength(1, 'HOST must not be empty')), '127.0.0.1'),
  PORT: v.optional(intIn('PORT', 0, 65535), '8787'),
  BRIDGE_DATA_DIR: v.optional(v.pipe(v.string(), v.minLength(1, 'BRIDGE_DATA_DIR must not be empty')), './data'),
  BRIDGE_CONFIG: v.optional(v.pipe(v.string(), v.minLength(1, 'BRIDGE_CONFIG must not be empty'))),
  BRIDGE_TOKEN: v.optional(secret('BRIDGE_TOKEN')),
  BRIDGE_ADMIN_TOKEN: v.optional(secret('BRIDGE_ADMIN_TOKEN')),
  BRIDGE_FSYNC: v.optional(v.picklist(['0', '1'], 'BRIDGE_FSYNC must be "0" or "1"'), '0'),
  BRIDGE_RETENTION_DAYS: v.optional(intIn('BRIDGE_RETENTION_DAYS', 1, 3650), '30'),
  BRIDGE_MAX_FRAME_BYTES: v.optional(intIn('BRIDGE_MAX_FRAME_BYTES', 1024, 64 << 20), '1048576'),
  BRIDGE_DATABASE_URL: v.optional(v.pipe(v.string(), v.regex(/^postgres(ql)?:\/\/[^\s]+$/, 'BRIDGE_DATABASE_URL must be a postgres:// URL, e.g. postgres://bridge@127.0.0.1:5432/bridge'))),
  BRIDGE_DATABASE_SCHEMA: v.optional(v.pipe(v.string(), v.regex(/^[a-z_][a-z0-9_]*$/, 'BRIDGE_DATABASE_SCHEMA must be a lower-case SQL name (letters, digits, _)')), 'logistics_bridge'),
  BRIDGE_DELIVERY: v.optional(v.picklist(['on', 'paused'], 'BRIDGE_DELIVERY must be "on" or "paused"'), 'on'),
});

/** Reads settings; throws an Error whose message names the offending variable. */
export function readSettings(env: Record<string, string | undefined>): Settings {
  const present = Object.fromEntries(Object.keys(ENV_VARS).filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));
  const r = v.safeParse(EnvSchema, present);
  if (!r.success) {
    const issue = r.issues[0];
    const name = v.getDotPath(issue) ?? 'environment';
    throw new Error(issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`);
  }
  const o = r.output;
  if (o.BRIDGE_TOKEN && o.BRIDGE_TOKEN === o.BRIDGE_ADMIN_TOKEN) throw new Error('BRIDGE_ADMIN_TOKEN must differ from BRIDGE_TOKEN');
  return {
    host: o.HOST,
    port: o.PORT as unknown as number,
    dataDir: o.BRIDGE_DATA_DIR,
    configPath: o.BRIDGE_CONFIG,
    token: o.BRIDGE_TOKEN,
    adminToken: o.BRIDGE_ADMIN_TOKEN,
    fsync: o.BRIDGE_FSYNC === '1',
    retentionDays: o.BRIDGE_RETENTION_DAYS as unknown as number,
    maxFrameBytes: o.BRIDGE_MAX_FRAME_BYTES as unknown as number,
    deliver: o.BRIDGE_DELIVERY === 'on',
    databaseUrl: o.BRIDGE_DATABASE_URL,
    databaseSchema: o.BRIDGE_DATABASE_SCHEMA,
  };
}
