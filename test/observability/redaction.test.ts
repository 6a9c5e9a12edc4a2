/** Log redaction: secrets and personal data never reach a log line, wherever they sit; ids and correlation stay. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withCorrelation, scrubText } from '../../bridge/src/log.ts';
import { captureLogs } from '../helpers/bridge.ts';
import { sampleEvent } from '../helpers/fixtures.ts';

const SECRETS = {
  bearer: 'tok_live_9f8e7d6c5b4a3210',
  apiKey: 'EZAK_api_key_77aa88bb99cc',
  signature: 'hmac-sha256-hex=deadbeefcafe0011',
  street: '17 Rue des Lilas',
  phone: '+32 470 12 34 56',
  email: 'jane.doe@example.org',
  password: 'hunter2-very-secret',
  cookie: 'lb_dashboard=eyJuYW1lIjoi.abc',
};

function assertClean(lines: string[]) {
  const all = lines.join('\n');
  for (const [what, s] of Object.entries(SECRETS)) assert.not.ok(all.includes(s), `${what} leaked: ${all.slice(Math.max(0, all.indexOf(s) - 200), all.indexOf(s) + 50)}`);
}

test('top-level and one-level keys are censored (pino paths)', () => {
  const { logger, lines } = captureLogs();
  logger.info({ token: SECRETS.bearer, api_key: SECRETS.apiKey, signature: SECRETS.signature, headers: { authorization: `Bearer ${SECRETS.bearer}`, cookie: SECRETS.cookie } }, 'call');
  assertClean(lines);
  assert.match(lines[0], /"\[redacted\]"/);
});

test('addresses, phones and e-mails deep inside a logged event or partner answer are censored', () => {
  const { logger, lines } = captureLogs();
  const e = sampleEvent();
  e.payload.ship_to = { name: 'Jane Doe', street1: SECRETS.street, city: 'Liège', country: 'BE', phone: SECRETS.phone, email: SECRETS.email };
  logger.info({ event: e }, 'event routed');
  logger.warn({ partner: 'easypost', answer: { shipment: { to_address: { street1: SECRETS.street, phone: SECRETS.phone, email: SECRETS.email } } } }, 'partner said no');
  logger.info({ request: { headers: { 'x-api-key': SECRETS.apiKey, 'x-hmac-signature': SECRETS.signature, 'webhook-signature': SECRETS.signature } } }, 'webhook');
  logger.info({ config: { partners: [{ credentials: { api_key: SECRETS.apiKey, password: SECRETS.password } }] } }, 'config');
  assertClean(lines);
  const first = JSON.parse(lines[0]);
  assert.is(first.event.id, e.id, 'the event id (correlation) is kept');
  assert.is(first.event.payload.ship_to, '[redacted]');
  assert.is(first.event.aggregate, e.aggregate, 'non-personal fields are kept');
});

test('free text: e-mails, bearer tokens and phone numbers in messages and errors are scrubbed', () => {
  const { logger, lines } = captureLogs();
  const err = new Error(`422 from partner: address for ${SECRETS.email} (${SECRETS.phone}) is invalid; sent Authorization: Bearer ${SECRETS.bearer}`);
  logger.error({ err, last_error: `cannot reach ${SECRETS.email}` }, 'failed');
  assertClean(lines);
  const line = JSON.parse(lines[0]);
  assert.match(line.err.message, /422 from partner: address for \[redacted\]/, 'the useful part of the message stays');
  assert.is(scrubText('order SO-0042 for WH/OUT/00017'), 'order SO-0042 for WH/OUT/00017', 'references are not mistaken for phones');
});

test('the logged object is not changed by redaction (callers keep using it)', () => {
  const { logger } = captureLogs();
  const o = { token: SECRETS.bearer, nested: { email: SECRETS.email } };
  logger.info(o, 'x');
  assert.is(o.token, SECRETS.bearer);
  assert.is(o.nested.email, SECRETS.email);
});

test('withCorrelation puts the correlation id on every line of the child, and child bindings are scrubbed too', () => {
  const { logger, lines } = captureLogs();
  const log = withCorrelation(logger, 'ev-123', { partner: 'wms', email: SECRETS.email });
  log.info('calling partner');
  log.warn({ status: 500 }, 'retrying');
  assertClean(lines);
  assert.is(lines.length, 2);
  for (const l of lines) assert.is(JSON.parse(l).correlation_id, 'ev-123');
  assert.is(JSON.parse(lines[0]).partner, 'wms');
});

test.run();
