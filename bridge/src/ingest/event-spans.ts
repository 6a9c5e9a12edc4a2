/**
 * Where each element of `params.events` lies in the bytes of a JSON-RPC request frame, so an
 * event can be stored as the text it arrived as: serialising it again cost about as much as
 * parsing it. Meant for text JSON.parse has already accepted (on malformed bytes it answers
 * undefined, never loops or throws). For any shape it does not expect (a batch of requests, an
 * escaped key at the two levels it reads) it answers undefined and the caller serialises as before.
 * test/bridge/event-spans.test.ts checks that every span re-parses to the event JSON.parse gave.
 */

/** Byte ranges [start, end) of each event, in order. */
export interface Spans {
  starts: number[];
  ends: number[];
}

const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, COMMA = 0x2c;
const OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d;
const PARAMS = Buffer.from('"params"'), EVENTS = Buffer.from('"events"');
const FAILED = -1;

/** The spans of `params.events` in a request frame; undefined when it is not one plain request object. */
export function findEventSpans(b: Uint8Array): Spans | undefined {
  let found: Spans | undefined;
  // JSON.parse keeps the last of repeated keys; so does this, by starting over at each.
  const end = members(b, skipSpace(b, 0), (key, v) => {
    if (!isWord(b, key, v, PARAMS)) return skipValue(b, v);
    found = undefined;
    if (b[v] !== OPEN_OBJECT) return skipValue(b, v);
    return members(b, v, (inner, w) => {
      if (!isWord(b, inner, w, EVENTS)) return skipValue(b, w);
      found = undefined;
      if (b[w] !== OPEN_ARRAY) return skipValue(b, w);
      found = { starts: [], ends: [] };
      return elements(b, w, found);
    });
  });
  return end === FAILED ? undefined : found;
}

/**
 * Walks the object at `at`: `member` gets each key's position and its value's position, and
 * returns the position after the value. Returns the position after the object, or FAILED (also
 * for a key with an escape, which could spell "params" or "events" in another way).
 */
function members(b: Uint8Array, at: number, member: (key: number, value: number) => number): number {
  if (b[at] !== OPEN_OBJECT) return FAILED;
  let i = skipSpace(b, at + 1);
  if (b[i] === CLOSE_OBJECT) return i + 1;
  for (;;) {
    if (b[i] !== QUOTE) return FAILED;
    const key = i;
    i = skipString(b, i);
    if (i === FAILED || b.subarray(key, i).includes(BACKSLASH)) return FAILED;
    i = skipSpace(b, i);
    if (b[i] !== COLON) return FAILED;
    i = member(key, skipSpace(b, i + 1));
    if (i === FAILED) return FAILED;
    i = skipSpace(b, i);
    if (b[i] === CLOSE_OBJECT) return i + 1;
    if (b[i] !== COMMA) return FAILED;
    i = skipSpace(b, i + 1);
  }
}

/** Records each element of the array at `at`; returns the position after the array, or FAILED. */
function elements(b: Uint8Array, at: number, into: Spans): number {
  let i = skipSpace(b, at + 1);
  if (b[i] === CLOSE_ARRAY) return i + 1;
  for (;;) {
    const end = skipValue(b, i);
    if (end === FAILED) return FAILED;
    into.starts.push(i);
    into.ends.push(end);
    i = skipSpace(b, end);
    if (b[i] === CLOSE_ARRAY) return i + 1;
    if (b[i] !== COMMA) return FAILED;
    i = skipSpace(b, i + 1);
  }
}

/** What matters about a byte when skipping a container: 0 nothing, else one of these. */
const STRING = 1, OPENS = 2, CLOSES = 3;
const KIND = new Uint8Array(256);
KIND[QUOTE] = STRING;
KIND[OPEN_OBJECT] = OPENS; KIND[OPEN_ARRAY] = OPENS;
KIND[CLOSE_OBJECT] = CLOSES; KIND[CLOSE_ARRAY] = CLOSES;

/** The position after the value starting at `i`; containers are skipped by counting brackets outside strings. */
function skipValue(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    // The hot loop (every byte of every event): one table look-up per byte, strings skipped inline.
    const n = b.length;
    let depth = 0;
    while (i < n) {
      const kind = KIND[b[i++]];
      if (kind === 0) continue;
      if (kind === STRING) {
        for (;;) {
          if (i >= n) return FAILED;
          const d = b[i++];
          if (d === QUOTE) break;
          if (d === BACKSLASH) i++;
        }
      } else if (kind === OPENS) depth++;
      else if (--depth === 0) return i;
    }
    return FAILED;
  }
  // A number, true, false or null runs until a delimiter.
  const start = i;
  while (i < b.length && !isDelimiter(b[i])) i++;
  return i === start ? FAILED : i;
}

/** The position after the string whose opening quote is at `i`, or FAILED. */
function skipString(b: Uint8Array, i: number): number {
  for (i++; i < b.length; i++) {
    const c = b[i];
    if (c === QUOTE) return i + 1;
    if (c === BACKSLASH) i++;
  }
  return FAILED;
}

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDelimiter = (c: number) => c === COMMA || c === CLOSE_OBJECT || c === CLOSE_ARRAY || isSpace(c);

/** Whether the key at `key` (quotes included, ending before the colon that precedes `value`) is `word`. */
function isWord(b: Uint8Array, key: number, value: number, word: Uint8Array): boolean {
  if (value - key < word.length) return false;
  for (let k = 0; k < word.length; k++) if (b[key + k] !== word[k]) return false;
  return true;
}
