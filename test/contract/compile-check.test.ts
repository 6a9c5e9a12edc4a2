/**
 * The compiled check and valibot (the contract) give the same verdict: on every fixture, on every
 * single-point mutation of the valid fixtures, and on randomly mutated ones. The direction that
 * matters most is that the fast check never accepts what valibot rejects; both are asserted.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as v from 'valibot';
import { Event, Milestone, isEvent } from '../../shared/src/index.ts';
import { compileCheck } from '../../shared/src/compile-check.ts';
import { loadFixtures } from '../helpers/fixtures.ts';

const isMilestone = compileCheck(Milestone);
const kinds = [
  { name: 'event', schema: Event, fast: isEvent, valid: loadFixtures('events', 'valid').map(([, e]) => e), invalid: loadFixtures<{ event: unknown }>('events', 'invalid').map(([, f]) => f.event) },
  { name: 'milestone', schema: Milestone, fast: isMilestone, valid: loadFixtures('milestones', 'valid').map(([, m]) => m), invalid: loadFixtures<{ milestone: unknown }>('milestones', 'invalid').map(([, f]) => f.milestone) },
] as const;

function agree(schema: v.GenericSchema, fast: (x: unknown) => boolean, input: unknown, what: string) {
  const contract = v.is(schema, input);
  const quick = fast(input);
  if (quick !== contract) assert.unreachable(`${what}: valibot says ${contract ? 'valid' : 'invalid'}, the compiled check says ${quick ? 'valid' : 'invalid'}\n${JSON.stringify(input)}`);
  return contract;
}

/** Values that sit on or just past the edges the contract draws (types, lengths, limits, formats). */
const ODD: unknown[] = [
  undefined, null, true, false, 0, -0, -1, 0.5, 1, 2, 1e308, -1e308, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY,
  '', ' ', 'x', 'X'.repeat(32), 'X'.repeat(33), 'x'.repeat(64), 'x'.repeat(65), 'x'.repeat(128), 'x'.repeat(129), '\u0000', '\ud800', 'é',
  'BE', 'be', 'EUR', 'eur', 'kg', 'KG', 'cm', 'PDF', 'odoo', 'stock.picking', 'stock.picking:17', 'Stock.Picking:17', 'a@b.co', 'a@b', 'https://x.example/a', 'x:/',
  '2026-11-26', '2026-13-01', '2026-11-26T10:00:00Z', '2026-11-26T10:00:00', '2026-11-26T24:00:00Z', '2026-11-26 10:00:00+01:00',
  '0b7f3c1e-6a5d-4e8b-9f21-000000000001', '0B7F3C1E-6A5D-4E8B-9F21-000000000001', '0b7f3c1e6a5d4e8b9f21000000000001', 'aGVsbG8=', 'aGVsbG8', '!!',
  [], [{}], [null], {}, { value: 1 }, { value: 1, uom: 'Units' }, Object.create({ inherited: 1 }),
];

/** Every path to a value inside `x` ([] is the root). */
function paths(x: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (Array.isArray(x)) x.forEach((y, i) => out.push(...paths(y, [...at, i])));
  else if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) out.push(...paths(y, [...at, k]));
  return out;
}

/** A deep copy of `x` with the value at `path` replaced (or, with `remove`, deleted). */
function edit(x: unknown, path: (string | number)[], value: unknown, remove = false): unknown {
  const copy = structuredClone(x) as any;
  if (!path.length) return value;
  let parent = copy;
  for (const k of path.slice(0, -1)) parent = parent[k];
  const last = path.at(-1)!;
  if (remove) { if (Array.isArray(parent)) parent.splice(last as number, 1); else delete parent[last]; }
  else parent[last] = value;
  return copy;
}

/** Near misses of a string: changed case, padding, one character more or less. */
const nearMisses = (s: string) => [s.toUpperCase(), s.toLowerCase(), ` ${s}`, `${s} `, `${s}x`, s.slice(1), s.slice(0, -1), `${s}\n`];

for (const k of kinds) {
  test(`${k.name}: the compiled check agrees with valibot on every fixture`, () => {
    for (const x of k.valid) assert.ok(agree(k.schema, k.fast, x, 'valid fixture'));
    for (const x of k.invalid) assert.not.ok(agree(k.schema, k.fast, x, 'invalid fixture'));
  });

  test(`${k.name}: the compiled check agrees with valibot on every single-point mutation of the valid fixtures`, () => {
    let variants = 0, accepted = 0;
    for (const base of k.valid) {
      for (const path of paths(base)) {
        const here = path.reduce((o: any, key) => o[key], base);
        const candidates = [...ODD, ...(typeof here === 'string' ? nearMisses(here) : [])];
        if (here && typeof here === 'object' && !Array.isArray(here)) candidates.push({ ...here, unexpected: 1 }, { ...here, constructor: 1 }, JSON.parse(`{"__proto__": 1, ${JSON.stringify(here).slice(1)}`));
        if (Array.isArray(here)) candidates.push([], [...here, ...here], [...here, null]);
        for (const value of candidates) { variants++; if (agree(k.schema, k.fast, edit(base, path, value), `${path.join('.')} = ${String(value)}`)) accepted++; }
        if (path.length) { variants++; if (agree(k.schema, k.fast, edit(base, path, undefined, true), `without ${path.join('.')}`)) accepted++; }
      }
    }
    assert.ok(variants > 1000, `${variants} variants`);
    assert.ok(accepted > 50 && accepted < variants / 2, `both verdicts are exercised (${accepted} of ${variants} accepted)`);
  });

  test(`${k.name}: the compiled check agrees with valibot on randomly mutated fixtures`, () => {
    let seed = 20261126;
    const random = () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31; };
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
    for (let run = 0; run < 3000; run++) {
      let x: unknown = pick(k.valid);
      for (let m = 1 + Math.floor(random() * 3); m > 0; m--) {
        const path = pick(paths(x));
        const here = path.reduce((o: any, key) => o?.[key], x);
        const value = typeof here === 'string' && random() < 0.5 ? pick(nearMisses(here)) : pick(ODD);
        x = random() < 0.15 && path.length ? edit(x, path, undefined, true) : edit(x, path, value);
      }
      agree(k.schema, k.fast, x, `random run ${run}`);
    }
  });
}

test('inputs that are not JSON: inherited keys, arrays for objects, odd prototypes', () => {
  const [base] = kinds[0].valid as any[];
  const inherited = Object.assign(Object.create({ injected: true }), base);
  const protoId = Object.assign(Object.create({ id: base.id }), { ...base, id: undefined });
  delete protoId.id;
  for (const x of [inherited, protoId, Object.assign([], base), Object.assign(Object.create(null), base), new Date(), [base], 'x', 42]) {
    agree(Event, isEvent, x, 'non-JSON input');
  }
});

test('agrees with valibot on small schemas that use each supported piece in other ways', () => {
  const schemas: v.GenericSchema[] = [
    v.strictObject({ n: v.number() }),
    // valibot's types refuse an action after optional (it would run on undefined); JavaScript allows it.
    v.strictObject({ s: (v.pipe as any)(v.optional(v.string()), v.minLength(2, 'short')) }),
    v.strictObject({ b: v.optional(v.boolean()), l: v.optional(v.literal(2)), f: v.optional(v.literal(false)) }),
    v.strictObject({ p: v.picklist(['a', 1, 'true']) }),
    v.strictObject({ a: v.pipe(v.array(v.optional(v.number())), v.maxLength(2, 'long')) }),
    v.variant('kind', [v.strictObject({ kind: v.literal('a'), x: v.number() }), v.strictObject({ kind: v.literal(1), y: v.string() })]),
    v.variant('kind', [v.strictObject({ kind: v.optional(v.literal('a')), x: v.number() }), v.strictObject({ kind: v.literal('b') })]),
    v.variant('kind', [v.strictObject({ kind: v.literal('a'), x: v.number() }), v.strictObject({ kind: v.literal('a'), y: v.number() })]),
    v.pipe(v.number(), v.gtValue(0, 'positive'), v.integer('int')),
  ];
  const inputs = [...ODD, { n: Number.NaN }, { n: 1 }, { s: 'ab' }, { s: 'a' }, {}, { b: true, l: 2, f: false }, { l: 1 }, { f: true },
    { p: 'a' }, { p: 1 }, { p: true }, { p: 'true' }, { p: 'b' }, { a: [1, undefined] }, { a: [1, 2, 3] }, { a: [Number.NaN] }, { kind: 'a', x: 1 }, { kind: 1, y: 'z' },
    { kind: 'a', y: 1 }, { x: 1 }, { kind: 'b' }, { kind: 'b', x: 1 }, { kind: 'c' }, 3, 0, 2.5];
  schemas.forEach((schema, i) => { const fast = compileCheck(schema); for (const x of inputs) agree(schema, fast, x, `schema ${i}`); });
});

test('refuses to compile what it cannot check exactly', () => {
  const cases: [string, v.GenericSchema][] = [
    ['transformation', v.pipe(v.string(), v.transform((s) => s.trim()))],
    ['default', v.strictObject({ a: v.optional(v.string(), 'x') })],
    ['non-strict object', v.object({ a: v.string() })],
    ['unknown schema', v.union([v.string(), v.number()])],
  ];
  for (const [what, schema] of cases) assert.throws(() => compileCheck(schema), /not supported/, what);
});

test('runs a validation it has no shortcut for as valibot runs it', () => {
  const Label = v.strictObject({ data: v.pipe(v.string(), v.base64('base64')) });
  const fast = compileCheck(Label);
  for (const data of ['aGVsbG8=', 'not base64!', '', 'aGVsbG8']) agree(Label, fast, { data }, data);
});

test.run();
