/**
 * A fast yes/no check compiled from a valibot schema, for hot paths. valibot stays the contract:
 * the check reuses each schema's own requirements (the same regexes, limits, literals) and answers
 * exactly what `v.is(schema, x)` answers, without building output objects or issues. A caller that
 * gets `false` runs valibot to learn what is wrong. Anything whose output could differ from its
 * input (transformations, defaults, non-strict objects) is refused when compiling, so a schema
 * change the compiler does not know fails loudly instead of being checked wrongly.
 *
 * It generates JavaScript source (one function per object schema, property names as constants):
 * generic closures measured 2.2 µs per event, because every property read went through one shared,
 * megamorphic call site; generated code lets V8 give each read its own inline cache.
 * test/contract/compile-check.test.ts proves the agreement on fixtures and fuzzed variants.
 */
import type * as v from 'valibot';

/** The parts of a valibot schema or action node this compiler reads. */
type Node = {
  kind: string; type: string; pipe?: Node[]; entries?: Record<string, Node>; options?: any[]; item?: Node; wrapped?: Node;
  key?: string; literal?: unknown; default?: unknown; requirement?: any; '~run': (d: { typed: boolean; value: unknown }, c: object) => { issues?: unknown[] };
};

/** Compiles `schema` into a function answering whether valibot would accept the input. */
export function compileCheck(schema: v.GenericSchema): (input: unknown) => boolean {
  const constants: unknown[] = [];
  const functions: string[] = [];
  const named = new Map<Node, string>();
  const constant = (value: unknown) => `k${constants.push(value) - 1}`;

  /** A boolean JavaScript expression that is true when valibot accepts the value in `x`. */
  function test(node: Node, x: string, at: string): string {
    if (!node.pipe) return schemaTest(node, x, at);
    // A pipe's first item is its schema (itself perhaps a pipe); the rest are actions run in order.
    const [first, ...rest] = node.pipe;
    const actions = rest.filter((a) => a.kind !== 'metadata').map((a) => action(a, x, at));
    return [test(first, x, at), ...actions].join(' && ');
  }

  function schemaTest(node: Node, x: string, at: string): string {
    switch (node.type) {
      case 'string': return `typeof ${x} === 'string'`;
      case 'number': return `(typeof ${x} === 'number' && ${x} === ${x})`;
      case 'boolean': return `typeof ${x} === 'boolean'`;
      case 'literal': {
        const l = node.literal;
        if (typeof l === 'number' && Number.isNaN(l)) return `${x} !== ${x}`;
        return `${x} === ${typeof l === 'string' || typeof l === 'boolean' || (typeof l === 'number' && Number.isFinite(l) && !Object.is(l, -0)) ? JSON.stringify(l) : constant(l)}`;
      }
      case 'picklist': return `${constant(node.options)}.includes(${x})`;
      case 'optional':
        if (node.default !== undefined) throw unsupported('optional with a default', at);
        return `(${x} === undefined || (${test(node.wrapped!, x, at)}))`;
      case 'array': case 'strict_object': case 'variant': return `${fn(node, at)}(${x})`;
      default: throw unsupported(`schema "${node.type}"`, at);
    }
  }

  /** Containers get a named function each (written once per schema node), so V8 can inline or share them. */
  function fn(node: Node, at: string): string {
    let name = named.get(node);
    if (name) return name;
    name = `f${named.size}`;
    named.set(node, name);
    const body = node.type === 'array' ? arrayBody(node, at) : node.type === 'variant' ? variantBody(node, at) : objectBody(node, at);
    functions.push(`function ${name}(x) {\n${body}\n}`);
    return name;
  }

  function arrayBody(node: Node, at: string): string {
    return `  if (!Array.isArray(x)) return false;\n  for (let i = 0; i < x.length; i++) { const y = x[i]; if (!(${test(node.item!, 'y', `${at}[]`)})) return false; }\n  return true;`;
  }

  function objectBody(node: Node, at: string): string {
    const entries = node.entries!;
    // As valibot does: presence is tested with `in`, and every key for...in yields must be an entry.
    const lines = ['  if (!x || typeof x !== \'object\') return false;', '  let y;'];
    for (const [key, s] of Object.entries(entries)) {
      if (s.type === 'exact_optional' || s.type === 'nullish') throw unsupported(`schema "${s.type}"`, path(at, key));
      if (s.type === 'optional' && s.default !== undefined) throw unsupported('optional with a default', path(at, key));
      const k = JSON.stringify(key);
      // A missing key reads as undefined: optional entries accept it, required ones must also be present.
      if (s.type === 'optional') lines.push(`  y = x[${k}]; if (y !== undefined && !(${test(s, 'y', path(at, key))})) return false;`);
      else lines.push(`  y = x[${k}]; if ((y === undefined && !(${k} in x)) || !(${test(s, 'y', path(at, key))})) return false;`);
    }
    const known = Object.keys(entries).map((key) => `case ${JSON.stringify(key)}:`).join(' ');
    lines.push(`  for (const key in x) switch (key) { ${known} continue; default: return false; }`, '  return true;');
    return lines.join('\n');
  }

  function variantBody(node: Node, at: string): string {
    // Each option checks its own discriminator, so the variant passes exactly when one option passes;
    // a switch picks the only candidate when every discriminator is a distinct required literal.
    const key = node.key!;
    const options = node.options as Node[];
    for (const o of options) if (o.type !== 'strict_object' && o.type !== 'variant') throw unsupported(`variant option "${o.type}"`, at);
    // A nested variant (e.g. the versions of one event type) is one candidate when all its options share the literal.
    const literalOf = (o: Node): string | undefined => {
      if (o.type === 'variant') {
        const inner = (o.options as Node[]).map(literalOf);
        return inner.length && inner.every((l) => l !== undefined && l === inner[0]) ? inner[0] : undefined;
      }
      const d = o.entries![key];
      return d?.type === 'literal' && typeof d.literal === 'string' ? d.literal : undefined;
    };
    const literals = options.map(literalOf);
    if (literals.includes(undefined) || new Set(literals).size !== literals.length) {
      return `  return ${options.map((o) => `${fn(o, at)}(x)`).join(' || ') || 'false'};`;
    }
    const cases = options.map((o, i) => `    case ${JSON.stringify(literals[i])}: return ${fn(o, at)}(x);`);
    return `  if (!x || typeof x !== 'object') return false;\n  switch (x[${JSON.stringify(key)}]) {\n${cases.join('\n')}\n    default: return false;\n  }`;
  }

  function action(a: Node, x: string, at: string): string {
    if (a.kind !== 'validation') throw unsupported(`${a.kind} "${a.type}"`, at);
    const r = a.requirement;
    switch (a.type) {
      case 'min_length': return `${x}.length >= ${Number(r)}`;
      case 'max_length': return `${x}.length <= ${Number(r)}`;
      case 'min_value': return typeof r === 'number' ? `${x} >= ${r}` : `${x} >= ${constant(r)}`;
      case 'max_value': return typeof r === 'number' ? `${x} <= ${r}` : `${x} <= ${constant(r)}`;
      case 'safe_integer': return `Number.isSafeInteger(${x})`;
      case 'gt_value': return typeof r === 'number' ? `${x} > ${r}` : `${x} > ${constant(r)}`;
      case 'integer': return `Number.isInteger(${x})`;
      case 'finite': return `Number.isFinite(${x})`;
      case 'regex': case 'uuid': case 'email': case 'iso_timestamp': case 'iso_date': return `${constant(r)}.test(${x})`;
      case 'check': return `${constant(r)}(${x})`;
      // Any other validation runs as valibot runs it: exact, a little slower.
      default: return `!${constant(a)}['~run']({ typed: true, value: ${x} }, {}).issues`;
    }
  }

  const root = `function root(x) { return ${test(schema as unknown as Node, 'x', '')}; }`;
  const source = `${constants.map((_, i) => `const k${i} = k[${i}];`).join('\n')}\n${functions.join('\n')}\n${root}\nreturn root;`;
  return new Function('k', source)(constants);
}

const path = (at: string, key: string) => (at ? `${at}.${key}` : key);

function unsupported(what: string, at: string) {
  return new Error(`compileCheck: ${what} at "${at || '(root)'}" is not supported; extend shared/src/compile-check.ts and its agreement test`);
}
