/**
 * findEventSpans finds each event's bytes in a frame exactly: each span re-parses to the event
 * JSON.parse gave, whatever the spacing, key order, escapes, repeated keys or unicode; it answers
 * undefined for shapes it does not read, and never throws or hangs on malformed bytes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findEventSpans } from '../../bridge/src/ingest/event-spans.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const events = loadFixtures('events', 'valid').map(([, e]) => e);

let seed = 7;
const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];

/** JSON text of `x` with random legal whitespace between tokens, random key order and random escapes in strings. */
function write(x: unknown): string {
  const ws = () => pick(['', '', ' ', '  ', '\n', '\t', '\r\n ']);
  if (typeof x === 'string') {
    return [...JSON.stringify(x)].map((c, i, all) => (i > 0 && i < all.length - 1 && /[a-z]/i.test(c) && random() < 0.1 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c)).join('');
  }
  if (Array.isArray(x)) return `[${ws()}${x.map((y) => `${write(y)}${ws()}`).join(`,${ws()}`)}]`;
  if (x && typeof x === 'object') {
    const entries = Object.entries(x).sort(() => random() - 0.5);
    return `{${ws()}${entries.map(([k, y]) => `${JSON.stringify(k)}${ws()}:${ws()}${write(y)}${ws()}`).join(`,${ws()}`)}}`;
  }
  return JSON.stringify(x);
}

/** A copy of `e` whose strings carry the characters most likely to confuse a scanner. */
const tricky = (e: any) => ({
  ...e,
  payload: { ...e.payload, notes: 'brace } bracket ] quote " backslash \\ \\" end\\', reason: 'émoji 🚚 ünïcode \u2028', q1: 'x"}', q2: '\\', q3: '"]"}{[', q4: '\\"' },
});

function assertSpansMatch(frame: string) {
  const bytes = Buffer.from(frame);
  const parsed = JSON.parse(frame);
  const spans = findEventSpans(bytes);
  assert.ok(spans, `spans found in ${frame.slice(0, 120)}`);
  assert.is(spans!.starts.length, parsed.params.events.length);
  spans!.starts.forEach((start, i) => assert.equal(JSON.parse(bytes.toString('utf8', start, spans!.ends[i])), parsed.params.events[i]));
}

test('finds each event of a plain request exactly', () => {
  assertSpansMatch(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.publish', params: { events } }));
  assertSpansMatch(JSON.stringify({ params: { events: events.map(tricky) }, method: 'events.publish', id: 'x', jsonrpc: '2.0' }));
});

test('finds each event in frames with random spacing, key order, escapes and unicode', () => {
  for (let run = 0; run < 300; run++) {
    const batch = Array.from({ length: 1 + Math.floor(random() * 5) }, () => (random() < 0.5 ? tricky(pick(events)) : pick(events)));
    const extra = random() < 0.5 ? { meta: { events: [1, 2], params: { events: ['not these'] } } } : {};
    assertSpansMatch(write({ jsonrpc: '2.0', id: random() < 0.5 ? run : `q"}]\\${run}`, method: 'events.publish', ...extra, params: { ...(random() < 0.3 ? { before: [{ a: '}' }] } : {}), events: batch } }));
  }
});

test('keeps the last of repeated params and events keys, as JSON.parse does', () => {
  const [a, b, c] = events;
  assertSpansMatch(`{"params":{"events":[${JSON.stringify(a)}]},"id":1,"params":{"events":[${JSON.stringify(b)}],"events":[${JSON.stringify(c)}]}}`);
  assertSpansMatch(`{"params":{"events":[${JSON.stringify(a)}]},"params":{"events":[]}}`);
  // A later params without events leaves none, even though an earlier one had some.
  assert.is(findEventSpans(Buffer.from(`{"params":{"events":[${JSON.stringify(a)}]},"params":{"other":1}}`)), undefined);
});

test('answers undefined for shapes it does not read', () => {
  const [a, b] = events.map((e) => JSON.stringify(e));
  for (const frame of [
    `[{"jsonrpc":"2.0","id":1,"method":"events.publish","params":{"events":[${a}]}}]`,
    // An escaped key that JSON.parse reads as "params" must not let an earlier "params" win.
    `{"params":{"events":[${a}]},"p\\u0061rams":{"events":[${b}]}}`,
    `{"params":{"ev\\u0065nts":[${b}]}}`,
    `{"params":[${a}]}`,
    `{"params":{"events":{"0":${a}}}}`,
    `{"params":{"events":[${a}],"events":{}}}`,
    `"text"`,
    `{"id":1}`,
  ]) {
    const spans = findEventSpans(Buffer.from(frame));
    assert.ok(spans === undefined || spans.starts.length === 0, frame.slice(0, 60));
  }
});

test('never throws or hangs on truncated or garbled bytes', () => {
  const frame = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'events.publish', params: { events: events.map(tricky) } }));
  for (let cut = 0; cut < frame.length; cut += 7) findEventSpans(frame.subarray(0, cut));
  for (let run = 0; run < 500; run++) {
    const garbled = Buffer.from(frame);
    for (let k = 0; k < 5; k++) garbled[Math.floor(random() * garbled.length)] = pick([0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20, 0x00]);
    findEventSpans(garbled);
  }
  for (const junk of ['', '{', '{"', '{"params"', '{"params":', '{"params":{"events":[', '{"params":{"events":[{"a":"\\', '}}}]]]', '{"params":{"events":[1,]}}']) {
    findEventSpans(Buffer.from(junk));
  }
});

test.run();
