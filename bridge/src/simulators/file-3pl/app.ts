/**
 * A 3PL on file exchange: takes complete order/cancel/return CSVs from outbound/ (ignoring
 * temporaries), archives them, and drops shipment confirmations and stock snapshots into inbound/
 * (written as a temporary, then renamed).
 *
 * #contract — the 3PL's file spec (a made-up partner; a real 3PL must promise the same):
 *   1. A file name identifies one order/cancel/return: a file whose name was already imported is
 *      archived without acting (a re-delivery of the same file is the same order).
 *   2. An ORD_ file for a picking it already holds is archived without acting.
 *   3. A CAN_ file acts only on an open order; a RET_ file once per return number.
 *   4. Only complete files count: dot-files and temporaries are never read.
 * Its HTTP app only has controls: POST /_control/tick, /_control/ship, /_control/stock.
 * Effects: order_released, order_cancelled, return_expected, order_shipped, file_dropped.
 */
import { Hono } from 'hono';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { controlRoutes, Effects, runFaults, type SimOptions, type Simulator } from '../kit.ts';

interface SimLine { OrderNo: string; PickingNo: string; ClientRef: string; LineNo: string; SKU: string; Qty: string; UoM: string }

export interface File3plSim extends Simulator {
  readonly root: string;
  readonly orders: Map<string, { lines: SimLine[]; status: 'open' | 'cancelled' | 'shipped' }>;
  /** Takes new files from outbound/ (what a 3PL's import job does). */
  tick(): Promise<string[]>;
  /** Drops a confirmation for a picking (`shipped` overrides quantities per SKU); `duplicate` drops the same content twice. */
  ship(pickingRef: string, opts?: { shipped?: Record<string, number>; duplicate?: boolean; trackingNumber?: string }): Promise<string[]>;
  /** Drops a stock snapshot. */
  stock(levels: Record<string, { on_hand: number; available?: number }>): Promise<string>;
  /** Drops any file as is (for unreadable-file tests). */
  drop(name: string, content: string): Promise<void>;
}

export function createFile3plSim(o: SimOptions & { root: string; delimiter?: string }): File3plSim {
  const effects = new Effects();
  const run = runFaults(o);
  const now = o.now ?? (() => new Date());
  const d = o.delimiter ?? ';';
  const orders = new Map<string, { lines: SimLine[]; status: 'open' | 'cancelled' | 'shipped' }>();
  const returns = new Set<string>();
  const imported = new Set<string>();
  let drops = 0;
  const app = new Hono();
  controlRoutes(app, run, effects);
  app.post('/_control/tick', async (c) => c.json({ taken: await sim.tick() }));
  app.post('/_control/ship', async (c) => {
    const b = (await c.req.json().catch(() => ({}))) as { picking_ref?: string; shipped?: Record<string, number>; duplicate?: boolean };
    if (!b.picking_ref) return c.json({ error: 'picking_ref required' }, 400);
    return c.json({ files: await sim.ship(b.picking_ref, b) });
  });
  app.post('/_control/stock', async (c) => c.json({ file: await sim.stock(((await c.req.json().catch(() => ({}))) as { levels?: Record<string, { on_hand: number }> }).levels ?? { FURN_7800: { on_hand: 12 } }) }));

  async function drop(name: string, content: string) {
    await mkdir(join(o.root, 'inbound'), { recursive: true });
    const tmp = join(o.root, 'inbound', `.${name}.part`);
    await writeFile(tmp, content);
    await rename(tmp, join(o.root, 'inbound', name));
    effects.add('file_dropped');
  }
  const stamp = () => now().toISOString().replace(/[-:TZ.]/g, '').slice(0, 14) + String(++drops).padStart(3, '0');

  const sim: File3plSim = {
    kind: 'file-3pl', app, effects, run, root: o.root, orders, drop,
    async tick() {
      const dir = join(o.root, 'outbound');
      await mkdir(join(dir, 'archive'), { recursive: true });
      const taken: string[] = [];
      for (const name of (await readdir(dir)).sort()) {
        if (name.startsWith('.') || !name.endsWith('.csv')) continue;
        // Contract 1: a name already imported is the same order; archive it, act not.
        if (imported.has(name)) {
          await rename(join(dir, name), join(dir, 'archive', `${name}.${Date.now()}.dup`));
          taken.push(name);
          continue;
        }
        imported.add(name);
        const rows = parse(await readFile(join(dir, name), 'utf8'), { columns: true, delimiter: d, bom: true, skip_empty_lines: true }) as Record<string, string>[];
        const kind = name.slice(0, 4);
        if (kind === 'ORD_') {
          const picking = rows[0]?.PickingNo;
          if (picking && !orders.has(picking)) {
            orders.set(picking, { lines: rows as unknown as SimLine[], status: 'open' });
            effects.add('order_released');
            if (o.autoProgressMs) setTimeout(() => void sim.ship(picking).catch(() => undefined), o.autoProgressMs).unref?.();
          }
        } else if (kind === 'CAN_') {
          const x = orders.get(rows[0]?.PickingNo ?? '');
          if (x && x.status === 'open') {
            x.status = 'cancelled';
            effects.add('order_cancelled');
          }
        } else if (kind === 'RET_') {
          const ref = rows[0]?.ReturnNo;
          if (ref && !returns.has(ref)) {
            returns.add(ref);
            effects.add('return_expected');
          }
        }
        await rename(join(dir, name), join(dir, 'archive', name));
        taken.push(name);
      }
      return taken;
    },
    async ship(pickingRef, opts = {}) {
      const x = orders.get(pickingRef);
      if (!x) throw new Error(`file-3pl sim: no order ${pickingRef}`);
      if (x.status !== 'shipped') effects.add('order_shipped');
      x.status = 'shipped';
      const tn = opts.trackingNumber ?? `3PL${pickingRef.replace(/\D/g, '')}`;
      const csv = stringify(x.lines.map((l) => [pickingRef, l.ClientRef, l.LineNo, l.SKU, l.Qty, String(opts.shipped?.[l.SKU] ?? l.Qty), l.UoM, tn, now().toISOString()]), {
        header: true, columns: ['PickingNo', 'ClientRef', 'LineNo', 'SKU', 'QtyOrdered', 'QtyShipped', 'UoM', 'TrackingNo', 'ShippedAt'], delimiter: d,
      });
      const names = [`SHP_${stamp()}.csv`];
      if (opts.duplicate) names.push(`SHP_${stamp()}.csv`);
      for (const n of names) await drop(n, csv);
      return names;
    },
    async stock(levels) {
      const csv = stringify(Object.entries(levels).map(([sku, l]) => [sku, String(l.on_hand), String(l.available ?? l.on_hand), 'Units']), { header: true, columns: ['SKU', 'OnHand', 'Available', 'UoM'], delimiter: d });
      const name = `STK_${stamp()}.csv`;
      await drop(name, csv);
      return name;
    },
  };
  return sim;
}
