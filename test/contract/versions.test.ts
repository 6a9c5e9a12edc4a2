/**
 * Schema versioning: order.cancelled version 2 (reason as {code, text}) and the deprecated version 1,
 * both accepted; the upcaster; adapters see only the current version; the JSON Schema for Python
 * lists every (type, version) and which one Odoo writes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkEvent, CURRENT_EVENT_VERSIONS, DEPRECATED_EVENT_VERSIONS, EVENT_PAYLOADS, EVENT_TYPES, isEvent, upcastEvent, type Event,
} from '../../shared/src/index.ts';
import { renderJsonSchemas } from '../../shared/src/json-schema.ts';
import type { AdapterFactory, StepResult } from '../../bridge/src/adapters/types.ts';
import { loadFixtures } from '../helpers/fixtures.ts';
import { harness, testConfig } from '../engine/helpers.ts';

const fixture = (name: string) => loadFixtures<Event>('events', 'valid').find(([n]) => n === name)![1];

test('both versions of order.cancelled are accepted by the check and the compiled check', () => {
  for (const name of ['order.cancelled', 'order.cancelled.v2']) {
    const e = fixture(name);
    assert.ok(checkEvent(e).ok, name);
    assert.ok(isEvent(e), name);
  }
  const v3 = { ...fixture('order.cancelled.v2'), schema_version: 3 };
  const r = checkEvent(v3);
  assert.not.ok(r.ok);
  assert.is(isEvent(v3), false);
  if (!r.ok) assert.match(r.problem.message, /schema_version must be a supported version of order.cancelled: 1, 2/);
});

test('the upcaster turns version 1 into a valid version 2, leaves the input alone, and leaves current events as they are', () => {
  const v1 = fixture('order.cancelled');
  const copy = structuredClone(v1);
  const up = upcastEvent(v1);
  assert.equal(v1, copy, 'the stored event is not changed');
  assert.is(up.schema_version, 2);
  assert.equal((up.payload as { reason?: unknown }).reason, { code: 'other', text: 'Customer cancelled the order' });
  assert.ok(checkEvent(up).ok, 'the upcast event is a valid version 2');
  const { reason: _r, ...noReason } = v1.payload as Record<string, unknown>;
  assert.not.ok('reason' in upcastEvent({ ...v1, payload: noReason } as Event).payload, 'no reason stays no reason');
  const v2 = fixture('order.cancelled.v2');
  assert.is(upcastEvent(v2), v2);
  const released = fixture('order.released');
  assert.is(upcastEvent(released), released);
});

test('the current version of each type is its highest, and every older one is marked deprecated', () => {
  for (const t of EVENT_TYPES) {
    const versions = Object.keys(EVENT_PAYLOADS[t]).map(Number);
    assert.is(CURRENT_EVENT_VERSIONS[t], Math.max(...versions), t);
    for (const old of versions.filter((n) => n < CURRENT_EVENT_VERSIONS[t])) assert.ok(DEPRECATED_EVENT_VERSIONS[`${t}@${old}`], `${t}@${old} is documented as deprecated`);
  }
});

test('the JSON Schema for Python has one branch per (type, version) and says which version to write', () => {
  const schema = JSON.parse(renderJsonSchemas()['event.schema.json']);
  const branches = schema.oneOf.map((b: any) => `${b.properties.type.const}@${b.properties.schema_version.const}`);
  assert.equal(branches.filter((b: string) => b.startsWith('order.cancelled')), ['order.cancelled@1', 'order.cancelled@2']);
  assert.is(schema['x-current-versions']['order.cancelled'], 2);
  assert.ok(schema['x-deprecated-versions']['order.cancelled@1']);
});

test('an adapter sees a version-1 cancellation as version 2 (the store keeps what Odoo sent)', async () => {
  const seen: Event[] = [];
  const registry: Record<string, AdapterFactory> = {
    'fake-wms': {
      role: 'warehouse',
      create: () => ({
        role: 'warehouse',
        safety: { releaseOrder: { rule: 'partner-deduplicates', doc: 'test' }, cancelOrder: { rule: 'partner-deduplicates', doc: 'test' }, expectReturn: { rule: 'partner-deduplicates', doc: 'test' } },
        async releaseOrder(): Promise<StepResult> { return {}; },
        async cancelOrder(e: Event): Promise<StepResult> { seen.push(e); return {}; },
        async expectReturn(): Promise<StepResult> { return {}; },
      }) as any,
    },
  };
  const config = testConfig({ partners: [{ id: 'wms', adapter: 'fake-wms', role: 'warehouse' }], routes: [{ events: ['order.cancelled'], partners: ['wms'] }] });
  const h = await harness({ config, registry });
  const v1 = fixture('order.cancelled');
  await h.publish(v1);
  assert.is(await h.state(v1.id), 'delivered');
  assert.is(seen[0].schema_version, 2);
  assert.equal((seen[0].payload as { reason?: unknown }).reason, { code: 'other', text: 'Customer cancelled the order' });
  assert.is((await h.store.get(v1.id))?.event.schema_version, 1, 'the stored event is what Odoo sent');
});

test.run();
