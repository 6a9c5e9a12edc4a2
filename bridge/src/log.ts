/** The bridge's JSON logger: secrets and personal data are redacted wherever they appear. */
import { pino, type Logger, type DestinationStream } from 'pino';

/** Paths pino censors in every log line (tokens, keys, signatures, addresses, phones, e-mails). */
export const REDACTED_PATHS = [
  'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'api_key', '*.api_key', 'apiKey', '*.apiKey', 'secret', '*.secret', 'password', '*.password', 'credentials', '*.credentials',
  'signature', '*.signature', 'headers["webhook-signature"]', 'headers["x-hmac-signature"]', 'headers["aftership-hmac-sha256"]',
  '*.street1', '*.street2', '*.phone', '*.email', 'payload.ship_to', 'payload.ship_from', 'payload.return_from', 'payload.return_to', 'payload.contact',
  'email', 'phone', 'street1', 'street2', 'cookie', '*.cookie', 'headers.cookie', 'req.headers.cookie', 'headers["x-api-key"]', 'headers["as-api-key"]', 'headers["set-cookie"]',
];

/**
 * Keys whose values never reach a log line, at any depth (pino's paths stop at a fixed depth; a
 * whole event or partner answer logged under some key would carry its addresses through).
 */
const SENSITIVE_KEY = /^(token|access_token|refresh_token|id_token|api[_-]?key|as-api-key|x-api-key|authorization|proxy-authorization|cookie|set-cookie|secret|\w*_secret|secrets|password|passwd|credentials|signature|\w*-signature|x-hmac-signature|\w*-hmac-sha256|street\d?|street_?line_?\d?|address_?line_?\d?|phone|phone_?number|mobile|fax|e-?mail|email_?address|ship_to|ship_from|return_to|return_from|contact|recipient|signed_by)$/i;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi;
/** International phone numbers in free text (partner error messages quote them). */
const PHONE = /\+\d[\d\s().-]{6,}\d/g;
const CENSOR = '[redacted]';

/** Removes e-mail addresses, bearer/basic credentials and phone numbers from free text. */
export function scrubText(s: string): string {
  return s.replace(EMAIL, CENSOR).replace(BEARER, `$1 ${CENSOR}`).replace(PHONE, CENSOR);
}

/** A copy of `value` with sensitive keys censored and free text scrubbed; the input is not changed. */
export function scrub(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object' || depth > 12) return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; status?: unknown; cause?: unknown };
    return {
      type: e.name, message: scrubText(e.message), stack: e.stack && scrubText(e.stack),
      ...(e.code !== undefined && { code: e.code }), ...(e.status !== undefined && { status: e.status }),
      ...(e.cause !== undefined && { cause: scrub(e.cause, depth + 1) }),
    };
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SENSITIVE_KEY.test(k) && v !== undefined && v !== null ? CENSOR : scrub(v, depth + 1);
  return out;
}

export type { Logger };

/** Creates the process logger; tests pass a destination to read what was written. */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'logistics-bridge' },
      redact: { paths: REDACTED_PATHS, censor: CENSOR },
      formatters: { log: (o) => scrub(o) as Record<string, unknown>, bindings: (b) => scrub(b) as Record<string, unknown> },
    },
    options.destination,
  );
}

/** Header carrying the correlation id on partner calls (where the partner allows) and write-backs. */
export const CORRELATION_HEADER = 'x-correlation-id';

/**
 * A child logger whose every line carries `correlation_id` (the event id, or the milestone's
 * causing event id), so one grep follows an event through ingest, partner calls and write-back.
 */
export function withCorrelation(logger: Logger, correlationId: string, bindings: Record<string, unknown> = {}): Logger {
  // Child bindings bypass formatters.log: scrub them here.
  return logger.child(scrub({ correlation_id: correlationId, ...bindings }) as Record<string, unknown>);
}
