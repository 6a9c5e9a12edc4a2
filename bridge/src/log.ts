/** The bridge's JSON logger: secrets and personal data are redacted wherever they appear. */
import { pino, type Logger, type DestinationStream } from 'pino';

/** Paths pino censors in every log line (tokens, keys, signatures, addresses, phones, e-mails). */
export const REDACTED_PATHS = [
  'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'api_key', '*.api_key', 'apiKey', '*.apiKey', 'secret', '*.secret', 'password', '*.password', 'credentials', '*.credentials',
  'signature', '*.signature', 'headers["webhook-signature"]', 'headers["x-hmac-signature"]', 'headers["aftership-hmac-sha256"]',
  '*.street1', '*.street2', '*.phone', '*.email', 'payload.ship_to', 'payload.ship_from', 'payload.return_from', 'payload.return_to', 'payload.contact',
];

export type { Logger };

/** Creates the process logger; tests pass a destination to read what was written. */
export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    { level: options.level ?? process.env.LOG_LEVEL ?? 'info', base: { service: 'logistics-bridge' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    options.destination,
  );
}
